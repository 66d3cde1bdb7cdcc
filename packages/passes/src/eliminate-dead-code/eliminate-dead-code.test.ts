import { expect, test } from 'vitest';
import { Graph, printGraph } from '@slimc/ir';
import { buildModel, f32, f32Type, op, tensorAttr } from '../../../../test/passes-support.js';
import { Compiler, builtinPlugin } from '../index.js';

test('removes dead nodes, chains of them, unused constants and dead subgraph code; keeps outputs, inputs and custom ops', async () => {
  const m = buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(2));
    g.addInput('unused_input', f32Type(2));
    const w = g.addConstant('w', f32([2], [1, 2]));
    g.addConstant('unused_const', f32([2], [3, 4]));
    const deadChain = op(g, 'Exp', [op(g, 'Mul', [x, w])]);
    op(g, 'Neg', [deadChain]);
    g.addNode({ op: 'Print', domain: 'com.example', inputs: [x], outputs: ['side_effect'] });
    const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
    const branch = (name: string) => {
      const sg = new Graph(name, g.names);
      sg.addConstant(`${name}_unused`, f32([1], [0]));
      op(sg, 'Sqrt', [w]); // dead, and its use of the outer w goes with it
      sg.addOutput(op(sg, 'Abs', [x]));
      return sg;
    };
    const iff = g.addNode({ op: 'If', inputs: [cond], outputs: ['y'] });
    iff.setAttr('then_branch', { kind: 'graph', value: branch('then') });
    iff.setAttr('else_branch', { kind: 'graph', value: branch('else') });
    g.addOutput(iff.output(0));
    // A dead If goes too.
    const deadIf = g.addNode({ op: 'If', inputs: [cond], outputs: ['dead_if'] });
    for (const name of ['then_branch', 'else_branch']) {
      const sg = new Graph(`dead_${name}`, g.names);
      sg.addOutput(sg.addNode({ op: 'Constant', attrs: { value: tensorAttr(f32([1], [1])) }, outputs: ['one'] }).output(0));
      deadIf.setAttr(name, { kind: 'graph', value: sg });
    }
  });
  const report = await new Compiler().use(builtinPlugin).run(m, 'eliminate-dead-code');
  // Mul, Exp, Neg; a Sqrt in each branch; the dead If (its own nodes go with it). w lost its last uses.
  expect(report.passes[0]!.stats).toEqual({ 'nodes-removed': 6, 'constants-removed': 4 });
  expect(printGraph(m.graph)).toMatchInlineSnapshot(`
    "graph main(%x: float32[2], %unused_input: float32[2], %cond: bool[]) -> (%y) {
      %side_effect: ? = com.example:Print(%x)
      %y: ? = If(%cond) {
        else_branch:
          graph else() -> (%abs_1) {
            %abs_1: ? = Abs(%x)
            return %abs_1
          }
        then_branch:
          graph then() -> (%abs) {
            %abs: ? = Abs(%x)
            return %abs
          }
      }
      return %y
    }
    "
  `);
  const again = await new Compiler().use(builtinPlugin).run(m, 'eliminate-dead-code');
  expect(again.passes[0]!.changed).toBe(false);
});
