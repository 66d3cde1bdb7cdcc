/**
 * Shape inference against onnxruntime as the oracle: random single-op models with static input
 * shapes (random kernels, strides, pads, slices, broadcasts...) are run in onnxruntime, and the
 * shapes and dtypes it produces must equal what inferShapes computed.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import * as ort from 'onnxruntime-node';
import { Model, inferShapes, makeTensor, type Attribute, type Graph, type Value } from '@slimc/ir';
import { encodeOnnx } from '@slimc/backends';

interface Case {
  opset: number;
  op: string;
  /** Float32 input shapes (graph inputs) and int64 constant operands, in operand order; null for an omitted operand. */
  operands: ({ input: number[] } | { ints: number[]; shape?: number[] } | { floats: number[] } | null)[];
  attrs?: Record<string, Attribute>;
  outputs?: number;
}

async function checkAgainstOnnxruntime(c: Case): Promise<void> {
  const model = new Model();
  model.opsetImports.set('', c.opset);
  model.irVersion = 8;
  const g: Graph = model.graph;
  const feeds: Record<string, ort.Tensor> = {};
  const operands: (Value | null)[] = c.operands.map((o, i) => {
    if (o === null) return null;
    if ('input' in o) {
      const v = g.addInput(`in${i}`, { dtype: 'float32', shape: o.input });
      const n = o.input.reduce((a, b) => a * b, 1);
      feeds[v.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, k) => Math.sin(k)), o.input);
      return v;
    }
    if ('ints' in o) return g.addConstant(`k${i}`, makeTensor('int64', o.shape ?? [o.ints.length], o.ints.map(BigInt)));
    return g.addConstant(`f${i}`, makeTensor('float32', [o.floats.length], o.floats));
  });
  const node = g.addNode({ op: c.op, inputs: operands, outputs: c.outputs ?? 1, attrs: c.attrs ?? {} });
  for (const v of node.outputs) g.addOutput(v!);
  inferShapes(model);
  const session = await ort.InferenceSession.create(encodeOnnx(model), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  try {
    const out = await session.run(feeds);
    for (const v of node.outputs) {
      const actual = out[v!.name]!;
      expect({ dtype: v!.type?.dtype, shape: v!.type?.shape }, `${c.op} ${JSON.stringify(c)}`).toEqual({ dtype: actual.type, shape: actual.dims.map(Number) });
    }
  } finally {
    await session.release();
  }
}

const ints = (value: number[]): Attribute => ({ kind: 'ints', value });
const int = (value: number): Attribute => ({ kind: 'int', value });
const str = (value: string): Attribute => ({ kind: 'string', value });

/** A convolution or pooling window over 1 or 2 spatial dims that fits its input. */
const windowArb = fc
  .record({
    rank: fc.integer({ min: 1, max: 2 }),
    kernel: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
    strides: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
    dilations: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 2, maxLength: 2 }),
    pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
    extra: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 2, maxLength: 2 }),
    autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'VALID'),
  })
  .map((w) => {
    const r = w.rank;
    const kernel = w.kernel.slice(0, r);
    const same = w.autoPad === 'SAME_UPPER';
    // onnxruntime rejects SAME padding with dilations, and with a stride above the kernel (negative pads).
    const dilations = same ? kernel.map(() => 1) : w.dilations.slice(0, r);
    return {
      kernel,
      strides: w.strides.slice(0, r).map((s, i) => (same ? Math.min(s, kernel[i]!) : s)),
      dilations,
      pads: [...w.pads.slice(0, r), ...w.pads.slice(2, 2 + r)],
      spatial: kernel.map((k, i) => (k - 1) * dilations[i]! + 1 + w.extra[i]!),
      autoPad: w.autoPad,
    };
  });

const RUNS = { numRuns: 25 };

