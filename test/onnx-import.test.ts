/**
 * ONNX import/export features on hand-built ModelProtos: sorting, scoping and captures, old-IR
 * inputs with defaults, every attribute kind, value types, model-level fields, typed tensor fields.
 */
import { describe, expect, test } from 'vitest';
import { type Model, type Tensor, cloneModel, inferShapes, printGraph, tensorsEqual } from '@slimc/ir';
import { decodeOnnx, encodeOnnx } from '@slimc/backends';
import { FLOAT, INT64, floatInit, modelBytes, node, onnx, tensorType, tinyModel, valueInfo } from './onnx-builders.js';

function roundTrip(m: Model): Model {
  return decodeOnnx(encodeOnnx(m));
}

function expectSameAfterRoundTrip(m: Model): Model {
  const again = roundTrip(m);
  expect(printGraph(again.graph)).toBe(printGraph(m.graph));
  return again;
}

describe('graph structure', () => {
  test('keeps names, types and symbolic dims', () => {
    const m = decodeOnnx(modelBytes(tinyModel()));
    const g = m.graph;
    expect(g.inputs.map((v) => v.name)).toEqual(['x']);
    expect(g.inputs[0]!.type).toEqual({ dtype: 'float32', shape: ['N', 3] });
    expect(g.initializers.map((v) => v.name)).toEqual(['w']);
    expect(g.nodeList().map((n) => `${n.name}:${n.op}`)).toEqual(['relu:Relu', 'add:Add']);
    expect(g.outputs[0]!.producer?.name).toBe('add');
    expectSameAfterRoundTrip(m);
  });

  test('sorts unsorted nodes topologically', () => {
    const spec = tinyModel();
    spec.nodes.reverse();
    const g = decodeOnnx(modelBytes(spec)).graph;
    expect(g.nodeList().map((n) => n.op)).toEqual(['Relu', 'Add']);
  });

  test('empty input and output names are omitted optionals', () => {
    const m = decodeOnnx(
      modelBytes({
        inputs: [valueInfo('x', tensorType(FLOAT, [4]))],
        outputs: [valueInfo('y')],
        nodes: [node('Dropout', ['x', '', ''], ['y', ''])],
      }),
    );
    const n = m.graph.first!;
    expect(n.inputs.slice(1)).toEqual([null, null]);
    expect(n.outputs[1]).toBeNull();
    const again = expectSameAfterRoundTrip(m);
    expect(again.graph.first!.inputs.length).toBe(3);
  });

  test('a value named like its node keeps its name', () => {
    const m = decodeOnnx(
      modelBytes({
        inputs: [valueInfo('x', tensorType(FLOAT, [4]))],
        outputs: [valueInfo('out')],
        nodes: [node('Relu', ['x'], ['out'], { name: 'out' })],
      }),
    );
    expect(m.graph.outputs[0]!.name).toBe('out');
    expect(m.graph.first!.name).toBe('out');
  });

  test('old IR: an initializer listed as input is an input with a default', () => {
    const spec = tinyModel();
    spec.irVersion = 3;
    spec.opsets = [['', 8]];
    spec.inputs!.push(valueInfo('w', tensorType(FLOAT, [3])));
    const m = decodeOnnx(modelBytes(spec));
    const w = m.graph.inputs.find((v) => v.name === 'w')!;
    expect(w.constant).toBeDefined();
    expect(m.graph.initializers).toContain(w);
    const again = expectSameAfterRoundTrip(m);
    const w2 = again.graph.inputs.find((v) => v.name === 'w')!;
    expect(again.graph.initializers).toContain(w2);
    expect(tensorsEqual(w2.constant!, w.constant!)).toBe(true);
  });

  test('subgraphs capture outer values by name, even ones defined later in the file', () => {
    const thenBranch: onnx.IGraphProto = {
      name: 'then',
      node: [node('Add', ['late', 'w'], ['t'])],
      output: [valueInfo('t', tensorType(FLOAT, [3]))],
    };
    const elseBranch: onnx.IGraphProto = {
      name: 'else',
      node: [node('Neg', ['late'], ['t'])], // same name as in the sibling branch
      output: [valueInfo('t', tensorType(FLOAT, [3]))],
    };
    const m = decodeOnnx(
      modelBytes({
        inputs: [valueInfo('x', tensorType(FLOAT, [3])), valueInfo('c', tensorType(9, []))],
        outputs: [valueInfo('y')],
        initializers: [floatInit('w', [3], [1, 2, 3])],
        nodes: [
          node('If', ['c'], ['y'], {
            name: 'if',
            attribute: [
              { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: thenBranch },
              { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: elseBranch },
            ],
          }),
          node('Relu', ['x'], ['late'], { name: 'producer' }),
        ],
      }),
    );
    const g = m.graph;
    expect(g.nodeList().map((n) => n.name)).toEqual(['producer', 'if']);
    const late = g.first!.output(0);
    const ifNode = g.last!;
    const thenGraph = ifNode.getGraph('then_branch')!;
    const elseGraph = ifNode.getGraph('else_branch')!;
    expect(thenGraph.first!.inputs[0]).toBe(late);
    expect(thenGraph.first!.inputs[1]).toBe(g.initializers[0]);
    expect(elseGraph.first!.inputs[0]).toBe(late);
    expect(late.uses.length).toBe(2);
    // Sibling branches reuse "t": names are unique model-wide, so the second gets a fresh one.
    expect(thenGraph.outputs[0]!.name).toBe('t');
    expect(elseGraph.outputs[0]!.name).not.toBe('t');
    expectSameAfterRoundTrip(m);
  });
});

