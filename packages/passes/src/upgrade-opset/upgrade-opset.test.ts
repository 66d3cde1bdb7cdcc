/**
 * upgrade-opset on small hand-built models: each rewrite runs in onnxruntime before and after
 * (or, for forms onnxruntime no longer loads, after only, against values computed here), plus a
 * property over random opset-9 chains of the rewritten ops and the refusal cases.
 */
import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import * as ort from 'onnxruntime-node';
import { type Attribute, type DType, Graph, type Model, type Tensor, type Value, SlimcError, makeTensor, printGraph } from '@slimc/ir';
import { encodeOnnx } from '@slimc/backends';
import { buildModel, f32, f32Type, float, i64, int, ints, maxRelativeDiff, seededFloats } from '../../../../test/passes-support.js';
import { Compiler, builtinPlugin } from '../index.js';
import { upgradeOpset } from './index.js';

const str = (value: string): Attribute => ({ kind: 'string', value });
const floats = (...value: number[]): Attribute => ({ kind: 'floats', value });

async function runOrt(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await ort.InferenceSession.create(encodeOnnx(model), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
  const out = await session.run(ortFeeds);
  await session.release();
  const result: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(out)) result[k] = makeTensor(t.type as DType, t.dims.map(Number), t.data as Float32Array);
  return result;
}

/** Runs the model in onnxruntime, upgrades it to `to`, runs it again: outputs (names, shapes, values) must agree. */
async function upgradeKeepsOutputs(model: Model, feeds: Record<string, Tensor>, to: number, tolerance = 1e-6) {
  const before = await runOrt(model, feeds);
  const result = upgradeOpset(model, to);
  expect(model.opset).toBe(to);
  const after = await runOrt(model, feeds);
  expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
  expect(maxRelativeDiff(after, before)).toBeLessThanOrEqual(tolerance);
  return result;
}

/** Adds one node with `count` outputs and returns them. */
function node(g: Graph, op: string, inputs: (Value | null)[], attrs: Record<string, Attribute> = {}, count = 1): Value[] {
  return g.addNode({ op, inputs, attrs, outputs: count }).outputs as Value[];
}

function opsOf(model: Model): string[] {
  return [...model.graph.allNodes()].map((n) => n.op);
}

const input = (shape: number[], seed = 1) => f32(shape, seededFloats(shape.reduce((a, b) => a * b, 1), seed, -3, 3));

describe('Softmax family before 13 (coerced to 2-D at axis)', () => {
  test.each(['Softmax', 'LogSoftmax', 'Hardmax'])('%s on a middle axis becomes Flatten -> op(axis=1) -> Reshape', async (op) => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(2, 3, 4));
      const [y] = node(g, op, [x], { axis: int(1) });
      g.addOutput(y!);
    });
    const r = await upgradeKeepsOutputs(m, { x: input([2, 3, 4]) }, 13);
    expect(r.rewritten).toEqual({ [op]: 1 });
    expect(opsOf(m).sort()).toEqual(['Flatten', 'Reshape', 'Shape', op].sort());
    expect(m.graph.outputs[0]!.producer!.op).toBe('Reshape');
  });

  test('on the last axis of a known rank only the axis is spelled out (the default changed from 1 to -1)', async () => {
    const m = buildModel(11, (g) => {
      const x = g.addInput('x', f32Type(4, 5));
      const [h] = node(g, 'Relu', [x]);
      const [y] = node(g, 'Softmax', [h!]); // default axis 1 = last of a rank-2 input
      g.addOutput(y!);
    });
    await upgradeKeepsOutputs(m, { x: input([4, 5]) }, 13);
    expect(opsOf(m)).toEqual(['Relu', 'Softmax']);
    expect(m.graph.outputs[0]!.producer!.getInt('axis')).toBe(-1);
  });

  test('rank derived through Unsqueeze/Transpose/MatMul keeps the graph small', async () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(3, 4));
      const [u] = node(g, 'Unsqueeze', [x], { axes: ints(0) });
      const [t] = node(g, 'Transpose', [u!], { perm: ints(0, 2, 1) });
      const [mm] = node(g, 'MatMul', [u!, t!]);
      const [y] = node(g, 'Softmax', [mm!], { axis: int(2) });
      g.addOutput(y!);
    });
    await upgradeKeepsOutputs(m, { x: input([3, 4]) }, 13);
    expect(opsOf(m)).toEqual(['Unsqueeze', 'Transpose', 'MatMul', 'Softmax']);
  });

  test('rank derived through a Reshape whose target is built from a slice of Shape', async () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type('N', 3, 2));
      const [s] = node(g, 'Shape', [x]);
      const [batch] = node(g, 'Slice', [s!], { starts: ints(0), ends: ints(1), axes: ints(0) });
      const [target] = node(g, 'Concat', [batch!, g.addConstant('rest', i64([1], [-1]))], { axis: int(0) });
      const [r] = node(g, 'Reshape', [x, target!]);
      g.addOutput(node(g, 'Softmax', [r!], { axis: int(1) })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([2, 3, 2]) }, 13);
    expect(opsOf(m)).not.toContain('Flatten');
  });

  test('unknown rank falls back to the reshape form', async () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(2, 3, 4));
      const s = g.addInput('s', { dtype: 'int64', shape: [null] });
      const [r] = node(g, 'Reshape', [x, s]);
      const [y] = node(g, 'Softmax', [r!], { axis: int(1) });
      g.addOutput(y!);
    });
    const feeds = { x: input([2, 3, 4]), s: i64([3], [2, 3, 4]) };
    await upgradeKeepsOutputs(m, feeds, 18);
    expect(opsOf(m)).toContain('Flatten');
  });
});

