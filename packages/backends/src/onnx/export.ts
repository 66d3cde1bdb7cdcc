/**
 * ONNX export: IR `Model` -> ModelProto bytes, in memory (`encodeOnnx`) or streamed to a file with
 * optional external data (`saveOnnx`).
 *
 * The inverse of import: every field import keeps is written back, Constant nodes stay nodes,
 * initializers are written as raw_data (strings as string_data), and value_info is emitted for
 * every typed intermediate value. Graph inputs/outputs carry their own types.
 *
 * Memory: the model is built as a tree of `Piece`s whose large leaves are views of the tensors'
 * own typed arrays. `encodeOnnx` copies them once into the result (peak ~2x the weights);
 * `saveOnnx` writes them straight to the file (peak ~1x).
 *
 * External data (`saveOnnx`): main-graph initializers of at least `threshold` bytes go to one side
 * file `<model file>.data` next to the model; each starts at an offset aligned to 4096 bytes when
 * it is 64 KiB or larger (page-aligned for mmap), otherwise to 64 bytes. Protobuf cannot encode a
 * message over 2 GiB, so when the model would exceed that, the largest initializers are moved out
 * regardless of the option (and `encodeOnnx`, which has nowhere to put them, throws).
 */
import { writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  type Attribute,
  type Graph,
  type Model,
  type Node,
  SlimcError,
  type Tensor,
  type Value,
  dtypeToOnnx,
  tensorByteSize,
} from '@slimc/ir';
import { type StagedFile, stageFile } from '../io/atomic-write.js';
import { GRAPH_EXTRA, MODEL_EXTRA } from './import.js';
import { FIELD, type OnnxTypes, type Piece, emitPiece, numberToLong, onnx, pieceLength } from './proto.js';
import { UNKNOWN_FIELDS } from './unknown-fields.js';
import { type ExternalRef, tensorPayload, tensorPiece, utf8Bytes } from './tensor-proto.js';

/** The largest message protobuf can encode: 2 GiB - 1. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export type ValueInfoPolicy = 'declared' | 'all' | 'none';

export interface EncodeOptions {
  /**
   * Which intermediate values get a value_info entry: `declared` (default) those the source model
   * declared (so a model without value_info does not grow by a shape annotation per value), `all`
   * every typed one (what slimc inferred included), `none` none. `true`/`false` mean all/none.
   */
  valueInfo?: ValueInfoPolicy | boolean;
  /** Size limit of the encoded model in bytes (default and maximum: `PROTOBUF_LIMIT`). */
  maxBytes?: number;
}

export interface SaveOptions extends EncodeOptions {
  /**
   * Write large initializers to a side file. `true`: those of at least 1 KiB, in `<file>.data`.
   * Regardless of this option, initializers move out when the model would exceed the size limit.
   */
  externalData?: boolean | { threshold?: number; file?: string };
}

const DEFAULT_EXTERNAL_THRESHOLD = 1024;
const PAGE_ALIGNMENT = 4096;
const PAGE_ALIGN_FROM = 64 * 1024;
const SMALL_ALIGNMENT = 64;

const ATTR = onnx.AttributeProto.AttributeType;

/** Encodes the model as ModelProto bytes. Throws if it needs more than 2 GiB (use `saveOnnx`). */
export function encodeOnnx(model: Model, opts: EncodeOptions = {}): Uint8Array {
  const piece = modelPiece(model, new Map(), opts);
  const total = pieceLength(piece);
  const limit = Math.min(opts.maxBytes ?? PROTOBUF_LIMIT, PROTOBUF_LIMIT);
  if (total > limit) {
    throw new SlimcError('unsupported', `the model needs ${total} bytes, over the ${limit}-byte protobuf limit; save it with external data`, {
      model: model.source,
    });
  }
  const out = new Uint8Array(total);
  let at = 0;
  emitPiece(piece, (b) => {
    out.set(b, at);
    at += b.byteLength;
  });
  return out;
}

