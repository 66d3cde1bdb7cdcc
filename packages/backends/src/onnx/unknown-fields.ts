/**
 * Fields of ModelProto, GraphProto and NodeProto that the generated `onnx-proto` classes (ONNX
 * 1.10) do not know, such as fields added by later ONNX versions (model configuration, graph and
 * node metadata_props, node overload). protobufjs skips them when decoding; to keep them for
 * export, `collectUnknownFields` walks the same bytes and returns their encoded form, arranged as
 * the messages nest (model -> graph -> nodes -> attributes -> subgraphs), so the importer can hand
 * each message's unknown fields to the IR object it becomes (`extra.unknownFields`). Export writes
 * them back verbatim (protobuf allows fields in any order).
 */
import { type ByteSource, wireFields } from './proto.js';

export interface UnknownFieldTree {
  /** Encoded fields (key and value) unknown to onnx-proto, in order. */
  readonly fields: Uint8Array[];
  /** Trees of nested messages by field number, in order of appearance. */
  readonly children: Map<number, UnknownFieldTree[]>;
}

/** Key of the encoded unknown fields in `Model.extra`, `Graph.extra` and `Node.extra`. */
export const UNKNOWN_FIELDS = 'unknownFields';

type Level = 'model' | 'graph' | 'node' | 'attribute';

const KNOWN: Record<Level, ReadonlySet<number> | 'all'> = {
  model: new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25]),
  graph: new Set([1, 2, 5, 10, 11, 12, 13, 14, 15]),
  node: new Set([1, 2, 3, 4, 5, 6, 7]),
  attribute: 'all', // attribute-level extras are not kept; attributes are walked only for their subgraphs
};
const DESCEND: Record<Level, Record<number, Level>> = {
  model: { 7: 'graph' },
  graph: { 1: 'node' },
  node: { 5: 'attribute' },
  attribute: { 6: 'graph', 11: 'graph' },
};

/** The unknown fields of a ModelProto, or undefined when there are none (or the bytes do not walk). */
export function collectUnknownFields(bytes: Uint8Array): UnknownFieldTree | undefined {
  const src: ByteSource = { byteAt: (pos) => bytes[pos]! };
  let found = false;
  const walk = (level: Level, start: number, end: number): UnknownFieldTree => {
    const tree: UnknownFieldTree = { fields: [], children: new Map() };
    const known = KNOWN[level];
    for (const f of wireFields(src, start, end)) {
      const inner = f.wireType === 2 ? DESCEND[level][f.field] : undefined;
      if (inner) {
        const list = tree.children.get(f.field) ?? [];
        list.push(walk(inner, f.valueStart, f.end));
        tree.children.set(f.field, list);
      } else if (known !== 'all' && !known.has(f.field)) {
        tree.fields.push(bytes.slice(f.start, f.end));
        found = true;
      }
    }
    return tree;
  };
  try {
    const tree = walk('model', 0, bytes.length);
    return found ? tree : undefined;
  } catch {
    // protobufjs accepted these bytes; whatever the walk cannot follow is not worth failing for.
    return undefined;
  }
}

/** The last tree recorded for a singular field (protobuf: the last occurrence wins). */
export function childTree(tree: UnknownFieldTree | undefined, field: number, index = -1): UnknownFieldTree | undefined {
  const list = tree?.children.get(field);
  return list?.[index < 0 ? list.length + index : index];
}
