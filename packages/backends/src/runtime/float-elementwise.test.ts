/**
 * The float elementwise ops, per-tensor Q/DQ and float GlobalAveragePool that the runtime runs
 * on the kernel library (slimc_binary_f32, slimc_unary_f32, slimc_quantize_f32, ...) give the
 * reference interpreter's results bit for bit, for every broadcast form the runtime lowers, on
 * NCHW data and on the NHWC data a convolution leaves (the chain starts with a 1x1 convolution
 * whose one-hot weights permute the channels: exact in any summation order).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Graph, Model, interpret, makeTensor, randomFloats, type Attribute, type Tensor, type Value } from '@slimc/ir';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { Runtime } from './runtime.js';

const float = (value: number): Attribute => ({ kind: 'float', value });

const randomData = (n: number, seed: number, spread: number) => randomFloats(n, seed, -spread, spread);

/** x[1,4,6,5], y[1,4,6,5] through each elementwise form; every intermediate is a graph output. */
function elementwiseModel(): { model: Model; inputs: Record<string, Tensor> } {
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 14);
  const g = model.graph;
  const shape = [1, 4, 6, 5];
  const x = g.addInput('x', { dtype: 'float32', shape });
  const y = g.addInput('y', { dtype: 'float32', shape });
  const c = (name: string, dims: number[], data: Float32Array) => g.addConstant(name, makeTensor('float32', dims, data));
  let count = 0;
  const outputs: Value[] = [];
  const add = (op: string, inputs: (Value | null)[], attrs: Record<string, Attribute> = {}) => {
    const v = g.addNode({ op, inputs, attrs, outputs: [`${op.toLowerCase()}_${count++}`] }).output(0);
    outputs.push(v);
    return v;
  };
  const permutation = new Float32Array(16);
  [2, 0, 3, 1].forEach((from, to) => (permutation[to * 4 + from] = 1));
  const permuted = add('Conv', [x, c('one_hot', [4, 4, 1, 1], permutation)]);
  add('GlobalAveragePool', [add('HardSwish', [permuted])]);
  let v = add('Add', [permuted, c('per_channel', [4, 1, 1], randomData(4, 1, 2))]);
  v = add('Sub', [c('scalar', [], Float32Array.of(0.375)), v]); // scalar on the left: swapped
  v = add('Div', [v, c('last_dim', [5], randomData(5, 2, 3))]);
  v = add('Div', [c('per_channel_left', [1, 4, 1, 1], randomData(4, 3, 3)), v]);
  v = add('Mul', [v, y]);
  v = add('HardSwish', [v]);
  const hs = add('HardSigmoid', [v], { alpha: float(0.3), beta: float(0.4) });
  const clipped = add('Clip', [v, c('lo', [], Float32Array.of(-0.5)), c('hi', [], Float32Array.of(0.7))]);
  add('Relu', [add('Sub', [hs, clipped])]);
  add('GlobalAveragePool', [v]);
  add('Pow', [v, c('two', [], Float32Array.of(2))]);
  for (const [zpType, zp] of [['uint8', Uint8Array.of(131)], ['int8', Int8Array.of(-3)]] as const) {
    const zeroPoint = g.addConstant(`zp_${zpType}`, makeTensor(zpType, [], zp));
    const q = add('QuantizeLinear', [v, c(`s_${zpType}`, [], Float32Array.of(0.0173)), zeroPoint]);
    add('DequantizeLinear', [q, c(`ds_${zpType}`, [], Float32Array.of(0.0173)), zeroPoint]);
  }
  for (const o of outputs) {
    g.outputs.push(o);
    o.uses.push({ user: g, index: g.outputs.length - 1 });
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const xs = randomData(n, 4, 4);
  xs[7] = 0.5; // ties of the quantizer grid land on exact halves elsewhere; include special values too
  xs[8] = -0;
  return { model, inputs: { x: makeTensor('float32', shape, xs), y: makeTensor('float32', shape, randomData(n, 5, 2)) } };
}

let library: KernelLibrary;
beforeAll(async () => {
  library = await KernelLibrary.load();
});
let rt: Runtime | undefined;
afterAll(() => rt?.dispose());

test('float elementwise, Q/DQ and GlobalAveragePool equal the interpreter bit for bit', async () => {
  const { model, inputs } = elementwiseModel();
  rt = await Runtime.load(model, { library });
  const want = interpret(model.graph, inputs, { opset: 14 });
  for (let run = 0; run < 2; run++) {
    const got = rt.run(inputs);
    expect(rt.interpretedLastRun).toEqual({});
    for (const name of Object.keys(want)) {
      expect(got[name]!.shape, name).toEqual(want[name]!.shape);
      expect(Array.from(got[name]!.data as Float32Array), name).toEqual(Array.from(want[name]!.data as Float32Array));
    }
  }
});

