import { expect, test } from 'vitest';
import { interpret, printGraph } from '@slimc/ir';
import { buildModel, f32, f32Type, float, i64, int, ints, maxRelativeDiff, op, seededFloats, tensorAttr } from '../../../../test/passes-support.js';
import { Compiler, builtinPlugin } from '../index.js';

test('canonicalize runs every cleanup to a fixpoint: folding exposes duplicates, merging exposes folds', async () => {
  const m = buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 2, 4, 4));
    const w = g.addNode({ op: 'Constant', attrs: { value: tensorAttr(f32([2, 2, 1, 1], seededFloats(4, 9))) }, outputs: ['w'] }).output(0);
    const branch = () => {
      // Identical branches: after Constant folding and BN folding, they deduplicate into one.
      const conv = op(g, 'Conv', [op(g, 'Identity', [x]), w]);
      const bn = op(g, 'BatchNormalization', [
        conv,
        g.addConstant('s', f32([2], [1, 2])),
        g.addConstant('b', f32([2], [0.5, -0.5])),
        g.addConstant('mu', f32([2], [0.1, 0.2])),
        g.addConstant('var', f32([2], [1, 4])),
      ], { epsilon: float(1e-5) });
      const shape = op(g, 'Shape', [x]);
      const flat = op(g, 'Concat', [op(g, 'Slice', [shape, g.addConstant('s0', i64([1], [0])), g.addConstant('s1', i64([1], [1]))]), g.addConstant('m1', i64([1], [-1]))], {
        axis: int(0),
      });
      return op(g, 'Reshape', [op(g, 'Relu', [bn]), flat]);
    };
    g.addOutput(op(g, 'Add', [branch(), branch()]));
    op(g, 'Transpose', [x], { perm: ints(0, 1, 3, 2) }); // dead
  });
  const x = f32([1, 2, 4, 4], seededFloats(32, 8));
  const before = interpret(m.graph, { x });
  const report = await new Compiler().use(builtinPlugin).run(m, 'canonicalize');
  expect(printGraph(m.graph)).toMatchInlineSnapshot(`
    "graph main(%x: float32[1,2,4,4]) -> (%add) {
      const %concat_1: int64[2] = [1, -1] #ed4a1fbc
      const %w: float32[2,2,1,1] = [-0.52088547, -0.81019437, 0.96381521, -0.99797034] #ac85225e
      const %conv_bias: float32[2] = [0.40000051, -0.69999975] #813109b1
      %conv: float32[1,2,4,4] = Conv(%x, %w, %conv_bias)
      %relu: float32[1,2,4,4] = Relu(%conv)
      %reshape: float32[1,32] = Reshape(%relu, %concat_1)
      %add: float32[1,32] = Add(%reshape, %reshape)
      return %add
    }
    "
  `);
  expect(maxRelativeDiff(interpret(m.graph, { x }), before)).toBeLessThan(1e-5);
  expect(report.passes[0]!.nodesBefore).toBeGreaterThan(report.passes[0]!.nodesAfter);
  const again = await new Compiler().use(builtinPlugin).run(m, 'canonicalize');
  expect(again.passes[0]!.changed).toBe(false);
});

test('a Conv whose other user dies in the same run still gets its BatchNormalization folded', async () => {
  const m = buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 1, 1, 1));
    const conv = op(g, 'Conv', [x, g.addConstant('w', f32([1, 1, 1, 1], [0.5]))]);
    op(g, 'Relu', [conv]); // dead: once erased, the Conv is single-use
    const p = (v: number) => g.addConstant('p', f32([1], [v]));
    g.addOutput(op(g, 'BatchNormalization', [conv, p(2), p(1), p(0.5), p(4)]));
  });
  const report = await new Compiler().use(builtinPlugin).run(m, 'canonicalize');
  expect(report.passes[0]!.stats['fold-batchnorm-into-conv']).toBe(1);
  expect([...m.graph.nodes()].map((n) => n.op)).toEqual(['Conv']);
});
