import { describe, expect, test } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { Graph, Model, type Attribute, type AttributeKind, type TensorType, type Value } from '../graph.js';
import { makeTensor } from '../tensor.js';
import { SlimcError } from '../errors.js';
import { inferShapes } from './infer.js';
import { allSchemas } from './table.js';

function model(opset = 17) {
  const m = new Model();
  m.opsetImports.set('', opset);
  return { m, g: m.graph };
}

const ints = (value: number[]): Attribute => ({ kind: 'ints', value });
const int = (value: number): Attribute => ({ kind: 'int', value });
const i64 = (g: Graph, name: string, values: number[]) => g.addConstant(name, makeTensor('int64', [values.length], values.map(BigInt)));

describe('inferShapes', () => {
  test('Conv keeps the batch symbol and channel count; a symbolic spatial dim stays unknown', () => {
    const { m, g } = model();
    const x = g.addInput('x', { dtype: 'float32', shape: ['N', 3, 'H', 32] });
    const w = g.addConstant('w', makeTensor('float32', [8, 3, 3, 3]));
    const conv = g.addNode({ op: 'Conv', inputs: [x, w], attrs: { pads: ints([1, 1, 1, 1]), strides: ints([2, 2]) } });
    inferShapes(m);
    expect(conv.output(0).type).toEqual({ dtype: 'float32', shape: ['N', 8, null, 16] });
  });

  test('broadcasting with symbolic dims', () => {
    const { m, g } = model();
    const a = g.addInput('a', { dtype: 'float32', shape: ['N', 1, 4] });
    const b = g.addInput('b', { dtype: 'float32', shape: [5, 'K'] });
    const c = g.addInput('c', { dtype: 'float32', shape: ['N', 5, 4] });
    const ab = g.addNode({ op: 'Add', inputs: [a, b] }).output(0);
    const ac = g.addNode({ op: 'Mul', inputs: [a, c] }).output(0);
    inferShapes(m);
    // 'K' against 4 must be 4 (or 1, which broadcasts to 4).
    expect(ab.type!.shape).toEqual(['N', 5, 4]);
    expect(ac.type!.shape).toEqual(['N', 5, 4]);
  });

  test('Shape -> Gather -> Unsqueeze -> Concat -> Reshape resolves, symbols included', () => {
    const { m, g } = model(13);
    const x = g.addInput('x', { dtype: 'float32', shape: ['B', 6, 4] });
    const shape = g.addNode({ op: 'Shape', inputs: [x] }).output(0);
    const batch = g.addNode({ op: 'Gather', inputs: [shape, g.addConstant('zero', makeTensor('int64', [], [0n]))], attrs: { axis: int(0) } }).output(0);
    const batch1 = g.addNode({ op: 'Unsqueeze', inputs: [batch, i64(g, 'axes', [0])] }).output(0);
    const target = g.addNode({ op: 'Concat', inputs: [batch1, i64(g, 'rest', [-1, 2])], attrs: { axis: int(0) } }).output(0);
    const y = g.addNode({ op: 'Reshape', inputs: [x, target] }).output(0);
    inferShapes(m);
    expect(batch.type).toEqual({ dtype: 'int64', shape: [] });
    expect(target.type).toEqual({ dtype: 'int64', shape: [3] });
    // -1 cannot be solved with a symbolic batch, but rank and the static dim are known.
    expect(y.type!.shape).toEqual(['B', null, 2]);
  });

  test('Reshape copies unknown and symbolic dims with 0', () => {
    const { m, g } = model(13);
    const x = g.addInput('x', { dtype: 'float32', shape: [null, 'T', 6] });
    const y = g.addNode({ op: 'Reshape', inputs: [x, i64(g, 's', [0, 0, 2, 3])] }).output(0);
    inferShapes(m);
    expect(y.type!.shape).toEqual([null, 'T', 2, 3]);
  });

  test('Reshape with a static input solves -1 and checks the element count', () => {
    const { m, g } = model(13);
    const x = g.addInput('x', { dtype: 'float32', shape: [2, 6] });
    const ok = g.addNode({ op: 'Reshape', inputs: [x, i64(g, 's', [3, -1])] }).output(0);
    inferShapes(m);
    expect(ok.type!.shape).toEqual([3, 4]);
    const bad = g.addNode({ op: 'Reshape', name: 'bad_reshape', inputs: [x, i64(g, 't', [5, -1])] });
    expect(() => inferShapes(m)).toThrow(SlimcError);
    try {
      inferShapes(m);
    } catch (e) {
      expect((e as SlimcError).context).toMatchObject({ node: 'bad_reshape', op: 'Reshape', field: 'input shape' });
    }
    void bad;
  });

  test('a contradiction with a declared type names node, op and output', () => {
    const { m, g } = model();
    const x = g.addInput('x', { dtype: 'float32', shape: [2, 3] });
    const r = g.addNode({ op: 'Relu', name: 'relu', inputs: [x], outputs: [{ name: 'y', type: { dtype: 'float32', shape: [2, 4] } }] });
    expect(() => inferShapes(m)).toThrow(/node "relu" \(Relu\), output 0: inferred float32\[2,3\] but the value is declared float32\[2,4\]/);
    void r;
  });

  test('declared symbolic dims are refined by inferred static ones; unknown ops are skipped', () => {
    const { m, g } = model();
    const x = g.addInput('x', { dtype: 'float32', shape: [2, 3] });
    const y = g.addNode({ op: 'Relu', inputs: [x], outputs: [{ name: 'y', type: { dtype: 'float32', shape: ['a', null] } }] }).output(0);
    const custom = g.addNode({ op: 'MysteryOp', domain: 'com.example', inputs: [y] }).output(0);
    const after = g.addNode({ op: 'Sigmoid', inputs: [custom] }).output(0);
    inferShapes(m);
    expect(y.type!.shape).toEqual([2, 3]);
    expect(custom.type).toBeUndefined();
    expect(after.type).toBeUndefined();
  });

  test('If on a condition known from shapes takes its branch; the other, ill-typed here, is rolled back', () => {
    const { m, g } = model(13);
    const x = g.addInput('x', { dtype: 'float32', shape: [1, 8] });
    const shape = g.addNode({ op: 'Shape', inputs: [x] }).output(0);
    const first = g.addNode({ op: 'Gather', inputs: [shape, i64(g, 'i0', [0])], attrs: { axis: int(0) } }).output(0);
    const isOne = g.addNode({ op: 'Equal', inputs: [first, i64(g, 'one', [1])] }).output(0);
    const squeezeBranch = new Graph('then', g.names);
    squeezeBranch.addOutput(squeezeBranch.addNode({ op: 'Squeeze', inputs: [x, i64(squeezeBranch, 'ax', [0])] }).output(0));
    // The else branch would squeeze a dim of size 8: ill-typed for these shapes, but never taken.
    const badBranch = new Graph('else', g.names);
    const badNeg = badBranch.addNode({ op: 'Neg', inputs: [x] }).output(0);
    badBranch.addOutput(badBranch.addNode({ op: 'Squeeze', inputs: [badNeg, i64(badBranch, 'ax1', [1])] }).output(0));
    const cond = g.addNode({ op: 'Squeeze', inputs: [isOne] }).output(0);
    const ifNode = g.addNode({ op: 'If', inputs: [cond], attrs: { then_branch: { kind: 'graph', value: squeezeBranch }, else_branch: { kind: 'graph', value: badBranch } } });
    inferShapes(m);
    expect(ifNode.output(0).type).toEqual({ dtype: 'float32', shape: [8] });
    expect(badNeg.type).toBeUndefined();
  });

  test('If on a runtime condition merges both branches', () => {
    const { m, g } = model();
    const x = g.addInput('x', { dtype: 'float32', shape: [4, 'T'] });
    const cond = g.addInput('c', { dtype: 'bool', shape: [] });
    const branch = (name: string, op: string, attrs: Record<string, Attribute>) => {
      const b = new Graph(name, g.names);
      b.addOutput(b.addNode({ op, inputs: [x], attrs }).output(0));
      return b;
    };
    const ifNode = g.addNode({
      op: 'If',
      inputs: [cond],
      attrs: { then_branch: { kind: 'graph', value: branch('then', 'Relu', {}) }, else_branch: { kind: 'graph', value: branch('else', 'Transpose', { perm: ints([1, 0]) }) } },
    });
    inferShapes(m);
    // [4,T] vs [T,4]: same rank, dims differ.
    expect(ifNode.output(0).type).toEqual({ dtype: 'float32', shape: [null, null] });
  });

  test('Loop: carried values keep their types, scan outputs gain an iteration axis', () => {
    const { m, g } = model(16);
    const trip = g.addConstant('trip', makeTensor('int64', [], [3n]));
    const acc = g.addInput('acc', { dtype: 'float32', shape: [2, 2] });
    const body = new Graph('body', g.names);
    body.addInput('i', undefined);
    const condIn = body.addInput('cond_in', undefined);
    const accIn = body.addInput('acc_in', undefined);
    const next = body.addNode({ op: 'Add', inputs: [accIn, accIn] }).output(0);
    const scanOut = body.addNode({ op: 'ReduceSum', inputs: [accIn], attrs: { keepdims: int(0) } }).output(0);
    body.addOutput(body.addNode({ op: 'Identity', inputs: [condIn] }).output(0));
    body.addOutput(next);
    body.addOutput(scanOut);
    const loop = g.addNode({ op: 'Loop', inputs: [trip, null, acc], outputs: 2, attrs: { body: { kind: 'graph', value: body } } });
    inferShapes(m);
    expect(accIn.type).toEqual({ dtype: 'float32', shape: [2, 2] });
    expect(loop.output(0).type).toEqual({ dtype: 'float32', shape: [2, 2] });
    expect(loop.output(1).type).toEqual({ dtype: 'float32', shape: [null] });
  });

  test('Loop: a carried value that grows each iteration is widened until the body maps it to itself', () => {
    const { m, g } = model(16);
    const trip = g.addConstant('trip', makeTensor('int64', [], [3n]));
    const rows = g.addInput('rows', { dtype: 'float32', shape: [1, 4] });
    const body = new Graph('body', g.names);
    body.addInput('i', undefined);
    const condIn = body.addInput('cond_in', undefined);
    const rowsIn = body.addInput('rows_in', undefined);
    const grown = body.addNode({ op: 'Concat', inputs: [rowsIn, rows], attrs: { axis: int(0) } }).output(0);
    body.addOutput(body.addNode({ op: 'Identity', inputs: [condIn] }).output(0));
    body.addOutput(grown);
    const loop = g.addNode({ op: 'Loop', inputs: [trip, null, rows], outputs: 1, attrs: { body: { kind: 'graph', value: body } } });
    inferShapes(m);
    // The first iteration alone would say [1,4] in, [2,4] out: neither holds on every iteration.
    expect(rowsIn.type).toEqual({ dtype: 'float32', shape: [null, 4] });
    expect(grown.type).toEqual({ dtype: 'float32', shape: [null, 4] });
    expect(loop.output(0).type).toEqual({ dtype: 'float32', shape: [null, 4] });
  });

  test('If on a runtime condition: a self-contradicting branch is rolled back and the other one used', () => {
    const { m, g } = model(13);
    const x = g.addInput('x', { dtype: 'float32', shape: [3, 8] });
    const cond = g.addInput('c', { dtype: 'bool', shape: [] });
    const good = new Graph('then', g.names);
    const ok = good.addNode({ op: 'Relu', inputs: [x] }).output(0);
    good.addOutput(ok);
    const bad = new Graph('else', g.names);
    const neg = bad.addNode({ op: 'Neg', inputs: [x] }).output(0);
    bad.addOutput(bad.addNode({ op: 'Squeeze', inputs: [neg, i64(bad, 'ax', [0])] }).output(0));
    const ifNode = g.addNode({ op: 'If', inputs: [cond], attrs: { then_branch: { kind: 'graph', value: good }, else_branch: { kind: 'graph', value: bad } } });
    inferShapes(m);
    expect(ifNode.output(0).type).toEqual({ dtype: 'float32', shape: [3, 8] });
    expect(ok.type).toEqual({ dtype: 'float32', shape: [3, 8] });
    expect(neg.type).toBeUndefined();
  });

  test('LSTM and GRU outputs, both layouts', () => {
    const { m, g } = model(14);
    const x = g.addInput('x', { dtype: 'float32', shape: ['S', 'B', 10] });
    const w = g.addConstant('w', makeTensor('float32', [2, 4 * 16, 10]));
    const r = g.addConstant('r', makeTensor('float32', [2, 4 * 16, 16]));
    const lstm = g.addNode({ op: 'LSTM', inputs: [x, w, r], outputs: 3, attrs: { hidden_size: int(16), direction: { kind: 'string', value: 'bidirectional' } } });
    const xb = g.addInput('xb', { dtype: 'float32', shape: ['B', 'S', 10] });
    const gw = g.addConstant('gw', makeTensor('float32', [1, 3 * 8, 10]));
    const gr = g.addConstant('gr', makeTensor('float32', [1, 3 * 8, 8]));
    const gru = g.addNode({ op: 'GRU', inputs: [xb, gw, gr], outputs: 2, attrs: { layout: int(1) } });
    inferShapes(m);
    const shapes = (vs: readonly (Value | null)[]) => vs.map((v) => v!.type!.shape);
    expect(shapes(lstm.outputs)).toEqual([['S', 2, 'B', 16], [2, 'B', 16], [2, 'B', 16]]);
    expect(shapes(gru.outputs)).toEqual([['B', 'S', 1, 8], ['B', 1, 8]]);
  });

  test('quantization ops take their dtypes from zero points and scales', () => {
    const { m, g } = model(13);
    const x = g.addInput('x', { dtype: 'float32', shape: ['N', 3, 8, 8] });
    const scale = g.addConstant('s', makeTensor('float32', [], [0.1]));
    const zp = g.addConstant('zp', makeTensor('int8', [], [0]));
    const q = g.addNode({ op: 'QuantizeLinear', inputs: [x, scale, zp] }).output(0);
    const qDefault = g.addNode({ op: 'QuantizeLinear', inputs: [x, scale] }).output(0);
    const dq = g.addNode({ op: 'DequantizeLinear', inputs: [q, scale, zp] }).output(0);
    const w = g.addConstant('w', makeTensor('int8', [4, 3, 3, 3]));
    const yzp = g.addConstant('yzp', makeTensor('uint8', [], [128]));
    const qconv = g.addNode({ op: 'QLinearConv', inputs: [q, scale, zp, w, scale, zp, scale, yzp] }).output(0);
    const dyn = g.addNode({ op: 'DynamicQuantizeLinear', inputs: [x], outputs: 3 });
    const mm = g.addNode({ op: 'MatMulInteger', inputs: [q, g.addConstant('b', makeTensor('int8', [8, 5]))] }).output(0);
    inferShapes(m);
    const t = (v: Value): TensorType | undefined => v.type;
    expect(t(q)).toEqual({ dtype: 'int8', shape: ['N', 3, 8, 8] });
    expect(t(qDefault)!.dtype).toBe('uint8');
    expect(t(dq)).toEqual({ dtype: 'float32', shape: ['N', 3, 8, 8] });
    expect(t(qconv)).toEqual({ dtype: 'uint8', shape: ['N', 4, 6, 6] });
    expect(dyn.outputs.map((v) => v!.type)).toEqual([
      { dtype: 'uint8', shape: ['N', 3, 8, 8] },
      { dtype: 'float32', shape: [] },
      { dtype: 'uint8', shape: [] },
    ]);
    expect(t(mm)).toEqual({ dtype: 'int32', shape: ['N', 3, 8, 5] });
  });

  test('Constant nodes, ConstantOfShape, Range, Cast and Flatten', () => {
    const { m, g } = model(13);
    const c = g.addNode({ op: 'Constant', attrs: { value_ints: ints([2, 3]) } }).output(0);
    const filled = g.addNode({ op: 'ConstantOfShape', inputs: [c], attrs: { value: { kind: 'tensor', value: makeTensor('int32', [1], [7]) } } }).output(0);
    const r = g.addNode({
      op: 'Range',
      inputs: [g.addConstant('start', makeTensor('int64', [], [1n])), g.addConstant('limit', makeTensor('int64', [], [10n])), g.addConstant('delta', makeTensor('int64', [], [3n]))],
    }).output(0);
    const cast = g.addNode({ op: 'Cast', inputs: [filled], attrs: { to: int(1) } }).output(0);
    const flat = g.addNode({ op: 'Flatten', inputs: [g.addInput('x', { dtype: 'float32', shape: ['N', 3, 4, 5] })], attrs: { axis: int(2) } }).output(0);
    inferShapes(m);
    expect(c.type).toEqual({ dtype: 'int64', shape: [2] });
    expect(filled.type).toEqual({ dtype: 'int32', shape: [2, 3] });
    expect(r.type).toEqual({ dtype: 'int64', shape: [3] });
    expect(cast.type).toEqual({ dtype: 'float32', shape: [2, 3] });
    expect(flat.type).toEqual({ dtype: 'float32', shape: [null, 20] });
  });

  test('static broadcast and matmul contradictions are raised', () => {
    const { m, g } = model();
    g.addNode({ op: 'Add', name: 'bad_add', inputs: [g.addInput('a', { dtype: 'float32', shape: [2, 3] }), g.addInput('b', { dtype: 'float32', shape: [4, 3] })] });
    expect(() => inferShapes(m)).toThrow(/node "bad_add" \(Add\).*do not broadcast/);
    const other = model();
    other.g.addNode({ op: 'MatMul', name: 'mm', inputs: [other.g.addInput('a', { dtype: 'float32', shape: [2, 3] }), other.g.addInput('b', { dtype: 'float32', shape: [4, 5] })] });
    expect(() => inferShapes(other.m)).toThrow(/node "mm" \(MatMul\), input 1: dims 3 and 4 must be equal/);
  });
});