test('nearest Resize (integer factors), non-overlapping ConvTranspose, Softmax and BatchNormalization run on kernels, NCHW and NHWC', async () => {
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 13);
  const g = model.graph;
  const x = g.addInput('x', { dtype: 'float32', shape: [2, 3, 4, 5] });
  const c = (name: string, dims: number[], data: Float32Array) => g.addConstant(name, makeTensor('float32', dims, data));
  const str = (value: string): Attribute => ({ kind: 'string', value });
  const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });
  const node = (op: string, inputs: (Value | null)[], attrs: Record<string, Attribute> = {}) => g.addNode({ op, inputs, attrs, outputs: [op.toLowerCase()] }).output(0);
  const nearest = { mode: str('nearest'), coordinate_transformation_mode: str('asymmetric'), nearest_mode: str('floor') };
  const identity = new Float32Array(9);
  [0, 4, 8].forEach((i) => (identity[i] = 1));
  const nhwc = node('Conv', [x, c('one_hot', [3, 3, 1, 1], identity)]); // a convolution leaves NHWC data
  const outputs = [
    node('Resize', [x, c('roi', [0], new Float32Array(0)), c('scales', [4], Float32Array.of(1, 1, 2, 3))], nearest),
    node('Resize', [nhwc, c('roi2', [0], new Float32Array(0)), c('scales2', [4], Float32Array.of(1, 1, 3, 2))], nearest),
    node('ConvTranspose', [x, c('wt', [3, 4, 2, 3], randomData(72, 6, 1)), c('bt', [4], randomData(4, 7, 1))], { kernel_shape: ints(2, 3), strides: ints(2, 3) }),
    node('Softmax', [nhwc], { axis: { kind: 'int', value: 1 } }),
    node('BatchNormalization', [nhwc, c('bn_scale', [3], randomData(3, 9, 2)), c('bn_bias', [3], randomData(3, 10, 1)),
      c('bn_mean', [3], randomData(3, 11, 1)), c('bn_var', [3], Float32Array.of(0.5, 1.25, 2))], { epsilon: { kind: 'float', value: Math.fround(1e-3) } }),
    node('Softmax', [x]),
  ];
  for (const o of outputs) {
    g.outputs.push(o);
    o.uses.push({ user: g, index: g.outputs.length - 1 });
  }
  const inputs = { x: makeTensor('float32', [2, 3, 4, 5], randomData(120, 8, 2)) };
  const local = await Runtime.load(model, { library });
  try {
    const got = local.run(inputs);
    expect(local.interpretedLastRun).toEqual({});
    const want = interpret(model.graph, inputs, { opset: 13 });
    const [resized, resizedNhwc, transposed, softmax1, normalized, softmax2] = outputs.map((o) => o.name);
    const softmaxes = [softmax1!, softmax2!];
    for (const name of [resized!, resizedNhwc!, normalized!]) {
      expect(got[name]!.shape).toEqual(want[name]!.shape);
      expect(Array.from(got[name]!.data as Float32Array)).toEqual(Array.from(want[name]!.data as Float32Array));
    }
    expect(got[transposed!]!.shape).toEqual([2, 4, 8, 15]);
    const a = got[transposed!]!.data as Float32Array;
    const b = want[transposed!]!.data as Float32Array;
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 5);
    // libm's exp against Math.exp: equal to within a float32 rounding
    for (const name of softmaxes) {
      const [p, q] = [got[name]!.data as Float32Array, want[name]!.data as Float32Array];
      for (let i = 0; i < p.length; i++) expect(Math.abs(p[i]! - q[i]!)).toBeLessThanOrEqual(q[i]! * 2 ** -23);
    }
  } finally {
    local.dispose();
  }
});

/**
 * Makes `outputs` the graph's outputs, runs the model in a runtime of its own and in the
 * interpreter, checks which ops the interpreter ran in the runtime and the shapes, and hands each
 * output's two tensors to `check`.
 */
