/**
 * fast-check generators for ONNX round-trip properties: tensors of every dtype, attributes of
 * every kind, and random well-formed models (elementwise/MatMul/Conv/Reshape/Constant/custom-domain
 * nodes, symbolic dims, omitted optional inputs, sometimes an If-like node with subgraphs that
 * capture outer values). A model is generated as a plain recipe and built with the IR API, so
 * shrinking works on the recipe.
 */
import { fc } from '@fast-check/vitest';
import { ALL_DTYPES, type Attribute, type DType, type Dim, Graph, Model, type Tensor, type TensorType, type Value, shapeSize } from '@slimc/ir';

const arbShape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });

function arbElements(dtype: DType, n: number): fc.Arbitrary<Tensor['data']> {
  const ints = (min: number, max: number, make: (xs: number[]) => Tensor['data']) =>
    fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n }).map(make);
  switch (dtype) {
    case 'float32':
      return fc.array(fc.float(), { minLength: n, maxLength: n }).map((xs) => Float32Array.from(xs));
    case 'float64':
      return fc.array(fc.double(), { minLength: n, maxLength: n }).map((xs) => Float64Array.from(xs));
    case 'int8':
      return ints(-128, 127, (xs) => Int8Array.from(xs));
    case 'uint8':
      return ints(0, 255, (xs) => Uint8Array.from(xs));
    case 'bool':
      return ints(0, 1, (xs) => Uint8Array.from(xs));
    case 'int16':
      return ints(-32768, 32767, (xs) => Int16Array.from(xs));
    case 'uint16':
    case 'float16':
    case 'bfloat16': // any 16-bit pattern, NaNs and infinities included
      return ints(0, 0xffff, (xs) => Uint16Array.from(xs));
    case 'int32':
      return ints(-(2 ** 31), 2 ** 31 - 1, (xs) => Int32Array.from(xs));
    case 'uint32':
      return ints(0, 2 ** 32 - 1, (xs) => Uint32Array.from(xs));
    case 'int64':
      return fc.array(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), { minLength: n, maxLength: n }).map((xs) => BigInt64Array.from(xs));
    case 'uint64':
      return fc.array(fc.bigInt(0n, 2n ** 64n - 1n), { minLength: n, maxLength: n }).map((xs) => BigUint64Array.from(xs));
    case 'string':
      // Well-formed Unicode without NUL (NumPy pads strings with NUL).
      return fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }).filter((s) => !s.includes('\0')), { minLength: n, maxLength: n });
  }
}

/** A tensor of `dtype` (any dtype when omitted) with up to 64 elements. */
export function arbTensor(dtype?: DType): fc.Arbitrary<Tensor> {
  const arbDtype = dtype ? fc.constant(dtype) : fc.constantFrom(...ALL_DTYPES);
  return fc
    .tuple(arbDtype, arbShape)
    .chain(([d, shape]) => arbElements(d, shapeSize(shape)).map((data): Tensor => ({ dtype: d, shape, data })));
}

const arbDim: fc.Arbitrary<Dim> = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom('N', 'batch', 'seq_len'), fc.constant(null));
const arbTensorType: fc.Arbitrary<TensorType> = fc.record(
  { dtype: fc.constantFrom(...ALL_DTYPES), shape: fc.array(arbDim, { maxLength: 4 }) },
  { requiredKeys: ['dtype'] },
);

/** Attribute kinds that hold no graph. */
export const arbPlainAttribute: fc.Arbitrary<Attribute> = fc.oneof(
  fc.float({ noNaN: true }).map((value): Attribute => ({ kind: 'float', value })),
  fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(2 ** 63, -(2 ** 63))).map((value): Attribute => ({ kind: 'int', value })),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map((value): Attribute => ({ kind: 'string', value })),
  arbTensor().map((value): Attribute => ({ kind: 'tensor', value })),
  fc.array(fc.float({ noNaN: true }), { maxLength: 4 }).map((value): Attribute => ({ kind: 'floats', value })),
  fc.array(fc.integer(), { maxLength: 4 }).map((value): Attribute => ({ kind: 'ints', value })),
  fc.array(fc.string({ unit: 'grapheme', maxLength: 4 }), { maxLength: 3 }).map((value): Attribute => ({ kind: 'strings', value })),
  fc.array(arbTensor(), { maxLength: 2 }).map((value): Attribute => ({ kind: 'tensors', value })),
);

