/**
 * Deep copies of graphs and models. Tensors are shared, not copied: slimc treats tensor data as
 * immutable (a pass that changes weights makes a new Tensor).
 */
import { type Attribute, Graph, Model, type Node, type Value } from './graph.js';

/** Copies `model` with a fresh graph structure (same names, same tensors). */
export function cloneModel(model: Model): Model {
  const m = new Model(cloneGraph(model.graph));
  m.irVersion = model.irVersion;
  for (const [d, v] of model.opsetImports) m.opsetImports.set(d, v);
  m.producerName = model.producerName;
  m.producerVersion = model.producerVersion;
  m.domain = model.domain;
  m.modelVersion = model.modelVersion;
  m.docString = model.docString;
  m.metadata.push(...model.metadata.map((e) => ({ ...e })));
  m.extra = model.extra && { ...model.extra };
  m.source = model.source;
  return m;
}

/** Copies a root graph (values captured from outside it are not allowed in a root graph). */
export function cloneGraph(g: Graph): Graph {
  const out = new Graph(g.name);
  const map = new Map<Value, Value>();
  copyInto(g, out, map);
  return out;
}

function copyValueFields(from: Value, to: Value): void {
  to.type = from.type;
  to.quant = from.quant;
  to.docString = from.docString;
  to.opaqueType = from.opaqueType;
  to.typeDeclared = from.typeDeclared;
}

function copyInto(src: Graph, dst: Graph, map: Map<Value, Value>): void {
  dst.docString = src.docString;
  dst.extra = src.extra && { ...src.extra };
  for (const v of src.inputs) {
    const nv = dst.addInput(v.name, v.type);
    nv.name = v.name;
    copyValueFields(v, nv);
    map.set(v, nv);
  }
  for (const c of src.initializers) {
    const existing = map.get(c);
    if (existing) {
      // ONNX IR < 4: an initializer that is also a graph input (a default value).
      existing.constant = c.constant;
      dst.initializers.push(existing);
      continue;
    }
    const nc = dst.addConstant(c.name, c.constant!);
    nc.name = c.name;
    copyValueFields(c, nc);
    map.set(c, nc);
  }
  for (const n of src.nodes()) copyNode(n, dst, map);
  for (const o of src.outputs) dst.addOutput(lookup(map, o));
}

function lookup(map: Map<Value, Value>, v: Value): Value {
  const m = map.get(v);
  if (!m) throw new Error(`clone: value ${v.name} is used before it is defined`);
  return m;
}

function copyNode(n: Node, dst: Graph, map: Map<Value, Value>): void {
  const nn = dst.addNode({
    op: n.op,
    domain: n.domain,
    inputs: n.inputs.map((v) => (v ? lookup(map, v) : null)),
    outputs: n.outputs.map((o) => (o ? o.name : null)),
  });
  nn.name = n.name;
  nn.docString = n.docString;
  nn.extra = n.extra && { ...n.extra };
  n.outputs.forEach((o, i) => {
    const no = nn.outputs[i];
    if (o && no) {
      no.name = o.name;
      copyValueFields(o, no);
      map.set(o, no);
    }
  });
  for (const [k, a] of n.attrs) nn.setAttr(k, cloneAttr(a, nn, map));
}

function cloneAttr(a: Attribute, owner: Node, map: Map<Value, Value>): Attribute {
  if (a.kind === 'graph') return { kind: 'graph', value: cloneSubgraph(a.value, owner, map) };
  if (a.kind === 'graphs') return { kind: 'graphs', value: a.value.map((g) => cloneSubgraph(g, owner, map)) };
  return a;
}

function cloneSubgraph(g: Graph, owner: Node, map: Map<Value, Value>): Graph {
  const sg = new Graph(g.name, owner.graph.names);
  sg.parent = owner;
  copyInto(g, sg, map);
  return sg;
}
