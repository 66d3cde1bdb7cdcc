/**
 * External data: saveOnnx moves initializers to `<model>.data` (by threshold, or forced by the
 * protobuf size limit), loadOnnx reads them back, and onnxruntime runs the saved files.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Graph, Model, SlimcError, makeTensor, printGraph, tensorsEqual } from '@slimc/ir';
import { encodeOnnx, loadOnnx, saveOnnx } from '@slimc/backends';
import { randomFloats, SILERO_LEGACY } from './fixtures/models.js';
import { onnx } from './onnx-builders.js';

const dir = mkdtempSync(join(tmpdir(), 'slimc-extdata-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** y = x @ W + b + c with W 256 KiB, b exactly 1 KiB, c 4 bytes. */
function denseModel(): Model {
  const g = new Graph('dense');
  const m = new Model(g);
  m.opsetImports.set('', 17);
  const x = g.addInput('x', { dtype: 'float32', shape: ['N', 256] });
  const w = g.addConstant('W', makeTensor('float32', [256, 256], randomFloats(256 * 256, 11)));
  const b = g.addConstant('b', makeTensor('float32', [256], randomFloats(256, 12)));
  const c = g.addConstant('c', makeTensor('float32', [1, 1], [0.5]));
  const mm = g.addNode({ op: 'MatMul', inputs: [x, w], outputs: ['mm'] });
  const add = g.addNode({ op: 'Add', inputs: [mm.output(0), b], outputs: ['add'] });
  const y = g.addNode({ op: 'Add', inputs: [add.output(0), c], outputs: ['y'] });
  g.addOutput(y.output(0));
  return m;
}

function initializerLocations(path: string): Record<string, { location?: string; offset?: number; length?: number }> {
  const proto = onnx.ModelProto.decode(readFileSync(path));
  const out: Record<string, { location?: string; offset?: number; length?: number }> = {};
  for (const t of proto.graph!.initializer) {
    if (t.dataLocation !== 1) {
      out[t.name] = {};
      continue;
    }
    const e = Object.fromEntries(t.externalData.map((kv) => [kv.key, kv.value]));
    out[t.name] = { location: e.location, offset: Number(e.offset), length: Number(e.length) };
  }
  return out;
}

async function runFile(path: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, Uint8Array>> {
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const out = await session.run(feeds);
  await session.release();
  return Object.fromEntries(
    Object.entries(out).map(([k, t]) => {
      const d = t.data as ArrayBufferView;
      return [k, new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice()];
    }),
  );
}

describe('saveOnnx with external data', () => {
  test('default threshold moves tensors of 1 KiB and more, page-aligning large ones', async () => {
    const m = denseModel();
    const path = join(dir, 'dense.onnx');
    saveOnnx(m, path, { externalData: true });
    const locations = initializerLocations(path);
    expect(locations.W).toEqual({ location: 'dense.onnx.data', offset: 0, length: 256 * 256 * 4 });
    expect(locations.b!.location).toBe('dense.onnx.data');
    expect(locations.b!.offset! % 64).toBe(0);
    expect(locations.b!.offset!).toBeGreaterThanOrEqual(256 * 256 * 4);
    expect(locations.c).toEqual({});
    expect(statSync(path).size).toBeLessThan(4096);
    expect(statSync(join(dir, 'dense.onnx.data')).size).toBe(locations.b!.offset! + 1024);

    const back = loadOnnx(path);
    expect(printGraph(back.graph)).toBe(printGraph(m.graph));
    back.graph.initializers.forEach((v, i) => expect(tensorsEqual(v.constant!, m.graph.initializers[i]!.constant!)).toBe(true));

    const inline = join(dir, 'dense-inline.onnx');
    saveOnnx(m, inline);
    expect(existsSync(`${inline}.data`)).toBe(false);
    expect(readFileSync(inline)).toEqual(Buffer.from(encodeOnnx(m)));
    const feeds = { x: new ort.Tensor('float32', randomFloats(3 * 256, 5), [3, 256]) };
    expect(await runFile(path, feeds)).toEqual(await runFile(inline, feeds));
  });

  test('threshold and file name options', () => {
    const path = join(dir, 'thr.onnx');
    saveOnnx(denseModel(), path, { externalData: { threshold: 4096, file: 'weights.bin' } });
    const locations = initializerLocations(path);
    expect(locations.W!.location).toBe('weights.bin');
    expect(locations.b).toEqual({});
    expect(existsSync(join(dir, 'weights.bin'))).toBe(true);
    expect(() => saveOnnx(denseModel(), path, { externalData: { file: '../x.bin' } })).toThrow(SlimcError);
  });

  test('the size limit forces the largest tensors out even without the option', () => {
    const m = denseModel();
    const limit = 100_000;
    expect(() => encodeOnnx(m, { maxBytes: limit })).toThrow(/protobuf limit/);
    const path = join(dir, 'forced.onnx');
    saveOnnx(m, path, { maxBytes: limit });
    const locations = initializerLocations(path);
    expect(locations.W!.location).toBe('forced.onnx.data');
    expect(locations.b).toEqual({}); // small enough to stay once W is out
    expect(statSync(path).size).toBeLessThanOrEqual(limit);
    expect(printGraph(loadOnnx(path).graph)).toBe(printGraph(m.graph));
  });

  test('a real model saved with external data runs bit-identically', async () => {
    const m = loadOnnx(SILERO_LEGACY.path);
    const path = join(dir, 'silero.onnx');
    saveOnnx(m, path, { externalData: true });
    expect(Object.values(initializerLocations(path)).some((l) => l.location)).toBe(true);
    const inputs = SILERO_LEGACY.inputs();
    const feeds = Object.fromEntries(
      Object.entries(inputs).map(([k, t]) => [k, new ort.Tensor(t.dtype === 'int64' ? 'int64' : 'float32', t.data as Float32Array, [...t.shape])]),
    );
    expect(await runFile(path, feeds)).toEqual(await runFile(SILERO_LEGACY.path, feeds));
    expect(printGraph(loadOnnx(path).graph)).toBe(printGraph(m.graph));
  });

  test('saving over the model it was loaded from, data file included', () => {
    const path = join(dir, 'inplace.onnx');
    const m = denseModel();
    saveOnnx(m, path, { externalData: true });
    saveOnnx(loadOnnx(path), path, { externalData: { threshold: 2048 } });
    const back = loadOnnx(path);
    expect(printGraph(back.graph)).toBe(printGraph(m.graph));
    expect(initializerLocations(path).b).toEqual({});
  });

  test('leaves no temporary files behind', () => {
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
