/**
 * ONNX import: ModelProto bytes -> IR `Model`.
 *
 * Keeps everything the format says, so export can write it back: model fields and metadata, all
 * opset imports, value and node names, doc strings, value types (tensor types become `TensorType`,
 * other types stay as decoded TypeProto in `Value.opaqueType`), initializers, Constant nodes (left
 * as nodes: folding them is a pass's job), every attribute kind (sparse tensors, type protos and
 * attribute references as `opaque`), subgraphs, and unmodelled messages (functions, training info,
 * sparse initializers, quantization annotations) in `extra`.
 *
 * Name resolution follows ONNX scoping: a graph sees its own inputs, initializers and node outputs,
 * then those of the graphs enclosing it (captures). Within one graph all definitions are made
 * before any reference is resolved, because ModelProto nodes need not be sorted; each graph is then
 * sorted topologically. A name defined twice in one graph, an undefined reference, a cycle, bad
 * tensor data or an opset problem is a `SlimcError('invalid-model')` naming model, node, op and field.
 *
 * Value names are the model's own. A name already taken elsewhere in the model (sibling If branches
 * often reuse names) gets a fresh suffix, since slimc names are unique model-wide; the main graph's
 * names, defined first, never change.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { alg, Graph as DiGraph } from '@dagrejs/graphlib';
import {
  type Attribute,
  CycleError,
  type Dim,
  type ErrorContext,
  Graph,
  Model,
  type Node,
  SlimcError,
  type TensorType,
  type Value,
  dtypeFromOnnx,
  nodeOperandsDeep,
} from '@slimc/ir';
import { FIELD, type LongLike, type OnnxTypes, longToNumber, onnx } from './proto.js';
import { readModelSkeleton } from './skeleton.js';
import { UNKNOWN_FIELDS, type UnknownFieldTree, childTree, collectUnknownFields } from './unknown-fields.js';
import { ExternalDataReader, hasField, tensorFromProto, utf8 } from './tensor-proto.js';

export interface DecodeOptions {
  /** Model file or name, for messages; stored in `Model.source`. */
  source?: string;
  /** Directory that external data locations are relative to (and must stay inside). */
  baseDir?: string;
}

/** ModelProto `extra` keys (Model.extra) and GraphProto `extra` keys (Graph.extra). */
export const MODEL_EXTRA = { functions: 'functions', trainingInfo: 'trainingInfo' } as const;
export const GRAPH_EXTRA = {
  sparseInitializer: 'sparseInitializer',
  quantizationAnnotation: 'quantizationAnnotation',
  /** value_info entries naming no value of their graph. */
  valueInfo: 'valueInfo',
} as const;

/** Decodes ONNX ModelProto bytes into a `Model`. */
export function decodeOnnx(bytes: Uint8Array, opts: DecodeOptions = {}): Model {
  return decodeModel(bytes, opts, undefined);
}

export interface LoadOptions {
  /**
   * Files of at least this many bytes (default 32 MiB) are read as a skeleton with positioned
   * reads of each large payload (see skeleton.ts) instead of being loaded whole.
   */
  streamFromBytes?: number;
}

const STREAM_FROM_BYTES = 32 << 20;
/** Payloads smaller than this stay in the skeleton: one read per tiny tensor costs more than it saves. */
const HOIST_MIN_BYTES = 4096;

/** Reads and decodes an ONNX file; external data is resolved relative to its directory. */
export function loadOnnx(path: string, opts: LoadOptions = {}): Model {
  const source = { source: path, baseDir: dirname(path) };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SlimcError('invalid-argument', `cannot read model: ${(e as Error).message}`, { model: path }, { cause: e });
  }
  let bytes: Uint8Array;
  let modelFile: string | undefined;
  try {
    const size = fstatSync(fd).size;
    if (size >= (opts.streamFromBytes ?? STREAM_FROM_BYTES)) {
      bytes = readModelSkeleton(fd, size, HOIST_MIN_BYTES);
      modelFile = path;
    } else {
      bytes = readFileSync(fd);
    }
  } catch (e) {
    throw e instanceof SlimcError ? e.withContext({ model: path }) : new SlimcError('invalid-argument', `cannot read model: ${(e as Error).message}`, { model: path }, { cause: e });
  } finally {
    closeSync(fd);
  }
  return decodeModel(bytes, source, modelFile);
}

