/**
 * Shape inference and the verifier on the real models: the verifier finds nothing, inference
 * gives every PaddleOCR Conv a rank and channel count, and with the fixture inputs' concrete
 * shapes the inferred graph-output types equal what onnxruntime produces.
 */
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { inferShapes, verify, type Model, type Tensor } from '@slimc/ir';
import { loadOnnx } from '@slimc/backends';
import { PADDLE_CLS, PADDLE_DET, PADDLE_REC, REAL_MODELS } from './fixtures/models.js';

function toOrt(t: Tensor): ort.Tensor {
  const type = t.dtype === 'float32' ? 'float32' : t.dtype === 'int64' ? 'int64' : undefined;
  if (!type) throw new Error(`fixture input dtype ${t.dtype} not mapped`);
  return new ort.Tensor(type, t.data as Float32Array | BigInt64Array, [...t.shape]);
}

const ORT_DTYPE: Record<string, string> = { float32: 'float32', int64: 'int64', bool: 'bool', int32: 'int32', uint8: 'uint8', int8: 'int8' };

/** Pins each graph input to the shape of the fixture's tensor for it. */
function pinInputs(model: Model, inputs: Record<string, Tensor>): void {
  for (const v of model.graph.inputs) {
    const t = inputs[v.name];
    if (t) v.type = { dtype: t.dtype, shape: [...t.shape] };
  }
}

describe.each(REAL_MODELS.map((m) => [m.id, m] as const))('%s', (_id, fixture) => {
  test('verify() is clean before and after inferShapes', () => {
    const model = loadOnnx(fixture.path);
    expect(verify(model)).toEqual([]);
    inferShapes(model);
    expect(verify(model)).toEqual([]);
  });

  test('with concrete inputs, inferred graph-output types equal onnxruntime outputs', async () => {
    const model = loadOnnx(fixture.path);
    const inputs = fixture.inputs();
    pinInputs(model, inputs);
    inferShapes(model);
    const session = await ort.InferenceSession.create(fixture.path, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(inputs)) feeds[k] = toOrt(t);
    const out = await session.run(feeds);
    await session.release();
    for (const v of model.graph.outputs) {
      const actual = out[v.name]!;
      expect(v.type, `output ${v.name}`).toBeDefined();
      expect(ORT_DTYPE[v.type!.dtype], `dtype of ${v.name}`).toBe(actual.type);
      expect(v.type!.shape, `shape of ${v.name}`).toEqual(actual.dims.map(Number));
    }
  });
});

describe.each([PADDLE_DET, PADDLE_REC, PADDLE_CLS].map((m) => [m.id, m] as const))('%s', (_id, fixture) => {
  test('every Conv output has a known rank and channel count (symbolic input dims)', () => {
    const model = loadOnnx(fixture.path);
    const convs = [...model.graph.allNodes()].filter((n) => n.op === 'Conv');
    // Clear what the file declares so the check is about inference, not value_info.
    for (const n of convs) n.output(0).type = undefined;
    inferShapes(model);
    expect(convs.length).toBeGreaterThan(0);
    for (const n of convs) {
      const t = n.output(0).type;
      const weightShape = n.input(1)!.type!.shape!;
      expect(t?.shape?.length, `rank of ${n.label}`).toBe(n.input(0)!.type!.shape!.length);
      expect(t!.shape![1], `channels of ${n.label}`).toBe(weightShape[0]);
    }
  });
});