describe('attributes', () => {
  const AT = onnx.AttributeProto.AttributeType;
  const tensor: onnx.ITensorProto = { dims: [2], dataType: INT64, int64Data: [5, -7] };
  const sub: onnx.IGraphProto = { name: 'body', node: [node('Identity', ['x'], ['o'])], output: [valueInfo('o')] };
  const attrs: onnx.IAttributeProto[] = [
    { name: 'f', type: AT.FLOAT, f: 0.25 },
    { name: 'i', type: AT.INT, i: -3 },
    { name: 'big', type: AT.INT, i: '9223372036854775807' as unknown as number },
    { name: 's', type: AT.STRING, s: new TextEncoder().encode('héllo') },
    { name: 't', type: AT.TENSOR, t: tensor },
    { name: 'g', type: AT.GRAPH, g: sub },
    { name: 'fs', type: AT.FLOATS, floats: [1.5, -2] },
    { name: 'is', type: AT.INTS, ints: [1, 2, 3] },
    { name: 'ss', type: AT.STRINGS, strings: [new TextEncoder().encode('a'), new TextEncoder().encode('')] },
    { name: 'ts', type: AT.TENSORS, tensors: [tensor, tensor] },
    { name: 'gs', type: AT.GRAPHS, graphs: [sub] },
    { name: 'sp', type: AT.SPARSE_TENSOR, sparseTensor: { dims: [4], values: { dims: [1], dataType: FLOAT, floatData: [1] }, indices: { dims: [1], dataType: INT64, int64Data: [2] } } },
    { name: 'tp', type: AT.TYPE_PROTO, tp: tensorType(FLOAT, [1]) },
    { name: 'ref', type: AT.INT, refAttrName: 'outer' },
    { name: 'untyped', i: 11 }, // old exporters leave `type` unset
  ];
  const bytes = modelBytes({
    inputs: [valueInfo('x', tensorType(FLOAT, [2]))],
    outputs: [valueInfo('y')],
    nodes: [node('Custom', ['x'], ['y'], { domain: 'acme', attribute: attrs })],
    opsets: [['', 17], ['acme', 1]],
  });

  test('decode to their kinds', () => {
    const n = decodeOnnx(bytes).graph.first!;
    expect(n.qualifiedOp).toBe('acme:Custom');
    expect(Object.fromEntries([...n.attrs].map(([k, a]) => [k, a.kind]))).toEqual({
      f: 'float', i: 'int', big: 'int', s: 'string', t: 'tensor', g: 'graph', fs: 'floats', is: 'ints', ss: 'strings',
      ts: 'tensors', gs: 'graphs', sp: 'opaque', tp: 'opaque', ref: 'opaque', untyped: 'int',
    });
    expect(n.getFloat('f')).toBe(0.25);
    expect(n.getInt('i')).toBe(-3);
    expect(n.getString('s')).toBe('héllo');
    expect(n.getTensor('t')!.data).toEqual(new BigInt64Array([5n, -7n]));
    expect(n.getInts('is')).toEqual([1, 2, 3]);
    expect(n.getInt('untyped')).toBe(11);
    expect(n.getGraph('g')!.parent).toBe(n);
  });

  test('re-encode to the same attribute protos', () => {
    const again = onnx.ModelProto.decode(encodeOnnx(decodeOnnx(bytes)));
    const original = onnx.ModelProto.decode(bytes);
    const byName = (m: onnx.ModelProto) => new Map(m.graph!.node[0]!.attribute.map((a) => [a.name, a]));
    const before = byName(original);
    const after = byName(again);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const name of ['f', 'i', 'big', 's', 'fs', 'is', 'ss', 'sp', 'tp', 'ref']) {
      const strip = (a: onnx.AttributeProto) => onnx.AttributeProto.toObject(a, { longs: String, bytes: String, defaults: false });
      expect(strip(after.get(name)!), name).toEqual(strip(before.get(name)!));
    }
    expect(after.get('untyped')!.type).toBe(AT.INT);
    expectSameAfterRoundTrip(decodeOnnx(bytes));
  });
});