function decodeModel(bytes: Uint8Array, opts: DecodeOptions, modelFile: string | undefined): Model {
  const where: ErrorContext = { model: opts.source };
  let proto: OnnxTypes.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new SlimcError('invalid-model', `not a valid ONNX ModelProto (${(e as Error).message})`, { ...where, field: 'ModelProto' }, { cause: e });
  }
  const external = new ExternalDataReader(opts.baseDir, modelFile);
  try {
    const model = new ModelImporter(proto, external, collectUnknownFields(bytes)).run();
    model.source = opts.source;
    return model;
  } catch (e) {
    if (e instanceof SlimcError) throw e.withContext(where);
    // Garbage that still parsed as protobuf can nest absurdly deep or carry absurd lengths.
    if (e instanceof RangeError) throw new SlimcError('invalid-model', `model structure is not usable (${e.message})`, where, { cause: e });
    throw e;
  } finally {
    external.close();
  }
}

/** Names visible in one graph: its own definitions, then the enclosing graphs'. */
class Scope {
  readonly values = new Map<string, Value>();
  constructor(readonly parent: Scope | null) {}

  lookup(name: string): Value | undefined {
    for (let s: Scope | null = this; s; s = s.parent) {
      const v = s.values.get(name);
      if (v) return v;
    }
    return undefined;
  }
}

/** Protobufjs messages hold views into the decoded buffer: a detached copy owns its bytes. */
interface ProtoType<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}
function detach<T>(type: ProtoType<T>, msg: T): T {
  return type.decode(type.encode(msg).finish());
}

function invalid(detail: string, where: ErrorContext): SlimcError {
  return new SlimcError('invalid-model', detail, where);
}

const ATTR = onnx.AttributeProto.AttributeType;

class ModelImporter {
  private readonly opsets = new Map<string, number>();

  constructor(
    private readonly proto: OnnxTypes.ModelProto,
    private readonly external: ExternalDataReader,
    private readonly unknown: UnknownFieldTree | undefined,
  ) {}

  run(): Model {
    const p = this.proto;
    const model = new Model();
    model.irVersion = longToNumber(p.irVersion as LongLike);
    if (!(model.irVersion >= 1)) throw invalid(`ir_version ${model.irVersion} is missing or invalid`, { field: 'ir_version' });
    for (const o of p.opsetImport) {
      const domain = o.domain ?? '';
      const version = longToNumber(o.version as LongLike);
      const field = `opset_import "${domain || 'ai.onnx'}"`;
      if (!(version >= 1) || !Number.isSafeInteger(version)) throw invalid(`opset version ${version} is invalid`, { field });
      if (this.opsets.has(canonicalDomain(domain))) throw invalid('domain imported twice', { field });
      this.opsets.set(canonicalDomain(domain), version);
      model.opsetImports.set(domain, version);
    }
    model.producerName = p.producerName ?? '';
    model.producerVersion = p.producerVersion ?? '';
    model.domain = p.domain ?? '';
    model.modelVersion = longToNumber(p.modelVersion as LongLike);
    if (hasField(p, 'docString')) model.docString = p.docString;
    for (const e of p.metadataProps) model.metadata.push({ key: e.key ?? '', value: e.value ?? '' });
    const extra: Record<string, unknown> = {};
    if (p.functions.length) extra[MODEL_EXTRA.functions] = p.functions.map((f) => detach(onnx.FunctionProto, f));
    if (p.trainingInfo.length) extra[MODEL_EXTRA.trainingInfo] = p.trainingInfo.map((t) => detach(onnx.TrainingInfoProto, t));
    if (this.unknown?.fields.length) extra[UNKNOWN_FIELDS] = this.unknown.fields;
    if (Object.keys(extra).length) model.extra = extra;
    if (!p.graph) throw invalid('model has no graph', { field: 'graph' });
    this.importGraph(p.graph, model.graph, null, childTree(this.unknown, FIELD.modelGraph));
    // Node names share the name table with values; claim them only now so that values keep
    // their own names when a node and its output are named alike (a common exporter habit).
    for (const n of model.graph.allNodes()) if (n.name) model.graph.names.claim(n.name);
    return model;
  }

