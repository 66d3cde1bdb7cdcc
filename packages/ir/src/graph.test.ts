import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { Graph, Model, type Node, type Use, type Value, topologicalOrder, capturedValues } from './graph.js';
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

describe('walks', () => {
  /** main: a, If(then: [t1, Loop(body: [b1])], else: [e1]), z. */
  function nested() {
    const g = new Graph('main');
    const c = g.addInput('c', { dtype: 'bool', shape: [] });
    const a = g.addNode({ op: 'Neg', name: 'a', inputs: [c] });
    const thenG = new Graph('then');
    thenG.addNode({ op: 'Neg', name: 't1', inputs: [a.output(0)] });
    const body = new Graph('body');
    body.addNode({ op: 'Neg', name: 'b1', inputs: [c] });
    const loop = thenG.addNode({ op: 'Loop', name: 'loop', inputs: [] });
    loop.setAttr('body', { kind: 'graph', value: body });
    const elseG = new Graph('else');
    elseG.addNode({ op: 'Neg', name: 'e1', inputs: [c] });
    const iff = g.addNode({ op: 'If', name: 'if', inputs: [c] });
    iff.setAttr('then_branch', { kind: 'graph', value: thenG });
    iff.setAttr('else_branch', { kind: 'graph', value: elseG });
    g.addNode({ op: 'Neg', name: 'z', inputs: [c] });
    return g;
  }

  test('allNodes puts a node before its subgraphs, subgraphs in attribute order, depth first', () => {
    const g = nested();
    expect([...g.allNodes()].map((n) => n.name)).toEqual(['a', 'if', 't1', 'loop', 'b1', 'e1', 'z']);
    expect(g.allGraphs().map((h) => h.name)).toEqual(['main', 'then', 'body', 'else']);
    expect(g.nodeList().map((n) => n.name)).toEqual(['a', 'if', 'z']);
  });

  test('the current node may be erased while walking', () => {
    const g = nested();
    const seen: string[] = [];
    for (const n of g.allNodes()) {
      seen.push(n.name);
      if (n.name === 'b1' || n.name === 'z') n.erase();
    }
    expect(seen).toEqual(['a', 'if', 't1', 'loop', 'b1', 'e1', 'z']);
    expect([...g.allNodes()].map((n) => n.name)).toEqual(['a', 'if', 't1', 'loop', 'e1']);
    const walk = g.nodes();
    expect([walk.next().value?.name, walk.next().value?.name, walk.next().done]).toEqual(['a', 'if', true]);
  });
});

/** A use-list edit, on indices into the graph built by `useListGraph`. */
type UseEdit =
  | { kind: 'setInput'; node: number; operand: number; value: number | null }
  | { kind: 'setOutput'; output: number; value: number }
  | { kind: 'replaceAll'; from: number; to: number }
  | { kind: 'replaceWhere'; from: number; to: number; userParity: number }
  | { kind: 'erase'; node: number };

const VALUES = 4;
const NODES = 5;
const arbUseEdit: fc.Arbitrary<UseEdit> = fc.oneof(
  fc.record({ kind: fc.constant('setInput' as const), node: fc.nat(NODES - 1), operand: fc.nat(2), value: fc.option(fc.nat(VALUES - 1)) }),
  fc.record({ kind: fc.constant('setOutput' as const), output: fc.nat(1), value: fc.nat(VALUES - 1) }),
  fc.record({ kind: fc.constant('replaceAll' as const), from: fc.nat(VALUES - 1), to: fc.nat(VALUES - 1) }),
  fc.record({ kind: fc.constant('replaceWhere' as const), from: fc.nat(VALUES - 1), to: fc.nat(VALUES - 1), userParity: fc.nat(1) }),
  fc.record({ kind: fc.constant('erase' as const), node: fc.nat(NODES - 1) }),
);

/**
 * The use lists the IR promises, kept the plain way: append a new use, remove one by scanning from
 * the end and moving the last use into its slot, move uses in list order.
 */
class ReferenceUseLists {
  readonly lists = new Map<Value, Use[]>();
  list(v: Value): Use[] {
    let l = this.lists.get(v);
    if (!l) this.lists.set(v, (l = []));
    return l;
  }
  add(v: Value, user: Node | Graph, index: number): void {
    this.list(v).push({ user, index });
  }
  remove(v: Value, user: Node | Graph, index: number): void {
    const l = this.list(v);
    let k = l.length - 1;
    while (l[k]!.user !== user || l[k]!.index !== index) k--;
    l[k] = l[l.length - 1]!;
    l.pop();
  }
  move(from: Value, to: Value, pred: (u: Use) => boolean): void {
    if (from === to) return;
    const l = this.list(from);
    this.list(to).push(...l.filter(pred));
    this.lists.set(from, l.filter((u) => !pred(u)));
  }
}

describe('use lists', () => {
  propTest.prop([fc.array(arbUseEdit, { maxLength: 60 })])('stay exact and in the reference order under any edits', (edits) => {
    const g = new Graph('main');
    const values = Array.from({ length: VALUES }, (_, i) => g.addInput(`x${i}`));
    const nodes = Array.from({ length: NODES }, () => g.addNode({ op: 'Sum', inputs: [] }));
    const ref = new ReferenceUseLists();
    g.addOutput(values[0]!);
    g.addOutput(values[1]!);
    ref.add(values[0]!, g, 0);
    ref.add(values[1]!, g, 1);
    for (const e of edits) {
      if (e.kind === 'setInput') {
        const n = nodes[e.node]!;
        if (!n.attached) continue;
        const v = e.value === null ? null : values[e.value]!;
        const old = n.inputs[e.operand] ?? null;
        n.setInput(e.operand, v);
        if (old === v) continue;
        if (old) ref.remove(old, n, e.operand);
        if (v) ref.add(v, n, e.operand);
      } else if (e.kind === 'setOutput') {
        const old = g.outputs[e.output]!;
        const v = values[e.value]!;
        g.setOutput(e.output, v);
        if (old === v) continue;
        ref.remove(old, g, e.output);
        ref.add(v, g, e.output);
      } else if (e.kind === 'replaceAll') {
        values[e.from]!.replaceAllUsesWith(values[e.to]!);
        ref.move(values[e.from]!, values[e.to]!, () => true);
      } else if (e.kind === 'replaceWhere') {
        const pred = (u: Use) => u.user instanceof Graph || u.user.id % 2 === e.userParity;
        values[e.from]!.replaceUsesWhere(values[e.to]!, pred);
        ref.move(values[e.from]!, values[e.to]!, pred);
      } else {
        const n = nodes[e.node]!;
        if (!n.attached) continue;
        n.inputs.forEach((v, i) => v && ref.remove(v, n, i));
        n.erase(true);
      }
    }
    for (const v of values) {
      expect(v.uses).toEqual(ref.list(v));
      for (const u of v.uses) expect(u.user instanceof Graph ? u.user.outputs[u.index] : u.user.inputs[u.index]).toBe(v);
    }
  });
});
