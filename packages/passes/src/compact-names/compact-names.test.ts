import { describe, expect, test } from 'vitest';
import { decodeOnnx, encodeOnnx } from '@slimc/backends';
import { Graph, cloneModel, interpret, makeTensor, tensorsEqual, verify, type Model, type Value } from '@slimc/ir';
import { buildModel, f32, f32Type, op, seededFloats } from '../../../../test/passes-support.js';
import { runOrt } from '../../../../test/interpreter-oracle.js';
import { Compiler, builtinPlugin } from '../index.js';

const run = (m: Model, spec = 'compact-names') => new Compiler().use(builtinPlugin).run(m, spec);

/** x, cond -> Conv(+bias) -> Relu -> If(cond: Neg of the Relu (an outer value) | Abs) -> y; and a second output z. */
function model(): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('input_image', f32Type(1, 2, 4, 4));
    const cond = g.addInput('cond', { dtype: 'bool', shape: [] });
    const w = g.addConstant('conv1.weight', f32([3, 2, 1, 1], seededFloats(6, 1)));
    const b = g.addConstant('conv1.bias', f32([3], seededFloats(3, 2)));
    const conv = g.addNode({ op: 'Conv', name: 'model/conv1/Conv', inputs: [x, w, b], outputs: [{ name: 'conv1_output_before_activation', type: f32Type(1, 3, 4, 4) }] }).output(0);
    const r = op(g, 'Relu', [conv], {}, f32Type(1, 3, 4, 4));
    const branch = (name: string, opType: string) => {
      const body = new Graph(name, g.names);
      body.addOutput(body.addNode({ op: opType, name: `${name}_node`, inputs: [r], outputs: [{ name: `${name}_branch_result`, type: f32Type(1, 3, 4, 4) }] }).output(0));
      return body;
    };
    const y = g.addNode({ op: 'If', inputs: [cond], outputs: [{ name: 'y', type: f32Type(1, 3, 4, 4) }], attrs: { then_branch: { kind: 'graph', value: branch('then', 'Neg') }, else_branch: { kind: 'graph', value: branch('else', 'Abs') } } });
    g.addOutput(y.output(0));
    g.addOutput(op(g, 'Mul', [r, g.addConstant('a_rather_long_constant_name', f32([], [2]))], {}, f32Type(1, 3, 4, 4)));
  });
}

function allValues(m: Model): Value[] {
  const values = new Set<Value>();
  for (const g of m.graph.allGraphs()) {
    for (const v of [...g.inputs, ...g.initializers, ...g.outputs]) values.add(v);
    for (const n of g.nodes()) for (const o of n.outputs) if (o) values.add(o);
  }
  return [...values];
}

describe('compact-names', () => {
  test('internal values get short unique names, node names go, the interface keeps its names; outputs are identical in the interpreter and onnxruntime', async () => {
    const m = model();
    const before = cloneModel(m);
    const io = [...m.graph.inputs, ...m.graph.outputs].map((v) => v.name);
    const report = await run(m);
    expect(verify(m)).toEqual([]);
    expect([...m.graph.inputs, ...m.graph.outputs].map((v) => v.name)).toEqual(io);
    const values = allValues(m);
    const internal = values.filter((v) => !io.includes(v.name));
    // conv weight and bias, Mul's constant, the Conv and Relu outputs, the two branch results
    expect(internal).toHaveLength(7);
    expect(internal.every((v) => /^[0-9a-z]{1,2}$/.test(v.name))).toBe(true);
    expect(new Set(values.map((v) => v.name)).size).toBe(values.length);
    for (const g of m.graph.allGraphs()) for (const n of g.nodes()) expect(n.name).toBe('');
    const stats = report.passes[0]!.stats;
    expect(stats['values-renamed']).toBe(7);
    expect(stats['node-names-dropped']).toBe(3);
    expect(stats['name-bytes-after']).toBeLessThan(stats['name-bytes-before']!);

    const bytes = encodeOnnx(m);
    expect(bytes.length).toBeLessThan(encodeOnnx(before).length);
    const decoded = decodeOnnx(bytes);
    expect(verify(decoded)).toEqual([]);
    for (const c of [0, 1]) {
      const inputs = { input_image: f32([1, 2, 4, 4], seededFloats(32, 3 + c, -2, 2)), cond: makeTensor('bool', [], [c]) };
      const want = interpret(before.graph, inputs);
      const got = interpret(decoded.graph, inputs);
      const [ortWant, ortGot] = [await runOrt(encodeOnnx(before), inputs), await runOrt(bytes, inputs)];
      for (const name of ['y', 'mul']) {
        expect(tensorsEqual(got[name]!, want[name]!), name).toBe(true);
        expect(tensorsEqual(ortGot[name]!, ortWant[name]!), name).toBe(true);
      }
    }
  });

  test('nodes=keep keeps node names; a generated name never takes an interface name', async () => {
    const m = buildModel(13, (g) => {
      // the interface already uses the first generated names
      const x = g.addInput('0', f32Type(2));
      const h = g.addNode({ op: 'Relu', name: 'relu_node', inputs: [x], outputs: [{ name: 'hidden', type: f32Type(2) }] }).output(0);
      const out = g.addNode({ op: 'Neg', name: 'neg_node', inputs: [h], outputs: [{ name: '1', type: f32Type(2) }] }).output(0);
      g.addOutput(out);
    });
    await run(m, 'compact-names(nodes=keep)');
    expect([...m.graph.nodes()].map((n) => [n.name, n.output(0).name])).toEqual([['relu_node', '2'], ['neg_node', '1']]);
    expect(verify(m)).toEqual([]);
  });

  test('names that carried-through ONNX fields refer to (quantization annotations) are kept', async () => {
    const m = model();
    m.graph.extra = { quantization_annotation: [{ tensor_name: 'conv1_output_before_activation', quant_parameter_tensor_names: [] }] };
    await run(m);
    const names = allValues(m).map((v) => v.name);
    expect(names).toContain('conv1_output_before_activation');
    expect(names).not.toContain('conv1.weight');
  });
});