describe('values and model fields', () => {
  test('non-tensor types stay opaque, unknown dims and ranks survive', () => {
    const seq: onnx.ITypeProto = { sequenceType: { elemType: tensorType(FLOAT, [null, 2]) } };
    const m = decodeOnnx(
      modelBytes({
        inputs: [valueInfo('x', tensorType(FLOAT, [null, 'B', 7])), valueInfo('r', { tensorType: { elemType: FLOAT } })],
        outputs: [valueInfo('s', seq)],
        nodes: [node('SequenceConstruct', ['x', 'r'], ['s'])],
      }),
    );
    const [x, r] = m.graph.inputs;
    expect(x!.type).toEqual({ dtype: 'float32', shape: [null, 'B', 7] });
    expect(r!.type).toEqual({ dtype: 'float32' });
    const s = m.graph.outputs[0]!;
    expect(s.type).toBeUndefined();
    expect(s.opaqueType).toBeDefined();
    const again = roundTrip(m);
    const sAgain = onnx.ModelProto.decode(encodeOnnx(again)).graph!.output[0]!;
    expect(onnx.TypeProto.toObject(sAgain.type as onnx.TypeProto)).toEqual(onnx.TypeProto.toObject(onnx.TypeProto.fromObject(seq)));
  });

  test('doc strings of nodes, values, graphs and initializers round-trip', () => {
    const spec = tinyModel();
    spec.nodes[0]!.docString = 'node doc';
    spec.inputs![0]!.docString = 'input doc';
    spec.initializers![0]!.docString = 'weight doc';
    spec.model = { docString: 'model doc' };
    const m = decodeOnnx(modelBytes(spec));
    expect(m.graph.first!.docString).toBe('node doc');
    expect(m.graph.inputs[0]!.docString).toBe('input doc');
    expect(m.graph.initializers[0]!.docString).toBe('weight doc');
    const again = onnx.ModelProto.decode(encodeOnnx(m));
    expect(again.docString).toBe('model doc');
    expect(again.graph!.node[0]!.docString).toBe('node doc');
    expect(again.graph!.input[0]!.docString).toBe('input doc');
    expect(again.graph!.initializer[0]!.docString).toBe('weight doc');
  });

  test('value_info types intermediates and is written back', () => {
    const spec = tinyModel();
    spec.valueInfo = [valueInfo('r', tensorType(FLOAT, ['N', 3])), valueInfo('nowhere', tensorType(FLOAT, [1]))];
    const m = decodeOnnx(modelBytes(spec));
    expect(m.graph.first!.output(0).type).toEqual({ dtype: 'float32', shape: ['N', 3] });
    const written = onnx.ModelProto.decode(encodeOnnx(m)).graph!.valueInfo.map((v) => v.name);
    expect(written).toEqual(['r', 'nowhere']);
  });

  test('inferred types are written back only when asked (valueInfo: declared by default, all, none)', () => {
    const written = (m: Model, valueInfo?: 'declared' | 'all' | 'none') =>
      onnx.ModelProto.decode(encodeOnnx(m, valueInfo && { valueInfo })).graph!.valueInfo.map((v) => v.name);
    const bare = decodeOnnx(modelBytes(tinyModel()));
    inferShapes(bare);
    expect(bare.graph.first!.output(0).type).toEqual({ dtype: 'float32', shape: ['N', 3] });
    expect(written(bare)).toEqual([]);
    expect(written(bare, 'all')).toEqual(['r']);
    const spec = tinyModel();
    spec.valueInfo = [valueInfo('r', tensorType(FLOAT, ['N', 3]))];
    const declared = decodeOnnx(modelBytes(spec));
    expect(written(declared)).toEqual(['r']);
    expect(written(cloneModel(declared))).toEqual(['r']);
    expect(written(declared, 'none')).toEqual([]);
  });

  test('model fields, metadata, custom opsets and functions round-trip', () => {
    const spec = tinyModel();
    spec.opsets = [['', 13], ['com.example', 3]];
    spec.model = {
      producerName: 'exporter',
      producerVersion: '1.2',
      domain: 'org.example',
      modelVersion: 42,
      docString: 'a model',
      metadataProps: [{ key: 'author', value: 'me' }],
      functions: [{ name: 'F', domain: 'com.example', input: ['a'], output: ['b'], node: [node('Relu', ['a'], ['b'])] }],
    };
    const m = decodeOnnx(modelBytes(spec));
    expect([...m.opsetImports]).toEqual([['', 13], ['com.example', 3]]);
    expect(m.modelVersion).toBe(42);
    const again = onnx.ModelProto.decode(encodeOnnx(m));
    expect(again.producerName).toBe('exporter');
    expect(again.producerVersion).toBe('1.2');
    expect(again.domain).toBe('org.example');
    expect(again.docString).toBe('a model');
    expect(again.metadataProps.map((e) => [e.key, e.value])).toEqual([['author', 'me']]);
    expect(again.functions.map((f) => [f.name, f.node.length])).toEqual([['F', 1]]);
    expect(again.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13], ['com.example', 3]]);
  });
});