  private importGraph(gp: OnnxTypes.IGraphProto, graph: Graph, parentScope: Scope | null, unknown: UnknownFieldTree | undefined): void {
    graph.name = gp.name ?? '';
    if (hasField(gp, 'docString')) graph.docString = gp.docString ?? undefined;
    const scope = new Scope(parentScope);
    const graphField = (f: string) => (graph.parent ? `subgraph "${graph.name}" ${f}` : f);
    const define = (name: string, v: Value, field: string) => {
      if (scope.values.has(name)) throw invalid(`name "${name}" is defined twice in graph "${graph.name}"`, { field, value: name });
      scope.values.set(name, v);
    };

    for (const vi of gp.input ?? []) {
      const name = vi.name ?? '';
      const field = graphField(`input "${name}"`);
      if (!name) throw invalid('graph input has no name', { field });
      const v = graph.addInput(name);
      this.applyValueInfo(v, vi, field);
      define(name, v, field);
    }

    for (const tp of gp.initializer ?? []) {
      const name = tp.name ?? '';
      const field = graphField(`initializer "${name}"`);
      if (!name) throw invalid('initializer has no name', { field });
      const tensor = tensorFromProto(tp, { field }, this.external);
      const existing = scope.values.get(name);
      if (existing && existing.isGraphInput && !existing.constant) {
        // Listed in graph.input too: a graph input with a default value (required before IR 4).
        existing.constant = tensor;
        existing.type ??= { dtype: tensor.dtype, shape: [...tensor.shape] };
        if (hasField(tp, 'docString')) existing.docString ??= tp.docString ?? undefined;
        graph.initializers.push(existing);
        continue;
      }
      if (existing) throw invalid(`name "${name}" is defined twice in graph "${graph.name}"`, { field, value: name });
      const constant = graph.addConstant(name, tensor);
      if (hasField(tp, 'docString')) constant.docString = tp.docString ?? undefined;
      define(name, constant, field);
    }

    // Pass 1: create every node and define its outputs, so references may point forward.
    const nodeProtos = gp.node ?? [];
    const nodes: Node[] = [];
    nodeProtos.forEach((np, index) => {
      const ctx = { node: np.name || `#${index}`, op: np.opType ?? '' };
      if (!np.opType) throw invalid('node has no op_type', { ...ctx, field: 'op_type' });
      const domain = np.domain ?? '';
      if (!this.opsets.has(canonicalDomain(domain))) {
        throw invalid(`domain "${domain || 'ai.onnx'}" is not in the model's opset_import`, { ...ctx, field: 'domain' });
      }
      const outputs = (np.output ?? []).map((o) => (o === '' ? null : o));
      const node = graph.addNode({ op: np.opType, domain, outputs });
      node.name = np.name ?? '';
      if (hasField(np, 'docString')) node.docString = np.docString ?? undefined;
      const nodeUnknown = childTree(unknown, FIELD.graphNode, index)?.fields;
      if (nodeUnknown?.length) node.extra = { [UNKNOWN_FIELDS]: nodeUnknown };
      outputs.forEach((name, k) => name !== null && define(name, node.outputs[k]!, graphField(`node "${ctx.node}" output ${k}`)));
      nodes.push(node);
    });

    // Pass 2: resolve inputs through this graph's scope and the enclosing ones.
    nodeProtos.forEach((np, index) => {
      const node = nodes[index]!;
      const inputs = (np.input ?? []).map((name, k) => {
        if (name === '') return null;
        const v = scope.lookup(name);
        if (!v) {
          throw invalid(`input "${name}" is not defined (missing initializer, graph input or producer)`, {
            node: np.name || `#${index}`,
            op: node.op,
            field: `input ${k}`,
            value: name,
          });
        }
        return v;
      });
      node.setInputs(inputs);
    });

    // Pass 3: attributes, including subgraphs (which may capture any name defined above).
    nodeProtos.forEach((np, index) => {
      const node = nodes[index]!;
      (np.attribute ?? []).forEach((ap, k) => {
        const ctx = { node: np.name || `#${index}`, op: node.op };
        try {
          this.importAttribute(ap, node, scope, childTree(childTree(unknown, FIELD.graphNode, index), FIELD.nodeAttribute, k));
        } catch (e) {
          throw e instanceof SlimcError ? e.withContext(ctx) : e;
        }
      });
    });

    const orphans: OnnxTypes.IValueInfoProto[] = [];
    for (const vi of gp.valueInfo ?? []) {
      const v = scope.values.get(vi.name ?? '');
      if (v) {
        this.applyValueInfo(v, vi, graphField(`value_info "${vi.name}"`));
        v.typeDeclared = true;
      }
      else orphans.push(detach(onnx.ValueInfoProto, vi));
    }

    for (const vi of gp.output ?? []) {
      const name = vi.name ?? '';
      const field = graphField(`output "${name}"`);
      const v = scope.lookup(name);
      if (!v) throw invalid(`graph output "${name}" is not defined`, { field, value: name });
      if (vi.type || hasField(vi, 'docString')) this.applyValueInfo(v, vi, field);
      graph.addOutput(v);
    }

    const extra: Record<string, unknown> = {};
    if (gp.sparseInitializer?.length) extra[GRAPH_EXTRA.sparseInitializer] = gp.sparseInitializer.map((s) => detach(onnx.SparseTensorProto, s));
    if (gp.quantizationAnnotation?.length) {
      extra[GRAPH_EXTRA.quantizationAnnotation] = gp.quantizationAnnotation.map((a) => detach(onnx.TensorAnnotation, a));
    }
    if (orphans.length) extra[GRAPH_EXTRA.valueInfo] = orphans;
    if (unknown?.fields.length) extra[UNKNOWN_FIELDS] = unknown.fields;
    if (Object.keys(extra).length) graph.extra = extra;

    sortGraph(graph);
  }