describe('attributes that became inputs', () => {
  test('Slice-1 starts/ends/axes (negative and past-the-end bounds)', async () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(4, 5, 6));
      const [y] = node(g, 'Slice', [x], { starts: ints(1, -4), ends: ints(1000, -1), axes: ints(0, 2) });
      const [z] = node(g, 'Slice', [x], { starts: ints(0, 1, 2), ends: ints(2, 3, 4) });
      g.addOutput(y!);
      g.addOutput(z!);
    });
    const r = await upgradeKeepsOutputs(m, { x: input([4, 5, 6]) }, 13);
    expect(r.rewritten).toEqual({ Slice: 2 });
    for (const n of m.graph.nodes()) expect(n.attrs.size).toBe(0);
  });

  test('Squeeze/Unsqueeze axes (with and without axes)', async () => {
    const m = buildModel(11, (g) => {
      const x = g.addInput('x', f32Type(1, 3, 1, 2));
      const [a] = node(g, 'Squeeze', [x], { axes: ints(-2) });
      const [b] = node(g, 'Squeeze', [x]);
      const [c] = node(g, 'Unsqueeze', [b!], { axes: ints(0, 3) });
      g.addOutput(a!);
      g.addOutput(c!);
    });
    const r = await upgradeKeepsOutputs(m, { x: input([1, 3, 1, 2]) }, 21);
    expect(r.rewritten).toEqual({ Squeeze: 1, Unsqueeze: 1 });
  });

  test.each([13, 18])('Reduce* axes and keepdims, to %i', async (to) => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(2, 3, 4));
      g.addOutput(node(g, 'ReduceSum', [x], { axes: ints(1), keepdims: int(0) })[0]!);
      g.addOutput(node(g, 'ReduceMean', [x], { axes: ints(-1) })[0]!);
      g.addOutput(node(g, 'ReduceMax', [x])[0]!);
      g.addOutput(node(g, 'ReduceLogSumExp', [x], { axes: ints(0, 2), keepdims: int(0) })[0]!);
      g.addOutput(node(g, 'ReduceL2', [x], { axes: ints(2) })[0]!);
    });
    const r = await upgradeKeepsOutputs(m, { x: input([2, 3, 4]) }, to);
    expect(r.rewritten).toEqual(to >= 18 ? { ReduceSum: 1, ReduceMean: 1, ReduceLogSumExp: 1, ReduceL2: 1 } : { ReduceSum: 1 });
  });

  test.each([13, 18])('Split with and without split sizes, to %i', async (to) => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(6, 4));
      for (const v of node(g, 'Split', [x], { axis: int(0), split: ints(1, 2, 3) }, 3)) g.addOutput(v);
      for (const v of node(g, 'Split', [x], { axis: int(1) }, 2)) g.addOutput(v);
    });
    await upgradeKeepsOutputs(m, { x: input([6, 4]) }, to);
    const equalSplit = [...m.graph.nodes()][1]!;
    expect(equalSplit.getInt('num_outputs')).toBe(to >= 18 ? 2 : undefined);
  });

  test.each(['constant', 'reflect', 'edge'])('Pad-2 pads/value, mode %s', async (mode) => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(2, 3, 4));
      const [h] = node(g, 'Relu', [x]);
      g.addOutput(node(g, 'Pad', [h!], { pads: ints(0, 1, 2, 0, 2, 1), value: float(1.5), mode: str(mode) })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([2, 3, 4]) }, 13);
  });

  test('Clip-6 min/max become inputs of the derived element type (min only, max only, both)', async () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(2, 5));
      const [h] = node(g, 'Mul', [x, x]);
      g.addOutput(node(g, 'Clip', [h!], { min: float(0.5), max: float(6) })[0]!);
      g.addOutput(node(g, 'Clip', [h!], { max: float(2) })[0]!);
      g.addOutput(node(g, 'Clip', [x], { min: float(-1) })[0]!);
    });
    const r = await upgradeKeepsOutputs(m, { x: input([2, 5]) }, 13);
    expect(r.rewritten).toEqual({ Clip: 3 });
    const second = [...m.graph.nodes()][2]!;
    expect(second.inputs[1]).toBeNull();
  });

  test('TopK-1 k attribute', async () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(3, 7));
      for (const v of node(g, 'TopK', [x], { k: int(3) }, 2)) g.addOutput(v);
    });
    await upgradeKeepsOutputs(m, { x: input([3, 7]) }, 13);
  });

  test('Dropout ratio and BatchNormalization spatial/extra outputs (inference)', async () => {
    const m = buildModel(7, (g) => {
      const x = g.addInput('x', f32Type(2, 3, 4, 4));
      const c = (name: string, data: number[]) => g.addConstant(name, f32([3], data));
      const bn = g.addNode({
        op: 'BatchNormalization',
        inputs: [x, c('s', [1, 2, 0.5]), c('b', [0, 1, -1]), c('m', [0.1, 0.2, 0.3]), c('v', [1, 2, 3])],
        attrs: { spatial: int(1), epsilon: float(1e-3) },
        outputs: 1,
      });
      const [d] = node(g, 'Dropout', [bn.output(0)], { ratio: float(0.3) });
      g.addOutput(d!);
    });
    const r = await upgradeKeepsOutputs(m, { x: input([2, 3, 4, 4]) }, 15);
    expect(r.rewritten).toEqual({ BatchNormalization: 1, Dropout: 1 });
  });
});