/** Writes the model to `path` (atomically), with large initializers in a side file when asked or needed. */
export function saveOnnx(model: Model, path: string, opts: SaveOptions = {}): void {
  const ext = opts.externalData;
  const limit = Math.min(opts.maxBytes ?? PROTOBUF_LIMIT, PROTOBUF_LIMIT);
  const dataName = (typeof ext === 'object' && ext.file) || `${basename(path)}.data`;
  if (dataName !== basename(dataName)) {
    throw new SlimcError('invalid-argument', `external data file "${dataName}" must be a plain file name next to the model`, { model: path });
  }
  const threshold = !ext ? Infinity : typeof ext === 'object' ? (ext.threshold ?? DEFAULT_EXTERNAL_THRESHOLD) : DEFAULT_EXTERNAL_THRESHOLD;

  const candidates = model.graph.initializers.filter((v) => v.constant!.dtype !== 'string');
  const external = new Set(candidates.filter((v) => tensorByteSize(v.constant!) >= threshold));
  let layout = layoutExternal(model.graph, external, dataName);
  let piece = modelPiece(model, layout, opts);
  let total = pieceLength(piece);
  if (total > limit) {
    // Move the largest remaining initializers out until the model fits.
    const rest = candidates.filter((v) => !external.has(v)).sort((a, b) => tensorByteSize(b.constant!) - tensorByteSize(a.constant!));
    let excess = total - limit;
    for (const v of rest) {
      if (excess <= 0) break;
      external.add(v);
      excess -= tensorByteSize(v.constant!) - 64; // a reference costs a few dozen bytes
    }
    layout = layoutExternal(model.graph, external, dataName);
    piece = modelPiece(model, layout, opts);
    total = pieceLength(piece);
    if (total > limit) {
      throw new SlimcError('unsupported', `the model needs ${total} bytes even with all initializers external, over the ${limit}-byte protobuf limit`, {
        model: path,
      });
    }
  }
  // Both files are written in full before either replaces anything, so a failure leaves the
  // old model and its data consistent.
  const data = layout.size ? stageExternalData(join(dirname(path), dataName), model.graph, layout) : undefined;
  let staged;
  try {
    staged = stageFile(path, (fd) => writePiece(fd, piece));
  } catch (e) {
    data?.discard();
    throw e;
  }
  data?.commit();
  staged.commit();
}

/** Offsets in the side file for the chosen initializers, in graph order. */
function layoutExternal(g: Graph, chosen: ReadonlySet<Value>, location: string): Map<Value, ExternalRef> {
  const layout = new Map<Value, ExternalRef>();
  let offset = 0;
  for (const v of g.initializers) {
    if (!chosen.has(v)) continue;
    const length = tensorByteSize(v.constant!);
    const align = length >= PAGE_ALIGN_FROM ? PAGE_ALIGNMENT : SMALL_ALIGNMENT;
    offset = Math.ceil(offset / align) * align;
    layout.set(v, { location, offset, length });
    offset += length;
  }
  return layout;
}

function stageExternalData(path: string, g: Graph, layout: Map<Value, ExternalRef>): StagedFile {
  return stageFile(path, (fd) => {
    let at = 0;
    for (const v of g.initializers) {
      const ref = layout.get(v);
      if (!ref) continue;
      if (ref.offset > at) at += writeAll(fd, new Uint8Array(ref.offset - at), at);
      at += writeAll(fd, tensorPayload(v.constant!), at);
    }
  });
}

function writeAll(fd: number, bytes: Uint8Array, position: number): number {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
  return done;
}

/** Streams a piece to a file, coalescing small fragments into 1 MiB writes. */
function writePiece(fd: number, piece: Piece): void {
  const buffer = new Uint8Array(1 << 20);
  let used = 0;
  let position = 0;
  const flush = () => {
    position += writeAll(fd, buffer.subarray(0, used), position);
    used = 0;
  };
  emitPiece(piece, (b) => {
    const large = b.byteLength >= buffer.byteLength / 4;
    if (large || used + b.byteLength > buffer.byteLength) flush();
    if (large) {
      position += writeAll(fd, b, position);
    } else {
      buffer.set(b, used);
      used += b.byteLength;
    }
  });
  flush();
}