describe('inferShapes robustness', () => {
  const dimArb = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom('N', 'T', null));
  const shapeArb = fc.option(fc.array(dimArb, { maxLength: 4 }), { nil: undefined });
  const dtypeArb = fc.constantFrom('float32', 'int64', 'int32', 'uint8', 'int8', 'bool', 'float16');
  const attrValueArb = (kind: AttributeKind): fc.Arbitrary<Attribute> => {
    switch (kind) {
      case 'int':
        return fc.integer({ min: -3, max: 4 }).map((value) => ({ kind, value }));
      case 'ints':
        return fc.array(fc.integer({ min: -3, max: 4 }), { maxLength: 6 }).map((value) => ({ kind, value }));
      case 'float':
        return fc.double({ min: -2, max: 2, noNaN: true }).map((value) => ({ kind, value }));
      case 'floats':
        return fc.array(fc.double({ min: 0.5, max: 2, noNaN: true }), { maxLength: 4 }).map((value) => ({ kind, value }));
      case 'string':
        return fc.constantFrom('NOTSET', 'SAME_UPPER', 'VALID', 'forward', 'bidirectional', 'nearest', 'x').map((value) => ({ kind, value }));
      case 'strings':
        return fc.constant({ kind, value: ['Sigmoid', 'Tanh', 'Tanh'] });
      case 'tensor':
        return fc.integer({ min: 0, max: 3 }).map((n) => ({ kind, value: makeTensor('int64', [n], new Array<number>(n).fill(1).map(BigInt)) }));
      default:
        return fc.constant({ kind: 'opaque', value: null });
    }
  };

  const schemas = allSchemas().filter((s) => !s.attributes.body && !s.attributes.then_branch);
  const caseArb = fc.constantFrom(...schemas).chain((schema) =>
    fc.record({
      schema: fc.constant(schema),
      inputs: fc.array(fc.record({ dtype: dtypeArb, shape: shapeArb, constant: fc.option(fc.array(fc.integer({ min: -4, max: 6 }), { maxLength: 4 }), { nil: undefined }) }), {
        minLength: schema.minInputs,
        maxLength: Math.min(schema.maxInputs, schema.minInputs + 3),
      }),
      outputs: fc.integer({ min: Math.max(1, schema.minOutputs), max: Math.min(schema.maxOutputs, 3) }),
      attrs: fc.tuple(...Object.entries(schema.attributes).map(([name, spec]) => fc.option(attrValueArb(spec.kind).map((a) => [name, a] as const), { nil: undefined }))),
    }),
  );

  fcTest.prop([caseArb], { numRuns: 400 })('any op with random operands and attributes either infers or raises a SlimcError', ({ schema, inputs, outputs, attrs }) => {
    const { m, g } = model(schema.since);
    const operands = inputs.map((t, i) =>
      t.constant ? g.addConstant(`c${i}`, makeTensor('int64', [t.constant.length], t.constant.map(BigInt))) : g.addInput(`x${i}`, { dtype: t.dtype, shape: t.shape }),
    );
    const present = attrs.filter((a): a is readonly [string, Attribute] => a !== undefined);
    g.addNode({ op: schema.op, inputs: operands, outputs, attrs: present.map(([k, a]) => [k, a] as [string, Attribute]) });
    try {
      inferShapes(m);
    } catch (e) {
      expect(e).toBeInstanceOf(SlimcError);
      expect((e as SlimcError).kind, (e as Error).message).toBe('invalid-model');
    }
  });
});
