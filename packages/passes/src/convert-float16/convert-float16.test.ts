import { describe, expect, test } from 'vitest';
import { Graph, type Model, halfToFloat, interpret, makeTensor, printGraph, verify } from '@slimc/ir';
import { buildModel, f32, f32Type, float, int, ints, maxRelativeDiff, op, seededFloats } from '../../../../test/passes-support.js';
import { opCounts, runBoth } from '../../../../test/qdq-support.js';
import { Compiler, builtinPlugin } from '../index.js';
import { toFloat16Tensor } from './index.js';

const run = (m: Model, options: Record<string, unknown> = {}) => new Compiler().use(builtinPlugin).run(m, [{ name: 'convert-float16', options }]);

/** x -> Conv -> Relu -> Resize (deny-listed) -> Add(bias) -> y, and a second output straight from the Relu. */
function smallModel(): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 2, 4, 4));
    const w = g.addConstant('w', f32([3, 2, 3, 3], seededFloats(54, 4, -0.5, 0.5)));
    const conv = op(g, 'Conv', [x, w], { pads: ints(1, 1, 1, 1) });
    const relu = op(g, 'Relu', [conv]);
    const resize = op(g, 'Resize', [relu, null, g.addConstant('scales', f32([4], [1, 1, 2, 2]))], { mode: { kind: 'string', value: 'nearest' } });
    const bias = g.addConstant('bias', f32([1, 3, 1, 1], [0.5, -1e6, 2]));
    const y = g.addNode({ op: 'Add', inputs: [resize, bias], outputs: ['y'] }).output(0);
    g.addOutput(y);
    g.addOutput(g.addNode({ op: 'HardSigmoid', inputs: [relu], attrs: { alpha: float(0.2) }, outputs: ['z'] }).output(0));
  });
}

const inputs = () => ({ x: f32([1, 2, 4, 4], seededFloats(32, 8, -2, 2)) });