describe('forms from before opset 7 (onnxruntime runs only the upgraded model; expected values computed here)', () => {
  async function outputsAfterUpgrade(m: Model, feeds: Record<string, Tensor>, to: number) {
    upgradeOpset(m, to);
    return runOrt(m, feeds);
  }

  test('Reshape-1 shape attr, Cast-1 type name, Concat-1 default axis, Add-1 broadcast at axis, Selu-1 defaults, consumed_inputs', async () => {
    const xs = [-1.5, -0.25, 0, 0.5, 1.75, 3];
    const m = buildModel(3, (g) => {
      const x = g.addInput('x', f32Type(2, 3));
      const r = g.addNode({ op: 'Reshape', name: 'r', inputs: [x], attrs: { shape: ints(3, 2), consumed_inputs: ints(0) }, outputs: ['reshaped'] });
      const c = g.addNode({ op: 'Cast', name: 'c', inputs: [x], attrs: { to: str('int32') }, outputs: ['cast'] });
      const cat = g.addNode({ op: 'Concat', name: 'cat', inputs: [x, x], outputs: ['concat'] });
      const b = g.addConstant('b', f32([2], [10, 20]));
      const add = g.addNode({ op: 'Add', name: 'add', inputs: [x, b], attrs: { broadcast: int(1), axis: int(0) }, outputs: ['sum'] });
      const selu = g.addNode({ op: 'Selu', name: 'selu_node', inputs: [x], attrs: { consumed_inputs: ints(0) }, outputs: ['selu'] });
      for (const n of [r, c, cat, add, selu]) g.addOutput(n.output(0));
    });
    const out = await outputsAfterUpgrade(m, { x: f32([2, 3], xs) }, 13);
    expect(Object.keys(out).sort()).toEqual(["cast", "concat", "reshaped", "selu", "sum"]);
    expect(out.reshaped!.shape).toEqual([3, 2]);
    expect(out.cast!.dtype).toBe('int32');
    expect(Array.from(out.cast!.data as Int32Array)).toEqual(xs.map((v) => Math.trunc(v) + 0));
    expect(out.concat!.shape).toEqual([2, 6]);
    expect(Array.from(out.sum!.data as Float32Array)).toEqual(xs.map((v, i) => Math.fround(v + (i < 3 ? 10 : 20))));
    const [alpha, gamma] = [1.673200011253357, 1.0506999492645264]; // Selu-1 defaults
    const selu = xs.map((v) => (v > 0 ? gamma * v : gamma * alpha * (Math.exp(v) - 1)));
    Array.from(out.selu!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(selu[i]!, 5));
  });

  test('BatchNormalization-6 and Dropout-6 (is_test, spatial, consumed_inputs), Upsample-1 height/width scales', async () => {
    const xs = Array.from({ length: 8 }, (_, i) => i - 3);
    const m = buildModel(6, (g) => {
      const x = g.addInput('x', f32Type(1, 2, 2, 2));
      const c = (name: string, data: number[]) => g.addConstant(name, f32([2], data));
      const bn = g.addNode({
        op: 'BatchNormalization',
        inputs: [x, c('s', [2, 3]), c('b', [1, -1]), c('m', [0.5, -0.5]), c('v', [4, 9])],
        attrs: { is_test: int(1), spatial: int(1), epsilon: float(0), consumed_inputs: ints(0, 0, 0, 1, 1) },
        outputs: ['bn'],
      });
      const drop = g.addNode({ op: 'Dropout', inputs: [bn.output(0)], attrs: { is_test: int(1), ratio: float(0.5) }, outputs: ['dropped'] });
      const up = g.addNode({ op: 'Upsample', inputs: [drop.output(0)], attrs: { height_scale: float(2), width_scale: float(1), mode: str('nearest') }, outputs: ['up'] });
      g.addOutput(up.output(0));
    });
    const out = await outputsAfterUpgrade(m, { x: f32([1, 2, 2, 2], xs) }, 15);
    const bn = xs.map((v, i) => (i < 4 ? (2 * (v - 0.5)) / 2 + 1 : (3 * (v + 0.5)) / 3 - 1));
    // Rows are repeated (height x2), columns kept.
    const expected = [0, 1].flatMap((ch) => [0, 0, 1, 1].flatMap((row) => [0, 1].map((col) => bn[ch * 4 + row * 2 + col]!)));
    expect(out.up!.shape).toEqual([1, 2, 4, 2]);
    Array.from(out.up!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });

  test('Add-1 broadcast that B cannot fit is refused', () => {
    const m = buildModel(5, (g) => {
      const x = g.addInput('x', f32Type(2, 3));
      g.addOutput(g.addNode({ op: 'Add', name: 'add', inputs: [x, g.addConstant('b', f32([3, 2], [1, 2, 3, 4, 5, 6]))], attrs: { broadcast: int(1), axis: int(1) }, outputs: 1 }).output(0));
    });
    expect(() => upgradeOpset(m, 13)).toThrow(/does not fit/);
  });
});

describe('Upsample and Resize', () => {
  test.each(['nearest', 'linear'])('Upsample-9 (%s) becomes Resize with asymmetric coordinates', async (mode) => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(1, 2, 3, 4));
      const scales = g.addConstant('scales', f32([4], [1, 1, 2, 3]));
      g.addOutput(node(g, 'Upsample', [x, scales], { mode: str(mode) })[0]!);
    });
    const r = await upgradeKeepsOutputs(m, { x: input([1, 2, 3, 4]) }, 13, 1e-5);
    expect(r.rewritten).toEqual({ Upsample: 1 });
    expect(opsOf(m)).toEqual(['Resize']);
  });

  test('a deprecated Upsample left in an opset-10 model is upgraded like Upsample-9', () => {
    const m = buildModel(10, (g) => {
      const x = g.addInput('x', f32Type(1, 1, 2, 3));
      g.addOutput(node(g, 'Upsample', [x, g.addConstant('scales', f32([4], [1, 1, 2, 2]))], { mode: str('nearest') })[0]!);
    });
    expect(upgradeOpset(m, 13).rewritten).toEqual({ Upsample: 1 });
    const resize = [...m.graph.nodes()][0]!;
    expect([resize.op, resize.inputs.length, resize.getString('nearest_mode')]).toEqual(['Resize', 3, 'floor']);
  });

  test('Upsample-7 scales attribute', async () => {
    const m = buildModel(8, (g) => {
      const x = g.addInput('x', f32Type(1, 1, 2, 3));
      g.addOutput(node(g, 'Upsample', [x], { scales: floats(1, 1, 2, 2), mode: str('nearest') })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([1, 1, 2, 3]) }, 21);
  });

  test.each([
    ['nearest', [1, 1, 2, 1.5]],
    ['linear', [1, 1, 1.5, 2]],
    ['linear', [1, 1, 0.5, 0.5]],
    ['nearest', [1, 1, 0.5, 0.5]],
    ['nearest', [1, 1, 0.75, 0.7]],
  ])('Resize-10 %s scales %j keeps opset-10 meaning', async (mode, scales) => {
    const m = buildModel(10, (g) => {
      const x = g.addInput('x', f32Type(1, 2, 4, 6));
      g.addOutput(node(g, 'Resize', [x, g.addConstant('scales', f32([4], scales as number[]))], { mode: str(mode as string) })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([1, 2, 4, 6]) }, 13, 1e-5);
  });
});

