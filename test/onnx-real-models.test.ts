/**
 * Every real model survives decode -> encode: onnxruntime gives bit-identical outputs on the
 * re-encoded bytes, and the re-imported IR prints exactly like the first import.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { printGraph, type Tensor } from '@slimc/ir';
import { decodeOnnx, encodeOnnx, loadOnnx } from '@slimc/backends';
import { REAL_MODELS } from './fixtures/models.js';

function toOrt(t: Tensor): ort.Tensor {
  const type = t.dtype === 'float32' ? 'float32' : t.dtype === 'int64' ? 'int64' : undefined;
  if (!type) throw new Error(`fixture input dtype ${t.dtype} not mapped`);
  return new ort.Tensor(type, t.data as Float32Array | BigInt64Array, [...t.shape]);
}

async function run(bytes: Uint8Array, inputs: Record<string, Tensor>): Promise<Record<string, Uint8Array>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(inputs)) feeds[k] = toOrt(t);
  const out = await session.run(feeds);
  const bytesOut: Record<string, Uint8Array> = {};
  for (const [k, t] of Object.entries(out)) {
    const d = t.data as ArrayBufferView;
    bytesOut[k] = new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
  }
  await session.release();
  return bytesOut;
}

describe.each(REAL_MODELS.map((m) => [m.id, m] as const))('%s', (_id, fixture) => {
  test('re-encoded model runs bit-identically in onnxruntime', async () => {
    const original = readFileSync(fixture.path);
    const encoded = encodeOnnx(decodeOnnx(original, { source: fixture.path }));
    const inputs = fixture.inputs();
    const expected = await run(original, inputs);
    const actual = await run(encoded, inputs);
    expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
    for (const k of Object.keys(expected)) expect(Buffer.compare(Buffer.from(actual[k]!), Buffer.from(expected[k]!)), `output ${k}`).toBe(0);
  });

  test('re-import prints identically', () => {
    const model = loadOnnx(fixture.path);
    const again = decodeOnnx(encodeOnnx(model));
    expect(printGraph(again.graph)).toBe(printGraph(model.graph));
    expect([...again.opsetImports]).toEqual([...model.opsetImports]);
    expect(again.irVersion).toBe(model.irVersion);
    expect(again.producerName).toBe(model.producerName);
  });
});