async function compareWithInterpreter(model: Model, outputs: readonly Value[], inputs: Record<string, Tensor>,
  interpreted: Record<string, number>, check: (got: Tensor, want: Tensor, name: string) => void): Promise<void> {
  const g = model.graph;
  for (const o of outputs) {
    g.outputs.push(o);
    o.uses.push({ user: g, index: g.outputs.length - 1 });
  }
  const local = await Runtime.load(model, { library });
  try {
    const got = local.run(inputs);
    expect(local.interpretedLastRun).toEqual(interpreted);
    const want = interpret(g, inputs, { opset: model.opset });
    for (const o of outputs) {
      expect(got[o.name]!.shape, o.name).toEqual(want[o.name]!.shape);
      check(got[o.name]!, want[o.name]!, o.name);
    }
  } finally {
    local.dispose();
  }
}

const values = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** Each element within 1e-5 relative (absolute below 1) of the interpreter's. */
const within1e5 = (got: Tensor, want: Tensor, name: string) => {
  const [p, q] = [values(got), values(want)];
  p.forEach((v, i) => expect(Math.abs(v - q[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(q[i]!))));
};

const bitExact = (got: Tensor, want: Tensor, name: string) => expect(values(got), name).toEqual(values(want));

const opset13 = () => {
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 13);
  return model;
};

test('a ConvTranspose whose weights are DequantizeLinear(int8 constant) runs on its kernel (the DQ folded at load), as with float weights, on NHWC input', async () => {
  const model = opset13();
  const g = model.graph;
  const input = g.addInput('x', { dtype: 'float32', shape: [2, 3, 4, 5] });
  // a convolution leaves its result NHWC
  const x = g.addNode({ op: 'Conv', inputs: [input, g.addConstant('c', makeTensor('float32', [3, 3, 1, 1], randomData(9, 15, 1)))], outputs: ['conv'] }).output(0);
  const codes = makeTensor('int8', [3, 4, 2, 2], Array.from(randomData(48, 12, 1), (v) => Math.round(v * 127)));
  const scales = makeTensor('float32', [4], Float32Array.of(0.01, 0.02, 0.005, 0.04));
  const w = g.addNode({ op: 'DequantizeLinear', inputs: [g.addConstant('w_q', codes), g.addConstant('w_scale', scales)],
    attrs: { axis: { kind: 'int', value: 1 } }, outputs: ['w'] }).output(0);
  const y = g.addNode({ op: 'ConvTranspose', inputs: [x, w, g.addConstant('b', makeTensor('float32', [4], randomData(4, 13, 1)))],
    attrs: { kernel_shape: { kind: 'ints', value: [2, 2] }, strides: { kind: 'ints', value: [2, 2] } }, outputs: ['y'] }).output(0);
  await compareWithInterpreter(model, [y], { x: makeTensor('float32', [2, 3, 4, 5], randomData(120, 14, 2)) }, {}, (got, want, name) => {
    expect(got.shape).toEqual([2, 4, 8, 10]);
    within1e5(got, want, name);
  });
  const local = await Runtime.load(model, { library });
  expect(local.plan.steps.map((s) => (s.kind === 'interp' ? s.node.op : s.kind))).toEqual(['conv-f32', 'ConvTranspose']);
  local.dispose();
});

test('Sigmoid and Softmax (last axis and inner axis) equal the interpreter within one float32 rounding, over arguments where exp under- and overflows', async () => {
  const model = opset13();
  const g = model.graph;
  const shape = [3, 7, 33];
  const x = g.addInput('x', { dtype: 'float32', shape });
  const node = (op: string, attrs: Record<string, Attribute> = {}) => g.addNode({ op, inputs: [x], attrs, outputs: [`${op.toLowerCase()}_${g.nodeCount}`] }).output(0);
  const outputs = [node('Sigmoid'), node('Softmax'), node('Softmax', { axis: { kind: 'int', value: 1 } })];
  const n = 3 * 7 * 33;
  // rows of small logits, rows spread over hundreds (terms below e^-708), and extremes
  const data = Float32Array.from(randomData(n, 16, 1), (v, i) => (i % 231 < 77 ? v * 8 : i % 231 < 154 ? v * 900 : v * 60));
  data.set([-1e30, 1e30, -750, 750, -89, 89, 0, -0], 40);
  await compareWithInterpreter(model, outputs, { x: makeTensor('float32', shape, data) }, {}, (got, want) => {
    const [p, q] = [got.data as Float32Array, want.data as Float32Array];
    let differ = 0;
    for (let i = 0; i < p.length; i++) {
      expect(Math.abs(p[i]! - q[i]!)).toBeLessThanOrEqual(q[i]! * 2 ** -23);
      if (p[i] !== q[i]) differ++;
    }
    // exp within 1e-14: a differing rounding needs a value within 1e-14 of a float32 tie
    expect(differ).toBeLessThanOrEqual(1);
  });
});

