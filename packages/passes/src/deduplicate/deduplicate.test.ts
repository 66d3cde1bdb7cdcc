import { expect, test } from 'vitest';
import { interpret, printGraph } from '@slimc/ir';
import { buildModel, f32, f32Type, int, maxRelativeDiff, op, seededFloats, tensorAttr } from '../../../../test/passes-support.js';
import { Compiler, builtinPlugin } from '../index.js';

const run = (m: Parameters<Compiler['run']>[0]) => new Compiler().use(builtinPlugin).run(m, 'deduplicate');

test('merges identical constants, then whole duplicated chains', async () => {
  const m = buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(3));
    const a = g.addConstant('a', f32([3], [1, 2, 3]));
    const b = g.addConstant('b', f32([3], [1, 2, 3]));
    const other = g.addConstant('other', f32([3], [1, 2, 4]));
    const p = op(g, 'Exp', [op(g, 'Mul', [x, a])]);
    const q = op(g, 'Exp', [op(g, 'Mul', [x, b])]);
    const r = op(g, 'Exp', [op(g, 'Mul', [x, other])]);
    g.addOutput(op(g, 'Sum', [p, q, r]));
  });
  const x = f32([3], seededFloats(3, 7));
  const before = interpret(m.graph, { x });
  const report = await run(m);
  expect(report.passes[0]!.stats).toEqual({ 'constants-merged': 1, 'nodes-merged': 2 });
  expect(printGraph(m.graph)).toMatchInlineSnapshot(`
    "graph main(%x: float32[3]) -> (%sum) {
      const %a: float32[3] = [1.0, 2.0, 3.0] #ec72a158
      const %other: float32[3] = [1.0, 2.0, 4.0] #ea960918
      %mul: ? = Mul(%x, %a)
      %exp: ? = Exp(%mul)
      %mul_2: ? = Mul(%x, %other)
      %exp_2: ? = Exp(%mul_2)
      %sum: ? = Sum(%exp, %exp, %exp_2)
      return %sum
    }
    "
  `);
  expect(maxRelativeDiff(interpret(m.graph, { x }), before)).toBe(0);
});

test('does not merge: different attributes, Constant nodes with different data, random ops, a graph output that cannot keep its name', async () => {
  const m = buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(2, 3));
    g.addOutput(op(g, 'Softmax', [x], { axis: int(0) }));
    g.addOutput(op(g, 'Softmax', [x], { axis: int(1) }));
    g.addOutput(g.addNode({ op: 'Constant', attrs: { value: tensorAttr(f32([1], [1])) }, outputs: ['c1'] }).output(0));
    g.addOutput(g.addNode({ op: 'Constant', attrs: { value: tensorAttr(f32([1], [2])) }, outputs: ['c2'] }).output(0));
    g.addOutput(op(g, 'RandomUniformLike', [x]));
    g.addOutput(op(g, 'RandomUniformLike', [x]));
    // Both are graph outputs: merging would leave one output name pointing at the other's value.
    g.addOutput(op(g, 'Relu', [x]));
    g.addOutput(op(g, 'Relu', [x]));
  });
  const before = printGraph(m.graph);
  expect((await run(m)).passes[0]!.changed).toBe(false);
  expect(printGraph(m.graph)).toBe(before);
});
