import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Graph, Model, SlimcError, interpret, makeTensor, type Attribute, type Tensor, type Value } from '@slimc/ir';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { compileForWasm, loadCompiled, SLIMC_MAGIC } from './format.js';
import { wasmExecutor } from './executor.js';
import { Runtime } from './runtime.js';

const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });
const int = (value: number): Attribute => ({ kind: 'int', value });

function floats(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
}

/**
 * x[1,4,8,8] -> Conv 3x3 (8 out) -> Relu -> depthwise Conv 3x3 stride 2 -> Mul per-channel
 * -> Flatten -> Gemm(transB) -> Sigmoid -> Softmax(interpreter)
 */
function smallFloatModel(): { model: Model; inputs: Record<string, Tensor> } {
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 13);
  const g = model.graph;
  const x = g.addInput('x', { dtype: 'float32', shape: [1, 4, 8, 8] });
  const c = (name: string, shape: number[], seed: number) => g.addConstant(name, makeTensor('float32', shape, floats(shape.reduce((a, b) => a * b, 1), seed)));
  const add = (op: string, inputs: (Value | null)[], attrs: Record<string, Attribute> = {}) => g.addNode({ op, inputs, attrs, outputs: [op.toLowerCase()] }).output(0);
  let y = add('Conv', [x, c('w1', [8, 4, 3, 3], 1), c('b1', [8], 2)], { pads: ints(1, 1, 1, 1) });
  y = add('Relu', [y]);
  y = add('Conv', [y, c('w2', [8, 1, 3, 3], 3), null], { group: int(8), strides: ints(2, 2), pads: ints(1, 1, 1, 1) });
  y = add('Mul', [y, c('scale', [8, 1, 1], 4)]);
  y = add('Flatten', [y]);
  y = add('Gemm', [y, c('w3', [10, 128], 5), c('b3', [10], 6)], { transB: int(1) });
  y = add('Sigmoid', [y]);
  y = add('Softmax', [y]);
  g.outputs.push(y);
  y.uses.push({ user: g, index: 0 });
  return { model, inputs: { x: makeTensor('float32', [1, 4, 8, 8], floats(256, 7)) } };
}

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return worst;
}

let library: KernelLibrary;
beforeAll(async () => {
  library = await KernelLibrary.load();
});
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