describe('tensor encodings', () => {
  const cases: [string, onnx.ITensorProto, Tensor['data']][] = [
    ['float_data', { dataType: 1, dims: [2], floatData: [1.5, -2] }, new Float32Array([1.5, -2])],
    ['double_data', { dataType: 11, dims: [2], doubleData: [1e300, -0.5] }, new Float64Array([1e300, -0.5])],
    ['int32_data/int8', { dataType: 3, dims: [3], int32Data: [-128, 127, -1] }, new Int8Array([-128, 127, -1])],
    ['int32_data/uint8', { dataType: 2, dims: [2], int32Data: [255, 0] }, new Uint8Array([255, 0])],
    ['int32_data/int16', { dataType: 5, dims: [2], int32Data: [-32768, 5] }, new Int16Array([-32768, 5])],
    ['int32_data/uint16', { dataType: 4, dims: [1], int32Data: [65535] }, new Uint16Array([65535])],
    ['int32_data/bool', { dataType: 9, dims: [2], int32Data: [1, 0] }, new Uint8Array([1, 0])],
    ['int32_data/float16', { dataType: 10, dims: [2], int32Data: [0x3c00, 0xc000] }, new Uint16Array([0x3c00, 0xc000])],
    ['int32_data/bfloat16', { dataType: 16, dims: [1], int32Data: [0x3f80] }, new Uint16Array([0x3f80])],
    ['int32_data/int32', { dataType: 6, dims: [2, 1], int32Data: [-5, 2147483647] }, new Int32Array([-5, 2147483647])],
    ['int64_data', { dataType: 7, dims: [2], int64Data: ['-9223372036854775808' as unknown as number, 3] }, new BigInt64Array([-(2n ** 63n), 3n])],
    ['uint64_data/uint32', { dataType: 12, dims: [1], uint64Data: [4294967295] }, new Uint32Array([4294967295])],
    ['uint64_data/uint64', { dataType: 13, dims: [1], uint64Data: ['18446744073709551615' as unknown as number] }, new BigUint64Array([2n ** 64n - 1n])],
    ['string_data', { dataType: 8, dims: [2], stringData: [new TextEncoder().encode('ä'), new Uint8Array(0)] }, ['ä', '']],
    ['raw_data', { dataType: 1, dims: [], rawData: new Uint8Array(new Float32Array([3.5]).buffer) }, new Float32Array([3.5])],
  ];
  test.each(cases)('%s decodes and re-encodes as raw data', (_label, tp, expected) => {
    const m = decodeOnnx(
      modelBytes({ outputs: [valueInfo('c')], nodes: [node('Constant', [], ['c'], { attribute: [{ name: 'value', type: 4, t: tp }] })] }),
    );
    const t = m.graph.first!.getTensor('value')!;
    expect(t.data).toEqual(expected);
    expect(t.shape).toEqual((tp.dims ?? []).map(Number));
    const again = roundTrip(m).graph.first!.getTensor('value')!;
    expect(tensorsEqual(again, t)).toBe(true);
    // Aligned private copy: never a view into the model bytes.
    if (!Array.isArray(t.data)) expect(t.data.byteOffset).toBe(0);
  });
});


