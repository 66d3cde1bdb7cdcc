import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { stageFile, writeFileAtomic } from './atomic-write.js';

const dir = mkdtempSync(join(tmpdir(), 'slimc-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('writes bytes and replaces an existing file', () => {
  const path = join(dir, 'a.bin');
  writeFileSync(path, 'old contents');
  writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  expect([...readFileSync(path)]).toEqual([1, 2, 3]);
  expect(readdirSync(dir)).toEqual(['a.bin']);
});

test('a writer callback streams into the file', () => {
  const path = join(dir, 'b.txt');
  writeFileAtomic(path, (fd) => {
    writeSync(fd, 'hello ');
    writeSync(fd, 'world');
  });
  expect(readFileSync(path, 'utf8')).toBe('hello world');
});

test('a failure leaves the target untouched and removes the temporary file', () => {
  const path = join(dir, 'c.txt');
  writeFileSync(path, 'keep me');
  expect(() =>
    writeFileAtomic(path, (fd) => {
      writeSync(fd, 'partial');
      throw new Error('disk on fire');
    }),
  ).toThrow('disk on fire');
  expect(readFileSync(path, 'utf8')).toBe('keep me');
  expect(readdirSync(dir).filter((f) => f.includes('c.txt'))).toEqual(['c.txt']);
});

test('an unwritable directory throws without leaving anything', () => {
  expect(() => writeFileAtomic(join(dir, 'missing', 'd.bin'), new Uint8Array(1))).toThrow(/ENOENT/);
});

test('staged files replace nothing until committed, and discard cleans up', () => {
  const a = join(dir, 'e.bin');
  writeFileSync(a, 'old');
  const staged = stageFile(a, new Uint8Array([9]));
  expect(readFileSync(a, 'utf8')).toBe('old');
  staged.discard();
  expect(readFileSync(a, 'utf8')).toBe('old');
  expect(readdirSync(dir).filter((f) => f.includes('e.bin'))).toEqual(['e.bin']);
  stageFile(a, new Uint8Array([9])).commit();
  expect([...readFileSync(a)]).toEqual([9]);
});