describe('convert-float16', () => {
  test('keep-io-types: float32 boundary, float16 inside, Resize kept in float32; outputs close in onnxruntime and the interpreter', async () => {
    const m = smallModel();
    const before = await runBoth(m, inputs());
    const report = await run(m);
    expect(verify(m)).toEqual([]);
    expect(report.passes[0]!.stats['values-clamped']).toBe(1); // -1e6 does not fit float16
    const text = printGraph(m.graph);
    expect(text).toContain('graph main(%x: float32[1,2,4,4]) -> (%y, %z)');
    expect(m.graph.outputs.map((v) => v.type?.dtype)).toEqual(['float32', 'float32']);
    expect(m.graph.outputs.map((v) => v.name)).toEqual(['y', 'z']);
    const resize = [...m.graph.nodes()].find((n) => n.op === 'Resize')!;
    expect(resize.input(0)!.type?.dtype).toBe('float32');
    expect(resize.input(2)!.constant!.dtype).toBe('float32');
    const conv = [...m.graph.nodes()].find((n) => n.op === 'Conv')!;
    expect(conv.input(1)!.constant!.dtype).toBe('float16');
    // x -> fp16, relu -> fp32 (for Resize), resize -> fp16 (for Add), y and z -> fp32.
    expect(opCounts(m).Cast).toBe(5);
    const after = await runBoth(m, inputs());
    // y holds -65504 where the bias was -1e6 (clamped): compare the rest within float16 precision.
    const yBefore = before.ort.y!.data as Float32Array;
    const yAfter = after.ort.y!.data as Float32Array;
    for (let i = 0; i < yBefore.length; i++) {
      const want = yBefore[i]! < -1000 ? yBefore[i]! - -1e6 - 65504 : yBefore[i]!;
      expect(Math.abs(yAfter[i]! - want)).toBeLessThanOrEqual(2e-2 * Math.max(1, Math.abs(want)));
    }
    expect(maxRelativeDiff({ z: after.ort.z! }, { z: before.ort.z! })).toBeLessThan(5e-3);
    expect(maxRelativeDiff(after.interpreter, after.ort)).toBeLessThan(5e-3);
  });

  test('keep-io-types=false: float16 inputs and outputs, no boundary Casts', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2, 3));
      const w = g.addConstant('w', f32([3, 2], seededFloats(6, 1)));
      g.addOutput(g.addNode({ op: 'MatMul', inputs: [op(g, 'Sigmoid', [x]), w], outputs: ['y'] }).output(0));
    });
    await run(m, { 'keep-io-types': false });
    expect(verify(m)).toEqual([]);
    expect(opCounts(m)).toEqual({ Sigmoid: 1, MatMul: 1 });
    expect(m.graph.inputs[0]!.type?.dtype).toBe('float16');
    expect(m.graph.outputs[0]!.type?.dtype).toBe('float16');
    const x = toFloat16Tensor(f32([2, 3], seededFloats(6, 2))).tensor;
    const { ort, interpreter } = await runBoth(m, { x });
    expect(maxRelativeDiff(interpreter, ort)).toBeLessThan(2e-3);
  });

  test('a second run changes nothing; deny keeps more ops in float32', async () => {
    const m = smallModel();
    await run(m);
    const once = printGraph(m.graph);
    expect((await run(m)).passes[0]!.changed).toBe(false);
    expect(printGraph(m.graph)).toBe(once);

    const denied = smallModel();
    await run(denied, { deny: ['Conv', 'Relu'] });
    const conv = [...denied.graph.nodes()].find((n) => n.op === 'Conv')!;
    expect(conv.input(1)!.constant!.dtype).toBe('float32');
    expect(interpret(denied.graph, inputs()).z!.dtype).toBe('float32');
  });

  test('Cast pairs fold: float16 -> float32 -> float16 is the original value', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(4));
      const a = op(g, 'Relu', [x]);
      const b = op(g, 'Cast', [op(g, 'Cast', [a], { to: int(10) })], { to: int(1) });
      g.addOutput(g.addNode({ op: 'Neg', inputs: [b], outputs: ['y'] }).output(0));
    });
    const report = await run(m);
    expect(report.passes[0]!.stats['casts-folded']).toBeGreaterThan(0);
    expect(verify(m)).toEqual([]);
    // x -> fp16 -> Relu -> Neg -> fp32: the model's own Cast pair disappears.
    expect(opCounts(m)).toEqual({ Cast: 2, Relu: 1, Neg: 1 });
    const x = f32([4], [1, -2, 3.3, 1e-3]);
    const y = interpret(m.graph, { x }).y!;
    expect(Array.from(y.data as Float32Array)).toEqual([1, 0, 3.3, 1e-3].map((v) => -halfToFloat(toFloat16Tensor(f32([1], [v])).tensor.data[0] as number)));
  });

  test('If bodies are converted inside; the If keeps its float32 interface; a captured float16 value needs no Cast', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(3));
      const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
      const r = op(g, 'Relu', [x], {}, f32Type(3));
      const branch = (name: string, opType: string) => {
        const b = new Graph(name, g.names);
        b.addOutput(b.addNode({ op: opType, inputs: [r], outputs: [{ name: `${name}_out`, type: f32Type(3) }] }).output(0));
        return b;
      };
      const y = g.addNode({ op: 'If', inputs: [cond], outputs: [{ name: 'y', type: f32Type(3) }], attrs: { then_branch: { kind: 'graph', value: branch('then', 'Neg') }, else_branch: { kind: 'graph', value: branch('else', 'Abs') } } });
      g.addOutput(y.output(0));
    });
    const report = await run(m);
    expect(report.passes[0]!.stats['nodes-converted']).toBe(3);
    expect(verify(m)).toEqual([]);
    const ifNode = [...m.graph.nodes()].find((n) => n.op === 'If')!;
    for (const body of ifNode.subgraphs()) {
      expect([...body.nodes()].map((n) => n.op)).toEqual([body.name === 'then' ? 'Neg' : 'Abs', 'Cast']);
      expect(body.outputs[0]!.type?.dtype).toBe('float32');
    }
    for (const c of [1, 0]) {
      const inputs = { x: f32([3], [-1, 0.5, 2]), cond: makeTensor('bool', [], [c]) };
      const { ort, interpreter } = await runBoth(m, inputs);
      expect(Array.from(ort.y!.data as Float32Array)).toEqual(c ? [-0, -0.5, -2] : [0, 0.5, 2]);
      expect(maxRelativeDiff(interpreter, ort)).toBe(0);
    }
  });

  test('a Constant with value_float stays float32 (its output type comes from the attribute); unrelated constants stay', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2));
      g.addConstant('unused', f32([1], [1]));
      const c = g.addNode({ op: 'Constant', attrs: { value_float: float(0.25) }, outputs: [{ name: 'c', type: f32Type() }] }).output(0);
      const t = g.addNode({ op: 'Constant', attrs: { value: { kind: 'tensor', value: f32([2], [1, 2]) } }, outputs: [{ name: 't', type: f32Type(2) }] }).output(0);
      g.addOutput(g.addNode({ op: 'Add', inputs: [op(g, 'Mul', [x, c], {}, f32Type(2)), t], outputs: ['y'] }).output(0));
    });
    await run(m);
    expect(verify(m)).toEqual([]);
    expect(m.graph.initializers.map((v) => v.name)).toContain('unused');
    const constants = [...m.graph.nodes()].filter((n) => n.op === 'Constant');
    expect(constants.map((n) => n.output(0).type?.dtype)).toEqual(['float32', 'float16']);
    const { ort, interpreter } = await runBoth(m, { x: f32([2], [4, 8]) });
    expect(Array.from(ort.y!.data as Float32Array)).toEqual([2, 4]);
    expect(maxRelativeDiff(interpreter, ort)).toBe(0);
  });
});