function modelPiece(model: Model, external: Map<Value, ExternalRef>, opts: EncodeOptions): Piece {
  const mp: OnnxTypes.IModelProto = {
    irVersion: model.irVersion,
    opsetImport: [...model.opsetImports].map(([domain, version]) => ({ domain, version })),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    domain: model.domain,
    modelVersion: numberToLong(model.modelVersion),
    metadataProps: model.metadata.map((e) => ({ key: e.key, value: e.value })),
  };
  if (model.docString !== undefined) mp.docString = model.docString;
  const functions = model.extra?.[MODEL_EXTRA.functions];
  if (Array.isArray(functions)) mp.functions = functions as OnnxTypes.IFunctionProto[];
  const training = model.extra?.[MODEL_EXTRA.trainingInfo];
  if (Array.isArray(training)) mp.trainingInfo = training as OnnxTypes.ITrainingInfoProto[];
  const policy = opts.valueInfo === true ? 'all' : opts.valueInfo === false ? 'none' : (opts.valueInfo ?? 'declared');
  const writer = new GraphWriter(external, policy);
  return { parts: [onnx.ModelProto.encode(mp).finish(), writer.graph(FIELD.modelGraph, model.graph), ...unknownFields(model.extra)] };
}

/** Builds the pieces of graphs, nodes and attributes. */
class GraphWriter {
  /** Names written so far: ONNX resolves references by name, so two values must never share one. */
  private readonly defined = new Map<string, Value>();

  constructor(
    private readonly external: Map<Value, ExternalRef>,
    private readonly valueInfo: ValueInfoPolicy,
  ) {}

  private define(v: Value): void {
    const seen = this.defined.get(v.name);
    if (seen === v) return; // an input with a default is also an initializer
    if (!v.name || seen) {
      const owner = v.producer ? { node: v.producer.label, op: v.producer.op } : {};
      throw new SlimcError('internal', v.name ? `two values are named "${v.name}"` : 'a value has an empty name', { ...owner, value: v.name });
    }
    this.defined.set(v.name, v);
  }

  graph(field: number, g: Graph): Piece {
    for (const v of g.inputs) this.define(v);
    for (const v of g.initializers) this.define(v);
    for (const n of g.nodes()) for (const v of n.outputs) if (v) this.define(v);
    const gp: OnnxTypes.IGraphProto = {
      name: g.name,
      input: g.inputs.map((v) => valueInfo(v)),
      output: g.outputs.map((v) => valueInfo(v)),
    };
    if (g.docString !== undefined) gp.docString = g.docString;
    if (this.valueInfo !== 'none') {
      const all = this.valueInfo === 'all';
      const outputs = new Set(g.outputs);
      const infos: OnnxTypes.IValueInfoProto[] = [];
      for (const n of g.nodes()) {
        for (const v of n.outputs) {
          if (!v || outputs.has(v)) continue;
          // A doc string or a non-tensor type exists only if the source wrote it: always kept.
          if (v.opaqueType || v.docString !== undefined || (v.type && (all || v.typeDeclared))) infos.push(valueInfo(v));
        }
      }
      if (infos.length) gp.valueInfo = infos;
    }
    const orphans = g.extra?.[GRAPH_EXTRA.valueInfo];
    if (Array.isArray(orphans)) gp.valueInfo = [...(gp.valueInfo ?? []), ...(orphans as OnnxTypes.IValueInfoProto[])];
    const sparse = g.extra?.[GRAPH_EXTRA.sparseInitializer];
    if (Array.isArray(sparse)) gp.sparseInitializer = sparse as OnnxTypes.ISparseTensorProto[];
    const annotations = g.extra?.[GRAPH_EXTRA.quantizationAnnotation];
    if (Array.isArray(annotations)) gp.quantizationAnnotation = annotations as OnnxTypes.ITensorAnnotation[];

    const parts: Piece[] = [onnx.GraphProto.encode(gp).finish()];
    for (const n of g.nodes()) parts.push(this.node(n));
    for (const c of g.initializers) parts.push(tensorPiece(FIELD.graphInitializer, c.constant!, c.name, this.external.get(c), c.docString));
    parts.push(...unknownFields(g.extra));
    return { field, parts };
  }

