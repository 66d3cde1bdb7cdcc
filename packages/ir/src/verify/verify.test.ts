import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { Graph, Model, type Node, type Value } from '../graph.js';
import { makeTensor } from '../tensor.js';
import { SlimcError } from '../errors.js';
import { inferShapes } from '../schema/infer.js';
import { RULES, verify, verifyOrThrow, type Diagnostic } from './index.js';

const F = { dtype: 'float32', shape: [2, 3] } as const;

function smallModel() {
  const model = new Model();
  model.opsetImports.set('', 17);
  const g = model.graph;
  const x = g.addInput('x', F);
  const w = g.addConstant('w', makeTensor('float32', [2, 3], new Float32Array(6).fill(0.5)));
  const add = g.addNode({ op: 'Add', name: 'add', inputs: [x, w], outputs: ['sum'] });
  const relu = g.addNode({ op: 'Relu', name: 'relu', inputs: [add.output(0)], outputs: ['y'] });
  g.addOutput(relu.output(0));
  return { model, g, x, w, add, relu };
}

/** smallModel plus an If (at the end) whose branches capture x: then = Neg "neg", else = Abs. */
function smallModelWithIf() {
  const m = smallModel();
  const { g, x } = m;
  const body = new Graph('then', g.names);
  const neg = body.addNode({ op: 'Neg', name: 'neg', inputs: [x], outputs: ['n'] });
  body.addOutput(neg.output(0));
  const elseBody = new Graph('else', g.names);
  elseBody.addOutput(elseBody.addNode({ op: 'Abs', inputs: [x], outputs: ['a'] }).output(0));
  const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
  const ifNode = g.addNode({ op: 'If', name: 'if', inputs: [cond], outputs: ['r'], attrs: { then_branch: { kind: 'graph', value: body }, else_branch: { kind: 'graph', value: elseBody } } });
  return { ...m, body, elseBody, cond, ifNode, neg };
}

const rulesOf = (ds: Diagnostic[]) => [...new Set(ds.map((d) => d.rule))];

