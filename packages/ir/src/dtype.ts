/**
 * Element types of tensors and values, their ONNX `TensorProto.DataType` codes and the typed
 * arrays that hold their data.
 *
 * float16 and bfloat16 are stored as their raw 16-bit patterns in a Uint16Array; bool as 0/1 in a
 * Uint8Array; int64/uint64 in BigInt64Array/BigUint64Array; string as a plain string[] (the only
 * element type that is not a typed array).
 */
export type DType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'bfloat16';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type TensorData = TypedArray | string[];

/** ONNX TensorProto.DataType numbering (onnx.proto3). */
const ONNX_CODE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};
const FROM_ONNX_CODE = new Map<number, DType>(Object.entries(ONNX_CODE).map(([k, v]) => [v, k as DType]));

export const ALL_DTYPES: readonly DType[] = Object.freeze(Object.keys(ONNX_CODE) as DType[]);

export function dtypeToOnnx(dtype: DType): number {
  return ONNX_CODE[dtype];
}

/** The DType of an ONNX data type code, or undefined for codes slimc does not model (complex, float8, int4...). */
export function dtypeFromOnnx(code: number): DType | undefined {
  return FROM_ONNX_CODE.get(code);
}

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(ONNX_CODE, s);
}

export interface TypedArrayConstructor {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
}

/** The typed array holding each dtype's data (the 16-bit floats as bit patterns, bool as 0/1). */
const ARRAY_CLASS: Record<Exclude<DType, 'string'>, TypedArrayConstructor> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

/** The typed array class that holds `dtype`'s data (string data is a plain array). */
export function typedArrayClass(dtype: Exclude<DType, 'string'>): TypedArrayConstructor {
  return ARRAY_CLASS[dtype];
}

/** Bytes per element in the little-endian raw encoding (string has none). */
export function dtypeByteSize(dtype: DType): number {
  return dtype === 'string' ? 0 : ARRAY_CLASS[dtype].BYTES_PER_ELEMENT;
}

export function isFloatDType(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

export function isIntegerDType(dtype: DType): boolean {
  return (
    dtype === 'int8' ||
    dtype === 'uint8' ||
    dtype === 'int16' ||
    dtype === 'uint16' ||
    dtype === 'int32' ||
    dtype === 'uint32' ||
    dtype === 'int64' ||
    dtype === 'uint64'
  );
}

export function isBigIntDType(dtype: DType): boolean {
  return dtype === 'int64' || dtype === 'uint64';
}

/** Inclusive integer range of an integer dtype (as numbers; 64-bit ranges are approximate). */
export function integerRange(dtype: DType): [number, number] {
  switch (dtype) {
    case 'int8':
      return [-128, 127];
    case 'uint8':
      return [0, 255];
    case 'int16':
      return [-32768, 32767];
    case 'uint16':
      return [0, 65535];
    case 'int32':
      return [-2147483648, 2147483647];
    case 'uint32':
      return [0, 4294967295];
    case 'int64':
      return [-9223372036854775808, 9223372036854775807];
    case 'uint64':
      return [0, 18446744073709551615];
    case 'bool':
      return [0, 1];
    default:
      throw new Error(`integerRange: ${dtype} is not an integer type`);
  }
}

/** Allocates a zero-filled container of `length` elements for `dtype`. */
export function allocData(dtype: DType, length: number): TensorData {
  return dtype === 'string' ? new Array<string>(length).fill('') : new ARRAY_CLASS[dtype](length);
}

/** Views `bytes` (little-endian raw data) as the typed array of `dtype`, copying only if unaligned. */
export function dataFromBytes(dtype: DType, bytes: Uint8Array, length: number, copy = false): TypedArray {
  if (dtype === 'string') throw new Error('dataFromBytes: string tensors have no raw encoding');
  const size = dtypeByteSize(dtype);
  if (bytes.byteLength !== length * size) {
    throw new Error(`raw data has ${bytes.byteLength} bytes, expected ${length} x ${size}`);
  }
  let src = bytes;
  if (copy || src.byteOffset % size !== 0) src = new Uint8Array(bytes); // aligned private copy
  return new ARRAY_CLASS[dtype](src.buffer, src.byteOffset, length);
}

/** The little-endian bytes of a typed array (a view, no copy). */
export function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---- float16 / bfloat16 bit conversions ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits -> number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** number -> IEEE half bits, round to nearest even, with overflow to infinity. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

export function bfloat16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** number -> bfloat16 bits, round to nearest even. */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  const rounded = b + 0x7fff + ((b >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}
