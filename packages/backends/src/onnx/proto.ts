/**
 * Access to the generated ONNX protobuf classes (`onnx-proto`, protobufjs 6 static code) and the
 * few wire-level helpers slimc needs around them.
 *
 * protobufjs decodes 64-bit integers as `Long` objects ({low, high, unsigned}); slimc holds them as
 * `number` (dims, attribute ints) or `bigint` (int64/uint64 tensor elements). Conversions live here.
 *
 * The streaming encoder (`Piece`) builds a message as a tree of already-encoded fragments so large
 * tensor payloads are never copied into an intermediate protobuf buffer: protobuf lets a message's
 * fields appear in any order and concatenates repeated fields, so a message can be written as its
 * small scalar part (encoded by protobufjs) followed by its big nested parts.
 */
import onnxProto from 'onnx-proto';
import { SlimcError } from '@slimc/ir';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';

/** A protobufjs int64 as decoded: a Long-like object or (without the long package) a number. */
export type LongLike = number | { low: number; high: number; unsigned?: boolean };

const TWO_32 = 4294967296;

/** An int64 as a JS number (exact below 2^53). */
export function longToNumber(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (v.unsigned) return (v.high >>> 0) * TWO_32 + (v.low >>> 0);
  return v.high * TWO_32 + (v.low >>> 0);
}

/** An int64 as an exact bigint (signed unless `unsigned`). */
export function longToBigInt(v: LongLike, unsigned = false): bigint {
  if (typeof v === 'number') return unsigned ? BigInt.asUintN(64, BigInt(v)) : BigInt(v);
  const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? bits : BigInt.asIntN(64, bits);
}

/** Bits of a bigint for the protobufjs writer. */
export function bigIntToLong(v: bigint): { low: number; high: number; unsigned: boolean } {
  const bits = BigInt.asUintN(64, v);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned: false };
}

const INT64_MAX = { low: -1, high: 0x7fffffff, unsigned: false };
const INT64_MIN = { low: 0, high: -0x80000000, unsigned: false };

/**
 * A JS number as int64 bits. Values at or beyond +-2^63 (such as INT64_MAX, which rounds to 2^63
 * as a double) clamp to INT64_MAX / INT64_MIN, so the common "slice to the end" sentinel survives
 * a round trip through `number`.
 */
export function numberToLong(v: number): LongLike {
  if (Number.isSafeInteger(v)) return v;
  if (v >= 2 ** 63) return INT64_MAX;
  if (v <= -(2 ** 63)) return INT64_MIN;
  return bigIntToLong(BigInt(Math.trunc(v)));
}

/** Field numbers in onnx.proto that slimc reads or writes at the wire level. */
export const FIELD = {
  modelGraph: 7,
  graphNode: 1,
  graphInitializer: 5,
  nodeAttribute: 5,
  attributeT: 5,
  attributeG: 6,
  attributeTensors: 10,
  attributeGraphs: 11,
  tensorRawData: 9,
} as const;

// ---- streaming encoder ----

/**
 * An encoded fragment, or the concatenation of `parts`: as the body of length-delimited field
 * `field` when it is given, else as is (the top-level message).
 */
export type Piece = Uint8Array | { readonly field?: number; readonly parts: readonly Piece[]; length?: number };

/** Byte length of a piece (cached on nested pieces). */
export function pieceLength(p: Piece): number {
  if (p instanceof Uint8Array) return p.byteLength;
  if (p.length === undefined) {
    let body = 0;
    for (const q of p.parts) body += pieceLength(q);
    p.length = p.field === undefined ? body : varintSize((p.field << 3) | 2) + varintSize(body) + body;
  }
  return p.length;
}

/** Calls `sink` with consecutive byte fragments of the piece. */
export function emitPiece(p: Piece, sink: (bytes: Uint8Array) => void): void {
  if (p instanceof Uint8Array) {
    if (p.byteLength) sink(p);
    return;
  }
  if (p.field !== undefined) {
    let body = 0;
    for (const q of p.parts) body += pieceLength(q);
    sink(concatVarints((p.field << 3) | 2, body));
  }
  for (const q of p.parts) emitPiece(q, sink);
}

/** The header of a length-delimited field (key and length), for payloads written separately. */
export function fieldHeader(field: number, length: number): Uint8Array {
  return concatVarints((field << 3) | 2, length);
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function concatVarints(a: number, b: number): Uint8Array {
  const out = new Uint8Array(varintSize(a) + varintSize(b));
  let k = 0;
  for (let v of [a, b]) {
    while (v >= 0x80) {
      out[k++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    out[k++] = v;
  }
  return out;
}

// ---- wire walking ----

/** Random access to the bytes of an encoded message (a file window or an in-memory buffer). */
export interface ByteSource {
  byteAt(pos: number): number;
}

/** One field of an encoded message: key at `start`, value in [valueStart, end). */
export interface WireField {
  readonly field: number;
  readonly wireType: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

export function corruptModel(detail: string): SlimcError {
  return new SlimcError('invalid-model', `not a valid ONNX ModelProto (${detail})`, { field: 'ModelProto' });
}

function readVarint(src: ByteSource, pos: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw corruptModel(`truncated varint at offset ${pos}`);
    const b = src.byteAt(pos++);
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, pos];
  }
  throw corruptModel(`varint too long at offset ${pos}`);
}

/** The fields of the message occupying [start, end) of `src`, in order. */
export function* wireFields(src: ByteSource, start: number, end: number): Generator<WireField> {
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [key, afterKey] = readVarint(src, pos, end);
    const wireType = key % 8;
    let valueStart = afterKey;
    switch (wireType) {
      case 0:
        pos = readVarint(src, afterKey, end)[1];
        break;
      case 1:
        pos = afterKey + 8;
        break;
      case 5:
        pos = afterKey + 4;
        break;
      case 2: {
        const [length, at] = readVarint(src, afterKey, end);
        valueStart = at;
        pos = at + length;
        break;
      }
      default:
        throw corruptModel(`invalid wire type ${wireType} at offset ${fieldStart}`);
    }
    const field = Math.floor(key / 8);
    if (pos > end) throw corruptModel(`field ${field} at offset ${fieldStart} runs past the end of its message`);
    yield { field, wireType, start: fieldStart, valueStart, end: pos };
  }
}
