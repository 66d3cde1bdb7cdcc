import { describe, expect, test } from 'vitest';
import { Graph, Model, topologicalOrder, capturedValues } from './graph.js';
import { makeTensor } from './tensor.js';
import { printGraph } from './printer.js';
import { cloneModel } from './clone.js';

function small() {
  const g = new Graph('main');
  const x = g.addInput('x', { dtype: 'float32', shape: ['N', 4] });
  const w = g.addConstant('w', makeTensor('float32', [4, 4], new Float32Array(16).fill(0.5)));
  const mm = g.addNode({ op: 'MatMul', inputs: [x, w], outputs: ['h'] });
  const relu = g.addNode({ op: 'Relu', inputs: [mm.output(0)], outputs: ['y'] });
  g.addOutput(relu.output(0));
  return { g, x, w, mm, relu };
}

describe('graph', () => {
  test('use lists follow setInput, replaceAllUsesWith and erase', () => {
    const { g, x, mm, relu } = small();
    expect(x.uses).toEqual([{ user: mm, index: 0 }]);
    const h = mm.output(0);
    expect(h.userNodes()).toEqual([relu]);
    relu.output(0).replaceAllUsesWith(h);
    expect(g.outputs[0]).toBe(h);
    expect(relu.isDead).toBe(true);
    relu.erase();
    expect(h.uses).toEqual([{ user: g, index: 0 }]);
    expect(g.nodeCount).toBe(1);
    expect(() => mm.erase()).toThrow(/still has 1 use/);
  });

  test('fresh names never collide', () => {
    const { g } = small();
    const n = g.addNode({ op: 'Relu', inputs: [g.inputs[0]!], outputs: ['h'] });
    expect(n.output(0).name).toBe('h_1');
  });

  test('topological sort repairs order and finds cycles', () => {
    const { g, mm, relu } = small();
    relu.moveBefore(mm);
    expect(g.nodeList()).toEqual([relu, mm]);
    g.sortTopologically();
    expect(g.nodeList()).toEqual([mm, relu]);
    mm.setInput(0, relu.output(0));
    expect(() => topologicalOrder(g)).toThrow(/cycle/);
  });

  test('subgraph captures are uses of the outer value', () => {
    const { g, mm } = small();
    const cond = g.addInput('c', { dtype: 'bool', shape: [] });
    const iff = g.addNode({ op: 'If', inputs: [cond], outputs: ['r'] });
    const then = new Graph('then', g.names);
    const t = then.addNode({ op: 'Neg', inputs: [mm.output(0)], outputs: ['neg'] });
    then.addOutput(t.output(0));
    iff.setAttr('then_branch', { kind: 'graph', value: then });
    expect(capturedValues(then)).toEqual([mm.output(0)]);
    expect(mm.output(0).userNodes()).toContain(t);
    iff.moveBefore(mm);
    g.sortTopologically();
    expect(g.nodeList().indexOf(iff)).toBeGreaterThan(g.nodeList().indexOf(mm));
    iff.erase();
    expect(mm.output(0).userNodes()).not.toContain(t);
  });

  test('printGraph is stable and clone prints the same', () => {
    const { g } = small();
    const m = new Model(g);
    m.opsetImports.set('', 13);
    const text = printGraph(g);
    expect(text).toMatchInlineSnapshot(`
      "graph main(%x: float32[N,4]) -> (%y) {
        const %w: float32[4,4] = [0.5, 0.5, 0.5, 0.5, ... 16 values] #d4e78445
        %h: ? = MatMul(%x, %w)
        %y: ? = Relu(%h)
        return %y
      }
      "
    `);
    expect(printGraph(cloneModel(m).graph)).toBe(text);
  });
});

describe('subgraph adoption', () => {
  test('a body built with its own names joins the model namespace without collisions', () => {
    const g = new Graph('main');
    const c = g.addInput('c', { dtype: 'bool', shape: [] });
    const x = g.addInput('x', { dtype: 'float32', shape: [2] });
    const outer = g.addNode({ op: 'Neg', inputs: [x], outputs: ['Neg'] });
    const body = new Graph('then'); // own NameTable: 'Neg' is free there
    const inner = body.addNode({ op: 'Neg', inputs: [outer.output(0)], outputs: ['Neg'] });
    body.addOutput(inner.output(0));
    const iff = g.addNode({ op: 'If', inputs: [c], outputs: ['r'] });
    iff.setAttr('then_branch', { kind: 'graph', value: body });
    expect(inner.output(0).name).not.toBe('Neg');
    expect(body.names).toBe(g.names);
    expect(g.names.has(inner.output(0).name)).toBe(true);
  });
});
