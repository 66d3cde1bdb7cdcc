/**
 * Constant tensors: an element type, a static shape and the data in a typed array.
 */
import {
  type DType,
  type TensorData,
  type TypedArray,
  allocData,
  bfloat16ToFloat,
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
  isBigIntDType,
  typedArrayClass,
} from './dtype.js';

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Row-major elements; length equals the product of `shape`. */
  readonly data: TensorData;
}

/** Largest element count slimc will allocate for one tensor (2^31 - 1, the typed-array ceiling on 32-bit indices). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function makeTensor(dtype: DType, shape: readonly number[], data?: TensorData | ArrayLike<number> | ArrayLike<bigint>): Tensor {
  const n = shapeSize(shape);
  if (data === undefined) return { dtype, shape: [...shape], data: allocData(dtype, n) };
  if (data.length !== n) throw new Error(`makeTensor: shape [${shape.join(',')}] needs ${n} elements, got ${data.length}`);
  if (isTensorDataOf(dtype, data)) return { dtype, shape: [...shape], data };
  const out = allocData(dtype, n);
  if (dtype === 'string') {
    for (let i = 0; i < n; i++) (out as string[])[i] = String((data as ArrayLike<unknown>)[i]);
  } else if (isBigIntDType(dtype)) {
    const o = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) o[i] = BigInt((data as ArrayLike<number | bigint>)[i]!);
  } else if (dtype === 'float16' || dtype === 'bfloat16') {
    const conv = dtype === 'float16' ? floatToHalf : floatToBfloat16;
    const o = out as Uint16Array;
    for (let i = 0; i < n; i++) o[i] = conv(Number((data as ArrayLike<number>)[i]));
  } else {
    const o = out as Exclude<TypedArray, BigInt64Array | BigUint64Array>;
    for (let i = 0; i < n; i++) o[i] = Number((data as ArrayLike<number | bigint>)[i]);
  }
  return { dtype, shape: [...shape], data: out };
}

export function scalarTensor(dtype: DType, value: number | bigint | string): Tensor {
  return makeTensor(dtype, [], [value] as ArrayLike<number>);
}

function isTensorDataOf(dtype: DType, data: unknown): data is TensorData {
  if (dtype === 'string') return Array.isArray(data) && data.every((s) => typeof s === 'string');
  if (dtype === 'float16' || dtype === 'bfloat16') return false; // numbers must be converted to bit patterns
  return data instanceof typedArrayClass(dtype);
}

/** Element i as a JS number (float16/bfloat16 decoded, 64-bit ints converted, bool as 0/1). */
export function elementAsNumber(t: Tensor, i: number): number {
  const v = (t.data as ArrayLike<number | bigint | string>)[i];
  if (t.dtype === 'float16') return halfToFloat(v as number);
  if (t.dtype === 'bfloat16') return bfloat16ToFloat(v as number);
  return Number(v);
}

/** All elements as a Float64Array of numbers (for float math on any numeric dtype). */
export function toFloat64(t: Tensor): Float64Array {
  const n = t.data.length;
  const out = new Float64Array(n);
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const conv = t.dtype === 'float16' ? halfToFloat : bfloat16ToFloat;
    const d = t.data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = conv(d[i]!);
  } else if (t.dtype === 'string') {
    throw new Error('toFloat64: string tensor');
  } else {
    const d = t.data as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) out[i] = Number(d[i]);
  }
  return out;
}

/** Elements of an integer tensor (e.g. a shape or axes input) as JS numbers. */
export function toIntArray(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Byte size of the tensor's raw little-endian encoding (strings count their UTF-8 bytes). */
export function tensorByteSize(t: Tensor): number {
  if (t.dtype === 'string') {
    let n = 0;
    for (const s of t.data as string[]) n += Buffer.byteLength(s, 'utf8');
    return n;
  }
  return (t.data as TypedArray).byteLength;
}

/** True when both tensors have the same dtype, shape and bit-identical data. */
export function tensorsEqual(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length) return false;
  for (let i = 0; i < a.shape.length; i++) if (a.shape[i] !== b.shape[i]) return false;
  if (a.dtype === 'string') {
    const x = a.data as string[];
    const y = b.data as string[];
    return x.length === y.length && x.every((s, i) => s === y[i]);
  }
  const x = a.data as TypedArray;
  const y = b.data as TypedArray;
  if (x.byteLength !== y.byteLength) return false;
  return Buffer.compare(
    Buffer.from(x.buffer, x.byteOffset, x.byteLength),
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  ) === 0;
}