describe('inferShapes agrees with onnxruntime', () => {
  test.prop([windowArb, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 })], RUNS)(
    'Conv',
    async (w, batch, group, perGroup) => {
      const attrs: Record<string, Attribute> = { kernel_shape: ints(w.kernel), strides: ints(w.strides), dilations: ints(w.dilations), group: int(group) };
      if (w.autoPad === 'NOTSET') attrs.pads = ints(w.pads);
      else attrs.auto_pad = str(w.autoPad);
      await checkAgainstOnnxruntime({
        opset: 13,
        op: 'Conv',
        operands: [{ input: [batch, group * perGroup, ...w.spatial] }, { input: [group * 2, perGroup, ...w.kernel] }],
        attrs,
      });
    },
  );

  test.prop([windowArb, fc.constantFrom('MaxPool', 'AveragePool'), fc.boolean()], RUNS)('MaxPool and AveragePool', async (w, op, ceil) => {
    // Pads must be smaller than the kernel; AveragePool-13 has no dilations.
    const pads = w.pads.map((p, i) => Math.min(p, w.kernel[i % w.kernel.length]! - 1));
    const attrs: Record<string, Attribute> = { kernel_shape: ints(w.kernel), strides: ints(w.strides), ceil_mode: int(ceil ? 1 : 0) };
    if (op === 'MaxPool') attrs.dilations = ints(w.dilations);
    if (w.autoPad === 'NOTSET') attrs.pads = ints(pads);
    else attrs.auto_pad = str(w.autoPad);
    const spatial = op === 'MaxPool' ? w.spatial : w.kernel.map((k, i) => k + w.spatial[i]! - ((k - 1) * w.dilations[i]! + 1));
    await checkAgainstOnnxruntime({ opset: 13, op, operands: [{ input: [1, 2, ...spatial] }], attrs });
  });

  test.prop([windowArb, fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 2 })], RUNS)('ConvTranspose', async (w, outPad) => {
    const attrs: Record<string, Attribute> = {
      kernel_shape: ints(w.kernel),
      strides: ints(w.strides),
      dilations: ints(w.dilations),
      pads: ints(w.pads.map((p, i) => Math.min(p, w.kernel[i % w.kernel.length]! - 1))),
      // onnxruntime requires output_padding to be smaller than the stride.
      output_padding: ints(w.strides.map((s, i) => Math.min(outPad[i]!, s - 1))),
    };
    await checkAgainstOnnxruntime({ opset: 13, op: 'ConvTranspose', operands: [{ input: [1, 2, ...w.spatial] }, { input: [2, 3, ...w.kernel] }], attrs });
  });

  const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });

  test.prop([shapeArb, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.nat(4), fc.constantFrom('Add', 'Mul', 'Sub', 'Div', 'Pow')], RUNS)(
    'broadcasting binary ops',
    async (shape, ones, drop, op) => {
      // The second shape drops leading dims and replaces some dims with 1: always broadcastable.
      const other = shape.slice(Math.min(drop, shape.length)).map((d, i) => (ones[i] ? 1 : d));
      const [a, b] = drop % 2 ? [shape, other] : [other, shape];
      await checkAgainstOnnxruntime({ opset: 13, op, operands: [{ input: a }, { input: b }] });
    },
  );

  test.prop([fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.boolean()], RUNS)(
    'MatMul with batch broadcasting and 1-D operands',
    async (batch, m, k, n, vectorA, vectorB) => {
      const a = vectorA ? [k] : [...batch, m, k];
      const b = vectorB ? [k] : [...batch.slice(1), k, n];
      await checkAgainstOnnxruntime({ opset: 13, op: 'MatMul', operands: [{ input: a }, { input: b }] });
    },
  );

  test.prop([
    fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.record({ start: fc.integer({ min: -8, max: 8 }), end: fc.integer({ min: -8, max: 8 }), step: fc.constantFrom(-2, -1, 1, 2, 3) }), { minLength: 1, maxLength: 3 }),
  ], RUNS)('Slice', async (shape, ranges) => {
    const used = ranges.slice(0, shape.length);
    const axes = used.map((_, i) => shape.length - 1 - i);
    await checkAgainstOnnxruntime({
      opset: 13,
      op: 'Slice',
      operands: [{ input: shape }, { ints: used.map((r) => r.start) }, { ints: used.map((r) => r.end) }, { ints: axes }, { ints: used.map((r) => r.step) }],
    });
  });

  test.prop([fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 4, maxLength: 4 }), fc.array(fc.constantFrom(0.5, 1, 1.5, 2, 3), { minLength: 2, maxLength: 2 })], RUNS)(
    'Resize by scales',
    async (shape, scales) => {
      await checkAgainstOnnxruntime({ opset: 13, op: 'Resize', operands: [{ input: shape }, null, { floats: [1, 1, ...scales] }], attrs: { mode: str('nearest') } });
    },
  );

  test.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.nat()], RUNS)('Reshape with 0 and -1', async (shape, keep) => {
    // Target: copy a prefix of dims with 0, merge the rest into one -1 dim, then a trailing 1.
    const k = keep % shape.length;
    const target = [...shape.slice(0, k).map(() => 0), -1, 1];
    await checkAgainstOnnxruntime({ opset: 13, op: 'Reshape', operands: [{ input: shape }, { ints: target }] });
  });

  test.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.boolean(), fc.constantFrom('ReduceMean', 'ReduceMax', 'ReduceSum')], RUNS)(
    'reductions',
    async (shape, axisSeed, keepDims, op) => {
      const axis = (axisSeed % shape.length) - (axisSeed % 2 ? shape.length : 0);
      const attrs: Record<string, Attribute> = { keepdims: int(keepDims ? 1 : 0) };
      const operands: Case['operands'] = [{ input: shape }];
      if (op === 'ReduceSum') operands.push({ ints: [axis] });
      else attrs.axes = ints([axis]);
      await checkAgainstOnnxruntime({ opset: 13, op, operands, attrs });
    },
  );

  test.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 })], RUNS)(
    'Pad, Transpose, Gather, Concat and Split',
    async (shape, seeds) => {
      const r = shape.length;
      await checkAgainstOnnxruntime({ opset: 13, op: 'Pad', operands: [{ input: shape }, { ints: [...seeds.slice(0, r), ...seeds.slice(3, 3 + r)] }] });
      const perm = shape.map((_, i) => i).sort((a, b) => ((a * 7 + seeds[0]!) % r) - ((b * 7 + seeds[0]!) % r));
      await checkAgainstOnnxruntime({ opset: 13, op: 'Transpose', operands: [{ input: shape }], attrs: { perm: ints(perm) } });
      const axis = seeds[1]! % r;
      await checkAgainstOnnxruntime({ opset: 13, op: 'Gather', operands: [{ input: shape }, { ints: [0, shape[axis]! - 1] }], attrs: { axis: int(axis) } });
      const grown = shape.map((d, i) => (i === axis ? d + seeds[2]! : d));
      await checkAgainstOnnxruntime({ opset: 13, op: 'Concat', operands: [{ input: shape }, { input: grown }], attrs: { axis: int(axis - r) } });
      await checkAgainstOnnxruntime({ opset: 13, op: 'Split', operands: [{ input: [...shape.slice(0, axis), 2 * shape[axis]!, ...shape.slice(axis + 1)] }], attrs: { axis: int(axis) }, outputs: 2 });
    },
  );

  test.prop([fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 3 }), fc.nat(), fc.constantFrom('Max', 'Min', 'Sum', 'Mean')], RUNS)(
    'DepthToSpace, SpaceToDepth, TopK, GatherElements, GlobalMaxPool and variadic broadcasting',
    async (dims, block, seed, variadic) => {
      const [n, c, h, w] = dims as [number, number, number, number];
      await checkAgainstOnnxruntime({ opset: 13, op: 'DepthToSpace', operands: [{ input: [n, c * block * block, h, w] }], attrs: { blocksize: int(block) } });
      await checkAgainstOnnxruntime({ opset: 13, op: 'SpaceToDepth', operands: [{ input: [n, c, h * block, w * block] }], attrs: { blocksize: int(block) } });
      const axis = seed % 4;
      await checkAgainstOnnxruntime({ opset: 13, op: 'TopK', operands: [{ input: dims }, { ints: [1 + (seed % dims[axis]!)] }], attrs: { axis: int(axis) }, outputs: 2 });
      await checkAgainstOnnxruntime({ opset: 13, op: 'GlobalMaxPool', operands: [{ input: dims }] });
      const indexShape = dims.map((d, i) => (i === axis ? block : d));
      const indices = { ints: new Array<number>(indexShape.reduce((a, b) => a * b, 1)).fill(0), shape: indexShape };
      await checkAgainstOnnxruntime({ opset: 13, op: 'GatherElements', operands: [{ input: dims }, indices], attrs: { axis: int(axis) } });
      await checkAgainstOnnxruntime({ opset: 13, op: variadic, operands: [{ input: dims }, { input: dims.slice(seed % 3).map((d, i) => (i % 2 ? 1 : d)) }, { input: [1] }] });
    },
  );
});