  private node(n: Node): Piece {
    const np: OnnxTypes.INodeProto = {
      input: n.inputs.map((v) => (v ? v.name : '')),
      output: n.outputs.map((v) => (v ? v.name : '')),
      opType: n.op,
    };
    if (n.name) np.name = n.name;
    if (n.domain) np.domain = n.domain;
    if (n.docString !== undefined) np.docString = n.docString;
    const parts: Piece[] = [onnx.NodeProto.encode(np).finish()];
    for (const [name, a] of n.attrs) parts.push(this.attribute(name, a, n));
    parts.push(...unknownFields(n.extra));
    return { field: FIELD.graphNode, parts };
  }

  private attribute(name: string, a: Attribute, n: Node): Piece {
    const head = (ap: OnnxTypes.IAttributeProto) => onnx.AttributeProto.encode({ name, ...ap }).finish();
    switch (a.kind) {
      case 'float':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.FLOAT, f: a.value })] };
      case 'int':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.INT, i: numberToLong(a.value) })] };
      case 'string':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.STRING, s: utf8Bytes(a.value) })] };
      case 'floats':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.FLOATS, floats: [...a.value] })] };
      case 'ints':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.INTS, ints: a.value.map(numberToLong) })] };
      case 'strings':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.STRINGS, strings: a.value.map(utf8Bytes) })] };
      case 'tensor':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.TENSOR }), tensorPiece(FIELD.attributeT, a.value, '')] };
      case 'tensors':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.TENSORS }), ...a.value.map((t: Tensor) => tensorPiece(FIELD.attributeTensors, t, ''))] };
      case 'graph':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.GRAPH }), this.graph(FIELD.attributeG, a.value)] };
      case 'graphs':
        return { field: FIELD.nodeAttribute, parts: [head({ type: ATTR.GRAPHS }), ...a.value.map((g) => this.graph(FIELD.attributeGraphs, g))] };
      case 'opaque': {
        if (!(a.value instanceof onnx.AttributeProto)) {
          throw new SlimcError('unsupported', 'opaque attribute does not hold an ONNX AttributeProto', {
            node: n.label,
            op: n.op,
            field: `attribute ${name}`,
          });
        }
        const copy = onnx.AttributeProto.fromObject(onnx.AttributeProto.toObject(a.value));
        copy.name = name;
        return { field: FIELD.nodeAttribute, parts: [onnx.AttributeProto.encode(copy).finish()] };
      }
    }
  }
}

/** Encoded fields kept from import that onnx-proto does not know (see unknown-fields.ts). */
function unknownFields(extra: Record<string, unknown> | undefined): Uint8Array[] {
  const fields = extra?.[UNKNOWN_FIELDS];
  return Array.isArray(fields) ? fields.filter((f): f is Uint8Array => f instanceof Uint8Array) : [];
}

function valueInfo(v: Value): OnnxTypes.IValueInfoProto {
  const vi: OnnxTypes.IValueInfoProto = { name: v.name };
  if (v.type) {
    const tensorType: OnnxTypes.TypeProto.ITensor = { elemType: dtypeToOnnx(v.type.dtype) };
    if (v.type.shape) {
      tensorType.shape = {
        dim: v.type.shape.map((d) => (typeof d === 'number' ? { dimValue: numberToLong(d) } : typeof d === 'string' ? { dimParam: d } : {})),
      };
    }
    vi.type = { tensorType };
  } else if (v.opaqueType) {
    vi.type = v.opaqueType as OnnxTypes.ITypeProto;
  }
  if (v.docString !== undefined) vi.docString = v.docString;
  return vi;
}
