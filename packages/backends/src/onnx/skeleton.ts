/**
 * Reading a large model file without holding all of it in memory.
 *
 * A plain load reads the whole file and then copies every tensor out of it (peak ~2x the file).
 * Instead, `readModelSkeleton` walks the protobuf wire format of the file with positioned reads
 * and produces a "skeleton" ModelProto: the same message, except that every inline `raw_data`
 * payload of at least `minHoistBytes` is replaced by an external-data reference to the model
 * file itself (location `MODEL_FILE_LOCATION`, the payload's offset and length). The importer then
 * reads each payload straight from the file into its final typed array, like any external data,
 * so peak memory stays near 1x the weights.
 *
 * The walk descends only where tensors live: ModelProto.graph -> GraphProto.{node, initializer}
 * -> NodeProto.attribute -> AttributeProto.{t, g, tensors, graphs} -> TensorProto.raw_data; other
 * fields are copied verbatim. Nested lengths are recomputed (see `Piece`). Corrupt structure (bad
 * wire type, lengths past the end) is a SlimcError('invalid-model').
 */
import { readSync } from 'node:fs';
import { type ByteSource, type Piece, corruptModel, emitPiece, onnx, pieceLength, wireFields } from './proto.js';

/**
 * The external-data location that means "the model file itself". It contains a NUL, which no
 * real path can, so it cannot name a side file.
 */
export const MODEL_FILE_LOCATION = '\u0000model-file';

type Level = 'model' | 'graph' | 'node' | 'attribute' | 'tensor';

/** For each message kind, the length-delimited fields that may contain tensors. */
const DESCEND: Record<Level, Record<number, Level>> = {
  model: { 7: 'graph' },
  graph: { 1: 'node', 5: 'tensor' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph' },
  tensor: {},
};
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const WINDOW = 1 << 20;

/** Positioned reads through a 1 MiB window (the wire walk reads mostly small, nearby ranges). */
class FileWindow implements ByteSource {
  private buffer = new Uint8Array(WINDOW);
  private start = 0;
  private end = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  byteAt(pos: number): number {
    if (pos < this.start || pos >= this.end) this.fill(pos);
    return this.buffer[pos - this.start]!;
  }

  /** A private copy of [pos, pos + length). */
  read(pos: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    if (length <= WINDOW / 4) {
      if (pos < this.start || pos + length > this.end) this.fill(pos);
      out.set(this.buffer.subarray(pos - this.start, pos - this.start + length));
      return out;
    }
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, pos + done);
      if (n <= 0) throw corruptModel('file ended early');
      done += n;
    }
    return out;
  }

  private fill(pos: number): void {
    const n = readSync(this.fd, this.buffer, 0, Math.min(WINDOW, this.size - pos), pos);
    this.start = pos;
    this.end = pos + n;
  }
}

/** Builds the skeleton ModelProto of the model file open as `fd` (see the module comment). */
export function readModelSkeleton(fd: number, size: number, minHoistBytes: number): Uint8Array {
  const file = new FileWindow(fd, size);

  const scan = (level: Level, start: number, end: number): Piece[] => {
    const parts: Piece[] = [];
    let verbatimFrom = start; // pending verbatim range [verbatimFrom, fieldStart)
    const flush = (upTo: number) => {
      if (upTo > verbatimFrom) parts.push(file.read(verbatimFrom, upTo - verbatimFrom));
    };
    let raw: { offset: number; length: number } | undefined;
    let hasLocation = false;
    for (const { field, wireType, start: fieldStart, valueStart, end: pos } of wireFields(file, start, end)) {
      if (level === 'tensor' && (field === TENSOR_EXTERNAL_DATA || field === TENSOR_DATA_LOCATION)) hasLocation = true;
      const inner = wireType === 2 ? DESCEND[level][field] : undefined;
      if (inner) {
        flush(fieldStart);
        parts.push({ field, parts: scan(inner, valueStart, pos) });
        verbatimFrom = pos;
      } else if (level === 'tensor' && wireType === 2 && field === TENSOR_RAW_DATA && pos - valueStart >= minHoistBytes) {
        flush(fieldStart);
        raw = { offset: valueStart, length: pos - valueStart };
        verbatimFrom = pos;
      }
    }
    flush(end);
    if (raw) {
      if (hasLocation) {
        // Already marked external as well: keep the tensor exactly as written.
        return [file.read(start, end - start)];
      }
      const reference = {
        dataLocation: 1,
        externalData: [
          { key: 'location', value: MODEL_FILE_LOCATION },
          { key: 'offset', value: String(raw.offset) },
          { key: 'length', value: String(raw.length) },
        ],
      };
      parts.push(onnx.TensorProto.encode(reference).finish());
    }
    return parts;
  };

  const top: Piece = { parts: scan('model', 0, size) };
  const out = new Uint8Array(pieceLength(top));
  let at = 0;
  emitPiece(top, (b) => {
    out.set(b, at);
    at += b.byteLength;
  });
  return out;
}