interface SubgraphRecipe {
  picks: number[];
  withInput: boolean;
}
type AttrRecipe = { graph: SubgraphRecipe } | { graphs: SubgraphRecipe[] } | { plain: Attribute };
interface NodeRecipe {
  op: string;
  /** Operand choices: index into the values defined so far; -1 is an omitted optional input. */
  picks: number[];
  attrs: [string, AttrRecipe][];
  outputs: number;
  outputType: TensorType | null;
  name: string | null;
  /** Doc string for the node and its first output. */
  doc: string | null;
}
export interface ModelRecipe {
  inputs: TensorType[];
  constants: Tensor[];
  /** Make the first constant also a graph input (an input with a default value). */
  inputWithDefault: boolean;
  nodes: NodeRecipe[];
}

const arbSubgraph: fc.Arbitrary<SubgraphRecipe> = fc.record({ picks: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }), withInput: fc.boolean() });
const arbAttr: fc.Arbitrary<AttrRecipe> = fc.oneof(
  { weight: 6, arbitrary: arbPlainAttribute.map((plain) => ({ plain })) },
  { weight: 1, arbitrary: arbSubgraph.map((graph) => ({ graph })) },
  { weight: 1, arbitrary: fc.array(arbSubgraph, { minLength: 1, maxLength: 2 }).map((graphs) => ({ graphs })) },
);
const arbNode: fc.Arbitrary<NodeRecipe> = fc.record({
  op: fc.constantFrom('Add', 'Mul', 'Relu', 'MatMul', 'Conv', 'Reshape', 'Constant', 'acme:Custom'),
  picks: fc.array(fc.integer({ min: -1, max: 1000 }), { minLength: 1, maxLength: 3 }),
  attrs: fc.uniqueArray(fc.tuple(fc.constantFrom('alpha', 'axes', 'kernel_shape', 'mode', 'body', 'value', 'pads'), arbAttr), {
    maxLength: 3,
    selector: ([k]) => k,
  }),
  outputs: fc.integer({ min: 1, max: 2 }),
  outputType: fc.option(arbTensorType, { nil: null }),
  name: fc.option(fc.constantFrom('n', 'conv', 'x', 'out'), { nil: null }),
  doc: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
});

export const arbModelRecipe: fc.Arbitrary<ModelRecipe> = fc.record({
  inputs: fc.array(arbTensorType, { minLength: 1, maxLength: 3 }),
  constants: fc.array(arbTensor(), { maxLength: 4 }),
  inputWithDefault: fc.boolean(),
  nodes: fc.array(arbNode, { minLength: 1, maxLength: 8 }),
});

/** Builds the model a recipe describes. Every node output feeds a later node or a graph output. */
export function buildModel(r: ModelRecipe): Model {
  const g = new Graph('random');
  const model = new Model(g);
  model.opsetImports.set('', 17);
  model.opsetImports.set('acme', 1);
  const values: Value[] = [];
  r.inputs.forEach((t, i) => values.push(g.addInput(`in${i}`, t)));
  r.constants.forEach((t, i) => values.push(g.addConstant(`k${i}`, t)));
  if (r.inputWithDefault && g.initializers.length) g.inputs.push(g.initializers[0]!);
  const pick = (k: number, from: Value[]): Value | null => (k < 0 ? null : from[k % from.length]!);

  for (const nr of r.nodes) {
    const [domain, op] = nr.op.includes(':') ? nr.op.split(':') as [string, string] : ['', nr.op];
    const inputs = nr.op === 'Constant' ? [] : nr.picks.map((k) => pick(k, values));
    const n = g.addNode({ op, domain, inputs, outputs: nr.outputs, name: nr.name ?? undefined });
    for (const [key, a] of nr.attrs) {
      if ('plain' in a) n.setAttr(key, a.plain);
      else if ('graph' in a) n.setAttr(key, { kind: 'graph', value: buildSubgraph(g, a.graph, values) });
      else n.setAttr(key, { kind: 'graphs', value: a.graphs.map((s) => buildSubgraph(g, s, values)) });
    }
    for (const o of n.outputs) {
      if (nr.outputType) o!.type = nr.outputType;
      values.push(o!);
    }
    if (nr.doc !== null) n.docString = n.output(0).docString = nr.doc;
  }
  for (const v of values) if (v.producer && !v.hasUses) g.addOutput(v);
  if (!g.outputs.length) g.addOutput(g.last!.output(0));
  return model;
}

function buildSubgraph(outer: Graph, r: SubgraphRecipe, visible: readonly Value[]): Graph {
  const sg = new Graph('branch', outer.names);
  const local: Value[] = [...visible];
  if (r.withInput) local.push(sg.addInput('iter', { dtype: 'int64', shape: [] }));
  const n = sg.addNode({ op: 'Identity', inputs: r.picks.slice(0, 1).map((k) => local[k % local.length]!), outputs: ['branch_out'] });
  sg.addOutput(n.output(0));
  if (r.picks.length > 1) sg.addOutput(local[r.picks[1]! % local.length]!); // an output that is a captured value
  return sg;
}
