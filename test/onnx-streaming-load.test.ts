/**
 * Streaming load (skeleton + positioned reads of large payloads) gives the same model as loading
 * the whole file, and corrupt files still end in a SlimcError.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { SlimcError, printGraph, tensorsEqual } from '@slimc/ir';
import { decodeOnnx, encodeOnnx, loadOnnx } from '@slimc/backends';
import { REAL_MODELS, SILERO_LEGACY } from './fixtures/models.js';
import { arbModelRecipe, buildModel } from './onnx-arbitraries.js';

const dir = mkdtempSync(join(tmpdir(), 'slimc-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('streaming load', () => {
  test.each(REAL_MODELS.map((m) => [m.id, m.path] as const))('%s loads as when read whole', (_id, path) => {
    const whole = loadOnnx(path);
    const streamed = loadOnnx(path, { streamFromBytes: 0 });
    expect(printGraph(streamed.graph)).toBe(printGraph(whole.graph));
    expect(Buffer.compare(Buffer.from(encodeOnnx(streamed)), Buffer.from(encodeOnnx(whole)))).toBe(0);
  });

  test('tensors are private aligned copies', () => {
    const m = loadOnnx(SILERO_LEGACY.path, { streamFromBytes: 0 });
    for (const v of m.graph.initializers) {
      const data = v.constant!.data as Float32Array;
      expect(data.byteOffset).toBe(0);
      expect(data.buffer.byteLength).toBe(data.byteLength);
    }
  });

  test.prop([arbModelRecipe], { numRuns: 40 })('random models with large constants load the same', (recipe) => {
    const model = buildModel(recipe);
    model.graph.addConstant('big', { dtype: 'float32', shape: [2048], data: new Float32Array(2048).fill(1.25) });
    const path = join(dir, 'random.onnx');
    // every typed value written, so the file holds what printGraph shows of the model
    writeFileSync(path, encodeOnnx(model, { valueInfo: 'all' }));
    const streamed = loadOnnx(path, { streamFromBytes: 0 });
    expect(printGraph(streamed.graph)).toBe(printGraph(model.graph));
    const big = streamed.graph.initializers.find((v) => v.name === 'big')!;
    expect(tensorsEqual(big.constant!, model.graph.initializers.find((v) => v.name === 'big')!.constant!)).toBe(true);
  });

  const original = readFileSync(SILERO_LEGACY.path);
  test.prop([fc.integer({ min: 0, max: original.length - 1 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 })], { numRuns: 60 })(
    'truncated or bit-flipped files: a Model or a SlimcError',
    (cut, flips) => {
      const bytes = new Uint8Array(original.subarray(0, Math.max(cut, 1)));
      for (const f of flips) bytes[f % bytes.length]! ^= 1 << (f % 8);
      const path = join(dir, 'mutated.onnx');
      writeFileSync(path, bytes);
      let streamedError: unknown;
      try {
        loadOnnx(path, { streamFromBytes: 0 });
      } catch (e) {
        streamedError = e;
      }
      if (streamedError !== undefined) {
        expect(streamedError).toBeInstanceOf(SlimcError);
        expect((streamedError as SlimcError).context.model).toBe(path);
      }
      // Whenever the whole-file decode accepts the bytes, so does streaming.
      let wholeOk = true;
      try {
        decodeOnnx(bytes);
      } catch {
        wholeOk = false;
      }
      if (wholeOk) expect(streamedError).toBeUndefined();
    },
  );
});