describe('export checks', () => {
  test('two values with one name are refused rather than written ambiguously', () => {
    const m = decodeOnnx(modelBytes(tinyModel()));
    m.graph.first!.output(0).name = 'w';
    expect(() => encodeOnnx(m)).toThrow(/two values are named "w"/);
  });
});

describe('fields newer than the onnx-proto schema', () => {
  /** A length-delimited field: key, length, bytes. */
  function ld(field: number, bytes: Uint8Array): Uint8Array {
    const varint = (v: number) => {
      const out: number[] = [];
      while (v >= 0x80) {
        out.push((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      out.push(v);
      return out;
    };
    return Uint8Array.from([...varint((field << 3) | 2), ...varint(bytes.length), ...bytes]);
  }
  const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
  const entry = (key: string, value: string) => onnx.StringStringEntryProto.encode({ key, value }).finish();

  // ONNX 1.16 added NodeProto.metadata_props (9), GraphProto.metadata_props (16); 1.17 ModelProto.configuration (26).
  const innerNode = cat(onnx.NodeProto.encode(node('Identity', ['x'], ['t'])).finish(), ld(9, entry('inner', 'node')));
  const branch = cat(onnx.GraphProto.encode({ name: 'then', output: [valueInfo('t')] }).finish(), ld(1, innerNode), ld(16, entry('inner', 'graph')));
  const ifNode = cat(
    onnx.NodeProto.encode(node('If', ['c'], ['y'], { name: 'if' })).finish(),
    ld(5, cat(onnx.AttributeProto.encode({ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH }).finish(), ld(6, branch))),
    ld(5, cat(onnx.AttributeProto.encode({ name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH }).finish(), ld(6, branch))),
    ld(9, entry('outer', 'node')),
  );
  const graph = cat(
    onnx.GraphProto.encode({ name: 'g', input: [valueInfo('x', tensorType(FLOAT, [1])), valueInfo('c', tensorType(9, []))], output: [valueInfo('y')] }).finish(),
    ld(1, ifNode),
    ld(16, entry('outer', 'graph')),
  );
  const bytes = cat(onnx.ModelProto.encode({ irVersion: 9, opsetImport: [{ domain: '', version: 21 }] }).finish(), ld(7, graph), ld(26, entry('model', 'config')));

  test('are kept on the model, graphs and nodes and written back', () => {
    const m = decodeOnnx(bytes);
    const kept = (extra: Record<string, unknown> | undefined) => (extra?.unknownFields as Uint8Array[] | undefined)?.map((b) => [...b]);
    expect(kept(m.extra)).toEqual([[...ld(26, entry('model', 'config'))]]);
    expect(kept(m.graph.extra)).toEqual([[...ld(16, entry('outer', 'graph'))]]);
    const ifIr = m.graph.first!;
    expect(kept(ifIr.extra)).toEqual([[...ld(9, entry('outer', 'node'))]]);
    for (const sg of ifIr.subgraphs()) {
      expect(kept(sg.extra)).toEqual([[...ld(16, entry('inner', 'graph'))]]);
      expect(kept(sg.first!.extra)).toEqual([[...ld(9, entry('inner', 'node'))]]);
    }
    const again = decodeOnnx(encodeOnnx(m));
    expect(kept(again.extra)).toEqual(kept(m.extra));
    expect(kept(again.graph.first!.extra)).toEqual(kept(ifIr.extra));
    expect(kept(again.graph.first!.subgraphs()[1]!.first!.extra)).toEqual(kept(ifIr.subgraphs()[1]!.first!.extra));
  });
});
