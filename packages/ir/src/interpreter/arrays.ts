/**
 * Array plumbing shared by the kernels: numeric views of tensors of any dtype, output buffers that
 * convert back to the storage dtype, numpy broadcasting index maps and strides.
 *
 * Float math runs on JS numbers (float64). Storing a float64 result of one +, -, *, / or sqrt into a
 * Float32Array rounds it exactly as float32 arithmetic would (float64 has more than 2*24+2 bits), so
 * single-op float32 kernels are bit-exact; longer chains (sums, exp) are at least as accurate.
 */
import { allocData, floatToBfloat16, floatToHalf, isBigIntDType, type DType, type TensorData } from '../dtype.js';
import { shapeSize, toFloat64, type Tensor } from '../tensor.js';

/** A writable array of numbers: a numeric typed array or a Float64Array staging buffer. */
export type NumberArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** Index-writable view used by data-movement kernels, which copy elements of any dtype unchanged. */
export type ElementArray = { [i: number]: unknown; readonly length: number };

/** True when `dtype` stores plain numbers in its typed array (so math can run on the data in place). */
export function storesNumbers(dtype: DType): boolean {
  return !(dtype === 'float16' || dtype === 'bfloat16' || dtype === 'string' || isBigIntDType(dtype));
}

/** The elements as numbers: the data itself when the dtype stores numbers, else a converted copy. */
export function numbersOf(t: Tensor): ArrayLike<number> {
  if (storesNumbers(t.dtype)) return t.data as NumberArray;
  return toFloat64(t);
}

/** A buffer to compute `n` elements of `dtype` into; pass it to `tensorFrom` when done. */
export function numberBuffer(dtype: DType, n: number): NumberArray {
  return storesNumbers(dtype) ? (allocData(dtype, n) as NumberArray) : new Float64Array(n);
}

/** Wraps (or converts) a computed number buffer as a tensor of `dtype`. */
export function tensorFrom(dtype: DType, shape: readonly number[], values: ArrayLike<number>): Tensor {
  const n = values.length;
  if (storesNumbers(dtype)) {
    const native = allocData(dtype, 0).constructor === values.constructor;
    if (native) return { dtype, shape: [...shape], data: values as unknown as TensorData };
    const out = allocData(dtype, n) as NumberArray;
    if (dtype === 'bool') for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
    else out.set(values);
    return { dtype, shape: [...shape], data: out };
  }
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const conv = dtype === 'float16' ? floatToHalf : floatToBfloat16;
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = conv(values[i]!);
    return { dtype, shape: [...shape], data: out };
  }
  if (isBigIntDType(dtype)) {
    const out = allocData(dtype, n) as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      out[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    }
    return { dtype, shape: [...shape], data: out };
  }
  throw new Error(`tensorFrom: cannot store numbers as ${dtype}`);
}

/** Elements of a bigint-typed tensor as bigints (numbers converted for other integer dtypes). */
export function bigintsOf(t: Tensor): ArrayLike<bigint> {
  if (isBigIntDType(t.dtype)) return t.data as BigInt64Array;
  return BigInt64Array.from(numbersOf(t), (v) => BigInt(Math.trunc(v)));
}

/** A new tensor of `dtype` and `shape` (zero-filled). */
export function emptyTensor(dtype: DType, shape: readonly number[]): Tensor {
  return { dtype, shape: [...shape], data: allocData(dtype, shapeSize(shape)) };
}

/** Row-major strides of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** The numpy broadcast of `shapes`, or null when they are incompatible. */
export function broadcastShapes(shapes: readonly (readonly number[])[]): number[] | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) out[off + i] = d;
      else return null;
    }
  }
  return out;
}

/**
 * For each element of `outShape` (row-major), the index of the element of an input of shape
 * `inShape` that numpy broadcasting reads. Null when the shapes are equal (identity map).
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array | null {
  if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return null;
  const off = outShape.length - inShape.length;
  const inStrides = stridesOf(inShape);
  // Stride of each output axis in the input (0 where the input is broadcast).
  return stridedIndex(
    outShape,
    outShape.map((_, a) => (a < off || inShape[a - off] === 1 ? 0 : inStrides[a - off]!)),
  );
}

/**
 * The source index of every element of `outShape` (row-major) when output axis `a` advances the
 * source by `strides[a]` from `base`: transposes, slices and broadcasts are all such maps.
 */
export function stridedIndex(outShape: readonly number[], strides: readonly number[], base = 0): Int32Array {
  const n = shapeSize(outShape);
  const idx = new Int32Array(n);
  if (n === 0) return idx;
  const rank = outShape.length;
  if (rank === 0) {
    idx[0] = base;
    return idx;
  }
  const counter = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const inner = outShape[last]!;
  const innerStride = strides[last]!;
  let off = base;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0; j < inner; j++) idx[o + j] = off + j * innerStride;
    // Advance the odometer over the outer axes.
    for (let a = last - 1; a >= 0; a--) {
      off += strides[a]!;
      if (++counter[a]! < outShape[a]!) break;
      off -= strides[a]! * outShape[a]!;
      counter[a] = 0;
    }
  }
  return idx;
}

/** Copies elements `src[map[i]]` (or `src[i]` when map is null) into a new array of `dtype`. */
export function gatherElements(dtype: DType, src: TensorData, map: Int32Array | null, n: number): TensorData {
  const out = allocData(dtype, n);
  if (!map) {
    if (Array.isArray(src)) for (let i = 0; i < n; i++) (out as string[])[i] = src[i]!;
    else (out as Float32Array).set(src as Float32Array);
    return out;
  }
  const o = out as unknown as ElementArray;
  const s = src as unknown as ElementArray;
  for (let i = 0; i < n; i++) o[i] = s[map[i]!];
  return out;
}

/** Product of shape[from..to). */
export function sizeBetween(shape: readonly number[], from: number, to = shape.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}

/** A shape seen as [outer, dim, inner] around `axis` (the layout every axis-wise kernel walks). */
export function axisSplit(shape: readonly number[], axis: number): { outer: number; dim: number; inner: number } {
  return { outer: sizeBetween(shape, 0, axis), dim: shape[axis]!, inner: sizeBetween(shape, axis + 1) };
}

/** Integer elements of a shape-like tensor (int64 or int32) as numbers. */
export function intsOf(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Round half to even, as ONNX Round and the quantization ops require. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds halves up; step back to the even neighbour on exact ties.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
