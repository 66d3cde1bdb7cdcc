import { expect, test } from 'vitest';
import { encodeOnnx } from '@slimc/backends';
import { cloneModel, interpret, makeTensor, printGraph, tensorsEqual, type Attribute } from '@slimc/ir';
import { buildModel, f32, f32Type, int, ints, op, seededFloats } from '../../../../test/passes-support.js';
import { runOrt } from '../../../../test/interpreter-oracle.js';
import { removeDefaultConvAttributes } from './default-attributes.js';

const str = (value: string): Attribute => ({ kind: 'string', value });

/** Conv, ConvTranspose, QLinearConv and ConvInteger spelling defaults, beside attributes that are not. */
function convs() {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 4, 6, 6));
    const w = g.addConstant('w', f32([4, 4, 3, 3], seededFloats(144, 1, -0.5, 0.5)));
    const all = { auto_pad: str('NOTSET'), dilations: ints(1, 1), group: int(1), kernel_shape: ints(3, 3), pads: ints(0, 0, 0, 0), strides: ints(1, 1) };
    const a = op(g, 'Conv', [x, w], all);
    // not defaults: padding, stride 2, depthwise groups
    const dw = g.addConstant('dw', f32([4, 1, 3, 3], seededFloats(36, 2, -0.5, 0.5)));
    const b = op(g, 'Conv', [a, dw], { ...all, group: int(4), pads: ints(1, 1, 1, 1), strides: ints(2, 2) });
    const wt = g.addConstant('wt', f32([4, 2, 2, 2], seededFloats(32, 3, -0.5, 0.5)));
    const c = op(g, 'ConvTranspose', [b, wt], { ...all, kernel_shape: ints(2, 2), strides: ints(2, 2), output_padding: ints(0, 0) });
    // a kernel_shape the weight's shape cannot confirm stays (weight of unknown shape)
    const wIn = g.addInput('w_in', { dtype: 'float32' });
    g.addOutput(op(g, 'Conv', [c, wIn], { kernel_shape: ints(1, 1), dilations: ints(1, 1) }));
    const xq = op(g, 'QuantizeLinear', [x, g.addConstant('s', f32([], [0.05])), g.addConstant('z', makeTensor('uint8', [], [128]))]);
    const wq = g.addConstant('wq', makeTensor('int8', [4, 4, 1, 1], seededFloats(16, 4, -100, 100).map(Math.round)));
    const one = g.addConstant('one', f32([], [0.01]));
    const zw = g.addConstant('zw', makeTensor('int8', [], [0]));
    g.addOutput(op(g, 'QLinearConv', [xq, g.addConstant('s2', f32([], [0.05])), g.addConstant('z2', makeTensor('uint8', [], [128])), wq, one, zw, one, g.addConstant('z3', makeTensor('uint8', [], [128]))], { ...all, kernel_shape: ints(1, 1) }));
    g.addOutput(op(g, 'ConvInteger', [xq, wq, null, null], { ...all, kernel_shape: ints(1, 1) }));
  });
}

test('convolution attributes equal to their defaults are left out; the others stay; results are unchanged', async () => {
  const model = convs();
  const before = cloneModel(model);
  expect(removeDefaultConvAttributes(model)).toBe(6);
  const attrs = [...model.graph.nodes()].filter((n) => n.op !== 'QuantizeLinear').map((n) => `${n.op} ${[...n.attrs.keys()].sort().join(',')}`);
  expect(attrs).toEqual(['Conv ', 'Conv group,pads,strides', 'ConvTranspose strides', 'Conv kernel_shape', 'QLinearConv ', 'ConvInteger ']);
  expect(removeDefaultConvAttributes(model)).toBe(0);

  const inputs = { x: f32([1, 4, 6, 6], seededFloats(144, 5, -2, 2)), w_in: f32([3, 2, 1, 1], seededFloats(6, 6, -1, 1)) };
  const want = interpret(before.graph, inputs, { opset: 13 });
  const got = interpret(model.graph, inputs, { opset: 13 });
  const [ortWant, ortGot] = [await runOrt(encodeOnnx(before), inputs), await runOrt(encodeOnnx(model), inputs)];
  for (const name of Object.keys(want)) {
    expect(tensorsEqual(got[name]!, want[name]!), name).toBe(true);
    expect(tensorsEqual(ortGot[name]!, ortWant[name]!), name).toBe(true);
  }
});

test('a weight read through DequantizeLinear confirms kernel_shape by its integer constant', () => {
  const model = buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 2, 4, 4));
    const wq = g.addConstant('wq', makeTensor('int8', [3, 2, 3, 3], new Array<number>(54).fill(1)));
    const w = op(g, 'DequantizeLinear', [wq, g.addConstant('ws', f32([], [0.1]))]);
    g.addOutput(op(g, 'Conv', [x, w], { kernel_shape: ints(3, 3), pads: ints(1, 1, 1, 1) }));
    // a kernel_shape that disagrees with the weight is an error for readers to report, not a default
    g.addOutput(op(g, 'Conv', [x, w], { kernel_shape: ints(2, 2) }));
  });
  removeDefaultConvAttributes(model);
  expect(printGraph(model.graph)).toContain('Conv(%x, %dequantizelinear) {pads=[1,1,1,1]}');
  expect(printGraph(model.graph)).toContain('{kernel_shape=[2,2]}');
});
