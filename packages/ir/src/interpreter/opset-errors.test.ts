import { describe, expect, it } from 'vitest';
import { Graph, type Attribute } from '../graph.js';
import { SlimcError } from '../errors.js';
import { makeTensor, type Tensor } from '../tensor.js';
import { interpret, runOp } from './interpret.js';
import { supportedOps } from './registry.js';

const f32 = (shape: number[], data: number[]) => makeTensor('float32', shape, data);
const i64 = (shape: number[], data: number[]) => makeTensor('int64', shape, data.map(BigInt));
const ints = (value: number[]): Attribute => ({ kind: 'ints', value });
const int = (value: number): Attribute => ({ kind: 'int', value });
const values = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);
const one = (op: string, inputs: (Tensor | null)[], attrs: Record<string, Attribute>, opset: number) => runOp(op, inputs, attrs, { opset })[0]!;

function thrown(f: () => unknown): SlimcError {
  try {
    f();
  } catch (e) {
    if (e instanceof SlimcError) return e;
    throw e;
  }
  throw new Error('expected a SlimcError');
}

describe('opset-dependent semantics', () => {
  const x = f32([2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]);

  it('Softmax before opset 13 normalizes the flattened tail from axis on', () => {
    const old = values(one('Softmax', [x], { axis: int(1) }, 11));
    const now = values(one('Softmax', [x], { axis: int(1) }, 13));
    // Opset 11: each batch row of 4 sums to 1. Opset 13: each pair along axis 1 sums to 1.
    expect(old.slice(0, 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(now[0]! + now[2]!).toBeCloseTo(1, 6);
    expect(now[0]! + now[1]! + now[2]! + now[3]!).toBeCloseTo(2, 6);
    // Opset 13 default axis is the last one.
    expect(values(one('Softmax', [x], {}, 13))[0]! + values(one('Softmax', [x], {}, 13))[1]!).toBeCloseTo(1, 6);
  });

  it('ReduceSum reads axes from the attribute before 13 and the input after; ReduceMean until 18', () => {
    expect(values(one('ReduceSum', [x], { axes: ints([0]), keepdims: int(0) }, 11))).toEqual([4, 6, 8, 10]);
    expect(values(one('ReduceSum', [x, i64([1], [0])], { keepdims: int(0) }, 13))).toEqual([4, 6, 8, 10]);
    expect(values(one('ReduceMean', [x], { axes: ints([2]), keepdims: int(0) }, 13))).toEqual([0.5, 2.5, 4.5, 6.5]);
    expect(values(one('ReduceMean', [x, i64([1], [2])], { keepdims: int(0) }, 18))).toEqual([0.5, 2.5, 4.5, 6.5]);
    expect(one('ReduceMax', [x, i64([0], [])], { noop_with_empty_axes: int(1) }, 18).shape).toEqual([2, 2, 2]);
  });

  it('Split takes lengths from the attribute before 13 and supports num_outputs from 18', () => {
    const v = f32([5], [0, 1, 2, 3, 4]);
    expect(runOp('Split', [v], { split: ints([2, 3]) }, { opset: 11, outputs: 2 }).map((t) => values(t!))).toEqual([[0, 1], [2, 3, 4]]);
    expect(runOp('Split', [v], { num_outputs: int(2) }, { opset: 18, outputs: 2 }).map((t) => values(t!))).toEqual([[0, 1, 2], [3, 4]]);
  });

  it('Resize nearest follows nearest_mode and the coordinate mode; Upsample uses asymmetric floor', () => {
    const v = f32([1, 1, 1, 4], [10, 20, 30, 40]);
    const scales = f32([4], [1, 1, 1, 0.5]);
    const resize = (attrs: Record<string, Attribute>) => values(one('Resize', [v, null, scales], attrs, 13));
    // half_pixel: x_in = (x + 0.5) * 2 - 0.5 = 0.5, 2.5.
    expect(resize({})).toEqual([10, 30]); // round_prefer_floor: 0.5 -> 0, 2.5 -> 2
    expect(resize({ nearest_mode: { kind: 'string', value: 'round_prefer_ceil' } })).toEqual([20, 40]);
    expect(resize({ coordinate_transformation_mode: { kind: 'string', value: 'asymmetric' } })).toEqual([10, 30]);
    const up = one('Upsample', [f32([1, 1, 1, 2], [1, 2]), f32([4], [1, 1, 1, 2])], { mode: { kind: 'string', value: 'nearest' } }, 9);
    expect(values(up)).toEqual([1, 1, 2, 2]);
  });

  it('Resize linear with align_corners interpolates between the corner pixels', () => {
    const y = one('Resize', [f32([1, 1, 1, 2], [0, 3]), null, null, i64([4], [1, 1, 1, 4])], { mode: { kind: 'string', value: 'linear' }, coordinate_transformation_mode: { kind: 'string', value: 'align_corners' } }, 13);
    expect(values(y)).toEqual([0, 1, 2, 3]);
  });
});

describe('errors name the node, op and field', () => {
  it('reports a missing required input', () => {
    const e = thrown(() => runOp('Add', [f32([1], [1]), null]));
    expect(e.kind).toBe('invalid-model');
    expect(e.context.op).toBe('Add');
    expect(e.context.field).toBe('input 1');
  });

  it('reports a wrong input rank', () => {
    const e = thrown(() => runOp('Conv', [f32([2, 2], [1, 2, 3, 4]), f32([1, 1, 1], [1])]));
    expect(e.context.op).toBe('Conv');
    expect(e.context.field).toBe('input 0');
    expect(e.message).toMatch(/rank 2/);
  });

  it('reports mismatched MatMul and Concat shapes', () => {
    expect(thrown(() => runOp('MatMul', [f32([2, 3], new Array(6).fill(0)), f32([2, 3], new Array(6).fill(0))])).context.field).toBe('input 1');
    expect(thrown(() => runOp('Concat', [f32([1, 2], [1, 2]), f32([2, 3], new Array(6).fill(0))], { axis: int(0) })).context.field).toBe('input 1');
  });

  it('reports an op without a kernel as unsupported, and inside a graph names the node', () => {
    const g = new Graph('m');
    const x = g.addInput('x', { dtype: 'float32', shape: [1] });
    const n = g.addNode({ op: 'Frobnicate', domain: 'com.example', name: 'mystery', inputs: [x] });
    g.addOutput(n.output(0));
    const e = thrown(() => interpret(g, { x: f32([1], [1]) }));
    expect(e.kind).toBe('unsupported');
    expect(e.context).toMatchObject({ node: 'mystery', op: 'com.example:Frobnicate' });
  });

  it('reports a missing graph input as an invalid argument naming the value', () => {
    const g = new Graph('m');
    const x = g.addInput('x', { dtype: 'float32', shape: [1] });
    g.addOutput(g.addNode({ op: 'Relu', inputs: [x] }).output(0));
    const e = thrown(() => interpret(g, {}));
    expect(e.kind).toBe('invalid-argument');
    expect(e.context.value).toBe('x');
  });

  it('supports every op the real models use', () => {
    const ops = new Set(supportedOps());
    const used = ['Constant', 'Conv', 'ConvTranspose', 'BatchNormalization', 'Mul', 'Add', 'Sub', 'Div', 'Pow', 'Sqrt', 'Clip', 'Relu', 'HardSigmoid', 'Sigmoid', 'GlobalAveragePool', 'AveragePool', 'MaxPool', 'Resize', 'Concat', 'Shape', 'Cast', 'Slice', 'Reshape', 'Transpose', 'ReduceMean', 'MatMul', 'Squeeze', 'Unsqueeze', 'Softmax', 'Gather', 'Equal', 'If', 'Pad', 'Identity', 'Log', 'Neg', 'ConstantOfShape', 'LSTM', 'Size', 'Not'];
    expect(used.filter((op) => !ops.has(op))).toEqual([]);
  });
});