test('Concat runs as copies: channels of NHWC data stay NHWC (with a one-channel input), other axes in NCHW, int64 shapes; equal to the interpreter', async () => {
  const model = opset13();
  const g = model.graph;
  const x = g.addInput('x', { dtype: 'float32', shape: [2, 3, 4, 5] });
  const conv = (name: string, cout: number, seed: number) =>
    g.addNode({ op: 'Conv', inputs: [x, g.addConstant(`${name}_w`, makeTensor('float32', [cout, 3, 1, 1], randomData(cout * 3, seed, 1)))], outputs: [name] }).output(0);
  const [a, b, one] = [conv('a', 3, 20), conv('b', 4, 21), conv('one', 1, 22)];
  const concat = (name: string, inputs: Value[], axis: number) =>
    g.addNode({ op: 'Concat', inputs, attrs: { axis: { kind: 'int', value: axis } }, outputs: [name] }).output(0);
  const shape = g.addNode({ op: 'Shape', inputs: [x], outputs: ['shape'] }).output(0);
  const outputs = [
    concat('channels', [a, one, b], 1),
    concat('rows', [a, x], -2),
    concat('shapes', [shape, g.addConstant('extra', makeTensor('int64', [2], [7n, 9n]))], 0),
  ];
  // the NHWC result read by a convolution (stays NHWC) and returned
  outputs.push(g.addNode({ op: 'Conv', inputs: [outputs[0]!, g.addConstant('d_w', makeTensor('float32', [2, 8, 1, 1], randomData(16, 23, 1)))], outputs: ['d'] }).output(0));
  // the float convolutions sum in another order than the interpreter: within 1e-5; the copies add nothing
  await compareWithInterpreter(model, outputs, { x: makeTensor('float32', [2, 3, 4, 5], randomData(120, 24, 2)) }, { Shape: 1 }, within1e5);
});

test('MatMul of two float activations (batched, and a shared 2-D B) on the float GEMM: within 1e-5 of the interpreter', async () => {
  const model = opset13();
  const g = model.graph;
  const q = g.addInput('q', { dtype: 'float32', shape: [2, 3, 7, 5] });
  const k = g.addInput('k', { dtype: 'float32', shape: [2, 3, 5, 9] });
  const w = g.addInput('w', { dtype: 'float32', shape: [9, 6] });
  const scores = g.addNode({ op: 'MatMul', inputs: [q, k], outputs: ['scores'] }).output(0);
  const mixed = g.addNode({ op: 'MatMul', inputs: [scores, w], outputs: ['mixed'] }).output(0);
  const inputs = { q: makeTensor('float32', [2, 3, 7, 5], randomData(210, 30, 2)), k: makeTensor('float32', [2, 3, 5, 9], randomData(270, 31, 2)),
    w: makeTensor('float32', [9, 6], randomData(54, 32, 2)) };
  await compareWithInterpreter(model, [scores, mixed], inputs, {}, within1e5);
});

test('Transpose, Slice (steps, negative and out-of-range bounds, int64 shapes) and last-axis ReduceMean run on kernels, equal to the interpreter', async () => {
  const model = opset13();
  const g = model.graph;
  const x = g.addInput('x', { dtype: 'float32', shape: [2, 3, 4, 5] });
  const i64 = (name: string, values: number[]) => g.addConstant(name, makeTensor('int64', [values.length], values.map(BigInt)));
  const node = (op: string, inputs: Value[], attrs: Record<string, Attribute> = {}) =>
    g.addNode({ op, inputs, attrs, outputs: [`${op.toLowerCase()}_${g.nodeCount}`] }).output(0);
  const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });
  const shape = node('Shape', [x]);
  const outputs = [
    node('Transpose', [x], { perm: ints(0, 2, 3, 1) }),
    node('Transpose', [x]),
    node('Slice', [x, i64('s0', [1, -4]), i64('e0', [1000, -1]), i64('a0', [1, 3])]),
    node('Slice', [x, i64('s1', [0, 1]), i64('e1', [4, 5]), i64('a1', [-2, 3]), i64('k1', [2, 3])]),
    node('Slice', [shape, i64('s2', [-2]), i64('e2', [10]), i64('a2', [0])]),
    node('ReduceMean', [x], { axes: ints(-1) }),
    node('ReduceMean', [x], { axes: ints(3), keepdims: { kind: 'int', value: 0 } }),
  ];
  await compareWithInterpreter(model, outputs, { x: makeTensor('float32', [2, 3, 4, 5], randomData(120, 40, 3)) }, { Shape: 1 }, bitExact);
});