describe('Runtime', () => {
  test('a small float model: kernels where they apply, the interpreter for the rest, same result', async () => {
    const { model, inputs } = smallFloatModel();
    const rt = await Runtime.load(model, { library });
    runtimes.push(rt);
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['conv-f32', 'conv-f32', 'interp', 'interp', 'gemm-f32', 'interp', 'interp']);
    expect(rt.fallbacks).toEqual(['Flatten', 'Mul', 'Sigmoid', 'Softmax']);
    const want = interpret(model.graph, inputs, { opset: 13 });
    const got = rt.run(inputs);
    for (const name of Object.keys(want)) expect(maxDiff(got[name]!, want[name]!)).toBeLessThan(1e-6);
    // weights: packed 3x3 conv, depthwise taps and biases, packed gemm; activations reuse space
    const m = rt.memory;
    expect(m.weights).toBeGreaterThanOrEqual(4 * (8 * 4 * 9 + 8 + 8 * 9 + 10 * 128 + 10));
    expect(m.largestLiveSet).toBeLessThanOrEqual(m.peakActivations);
    const allActivations = 4 * (256 + 512 * 2 + 128 * 3 + 10 * 3);
    expect(m.peakActivations).toBeLessThan(allActivations);
    // the second run with the same shapes follows the offline plan recorded by the first
    expect(m.plannedActivations).toBe(0);
    const again = rt.run(inputs);
    for (const name of Object.keys(want)) expect(maxDiff(again[name]!, got[name]!)).toBe(0);
    expect(rt.memory.plannedActivations).toBeGreaterThanOrEqual(rt.memory.largestLiveSet);
    expect(rt.memory.plannedActivations).toBeLessThanOrEqual(rt.memory.onlineActivations);
  });

  test('a run whose sizes depend on the data leaves the recorded plan and is redone online', async () => {
    const model = new Model(new Graph('main'));
    model.opsetImports.set('', 13);
    const g = model.graph;
    const x = g.addInput('x', { dtype: 'float32', shape: [64] });
    const nz = g.addNode({ op: 'NonZero', inputs: [x], outputs: ['nz'] }).output(0);
    const y = g.addNode({ op: 'Cast', inputs: [nz], attrs: { to: int(1) }, outputs: ['y'] }).output(0);
    g.outputs.push(y);
    y.uses.push({ user: g, index: 0 });
    const rt = await Runtime.load(model, { library });
    runtimes.push(rt);
    // 8, 8, 60 and 1 non-zeros: int64 indices of 64, 64, 480 and 8 bytes
    const pattern = (every: number) => Array.from({ length: 64 }, (_, i) => (i % every === 0 ? i + 1 : 0));
    for (const values of [pattern(8), pattern(8), pattern(1).map((v, i) => (i < 4 ? 0 : v)), [5, ...new Array<number>(63).fill(0)]]) {
      const inputs = { x: makeTensor('float32', [64], values) };
      expect(rt.run(inputs).y).toEqual(interpret(g, inputs, { opset: 13 }).y);
    }
  });

  test('.slimc round trip: same plan kinds, bit-identical outputs; corrupt files are rejected', async () => {
    const { model, inputs } = smallFloatModel();
    const bytes = compileForWasm(model);
    expect(String.fromCharCode(...bytes.subarray(0, 8))).toBe(SLIMC_MAGIC);
    const weightsOffset = new DataView(bytes.buffer, bytes.byteOffset).getUint32(24, true);
    expect(weightsOffset % 64).toBe(0);
    const plan = loadCompiled(bytes);
    const direct = await Runtime.load(model, { library });
    const loaded = await Runtime.load(bytes, { library });
    runtimes.push(direct, loaded);
    expect(loaded.plan.steps.map((s) => s.kind)).toEqual(direct.plan.steps.map((s) => s.kind));
    expect(plan.outputs).toEqual(direct.plan.outputs);
    const a = direct.run(inputs);
    const b = loaded.run(inputs);
    for (const name of Object.keys(a)) expect(maxDiff(a[name]!, b[name]!)).toBe(0);

    const badMagic = bytes.slice();
    badMagic[0] = 0x41;
    expect(() => loadCompiled(badMagic)).toThrow(/bad magic/);
    const badVersion = bytes.slice();
    new DataView(badVersion.buffer).setUint32(8, 99, true);
    expect(() => loadCompiled(badVersion)).toThrow(/version 99/);
    expect(() => loadCompiled(bytes.subarray(0, weightsOffset + 8))).toThrow(SlimcError);
  });

  test('models with subgraphs run but cannot be stored', async () => {
    const model = new Model(new Graph('main'));
    model.opsetImports.set('', 13);
    const g = model.graph;
    const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
    const x = g.addInput('x', { dtype: 'float32', shape: [3] });
    const branch = (op: string) => {
      const body = new Graph(op, g.names);
      const out = body.addNode({ op, inputs: [x], outputs: [`${op}_out`] }).output(0);
      body.outputs.push(out);
      out.uses.push({ user: body, index: 0 });
      return body;
    };
    const node = g.addNode({ op: 'If', inputs: [cond], outputs: ['y'], attrs: { then_branch: { kind: 'graph', value: branch('Relu') }, else_branch: { kind: 'graph', value: branch('Neg') } } });
    g.outputs.push(node.output(0));
    node.output(0).uses.push({ user: g, index: 0 });
    const rt = await Runtime.load(model, { library });
    runtimes.push(rt);
    const xs = makeTensor('float32', [3], [-1, 0, 2]);
    expect(Array.from(rt.run({ cond: makeTensor('bool', [], [0]), x: xs }).y!.data as Float32Array)).toEqual([1, -0, -2]);
    expect(() => compileForWasm(model)).toThrow(/cannot be stored/);
  });

  test('errors name the value or the step', async () => {
    const { model, inputs } = smallFloatModel();
    const rt = await Runtime.load(model, { library });
    runtimes.push(rt);
    expect(() => rt.run({})).toThrow(/value "x": no tensor given/);
    expect(() => rt.run({ x: makeTensor('float32', [1, 3, 8, 8], floats(192, 1)) })).toThrow(/value "x": expected shape \[1,4,8,8\]/);
    // the graph input declares a symbolic size: the convolution step itself checks its channels
    model.graph.inputs[0]!.type = { dtype: 'float32', shape: [1, 'C', 8, 8] };
    const symbolic = await Runtime.load(model, { library });
    runtimes.push(symbolic);
    expect(() => symbolic.run({ x: makeTensor('float32', [1, 3, 8, 8], floats(192, 1)) })).toThrow(/node "Conv#\d+" \(conv-f32\), value "x": expected an NCHW input with 4 channels/);
    // a failed run leaves the runtime usable
    expect(maxDiff(rt.run(inputs).softmax!, interpret(model.graph, inputs, { opset: 13 }).softmax!)).toBeLessThan(1e-6);
  });
});