  private applyValueInfo(v: Value, vi: OnnxTypes.IValueInfoProto, field: string): void {
    if (hasField(vi, 'docString')) v.docString = vi.docString ?? undefined;
    if (!vi.type) return;
    const t = tensorTypeOf(vi.type, field);
    if (t) {
      v.type = t;
      v.opaqueType = undefined;
    } else if (!isEmptyType(vi.type)) {
      v.type = undefined;
      v.opaqueType = detach(onnx.TypeProto, vi.type as OnnxTypes.TypeProto);
    }
  }

  private importAttribute(ap: OnnxTypes.IAttributeProto, node: Node, scope: Scope, unknown: UnknownFieldTree | undefined): void {
    const name = ap.name ?? '';
    const field = `attribute ${name || '(unnamed)'}`;
    if (!name) throw invalid('attribute has no name', { field });
    if (node.attrs.has(name)) throw invalid('attribute given twice', { field });
    const opaque = (): Attribute => ({ kind: 'opaque', value: detach(onnx.AttributeProto, ap as OnnxTypes.AttributeProto) });
    if (ap.refAttrName) {
      node.setAttr(name, opaque());
      return;
    }
    const type = ap.type || inferAttributeType(ap);
    const subgraph = (gp: OnnxTypes.IGraphProto, tree: UnknownFieldTree | undefined): Graph => {
      const g = new Graph(gp.name ?? '', node.graph.names);
      g.parent = node;
      this.importGraph(gp, g, scope, tree);
      return g;
    };
    let a: Attribute;
    switch (type) {
      case ATTR.FLOAT:
        a = { kind: 'float', value: ap.f ?? 0 };
        break;
      case ATTR.INT:
        a = { kind: 'int', value: longToNumber(ap.i as LongLike) };
        break;
      case ATTR.STRING:
        a = { kind: 'string', value: utf8(ap.s) };
        break;
      case ATTR.TENSOR:
        if (!ap.t) throw invalid('tensor attribute has no tensor', { field });
        a = { kind: 'tensor', value: tensorFromProto(ap.t, { field }, this.external) };
        break;
      case ATTR.GRAPH:
        if (!ap.g) throw invalid('graph attribute has no graph', { field });
        a = { kind: 'graph', value: subgraph(ap.g, childTree(unknown, FIELD.attributeG)) };
        break;
      case ATTR.FLOATS:
        a = { kind: 'floats', value: [...(ap.floats ?? [])] };
        break;
      case ATTR.INTS:
        a = { kind: 'ints', value: (ap.ints ?? []).map((i) => longToNumber(i as LongLike)) };
        break;
      case ATTR.STRINGS:
        a = { kind: 'strings', value: (ap.strings ?? []).map(utf8) };
        break;
      case ATTR.TENSORS:
        a = { kind: 'tensors', value: (ap.tensors ?? []).map((t, i) => tensorFromProto(t, { field: `${field}[${i}]` }, this.external)) };
        break;
      case ATTR.GRAPHS:
        a = { kind: 'graphs', value: (ap.graphs ?? []).map((g, k) => subgraph(g, childTree(unknown, FIELD.attributeGraphs, k))) };
        break;
      case ATTR.SPARSE_TENSOR:
      case ATTR.SPARSE_TENSORS:
      case ATTR.TYPE_PROTO:
      case ATTR.TYPE_PROTOS:
        a = opaque();
        break;
      default:
        throw invalid(`attribute type ${type} is not a valid ONNX attribute type`, { field });
    }
    node.setAttr(name, a);
  }
}

