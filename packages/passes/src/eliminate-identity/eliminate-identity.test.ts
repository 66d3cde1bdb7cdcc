import { describe, expect, test } from 'vitest';
import { interpret, printGraph, verify } from '@slimc/ir';
import { buildModel, f32, f32Type, i64, int, ints, maxRelativeDiff, op, seededFloats } from '../../../../test/passes-support.js';
import { Compiler, builtinPlugin } from '../index.js';

const run = (m: Parameters<Compiler['run']>[0], spec = 'eliminate-identity') => new Compiler().use(builtinPlugin).run(m, spec);

describe('eliminate-identity', () => {
  test('removes every provable no-op and keeps semantics', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2, 3));
      let v = op(g, 'Identity', [x], {}, f32Type(2, 3));
      v = op(g, 'Relu', [v], {}, f32Type(2, 3));
      v = op(g, 'Dropout', [v], {}, f32Type(2, 3));
      v = op(g, 'Reshape', [v, g.addConstant('same', i64([2], [0, -1]))], {}, f32Type(2, 3));
      v = op(g, 'Transpose', [v], { perm: ints(0, 1) }, f32Type(2, 3));
      v = op(g, 'Cast', [v], { to: int(1) }, f32Type(2, 3));
      v = op(g, 'Expand', [v, g.addConstant('ones', i64([1], [1]))], {}, f32Type(2, 3));
      v = op(g, 'Slice', [v, g.addConstant('starts', i64([2], [0, 0])), g.addConstant('ends', i64([2], [2, 2 ** 40]))], {}, f32Type(2, 3));
      v = op(g, 'Concat', [v], { axis: int(0) }, f32Type(2, 3));
      g.addOutput(op(g, 'Sigmoid', [v], {}, f32Type(2, 3)));
    });
    const x = f32([2, 3], seededFloats(6, 3));
    // Every node but Relu and Sigmoid is a no-op, so the model computes sigmoid(relu(x)).
    const expected = f32([2, 3], Array.from(x.data as Float32Array, (v) => 1 / (1 + Math.exp(-Math.max(0, v)))));
    await run(m, 'eliminate-identity,eliminate-dead-code');
    expect(printGraph(m.graph)).toMatchInlineSnapshot(`
      "graph main(%x: float32[2,3]) -> (%sigmoid) {
        %relu: float32[2,3] = Relu(%x)
        %sigmoid: float32[2,3] = Sigmoid(%relu)
        return %sigmoid
      }
      "
    `);
    expect(maxRelativeDiff(interpret(m.graph, { x }), { sigmoid: expected })).toBeLessThan(1e-6);
  });

  test('keeps what changes values: real reshape, transpose, cast, slice, dropout in training', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2, 3));
      g.addOutput(op(g, 'Reshape', [x, g.addConstant('flat', i64([1], [-1]))]));
      g.addOutput(op(g, 'Transpose', [x], { perm: ints(1, 0) }));
      g.addOutput(op(g, 'Cast', [x], { to: int(7) }));
      g.addOutput(op(g, 'Slice', [x, g.addConstant('s', i64([1], [1])), g.addConstant('e', i64([1], [3])), g.addConstant('a', i64([1], [1]))]));
      g.addOutput(op(g, 'Dropout', [x, g.addConstant('ratio', f32([], [0.5])), g.addConstant('train', { dtype: 'bool', shape: [], data: new Uint8Array([1]) })]));
    });
    const before = printGraph(m.graph);
    const report = await run(m);
    expect(report.passes[0]!.changed).toBe(false);
    expect(printGraph(m.graph)).toBe(before);
  });

  test('graph outputs keep their names: the producer is renamed, or the Identity stays', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2));
      const r = op(g, 'Relu', [x]);
      const y = g.addNode({ op: 'Identity', inputs: [r], outputs: ['y'] }).output(0);
      g.addOutput(y);
      // x is a graph input: it cannot be renamed to "passthrough", so this Identity stays.
      g.addOutput(g.addNode({ op: 'Identity', inputs: [x], outputs: ['passthrough'] }).output(0));
      // r is already an output through y; a second output "z" must stay a distinct name.
      g.addOutput(g.addNode({ op: 'Identity', inputs: [r], outputs: ['z'] }).output(0));
    });
    await run(m);
    expect(printGraph(m.graph)).toMatchInlineSnapshot(`
      "graph main(%x: float32[2]) -> (%y, %passthrough, %z) {
        %z: ? = Relu(%x)
        %y: ? = Identity(%z)
        %passthrough: ? = Identity(%x)
        return %y, %passthrough, %z
      }
      "
    `);
    expect(m.graph.outputs.map((v) => v.name)).toEqual(['y', 'passthrough', 'z']);
    expect(verify(m)).toEqual([]);
  });
});
