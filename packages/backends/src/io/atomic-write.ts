/**
 * Atomic file replacement: the data goes to a temporary file in the same directory, which is
 * flushed and renamed over the target. Readers see the old file or the complete new one, never a
 * partial write; on any failure the temporary file is removed and the target is untouched.
 *
 * `stageFile` splits this in two so that several files can be written first and renamed together
 * (a model and its external data): a failure while writing any of them replaces none.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export type FileContents = Uint8Array | ((fd: number) => void);

/** A fully written temporary file waiting to replace `path`. */
export interface StagedFile {
  readonly path: string;
  /** Renames the temporary file over `path`. */
  commit(): void;
  /** Removes the temporary file. */
  discard(): void;
}

/** Writes `data` (bytes, or a callback writing to the open descriptor) to `path` atomically. */
export function writeFileAtomic(path: string, data: FileContents): void {
  stageFile(path, data).commit();
}

/** Writes `data` to a flushed temporary file next to `path`, to be committed or discarded. */
export function stageFile(path: string, data: FileContents): StagedFile {
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
  } catch (e) {
    if (!closed) closeSync(fd);
    removeQuietly(temp);
    throw e;
  }
  return {
    path,
    commit() {
      try {
        renameSync(temp, path);
      } catch (e) {
        removeQuietly(temp);
        throw e;
      }
    },
    discard() {
      removeQuietly(temp);
    },
  };
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
