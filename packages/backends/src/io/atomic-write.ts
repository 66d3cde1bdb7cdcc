/**
 * Atomic file replacement: the data goes to a temporary file in the same directory, which is
 * flushed and renamed over the target. Readers see the old file or the complete new one, never a
 * partial write; on any failure the temporary file is removed and the target is untouched.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `data` (bytes, or a callback writing to the open descriptor) to `path` atomically. */
export function writeFileAtomic(path: string, data: Uint8Array | ((fd: number) => void)): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fd = openSync(temp, 'wx', 0o644);
  let closed = false;
  try {
    if (typeof data === 'function') {
      data(fd);
    } else {
      let done = 0;
      while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, done);
    }
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    renameSync(temp, path);
  } catch (e) {
    if (!closed) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
    throw e;
  }
}