describe('verify: one test per rule', () => {
  test('a well-formed model verifies clean', () => {
    expect(verify(smallModel().model)).toEqual([]);
  });

  test('node-graph-link: a node linked in one graph but owned by another', () => {
    const { model, add } = smallModel();
    add.graph = new Graph('elsewhere');
    const ds = verify(model);
    expect(ds).toContainEqual(expect.objectContaining({ rule: 'node-graph-link', node: 'add', op: 'Add' }));
  });

  test('subgraph-parent: a subgraph whose parent is not its owner', () => {
    const { model, g, body, elseBody, cond, ifNode } = smallModelWithIf();
    expect(verify(model)).toEqual([]);
    body.parent = null;
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'subgraph-parent', node: 'if', field: 'attribute then_branch' }));
    body.parent = ifNode;
    // One graph held by two nodes: the second holder is not its parent.
    const twin = g.addNode({ op: 'If', name: 'twin', inputs: [cond], outputs: ['r2'] });
    twin.setAttr('then_branch', { kind: 'graph', value: body });
    twin.setAttr('else_branch', { kind: 'graph', value: elseBody });
    body.parent = ifNode;
    elseBody.parent = ifNode;
    expect(verify(model).filter((d) => d.rule === 'subgraph-parent').map((d) => d.node)).toEqual(['twin', 'twin']);
  });

  test('subgraph-signature: an If result without a branch value, a Loop body missing its carried input', () => {
    const { model, g, x } = smallModel();
    const branch = (name: string) => {
      const b = new Graph(name, g.names);
      b.addOutput(b.addNode({ op: 'Neg', inputs: [x] }).output(0));
      return b;
    };
    const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
    const ifNode = g.addNode({ op: 'If', name: 'if', inputs: [cond], outputs: ['r'], attrs: { then_branch: { kind: 'graph', value: branch('t') }, else_branch: { kind: 'graph', value: branch('e') } } });
    const body = new Graph('body', g.names);
    body.addInput('i', { dtype: 'int64', shape: [] });
    const c = body.addInput('c', { dtype: 'bool', shape: [] });
    const carried = body.addInput('carried', F);
    body.addOutput(c);
    body.addOutput(carried);
    const loop = g.addNode({ op: 'Loop', name: 'loop', inputs: [null, cond, x], outputs: ['final'], attrs: { body: { kind: 'graph', value: body } } });
    expect(verify(model)).toEqual([]);
    ifNode.addOutput('r2');
    expect(verify(model)).toEqual([
      expect.objectContaining({ rule: 'subgraph-signature', node: 'if', field: 'attribute then_branch' }),
      expect.objectContaining({ rule: 'subgraph-signature', node: 'if', field: 'attribute else_branch' }),
    ]);
    ifNode.outputs.pop();
    loop.setInput(3, x);
    loop.addOutput('final2');
    expect(verify(model).map((d) => [d.rule, d.node, d.message])).toEqual([
      ['subgraph-signature', 'loop', 'body takes 3 inputs, the node implies 4'],
      ['subgraph-signature', 'loop', 'body returns 2 values, the node implies 3'],
    ]);
  });

  test('single-definition: producer index out of step, and a node output that is also a constant', () => {
    const { model, add } = smallModel();
    add.output(0).producerIndex = 3;
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'single-definition', node: 'add', value: 'sum' }));
    add.output(0).producerIndex = 0;
    add.output(0).constant = makeTensor('float32', [2, 3]);
    expect(verify(model).map((d) => d.message)).toContain('value is both a node output and a constant');
  });

  test('use-list: a missing entry and a stale entry', () => {
    const { model, x, add } = smallModel();
    x.uses.length = 0;
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'use-list', node: 'add', value: 'x', field: 'input 0' }));
    x.uses.push({ user: add, index: 0 }, { user: add, index: 1 });
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'use-list', value: 'x', field: 'input 1' }));
  });

  test('topological-order: a user before its producer, and a cycle naming its members', () => {
    const { model, add, relu } = smallModel();
    relu.moveBefore(add);
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'topological-order', node: 'relu', value: 'sum' }));
    relu.moveAfter(add);
    add.setInput(1, relu.output(0));
    const cycle = verify(model).filter((d) => d.rule === 'topological-order');
    expect(cycle).toHaveLength(1);
    expect(cycle[0]!.message).toMatch(/cycle through .*(add \(Add\).*relu \(Relu\)|relu \(Relu\).*add \(Add\))/);
  });

  test('dangling-value: an operand whose initializer was removed', () => {
    const { model, g, w } = smallModel();
    g.initializers.splice(g.initializers.indexOf(w), 1);
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'dangling-value', node: 'add', op: 'Add', value: 'w', field: 'input 1' }));
  });

  test('dangling-value: a subgraph capturing an outer value produced after the node holding it', () => {
    const { model, relu, ifNode, body, neg } = smallModelWithIf();
    ifNode.moveBefore(relu);
    neg.setInput(0, relu.output(0));
    expect(verify(model).map((d) => [d.rule, d.node, d.value])).toEqual([['dangling-value', 'neg', 'y']]);
    // The same for a branch that returns the late value itself.
    body.setOutput(0, relu.output(0));
    expect(verify(model).map((d) => [d.rule, d.value, d.field])).toEqual([
      ['dangling-value', 'y', 'input 0'],
      ['graph-output-defined', 'y', 'output 0 of graph then'],
    ]);
    body.setOutput(0, neg.output(0));
    // Moving the If after its capture's producer makes the model valid again.
    ifNode.moveAfter(relu);
    expect(verify(model)).toEqual([]);
  });

  test('topological-order: a cycle closed through a subgraph capture is named', () => {
    const { model, relu, ifNode, body, neg } = smallModelWithIf();
    // relu consumes the If result while the If's branch captures relu's output.
    ifNode.moveBefore(relu);
    relu.setInput(0, ifNode.output(0));
    neg.setInput(0, relu.output(0));
    const order = verify(model).filter((d) => d.rule === 'topological-order');
    expect(order).toHaveLength(1);
    expect(order[0]!.message).toMatch(/cycle through (if \(If\) -> relu \(Relu\)|relu \(Relu\) -> if \(If\))/);
  });

  test('graph-output-defined: an output defined in a different graph', () => {
    const { model, g } = smallModel();
    const ghost = new Graph('other', g.names).addInput('ghost', F);
    g.addOutput(ghost);
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'graph-output-defined', value: 'ghost' }));
  });

  test('op-arity: too many operands, a missing required operand, too few results', () => {
    const { model, x, relu } = smallModel();
    relu.setInput(1, x);
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'op-arity', node: 'relu', field: 'inputs' }));
    relu.setInputs([null, x]);
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'op-arity', node: 'relu', field: 'input 0' }));
  });

  test('attribute rules: required missing, wrong kind, unknown', () => {
    const { model, g, x } = smallModel();
    const concat = g.addNode({ op: 'Concat', name: 'cat', inputs: [x, x], outputs: ['c'] });
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'attribute-required', node: 'cat', field: 'attribute axis' }));
    concat.setAttr('axis', { kind: 'float', value: 0 });
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'attribute-kind', node: 'cat', field: 'attribute axis' }));
    concat.setAttr('axis', { kind: 'int', value: 0 });
    concat.setAttr('axes', { kind: 'ints', value: [0] });
    expect(rulesOf(verify(model))).toEqual(['attribute-unknown']);
  });

  test('attribute rules follow the opset: Clip min/max are attributes before 11 only', () => {
    const { model, relu } = smallModel();
    relu.op = 'Clip';
    relu.setAttr('min', { kind: 'float', value: 0 });
    model.opsetImports.set('', 9);
    expect(verify(model)).toEqual([]);
    model.opsetImports.set('', 11);
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'attribute-unknown', node: 'relu', field: 'attribute min' }));
  });

  test('type-constraint: disallowed dtype and a shared type variable bound twice', () => {
    const { model, g, x, add } = smallModel();
    const ids = g.addInput('ids', { dtype: 'int64', shape: [2, 3] });
    add.setInput(1, ids);
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'type-constraint', node: 'add', value: 'ids', field: 'input 1' }));
    const s = g.addInput('s', { dtype: 'string', shape: [1] });
    g.addNode({ op: 'Sqrt', name: 'sqrt', inputs: [s], outputs: ['r'] });
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'type-constraint', node: 'sqrt', field: 'input 0' }));
    expect(x.type?.dtype).toBe('float32');
  });

  test('constant-data: data length and declared type must match the tensor', () => {
    const { model, w } = smallModel();
    w.constant = { dtype: 'float32', shape: [2, 3], data: new Float32Array(5) };
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'constant-data', value: 'w', message: expect.stringMatching(/needs 6 elements, data has 5/) }));
  });

  test('unique-names: two values or two nodes with one name', () => {
    const { model, add, relu } = smallModel();
    relu.output(0).name = 'sum';
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'unique-names', value: 'sum' }));
    relu.output(0).name = 'y';
    relu.name = add.name;
    expect(verify(model)).toContainEqual(expect.objectContaining({ rule: 'unique-names', node: 'add' }));
  });

  test('a bare Graph gets structural rules only, unless an opset is given', () => {
    const { g, x, relu } = smallModel();
    relu.setInput(1, x);
    expect(verify(g)).toEqual([]);
    expect(rulesOf(verify(g, { opset: 17 }))).toEqual(['op-arity']);
  });

  test('the rule table names every rule once', () => {
    const names = RULES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('verifyOrThrow', () => {
  test('returns on a valid model', () => {
    expect(() => verifyOrThrow(smallModel().model)).not.toThrow();
  });

  test('an invalid input model is invalid-model; a pass that broke the IR is internal and named', () => {
    const { model, x } = smallModel();
    x.uses.length = 0;
    let caught: unknown;
    try {
      verifyOrThrow(model, { model: 'm.onnx' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SlimcError);
    expect((caught as SlimcError).kind).toBe('invalid-model');
    expect((caught as SlimcError).message).toBe('m.onnx, node "add" (Add), input 0, value "x": [use-list] operand appears 0 times in the value\'s use list');
    try {
      verifyOrThrow(model, { pass: 'fold-batchnorm' });
    } catch (e) {
      caught = e;
    }
    expect((caught as SlimcError).kind).toBe('internal');
    expect((caught as SlimcError).context.pass).toBe('fold-batchnorm');
    expect((caught as SlimcError).message).toMatch(/pass fold-batchnorm/);
  });
});

// ---- property: random well-formed graphs verify clean; one broken invariant is always reported ----

const UNARY = ['Relu', 'Sigmoid', 'Neg', 'Abs', 'Tanh', 'Identity'] as const;
const BINARY = ['Add', 'Mul', 'Sub'] as const;

type Step = { kind: 'unary'; op: string; a: number } | { kind: 'binary'; op: string; a: number; b: number } | { kind: 'const'; fill: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('unary' as const), op: fc.constantFrom(...UNARY), a: fc.nat(50) }),
  fc.record({ kind: fc.constant('binary' as const), op: fc.constantFrom(...BINARY), a: fc.nat(50), b: fc.nat(50) }),
  fc.record({ kind: fc.constant('const' as const), fill: fc.integer({ min: -4, max: 4 }) }),
);

interface Built {
  model: Model;
  /** Nodes of the main graph with at least one operand produced by another main-graph node. */
  main: Graph;
  softmax: Node;
  thenGraph: Graph;
  elseGraph: Graph;
}

/**
 * A model of float32[2,3] values: random unary/binary nodes over earlier values and constants,
 * a Softmax (an op with an attribute), and an If whose two branches capture outer values.
 */
function buildModel(steps: readonly Step[]): Built {
  const model = new Model();
  model.opsetImports.set('', 17);
  const g = model.graph;
  const pool: Value[] = [g.addInput('x', F), g.addConstant('w', makeTensor('float32', [2, 3], new Float32Array(6).fill(1)))];
  pool.push(g.addNode({ op: 'Mul', inputs: [pool[0]!, pool[1]!], outputs: ['scaled'] }).output(0));
  for (const s of steps) {
    const pick = (k: number) => pool[k % pool.length]!;
    if (s.kind === 'const') pool.push(g.addConstant('c', makeTensor('float32', [2, 3], new Float32Array(6).fill(s.fill))));
    else if (s.kind === 'unary') pool.push(g.addNode({ op: s.op, inputs: [pick(s.a)], outputs: [s.op.toLowerCase()] }).output(0));
    else pool.push(g.addNode({ op: s.op, inputs: [pick(s.a), pick(s.b)], outputs: [s.op.toLowerCase()] }).output(0));
  }
  const last = pool[pool.length - 1]!;
  const softmax = g.addNode({ op: 'Softmax', name: 'softmax', inputs: [pool[2]!], outputs: ['probs'], attrs: { axis: { kind: 'int', value: 1 } } });
  const branch = (name: string, op: string, captured: Value) => {
    const b = new Graph(name, g.names);
    b.addOutput(b.addNode({ op, inputs: [captured], outputs: [`${name}_out`] }).output(0));
    return b;
  };
  const thenGraph = branch('then', 'Neg', last);
  const elseGraph = branch('else', 'Relu', pool[2]!);
  const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
  const ifNode = g.addNode({
    op: 'If',
    inputs: [cond],
    outputs: ['chosen'],
    attrs: { then_branch: { kind: 'graph', value: thenGraph }, else_branch: { kind: 'graph', value: elseGraph } },
  });
  g.addOutput(ifNode.output(0));
  g.addOutput(softmax.output(0));
  return { model, main: g, softmax, thenGraph, elseGraph };
}

type Mutation =
  | 'drop-use'
  | 'reorder'
  | 'remove-initializer'
  | 'duplicate-name'
  | 'wrong-arity'
  | 'wrong-attribute-kind'
  | 'dangling-capture';

const EXPECTED_RULE: Record<Mutation, string> = {
  'drop-use': 'use-list',
  reorder: 'topological-order',
  'remove-initializer': 'dangling-value',
  'duplicate-name': 'unique-names',
  'wrong-arity': 'op-arity',
  'wrong-attribute-kind': 'attribute-kind',
  'dangling-capture': 'dangling-value',
};

/** Breaks one invariant; `choice` picks among the candidates. */
function mutate(b: Built, m: Mutation, choice: number): void {
  const g = b.main;
  const nodes = g.nodeList();
  const pick = <T>(xs: readonly T[]) => xs[choice % xs.length]!;
  switch (m) {
    case 'drop-use': {
      const n = pick(nodes.filter((n) => n.inputs.some(Boolean)));
      const v = n.inputs.find(Boolean)!;
      v.uses.splice(v.uses.findIndex((u) => u.user === n), 1);
      return;
    }
    case 'reorder': {
      // The Mul node always feeds later nodes, so a user exists.
      const n = pick(nodes.filter((n) => n.inputs.some((v) => v?.producer?.graph === g)));
      const producer = n.inputs.find((v) => v?.producer?.graph === g)!.producer!;
      n.moveBefore(producer);
      return;
    }
    case 'remove-initializer': {
      const w = g.initializers[0]!; // used by the Mul node
      g.initializers.splice(0, 1);
      void w;
      return;
    }
    case 'duplicate-name': {
      const values = nodes.flatMap((n) => n.outputs.filter((v): v is Value => v !== null));
      pick(values).name = g.inputs[0]!.name;
      return;
    }
    case 'wrong-arity': {
      const n = pick(nodes.filter((n) => n.op !== 'If'));
      n.setInput(n.inputs.length + 2, g.inputs[0]!);
      return;
    }
    case 'wrong-attribute-kind':
      b.softmax.setAttr('axis', pick([{ kind: 'float', value: 1 }, { kind: 'ints', value: [1] }, { kind: 'string', value: '1' }] as const));
      return;
    case 'dangling-capture': {
      // A then-branch node uses a value of the else branch: not in its scope.
      const elseValue = b.elseGraph.first!.output(0);
      b.thenGraph.first!.setInput(0, elseValue);
      return;
    }
  }
}

describe('verify properties', () => {
  propTest.prop([fc.array(stepArb, { minLength: 0, maxLength: 12 })])('random well-formed graphs verify clean, before and after inferShapes', (steps) => {
    const { model } = buildModel(steps);
    expect(verify(model)).toEqual([]);
    inferShapes(model);
    expect(verify(model)).toEqual([]);
  });

  propTest.prop([
    fc.array(stepArb, { minLength: 0, maxLength: 12 }),
    fc.constantFrom(...(Object.keys(EXPECTED_RULE) as Mutation[])),
    fc.nat(100),
  ])('one broken invariant is reported under its rule', (steps, mutation, choice) => {
    const built = buildModel(steps);
    inferShapes(built.model);
    mutate(built, mutation, choice);
    const rules = verify(built.model).map((d) => d.rule);
    expect(rules).toContain(EXPECTED_RULE[mutation]);
  });
});
