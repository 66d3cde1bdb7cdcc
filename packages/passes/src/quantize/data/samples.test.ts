import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTensor, tensorsEqual, SlimcError } from '@slimc/ir';
import { writeNpy, writeTensorProto } from '@slimc/backends';
import { collectSamples, loadSamples } from './samples.js';
import { PADDLE_OCR_DET_PREPROCESS, PADDLE_OCR_REC_PREPROCESS, preprocessImage } from './preprocess.js';
import { decodeImage } from './image.js';

const calibDir = fileURLToPath(new URL('../../../../../test/data/ocr/calib/', import.meta.url));
const detCalibDir = fileURLToPath(new URL('../../../../../test/data/ocr/det-calib/', import.meta.url));

describe('loadSamples', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'slimc-samples-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const a = makeTensor('float32', [1, 2], [1.5, -2]);
  const b = makeTensor('int64', [3], [1n, 2n, 3n]);

  it('reads a folder of images through the preprocessing spec, lazily and in file order', async () => {
    const samples = loadSamples(calibDir, PADDLE_OCR_REC_PREPROCESS, { limit: 3 });
    const first = await samples.next();
    expect(Object.keys(first.value!)).toEqual(['x']);
    const expected = preprocessImage(await decodeImage(join(calibDir, 'line-000.png')), PADDLE_OCR_REC_PREPROCESS).tensor;
    expect(tensorsEqual(first.value!.x!, expected)).toBe(true);
    const rest = [];
    for await (const s of samples) rest.push(s);
    expect(rest).toHaveLength(2);
    expect(rest.every((s) => s.x!.shape.join() === '1,3,48,320')).toBe(true);
  });

  it('reads every calib image', async () => {
    expect(await collectSamples(calibDir, PADDLE_OCR_REC_PREPROCESS)).toHaveLength(64);
  });

  it('reads JPEG pages of different sizes for the detector, ignoring the boxes file', async () => {
    const samples = await collectSamples(detCalibDir, PADDLE_OCR_DET_PREPROCESS);
    expect(samples).toHaveLength(6);
    for (const { x } of samples) {
      const [n, c, h, w] = x!.shape;
      expect([n, c, h! % 32, w! % 32]).toEqual([1, 3, 0, 0]);
    }
    expect(new Set(samples.map((s) => s.x!.shape.join())).size).toBeGreaterThan(1);
  });

  it('reads test_data_set_N/input_K.pb in numeric order, naming inputs by the tensor name or position', async () => {
    const dir = join(tmp, 'pb');
    for (const n of [0, 1, 10]) {
      const set = join(dir, `test_data_set_${n}`);
      mkdirSync(set, { recursive: true });
      writeFileSync(join(set, 'input_0.pb'), writeTensorProto(makeTensor('float32', [1], [n]), 'x'));
      writeFileSync(join(set, 'input_1.pb'), writeTensorProto(b, ''));
      writeFileSync(join(set, 'output_0.pb'), writeTensorProto(a, 'y')); // outputs are not inputs
    }
    const samples = await collectSamples(dir, undefined, { inputNames: ['unused', 'ids'] });
    expect(samples.map((s) => Object.keys(s).sort())).toEqual([['ids', 'x'], ['ids', 'x'], ['ids', 'x']]);
    expect(samples.map((s) => s.x!.data[0])).toEqual([0, 1, 10]);
    expect(tensorsEqual(samples[0]!.ids!, b)).toBe(true);
    await expect(collectSamples(dir)).rejects.toThrow(/no name/);
  });

  it('reads .npy files as single-input samples', async () => {
    const dir = join(tmp, 'npy');
    mkdirSync(dir);
    writeFileSync(join(dir, 's0.npy'), writeNpy(a));
    writeFileSync(join(dir, 's1.npy'), writeNpy(b));
    const samples = await collectSamples(dir, undefined, { inputName: 'input' });
    expect(tensorsEqual(samples[0]!.input!, a)).toBe(true);
    expect(tensorsEqual(samples[1]!.input!, b)).toBe(true);
    await expect(collectSamples(dir)).rejects.toThrow(/input name/);
  });

  it('rejects empty, mixed and missing folders with SlimcError', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    await expect(collectSamples(empty)).rejects.toThrow(/no samples/);
    const mixed = join(tmp, 'mixed');
    mkdirSync(mixed);
    writeFileSync(join(mixed, 'a.npy'), writeNpy(a));
    writeFileSync(join(mixed, 'b.png'), new Uint8Array(0));
    await expect(collectSamples(mixed, PADDLE_OCR_REC_PREPROCESS)).rejects.toThrow(/mixed sample layouts/);
    await expect(collectSamples(join(tmp, 'nope'))).rejects.toThrow(SlimcError);
  });
});
