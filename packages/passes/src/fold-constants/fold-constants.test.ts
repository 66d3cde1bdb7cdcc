import { describe, expect, test } from 'vitest';
import { Graph, type Value, interpret, printGraph, verify } from '@slimc/ir';
import { buildModel, f32, f32Type, i64, int, ints, op, tensorAttr, maxRelativeDiff, seededFloats } from '../../../../test/passes-support.js';
import { Compiler, builtinPlugin } from '../index.js';

async function run(model: Parameters<Compiler['run']>[0], spec: string) {
  const c = new Compiler().use(builtinPlugin);
  return c.run(model, spec);
}

describe('fold-constants', () => {
  test('folds Shape of a static shape through Gather/Unsqueeze/Concat into a Reshape target', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2, 3, 4));
      const s = op(g, 'Shape', [x]);
      const d0 = op(g, 'Gather', [s, g.addConstant('zero', i64([], [0]))], { axis: int(0) });
      const u = op(g, 'Unsqueeze', [d0, g.addConstant('axes', i64([1], [0]))]);
      const cat = op(g, 'Concat', [u, g.addConstant('minus1', i64([1], [-1]))], { axis: int(0) });
      g.addOutput(op(g, 'Reshape', [x, cat], {}, f32Type(2, 12)));
    });
    const x = f32([2, 3, 4], seededFloats(24, 1));
    const before = interpret(m.graph, { x });
    const report = await run(m, 'fold-constants');
    expect(printGraph(m.graph)).toMatchInlineSnapshot(`
      "graph main(%x: float32[2,3,4]) -> (%reshape) {
        const %concat: int64[2] = [2, -1] #a2b8567f
        %reshape: float32[2,12] = Reshape(%x, %concat)
        return %reshape
      }
      "
    `);
    expect(report.passes[0]!.changed).toBe(true);
    expect(maxRelativeDiff(interpret(m.graph, { x }), before)).toBe(0);
    expect(verify(m)).toEqual([]);
  });

  test('turns Constant nodes into initializers and folds what they feed', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2, 2));
      const w = g.addNode({ op: 'Constant', attrs: { value: tensorAttr(f32([2, 2], [1, 2, 3, 4])) }, outputs: ['w'] }).output(0);
      const wt = op(g, 'Transpose', [w], { perm: ints(1, 0) });
      g.addOutput(op(g, 'MatMul', [x, wt]));
    });
    await run(m, 'fold-constants');
    expect(printGraph(m.graph)).toMatchInlineSnapshot(`
      "graph main(%x: float32[2,2]) -> (%matmul) {
        const %transpose: float32[2,2] = [1.0, 3.0, 2.0, 4.0] #09e01498
        %matmul: float32[2,2] = MatMul(%x, %transpose)
        return %matmul
      }
      "
    `);
  });

  test('leaves ConstantOfShape that would blow up, random ops and symbolic shapes alone', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type('N', 4));
      const big = op(g, 'ConstantOfShape', [g.addConstant('shape', i64([2], [1000, 1000]))], { value: tensorAttr(f32([1], [0])) });
      const r = op(g, 'RandomNormal', [], { shape: ints(4) });
      const s = op(g, 'Shape', [x]);
      // Each feeds a node, so none is kept only because it is a graph output.
      g.addOutput(op(g, 'Neg', [big]));
      g.addOutput(op(g, 'Neg', [r]));
      g.addOutput(op(g, 'Neg', [s]));
      g.addOutput(op(g, 'Add', [x, g.addConstant('one', f32([], [1]))]));
    });
    const ops = () => [...m.graph.nodes()].map((n) => n.op);
    const before = ops();
    const report = await run(m, 'fold-constants(sizeLimit=1000)');
    expect(report.passes[0]!.changed).toBe(false);
    expect(ops()).toEqual(before);
  });
});

test('Gather/Slice of a symbolic shape fold when they pick only static dims', async () => {
  const m = buildModel(13, (g) => {
    const x = g.addInput('x', f32Type('N', 3, 8));
    const s = op(g, 'Shape', [x]);
    const channels = op(g, 'Gather', [s, g.addConstant('one', i64([], [1]))], { axis: int(0) });
    const batch = op(g, 'Gather', [s, g.addConstant('zero', i64([], [0]))], { axis: int(0) });
    const tail = op(g, 'Slice', [s, g.addConstant('from', i64([1], [1])), g.addConstant('to', i64([1], [3]))]);
    const head = op(g, 'Slice', [s, g.addConstant('from0', i64([1], [0])), g.addConstant('to2', i64([1], [2]))]);
    for (const v of [channels, batch, tail, head]) g.addOutput(op(g, 'Neg', [v]));
  });
  await run(m, 'fold-constants,eliminate-dead-code');
  // The channel count and the static tail fold (their Negs are graph outputs, so they stay as
  // nodes on constants); batch (N) and head ([N, 3]) cannot.
  const operand = (v: Value | null) => v?.producer?.op ?? (v?.constant ? 'const' : v?.name);
  expect([...m.graph.nodes()].map((n) => `${n.op}(${n.inputs.map(operand).join(',')})`)).toEqual([
    'Shape(x)',
    'Gather(Shape,const)',
    'Slice(Shape,const,const)',
    'Neg(const)',
    'Neg(Gather)',
    'Neg(const)',
    'Neg(Slice)',
  ]);
  const outs = interpret(m.graph, { x: f32([2, 3, 8], seededFloats(48, 4)) });
  expect(Object.values(outs).map((t) => Array.from(t.data as BigInt64Array, Number))).toEqual([[-3], [-2], [-3, -8], [-2, -3]]);
});

test('folds inside subgraphs, into the subgraph', async () => {
  const m = buildModel(13, (g) => {
    const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
    const x = g.addInput('x', f32Type(2));
    const branch = (name: string, k: number) => {
      const sg = new Graph(name, g.names);
      const c = sg.addNode({ op: 'Constant', attrs: { value: tensorAttr(f32([2], [k, k])) }, outputs: [`${name}_c`] }).output(0);
      const twice = op(sg, 'Add', [c, c]);
      sg.addOutput(op(sg, 'Mul', [x, twice]));
      return sg;
    };
    const iff = g.addNode({ op: 'If', inputs: [cond], outputs: ['y'] });
    iff.setAttr('then_branch', { kind: 'graph', value: branch('then', 2) });
    iff.setAttr('else_branch', { kind: 'graph', value: branch('else', 3) });
    g.addOutput(iff.output(0));
  });
  await run(m, 'fold-constants');
  expect(printGraph(m.graph)).toMatchInlineSnapshot(`
    "graph main(%cond: bool[], %x: float32[2]) -> (%y) {
      %y: float32[2] = If(%cond) {
        else_branch:
          graph else() -> (%mul_1) {
            const %add_1: float32[2] = [6.0, 6.0] #f370efe5
            %mul_1: float32[2] = Mul(%x, %add_1)
            return %mul_1
          }
        then_branch:
          graph then() -> (%mul) {
            const %add: float32[2] = [4.0, 4.0] #d979cc65
            %mul: float32[2] = Mul(%x, %add)
            return %mul
          }
      }
      return %y
    }
    "
  `);
});