/** '' and 'ai.onnx' name the same (default) domain. */
function canonicalDomain(d: string): string {
  return d === 'ai.onnx' ? '' : d;
}

/** Old models leave AttributeProto.type unset: the kind is the field that is present. */
function inferAttributeType(ap: OnnxTypes.IAttributeProto): number {
  if (hasField(ap, 'f')) return ATTR.FLOAT;
  if (hasField(ap, 'i')) return ATTR.INT;
  if (hasField(ap, 's')) return ATTR.STRING;
  if (ap.t) return ATTR.TENSOR;
  if (ap.g) return ATTR.GRAPH;
  if (ap.sparseTensor) return ATTR.SPARSE_TENSOR;
  if (ap.tp) return ATTR.TYPE_PROTO;
  if (ap.floats?.length) return ATTR.FLOATS;
  if (ap.ints?.length) return ATTR.INTS;
  if (ap.strings?.length) return ATTR.STRINGS;
  if (ap.tensors?.length) return ATTR.TENSORS;
  if (ap.graphs?.length) return ATTR.GRAPHS;
  if (ap.sparseTensors?.length) return ATTR.SPARSE_TENSORS;
  if (ap.typeProtos?.length) return ATTR.TYPE_PROTOS;
  return ATTR.UNDEFINED;
}

/** A TypeProto's tensor type, or undefined when it is not a tensor of a modelled element type. */
function tensorTypeOf(tp: OnnxTypes.ITypeProto, field: string): TensorType | undefined {
  const tt = tp.tensorType;
  if (!tt || !tt.elemType) return undefined;
  const dtype = dtypeFromOnnx(tt.elemType);
  if (!dtype) return undefined;
  if (!tt.shape) return { dtype };
  const shape: Dim[] = (tt.shape.dim ?? []).map((d) => {
    if (hasField(d, 'dimValue')) {
      const n = longToNumber(d.dimValue as LongLike);
      if (!Number.isSafeInteger(n)) throw invalid(`dim ${n} is not a valid size`, { field });
      return n;
    }
    if (hasField(d, 'dimParam') && d.dimParam) return d.dimParam;
    return null;
  });
  return { dtype, shape };
}

/** A TypeProto with nothing set (some exporters write `type {}` for unknown types). */
function isEmptyType(tp: OnnxTypes.ITypeProto): boolean {
  return !tp.tensorType && !tp.sequenceType && !tp.mapType && !tp.optionalType && !tp.sparseTensorType;
}

/** Sorts `graph` topologically; a cycle becomes an error naming the nodes on it. */
function sortGraph(graph: Graph): void {
  // A node using its own output (directly or from a subgraph) is a cycle the sort does not see.
  for (const n of graph.nodes()) {
    if (nodeOperandsDeep(n).some((v) => v.producer === n)) throw cycleError(graph, [n]);
  }
  try {
    graph.sortTopologically();
  } catch (e) {
    if (!(e instanceof CycleError)) throw e;
    throw cycleError(graph, findCycle(graph) ?? [e.node]);
  }
}

function findCycle(graph: Graph): Node[] | undefined {
  const dg = new DiGraph();
  const byId = new Map<string, Node>();
  const owner = new Map<Node, Node>();
  for (const n of graph.nodes()) {
    byId.set(String(n.id), n);
    dg.setNode(String(n.id));
    owner.set(n, n);
  }
  for (const n of graph.nodes()) {
    for (const v of nodeOperandsDeep(n)) {
      if (v.producer && owner.has(v.producer) && v.producer !== n) dg.setEdge(String(v.producer.id), String(n.id));
    }
  }
  const cycles = alg.findCycles(dg);
  const first = cycles[0];
  return first && first.map((id) => byId.get(id)!);
}

function cycleError(graph: Graph, members: Node[]): SlimcError {
  const names = members.map((n) => `"${n.label}"`).join(' -> ');
  const first = members[0]!;
  return invalid(`graph "${graph.name}" has a cycle through nodes ${names}`, { node: first.label, op: first.op, field: 'node inputs' });
}