describe('MatMul', () => {
  test('a 1-D input is one row and the result is 1-D', async () => {
    const model = new Model(new Graph('main'));
    model.opsetImports.set('', 13);
    const g = model.graph;
    const x = g.addInput('x', { dtype: 'float32', shape: ['K'] });
    const y = g.addNode({ op: 'MatMul', inputs: [x, g.addConstant('w', makeTensor('float32', [5, 3], floats(15, 2)))], outputs: ['y'] }).output(0);
    g.outputs.push(y);
    y.uses.push({ user: g, index: 0 });
    const rt = await Runtime.load(model, { library });
    runtimes.push(rt);
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['gemm-f32']);
    const inputs = { x: makeTensor('float32', [5], floats(5, 9)) };
    const got = rt.run(inputs).y!;
    expect(maxDiff(got, interpret(g, inputs, { opset: 13 }).y!)).toBeLessThan(1e-6);
    expect(got.shape).toEqual([3]);
  });
});

describe('NHWC between window kernels', () => {
  test('conv -> conv -> conv keeps intermediates NHWC; observers and outputs still see NCHW', async () => {
    const model = new Model(new Graph('main'));
    model.opsetImports.set('', 13);
    const g = model.graph;
    let y: Value = g.addInput('x', { dtype: 'float32', shape: [1, 3, 9, 7] });
    const shapes = [[6, 3, 3, 3], [5, 6, 1, 1], [4, 5, 3, 3]];
    shapes.forEach((shape, i) => {
      const w = g.addConstant(`w${i}`, makeTensor('float32', shape, floats(shape.reduce((a, b) => a * b, 1), 10 + i)));
      y = g.addNode({ op: 'Conv', inputs: [y, w], attrs: { pads: ints(...new Array<number>(4).fill(shape[2]! >> 1)), strides: ints(1, i === 1 ? 2 : 1) }, outputs: [`conv${i}`] }).output(0);
    });
    g.outputs.push(y);
    y.uses.push({ user: g, index: 0 });
    const inputs = { x: makeTensor('float32', [1, 3, 9, 7], floats(189, 3)) };
    const rt = await Runtime.load(model, { library });
    runtimes.push(rt);
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['conv-f32', 'conv-f32', 'conv-f32']);
    const seen = new Map<string, Tensor>();
    const got = rt.run(inputs, (name, t) => seen.set(name, t));
    const reference = new Map<string, Tensor>();
    const want = interpret(g, inputs, { opset: 13, observe: (v, t) => reference.set(v.name, t) });
    expect(maxDiff(got.conv2!, want.conv2!)).toBeLessThan(1e-5);
    for (const [name, t] of reference) expect(maxDiff(seen.get(name)!, t), name).toBeLessThan(1e-5);
  });
});

describe('wasmExecutor', () => {
  test('observes every node output, as the interpreter does, and caches the lowering per graph', async () => {
    const { model, inputs } = smallFloatModel();
    const executor = wasmExecutor();
    const seen = new Map<string, Tensor>();
    const out = await executor.run(model.graph, inputs, { opset: 13, observe: (v, t) => seen.set(v.name, t) });
    const reference = new Map<string, Tensor>();
    interpret(model.graph, inputs, { opset: 13, observe: (v, t) => reference.set(v.name, t) });
    // unfused: the Relu output is observed on its own
    expect([...seen.keys()].sort()).toEqual([...reference.keys()].sort());
    for (const [name, t] of reference) expect(maxDiff(seen.get(name)!, t)).toBeLessThan(1e-5);
    const again = await executor.run(model.graph, inputs, { opset: 13 });
    expect(maxDiff(again.softmax!, out.softmax!)).toBeLessThan(1e-6);
  });
});
