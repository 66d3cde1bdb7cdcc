/**
 * Shape inference and the verifier on the real models: the verifier finds nothing, inference
 * gives every PaddleOCR Conv a rank and channel count, and with the fixture inputs' concrete
 * shapes the inferred graph-output types equal what onnxruntime produces.
 */
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { inferShapes, verify, type Model, type Tensor, type TensorType, type Value } from '@slimc/ir';
import { encodeOnnx, loadOnnx } from '@slimc/backends';
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

/** A contradiction between two types of one value: dtype, rank, or a static dim. */
function contradiction(a: TensorType, b: TensorType): string | undefined {
  if (a.dtype !== b.dtype) return `dtype ${a.dtype} vs ${b.dtype}`;
  if (!a.shape || !b.shape) return undefined;
  if (a.shape.length !== b.shape.length) return `rank ${a.shape.length} vs ${b.shape.length}`;
  const k = a.shape.findIndex((d, i) => typeof d === 'number' && typeof b.shape![i] === 'number' && d !== b.shape![i]);
  return k >= 0 ? `dim ${k}: ${a.shape[k]} vs ${b.shape[k]}` : undefined;
}

/** Clears every node output's declared type, returning the declared ones. */
function clearDeclaredTypes(model: Model): Map<Value, TensorType> {
  const declared = new Map<Value, TensorType>();
  for (const n of model.graph.allNodes()) {
    for (const v of n.outputs) {
      if (!v) continue;
      if (v.type) declared.set(v, v.type);
      v.type = undefined;
    }
  }
  return declared;
}

describe.each(REAL_MODELS.map((m) => [m.id, m] as const))('%s', (_id, fixture) => {
  test('inference alone never contradicts the types the exporter declared', () => {
    const model = loadOnnx(fixture.path);
    const declared = clearDeclaredTypes(model);
    inferShapes(model);
    const disagreements = [...declared].flatMap(([v, t]) => {
      const problem = v.type && contradiction(t, v.type);
      return problem ? [`${v.name}: ${problem}`] : [];
    });
    expect(disagreements).toEqual([]);
    expect([...declared.keys()].some((v) => v.type)).toBe(true);
  });
});

describe.each([PADDLE_DET, PADDLE_REC, PADDLE_CLS].map((m) => [m.id, m] as const))('%s', (_id, fixture) => {
  test('with concrete inputs, every intermediate value has the shape onnxruntime computes for it', async () => {
    const model = loadOnnx(fixture.path);
    clearDeclaredTypes(model);
    const inputs = fixture.inputs();
    pinInputs(model, inputs);
    inferShapes(model);
    // Expose every node output so onnxruntime reports it (the file's own outputs stay first).
    const g = model.graph;
    const exposed = g.nodeList().flatMap((n) => n.outputs.filter((v): v is Value => v !== null && !g.outputs.includes(v)));
    for (const v of exposed) g.addOutput(v);
    const session = await ort.InferenceSession.create(encodeOnnx(model), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(inputs)) feeds[k] = toOrt(t);
    const out = await session.run(feeds);
    await session.release();
    const wrong = g.outputs.flatMap((v) => {
      const actual = out[v.name]!;
      const same = ORT_DTYPE[v.type?.dtype ?? ''] === actual.type && JSON.stringify(v.type?.shape) === JSON.stringify(actual.dims.map(Number));
      return same ? [] : [`${v.name}: inferred ${JSON.stringify(v.type)}, onnxruntime ${actual.type}[${actual.dims.join(',')}]`];
    });
    expect(g.outputs.length).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
  });

  test('without control flow, inference alone shapes every value, and pins every dim given concrete inputs', () => {
    const symbolic = loadOnnx(fixture.path);
    clearDeclaredTypes(symbolic);
    inferShapes(symbolic);
    const values = (m: Model) => [...m.graph.allNodes()].flatMap((n) => n.outputs.filter((v): v is Value => v !== null));
    expect(values(symbolic).filter((v) => !v.type?.shape).map((v) => v.name)).toEqual([]);
    const pinned = loadOnnx(fixture.path);
    clearDeclaredTypes(pinned);
    pinInputs(pinned, fixture.inputs());
    inferShapes(pinned);
    expect(values(pinned).filter((v) => !v.type?.shape?.every((d) => typeof d === 'number')).map((v) => v.name)).toEqual([]);
  });

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