describe('ops whose meaning changed after opset 13', () => {
  test('Scatter-9 becomes ScatterElements', async () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(3, 3));
      const idx = g.addConstant('idx', i64([2, 3], [1, 0, 2, 0, 2, 1]));
      const upd = g.addConstant('upd', f32([2, 3], [1, 2, 3, 4, 5, 6]));
      g.addOutput(node(g, 'Scatter', [x, idx, upd], { axis: int(0) })[0]!);
    });
    expect((await upgradeKeepsOutputs(m, { x: input([3, 3]) }, 13)).rewritten).toEqual({ Scatter: 1 });
    expect(opsOf(m)).toEqual(['ScatterElements']);
  });

  test('RoiAlign-10 keeps output_half_pixel coordinates at 16', async () => {
    const m = buildModel(10, (g) => {
      const x = g.addInput('x', f32Type(1, 2, 6, 6));
      const rois = g.addConstant('rois', f32([2, 4], [0, 0, 3, 3, 1.5, 0.5, 5, 4]));
      const batch = g.addConstant('batch', i64([2], [0, 0]));
      g.addOutput(node(g, 'RoiAlign', [x, rois, batch], { output_height: int(2), output_width: int(2), sampling_ratio: int(2) })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([1, 2, 6, 6]) }, 16, 1e-5);
    expect([...m.graph.nodes()][0]!.getString('coordinate_transformation_mode')).toBe('output_half_pixel');
  });

  test.each(['bilinear', 'bicubic', 'nearest'])('GridSample-16 mode %s at 20', async (mode) => {
    const m = buildModel(16, (g) => {
      const x = g.addInput('x', f32Type(1, 1, 3, 4));
      const grid = g.addConstant('grid', f32([1, 2, 2, 2], [-0.9, -0.5, 0.3, 0.2, 0.7, -0.1, 0.1, 0.8]));
      g.addOutput(node(g, 'GridSample', [x, grid], { mode: str(mode) })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([1, 1, 3, 4]) }, 20, 1e-5);
  });

  test.each([{ axis: int(2) }, {}])('DFT-17 axis attribute (default 1) becomes an input at 20: %j', async (attrs) => {
    const m = buildModel(17, (g) => {
      const x = g.addInput('x', f32Type(2, 4, 6, 1));
      g.addOutput(node(g, 'DFT', [x], attrs)[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([2, 4, 6, 1]) }, 20, 1e-5);
  });

  test('GroupNormalization-18 per-group scale/bias become per-channel at 21', async () => {
    const m = buildModel(18, (g) => {
      const x = g.addInput('x', f32Type(2, 4, 3));
      const scale = g.addConstant('scale', f32([2], [1.5, -0.5]));
      const bias = g.addConstant('bias', f32([2], [0.25, 2]));
      g.addOutput(node(g, 'GroupNormalization', [x, scale, bias], { num_groups: int(2) })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([2, 4, 3]) }, 21, 1e-5);
    expect([...m.graph.nodes()][0]!.input(1)!.constant!.shape).toEqual([4]);
  });

  test("Resize-11 'tf_half_pixel_for_nn' with floor becomes half_pixel rounding half up", async () => {
    const m = buildModel(11, (g) => {
      const x = g.addInput('x', f32Type(1, 1, 5, 7));
      const roi = g.addConstant('roi', f32([0], []));
      const scales = g.addConstant('scales', f32([4], [1, 1, 1.6, 0.6]));
      g.addOutput(node(g, 'Resize', [x, roi, scales], { mode: str('nearest'), coordinate_transformation_mode: str('tf_half_pixel_for_nn'), nearest_mode: str('floor') })[0]!);
    });
    await upgradeKeepsOutputs(m, { x: input([1, 1, 5, 7]) }, 13);
  });
});

describe('subgraphs, ids and errors', () => {
  test('If branches are upgraded (Squeeze/Unsqueeze/ReduceMean inside)', async () => {
    const m = buildModel(11, (g) => {
      const x = g.addInput('x', f32Type(1, 4));
      const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
      const branch = (name: string, reduce: boolean) => {
        const sg = new Graph(name);
        const [s] = node(sg, 'Squeeze', [x], { axes: ints(0) });
        const [u] = reduce ? node(sg, 'ReduceMean', [s!], { axes: ints(0) }) : node(sg, 'Unsqueeze', [s!], { axes: ints(1) });
        sg.addOutput(u!);
        return sg;
      };
      const iff = g.addNode({ op: 'If', inputs: [cond], outputs: 1, attrs: { then_branch: { kind: 'graph', value: branch('then', true) }, else_branch: { kind: 'graph', value: branch('else', false) } } });
      g.addOutput(iff.output(0));
    });
    const feedsTrue = { x: input([1, 4]), cond: makeTensor('bool', [], [1]) };
    const feedsFalse = { x: input([1, 4]), cond: makeTensor('bool', [], [0]) };
    const beforeTrue = await runOrt(m, feedsTrue);
    const beforeFalse = await runOrt(m, feedsFalse);
    const r = upgradeOpset(m, 18);
    expect(r.rewritten).toEqual({ Squeeze: 2, Unsqueeze: 1, ReduceMean: 1 });
    expect(maxRelativeDiff(await runOrt(m, feedsTrue), beforeTrue)).toBe(0);
    expect(maxRelativeDiff(await runOrt(m, feedsFalse), beforeFalse)).toBe(0);
  });

  test('sets the opset import and raises the IR version; same opset is no change', () => {
    const m = buildModel(9, (g) => g.addOutput(node(g, 'Relu', [g.addInput('x', f32Type(2))])[0]!));
    m.irVersion = 4;
    expect(upgradeOpset(m, 19)).toEqual({ changed: true, rewritten: {} });
    expect(m.irVersion).toBe(9);
    expect(upgradeOpset(m, 19)).toEqual({ changed: false, rewritten: {} });
  });

  test('an op it cannot upgrade is an unsupported error naming node and op; the model is left untouched', () => {
    const m = buildModel(9, (g) => {
      const x = g.addInput('x', f32Type(1, 3, 2, 2));
      const [s] = node(g, 'Unsqueeze', [x], { axes: ints(0) });
      g.addOutput(g.addNode({ op: 'ImageScaler', name: 'scaler', inputs: [s!], outputs: 1 }).output(0));
    });
    const printed = printGraph(m.graph);
    const err = (() => {
      try {
        upgradeOpset(m, 13);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SlimcError);
    expect((err as SlimcError).kind).toBe('unsupported');
    expect((err as SlimcError).context).toMatchObject({ node: 'scaler', op: 'ImageScaler', pass: 'upgrade-opset' });
    expect(printGraph(m.graph)).toBe(printed);
    expect(m.opset).toBe(9);
  });

  test('BatchNormalization spatial=0 and a used training output are refused', () => {
    const bn = (attrs: Record<string, Attribute>, useMean: boolean) =>
      buildModel(7, (g) => {
        const x = g.addInput('x', f32Type(2, 3));
        const c = g.addConstant('c', f32([3], [1, 1, 1]));
        const n = g.addNode({ op: 'BatchNormalization', name: 'bn', inputs: [x, c, c, c, c], attrs, outputs: useMean ? 2 : 1 });
        for (const o of n.outputs) g.addOutput(o!);
      });
    expect(() => upgradeOpset(bn({ spatial: int(0) }, false), 13)).toThrow(/spatial/);
    expect(() => upgradeOpset(bn({}, true), 14)).toThrow(/training output 1/);
  });

  test('ConvTranspose before 11 with auto_pad SAME_* is refused (the rule for odd padding was swapped)', () => {
    const m = buildModel(10, (g) => {
      const x = g.addInput('x', f32Type(1, 1, 3, 3));
      const w = g.addConstant('w', f32([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]));
      g.addOutput(node(g, 'ConvTranspose', [x, w], { auto_pad: str('SAME_UPPER'), strides: ints(2, 2) })[0]!);
    });
    expect(() => upgradeOpset(m, 13)).toThrow(/auto_pad SAME_UPPER changed meaning/);
  });

  test('nearest Resize-10 that grows one axis and shrinks another has no single nearest_mode', () => {
    const m = buildModel(10, (g) => {
      const x = g.addInput('x', f32Type(1, 1, 4, 4));
      g.addOutput(node(g, 'Resize', [x, g.addConstant('scales', f32([4], [1, 1, 2, 0.7]))], { mode: str('nearest') })[0]!);
    });
    expect(() => upgradeOpset(m, 13)).toThrow(/both grow and shrink/);
  });

  test('rejects targets outside 13..21, downgrades, and models with local functions', () => {
    const withFunctions = buildModel(11, () => {});
    withFunctions.extra = { functions: [{ name: 'f' }] };
    expect(() => upgradeOpset(withFunctions, 13)).toThrow(/local function/);
    const m = buildModel(16, () => {});
    expect(() => upgradeOpset(m, 22)).toThrow(SlimcError);
    expect(() => upgradeOpset(m, 12)).toThrow(SlimcError);
    expect(() => upgradeOpset(m, 15)).toThrow(/downgrading/);
  });

  test('runs as the upgrade-opset(to=N) pass', async () => {
    const m = buildModel(9, (g) => g.addOutput(node(g, 'Unsqueeze', [g.addInput('x', f32Type(2))], { axes: ints(0) })[0]!));
    const c = new Compiler().use(builtinPlugin);
    await c.run(m, 'upgrade-opset(to=17)');
    expect(m.opset).toBe(17);
    expect([...m.graph.nodes()][0]!.attr('axes')).toBeUndefined();
  });
});

// ---- property: random chains of the rewritten ops at opset 9 keep their onnxruntime outputs ----

type Step =
  | { op: 'Softmax' | 'LogSoftmax'; axis: number }
  | { op: 'Slice'; axis: number; start: number; end: number }
  | { op: 'Unsqueeze'; axis: number }
  | { op: 'Squeeze' }
  | { op: 'Reduce'; kind: string; axes: number[]; keepdims: boolean }
  | { op: 'Clip'; min: number; max: number }
  | { op: 'Split'; axis: number; sizes: boolean };

const REDUCE_KINDS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare'];

/** Builds the chain, tracking the static shape; steps that do not apply to the current shape are skipped. */
function buildChain(shape0: number[], steps: Step[], seeds: number[]): Model {
  return buildModel(9, (g) => {
    let x: Value = g.addInput('x', f32Type(...shape0));
    let shape = [...shape0];
    steps.forEach((s, i) => {
      const seed = seeds[i % seeds.length]!;
      const rank = shape.length;
      const at = (k: number) => (rank ? ((k % rank) + rank) % rank : 0);
      switch (s.op) {
        case 'Softmax':
        case 'LogSoftmax':
          if (!rank) return;
          x = node(g, s.op, [x], { axis: int(at(s.axis)) })[0]!;
          return;
        case 'Slice': {
          if (!rank) return;
          const axis = at(s.axis);
          const d = shape[axis]!;
          const start = (s.start % (d + 1)) - (seed % 2 ? d : 0);
          const end = s.end > 5 ? 1 << 30 : (s.end % (d + 1)) - (seed % 3 === 0 ? d : 0);
          const lo = Math.min(Math.max(start < 0 ? start + d : start, 0), d);
          const hi = Math.min(Math.max(end < 0 ? end + d : end, 0), d);
          if (hi - lo < 1) return;
          x = node(g, 'Slice', [x], { starts: ints(start), ends: ints(end), axes: ints(axis) })[0]!;
          shape[axis] = hi - lo;
          return;
        }
        case 'Unsqueeze': {
          if (rank >= 5) return;
          const axis = s.axis % (rank + 1);
          x = node(g, 'Unsqueeze', [x], { axes: ints(axis) })[0]!;
          shape.splice(axis, 0, 1);
          return;
        }
        case 'Squeeze': {
          const ones = shape.flatMap((d, k) => (d === 1 ? [k] : []));
          if (!ones.length || ones.length === rank) return;
          x = node(g, 'Squeeze', [x], { axes: ints(...ones) })[0]!;
          shape = shape.filter((d) => d !== 1);
          return;
        }
        case 'Reduce': {
          const axes = [...new Set(s.axes.map(at))].sort();
          if (!rank || (!s.keepdims && axes.length >= rank)) return;
          x = node(g, s.kind, [x], { axes: ints(...axes), keepdims: int(s.keepdims ? 1 : 0) })[0]!;
          shape = s.keepdims ? shape.map((d, k) => (axes.includes(k) ? 1 : d)) : shape.filter((_, k) => !axes.includes(k));
          return;
        }
        case 'Clip':
          x = node(g, 'Clip', [x], { min: float(Math.min(s.min, s.max)), max: float(Math.max(s.min, s.max)) })[0]!;
          return;
        case 'Split': {
          if (!rank) return;
          const axis = at(s.axis);
          const d = shape[axis]!;
          const parts = s.sizes ? [1, d - 1].filter((p) => p > 0) : d % 2 === 0 ? [d / 2, d / 2] : [d];
          const outs = node(g, 'Split', [x], { axis: int(axis), ...(s.sizes ? { split: ints(...parts) } : {}) }, parts.length);
          for (const o of outs.slice(1)) g.addOutput(o);
          x = outs[0]!;
          shape[axis] = parts[0]!;
          return;
        }
      }
    });
    g.addOutput(node(g, 'Identity', [x])[0]!);
  });
}

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constantFrom('Softmax' as const, 'LogSoftmax' as const), axis: fc.nat(4) }),
  fc.record({ op: fc.constant('Slice' as const), axis: fc.nat(4), start: fc.nat(5), end: fc.nat(7) }),
  fc.record({ op: fc.constant('Unsqueeze' as const), axis: fc.nat(5) }),
  fc.record({ op: fc.constant('Squeeze' as const) }),
  fc.record({ op: fc.constant('Reduce' as const), kind: fc.constantFrom(...REDUCE_KINDS), axes: fc.array(fc.nat(4), { minLength: 1, maxLength: 2 }), keepdims: fc.boolean() }),
  fc.record({ op: fc.constant('Clip' as const), min: fc.integer({ min: -3, max: 3 }), max: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ op: fc.constant('Split' as const), axis: fc.nat(4), sizes: fc.boolean() }),
);

describe('property', () => {
  propTest.prop(
    [fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.array(arbStep, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(100), { minLength: 1, maxLength: 3 }), fc.constantFrom(13, 18)],
    { numRuns: 40 },
  )('random opset-9 chains keep their onnxruntime outputs after upgrading', async (shape, steps, seeds, to) => {
    const model = buildChain(shape, steps, seeds);
    const n = shape.reduce((a, b) => a * b, 1);
    await upgradeKeepsOutputs(model, { x: f32(shape, seededFloats(n, seeds[0]!, -2, 2)) }, to, 1e-6);
    expect(upgradeOpset(model, to).changed).toBe(false);
  });
});
