/**
 * Shape and data-movement kernels: Constant, Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
 * Transpose, Concat, Split, Slice, Gather(Elements/ND), Expand, Tile, Pad, ConstantOfShape, Range,
 * DepthToSpace, SpaceToDepth, Trilu, NonZero, OneHot, EyeLike, ScatterElements, ScatterND.
 *
 * Data movement copies elements of any dtype (strings and int64 included) without conversion.
 * Where an op moved attributes to inputs (Slice at 10, Pad at 11, Squeeze/Unsqueeze/Split at 13),
 * the node's opset decides which form is read.
 */
import { allocData, type DType, type TensorData } from '../../dtype.js';
import { makeTensor, shapeSize, type Tensor } from '../../tensor.js';
import {
  axisSplit,
  broadcastIndex,
  broadcastShapes,
  emptyTensor,
  gatherElements,
  intsOf,
  numbersOf,
  sizeBetween,
  stridedIndex,
  stridesOf,
  type ElementArray,
} from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { dtypeAttr } from './elementwise.js';

/** The same data under a new shape (no copy: tensors are immutable). */
export function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  return { dtype: t.dtype, shape: [...shape], data: t.data };
}

/** Copies `len` elements from src[srcOff..] to dst[dstOff..] (typed arrays or string arrays). */
export function copyRange(dst: TensorData, dstOff: number, src: TensorData, srcOff: number, len: number): void {
  if (Array.isArray(dst)) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = (src as string[])[srcOff + i]!;
  } else {
    (dst as Float32Array).set((src as Float32Array).subarray(srcOff, srcOff + len), dstOff);
  }
}

/**
 * Source indices for an output whose coordinate on axis `a` reads source coordinate `maps[a][i]`
 * (-1: no source element, e.g. constant padding; the whole index is then -1).
 */
export function axisMapIndex(outShape: readonly number[], maps: readonly Int32Array[], inStrides: readonly number[]): Int32Array {
  const out = new Int32Array(shapeSize(outShape));
  const rank = outShape.length;
  if (rank === 0) return out;
  let p = 0;
  const visit = (a: number, base: number) => {
    const m = maps[a]!;
    const s = inStrides[a]!;
    if (a === rank - 1) {
      for (let i = 0; i < m.length; i++) {
        const c = m[i]!;
        out[p++] = base < 0 || c < 0 ? -1 : base + c * s;
      }
      return;
    }
    for (let i = 0; i < m.length; i++) visit(a + 1, base < 0 || m[i]! < 0 ? -1 : base + m[i]! * s);
  };
  visit(0, 0);
  return out;
}

/** Transposes `t` by `perm` (output axis k is input axis perm[k]). */
export function transpose(t: Tensor, perm: readonly number[]): Tensor {
  const inStrides = stridesOf(t.shape);
  const shape = perm.map((p) => t.shape[p]!);
  const n = shapeSize(shape);
  if (perm.every((p, i) => p === i)) return t;
  const idx = stridedIndex(shape, perm.map((p) => inStrides[p]!));
  return { dtype: t.dtype, shape, data: gatherElements(t.dtype, t.data, idx, n) };
}

/** Concatenates tensors of one dtype along `axis`. */
export function concat(ts: readonly Tensor[], axis: number, dtype: DType = ts[0]!.dtype): Tensor {
  const shape = [...ts[0]!.shape];
  shape[axis] = ts.reduce((s, t) => s + t.shape[axis]!, 0);
  const out = emptyTensor(dtype, shape);
  const outer = sizeBetween(shape, 0, axis);
  const inner = sizeBetween(shape, axis + 1);
  const rowLen = shape[axis]! * inner;
  let col = 0;
  for (const t of ts) {
    const chunk = t.shape[axis]! * inner;
    for (let o = 0; o < outer; o++) copyRange(out.data, o * rowLen + col, t.data, o * chunk, chunk);
    col += chunk;
  }
  return out;
}

/** Splits along `axis` into pieces of the given lengths. */
export function split(t: Tensor, axis: number, lengths: readonly number[]): Tensor[] {
  const outer = sizeBetween(t.shape, 0, axis);
  const inner = sizeBetween(t.shape, axis + 1);
  const rowLen = t.shape[axis]! * inner;
  let col = 0;
  return lengths.map((len) => {
    const shape = [...t.shape];
    shape[axis] = len;
    const out = emptyTensor(t.dtype, shape);
    const chunk = len * inner;
    for (let o = 0; o < outer; o++) copyRange(out.data, o * chunk, t.data, o * rowLen + col, chunk);
    col += chunk;
    return out;
  });
}

function checkAxes(ctx: KernelContext, axes: readonly number[], rank: number, field: string): number[] {
  const out = axes.map((a) => ctx.axis(a, rank, field));
  if (new Set(out).size !== out.length) throw ctx.error(`repeated axis in [${axes.join(',')}]`, field);
  return out;
}

/** Axes from the attribute (before `inputSince`) or from input `index` (since). */
function axesArg(ctx: KernelContext, inputs: readonly (Tensor | null)[], index: number, inputSince: number): number[] | undefined {
  if (ctx.opset < inputSince) {
    const a = ctx.ints('axes');
    return a ? [...a] : undefined;
  }
  const t = inputs[index];
  return t ? intsOf(t) : undefined;
}

const constant: Kernel = (ctx) => {
  const node = ctx.node;
  const value = node.getTensor('value');
  if (value) return [value];
  if (ctx.has('value_float')) return [makeTensor('float32', [], [ctx.float('value_float', 0)])];
  if (ctx.has('value_floats')) return [makeTensor('float32', [ctx.floats('value_floats')!.length], ctx.floats('value_floats')!)];
  if (ctx.has('value_int')) return [makeTensor('int64', [], [BigInt(ctx.int('value_int', 0))])];
  if (ctx.has('value_ints')) {
    const v = ctx.ints('value_ints')!;
    return [makeTensor('int64', [v.length], v.map((x) => BigInt(x)))];
  }
  if (ctx.has('value_string')) return [makeTensor('string', [], [ctx.string('value_string', '')])];
  if (ctx.has('value_strings')) return [makeTensor('string', [ctx.strings('value_strings')!.length], [...ctx.strings('value_strings')!])];
  throw ctx.unsupported('no supported value attribute (sparse_value is not supported)', 'attribute value');
};

const shapeOp: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const rank = x.shape.length;
  const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
  const start = clampAxis(ctx.int('start', 0));
  const end = clampAxis(ctx.int('end', rank));
  const dims = x.shape.slice(start, Math.max(start, end));
  return [makeTensor('int64', [dims.length], dims.map((d) => BigInt(d)))];
};

const reshape: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const requested = ctx.opset < 5 ? [...(ctx.ints('shape') ?? [])] : intsOf(ctx.input(inputs, 1));
  const allowZero = ctx.int('allowzero', 0) === 1;
  const shape = requested.map((d, i) => (d === 0 && !allowZero ? x.shape[i]! : d));
  if (shape.some((d, i) => d === 0 && !allowZero && i >= x.shape.length)) throw ctx.error('0 copies a dim beyond the input rank', 'input 1');
  const inferred = shape.indexOf(-1);
  if (inferred >= 0) {
    if (shape.lastIndexOf(-1) !== inferred) throw ctx.error('more than one -1 in shape', 'input 1');
    const known = shape.reduce((p, d, i) => (i === inferred ? p : p * d), 1);
    shape[inferred] = known === 0 ? 0 : shapeSize(x.shape) / known;
  }
  if (shape.some((d) => d < 0 || !Number.isInteger(d)) || shapeSize(shape) !== shapeSize(x.shape)) {
    throw ctx.error(`cannot reshape [${x.shape.join(',')}] to [${requested.join(',')}]`, 'input 1');
  }
  return [reshaped(x, shape)];
};

const flatten: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const rank = x.shape.length;
  let axis = ctx.int('axis', 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) throw ctx.error(`axis out of range for rank ${rank}`, 'attribute axis');
  return [reshaped(x, [sizeBetween(x.shape, 0, axis), sizeBetween(x.shape, axis)])];
};

const squeeze: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const given = axesArg(ctx, inputs, 1, 13);
  const axes = given ? checkAxes(ctx, given, x.shape.length, 'axes') : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of axes) if (x.shape[a] !== 1) throw ctx.error(`cannot squeeze axis ${a} of size ${x.shape[a]}`, 'axes');
  return [reshaped(x, x.shape.filter((_, i) => !axes.includes(i)))];
};

const unsqueeze: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const given = axesArg(ctx, inputs, 1, 13);
  if (!given) throw ctx.error('missing axes', 'axes');
  const rank = x.shape.length + given.length;
  const axes = checkAxes(ctx, given, rank, 'axes');
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[k++]!);
  return [reshaped(x, shape)];
};

const transposeOp: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const rank = x.shape.length;
  const perm = ctx.ints('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw ctx.error(`perm [${perm.join(',')}] is not a permutation of rank ${rank}`, 'attribute perm');
  }
  return [transpose(x, perm)];
};

const concatOp: Kernel = (ctx, inputs) => {
  const ts = inputs.filter((t): t is Tensor => t !== null);
  if (!ts.length) throw ctx.error('needs at least one input', 'input 0');
  const rank = ts[0]!.shape.length;
  const axis = ctx.axis(ctx.requiredInt('axis'), rank);
  ts.forEach((t, i) => {
    if (t.dtype !== ts[0]!.dtype) throw ctx.error(`dtype ${t.dtype} differs from ${ts[0]!.dtype}`, `input ${i}`);
    if (t.shape.length !== rank || t.shape.some((d, a) => a !== axis && d !== ts[0]!.shape[a])) {
      throw ctx.error(`shape [${t.shape.join(',')}] does not match [${ts[0]!.shape.join(',')}] off axis ${axis}`, `input ${i}`);
    }
  });
  return [concat(ts, axis)];
};

const splitOp: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const axis = ctx.axis(ctx.int('axis', 0), x.shape.length);
  const dim = x.shape[axis]!;
  const count = ctx.node.outputs.length;
  let lengths: number[] | undefined = ctx.opset < 13 ? ctx.ints('split')?.slice() : inputs[1] ? intsOf(inputs[1]) : undefined;
  if (!lengths) {
    const parts = ctx.has('num_outputs') ? ctx.int('num_outputs', count) : count;
    const chunk = Math.ceil(dim / parts);
    if (!ctx.has('num_outputs') && dim % parts !== 0) throw ctx.error(`axis of size ${dim} does not split into ${parts} equal parts`, 'split');
    lengths = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  }
  if (lengths.reduce((a, b) => a + b, 0) !== dim) throw ctx.error(`split lengths [${lengths.join(',')}] do not sum to ${dim}`, 'split');
  return split(x, axis, lengths);
};

/** Slices with per-axis start/end/step already given in the ONNX (unclamped) form. */
function slice(ctx: KernelContext, x: Tensor, starts: number[], ends: number[], axesIn: number[] | undefined, steps: number[] | undefined): Tensor {
  const rank = x.shape.length;
  const axes = checkAxes(ctx, axesIn ?? starts.map((_, i) => i), rank, 'axes');
  const maps = x.shape.map((d) => Int32Array.from({ length: d }, (_, i) => i));
  const shape = [...x.shape];
  axes.forEach((a, k) => {
    const dim = x.shape[a]!;
    const step = steps?.[k] ?? 1;
    if (step === 0) throw ctx.error('step must not be 0', 'steps');
    let start = starts[k]!;
    let end = ends[k]!;
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
      start = Math.min(Math.max(start, 0), dim);
      end = Math.min(Math.max(end, 0), dim);
    } else {
      start = Math.min(Math.max(start, 0), dim - 1);
      end = Math.min(Math.max(end, -1), dim - 1);
    }
    const len = Math.max(0, Math.ceil((end - start) / step));
    shape[a] = len;
    maps[a] = Int32Array.from({ length: len }, (_, i) => start + i * step);
  });
  const idx = axisMapIndex(shape, maps, stridesOf(x.shape));
  return { dtype: x.dtype, shape, data: gatherElements(x.dtype, x.data, idx, idx.length) };
}

const sliceOp: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  if (ctx.opset < 10) {
    const starts = ctx.ints('starts');
    const ends = ctx.ints('ends');
    if (!starts || !ends) throw ctx.error('missing starts/ends', 'attribute starts');
    return [slice(ctx, x, [...starts], [...ends], ctx.ints('axes')?.slice(), undefined)];
  }
  const starts = intsOf(ctx.input(inputs, 1));
  const ends = intsOf(ctx.input(inputs, 2));
  if (starts.length !== ends.length) throw ctx.error('starts and ends differ in length', 'input 2');
  return [slice(ctx, x, starts, ends, inputs[3] ? intsOf(inputs[3]) : undefined, inputs[4] ? intsOf(inputs[4]) : undefined)];
};

/** Index values checked against `dim` with negatives wrapped. */
function normalizedIndices(ctx: KernelContext, t: Tensor, dim: number): number[] {
  return intsOf(t).map((v) => {
    const i = v < 0 ? v + dim : v;
    if (i < 0 || i >= dim) throw ctx.error(`index ${v} out of range for axis of size ${dim}`, 'input 1');
    return i;
  });
}

/** The slices of `x` at coordinates `picks` along `axis`, in that order (Gather, Compress, Unique). */
export function takeAlongAxis(x: Tensor, axis: number, picks: readonly number[]): Tensor {
  const { outer, dim, inner } = axisSplit(x.shape, axis);
  const out = emptyTensor(x.dtype, x.shape.map((d, a) => (a === axis ? picks.length : d)));
  let p = 0;
  for (let o = 0; o < outer; o++) {
    for (const k of picks) {
      copyRange(out.data, p, x.data, (o * dim + k) * inner, inner);
      p += inner;
    }
  }
  return out;
}

const gather: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const indices = ctx.input(inputs, 1);
  const axis = ctx.axis(ctx.int('axis', 0), x.shape.length);
  const taken = takeAlongAxis(x, axis, normalizedIndices(ctx, indices, x.shape[axis]!));
  return [reshaped(taken, [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)])];
};

const gatherElementsOp: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const indices = ctx.input(inputs, 1);
  const rank = x.shape.length;
  const axis = ctx.axis(ctx.int('axis', 0), rank);
  const idx = normalizedIndices(ctx, indices, x.shape[axis]!);
  const xs = stridesOf(x.shape);
  const n = idx.length;
  const map = new Int32Array(n);
  const coordStrides = stridesOf(indices.shape);
  for (let i = 0; i < n; i++) {
    let off = 0;
    let r = i;
    for (let a = 0; a < rank; a++) {
      const c = Math.floor(r / coordStrides[a]!);
      r -= c * coordStrides[a]!;
      off += (a === axis ? idx[i]! : c) * xs[a]!;
    }
    map[i] = off;
  }
  return [{ dtype: x.dtype, shape: [...indices.shape], data: gatherElements(x.dtype, x.data, map, n) }];
};

const scatterElements: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const indices = ctx.input(inputs, 1);
  const updates = ctx.input(inputs, 2);
  const rank = x.shape.length;
  const axis = ctx.axis(ctx.int('axis', 0), rank);
  const reduction = ctx.string('reduction', 'none');
  const idx = normalizedIndices(ctx, indices, x.shape[axis]!);
  const out = { dtype: x.dtype, shape: [...x.shape], data: gatherElements(x.dtype, x.data, null, x.data.length) };
  const xs = stridesOf(x.shape);
  const is = stridesOf(indices.shape);
  const od = out.data as unknown as ElementArray;
  const ud = updates.data as unknown as ElementArray;
  for (let i = 0; i < idx.length; i++) {
    let off = 0;
    let r = i;
    for (let a = 0; a < rank; a++) {
      const c = Math.floor(r / is[a]!);
      r -= c * is[a]!;
      off += (a === axis ? idx[i]! : c) * xs[a]!;
    }
    od[off] = reduce(reduction, od[off], ud[i], ctx);
  }
  return [out];
};

function reduce(reduction: string, old: unknown, v: unknown, ctx: KernelContext): unknown {
  const a = old as number;
  const b = v as number;
  switch (reduction) {
    case 'none':
      return v;
    case 'add':
      return a + b;
    case 'mul':
      return a * b;
    case 'max':
      return a > b ? a : b;
    case 'min':
      return a < b ? a : b;
    default:
      throw ctx.error(`unknown reduction ${reduction}`, 'attribute reduction');
  }
}

const gatherND: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const indices = ctx.input(inputs, 1);
  const b = ctx.int('batch_dims', 0);
  const q = indices.shape.length;
  const k = indices.shape[q - 1]!;
  const idx = intsOf(indices);
  const batch = sizeBetween(x.shape, 0, b);
  const sliceShape = x.shape.slice(b + k);
  const sliceSize = shapeSize(sliceShape);
  const xs = stridesOf(x.shape);
  const perBatch = sizeBetween(indices.shape, b, q - 1);
  const shape = [...indices.shape.slice(0, q - 1), ...sliceShape];
  const out = emptyTensor(x.dtype, shape);
  const batchStride = b > 0 ? xs[b - 1]! : 0;
  let p = 0;
  for (let bi = 0; bi < batch; bi++) {
    for (let j = 0; j < perBatch; j++) {
      let off = bi * batchStride;
      for (let t = 0; t < k; t++) {
        let v = idx[(bi * perBatch + j) * k + t]!;
        const dim = x.shape[b + t]!;
        if (v < 0) v += dim;
        if (v < 0 || v >= dim) throw ctx.error(`index out of range for axis of size ${dim}`, 'input 1');
        off += v * xs[b + t]!;
      }
      copyRange(out.data, p, x.data, off, sliceSize);
      p += sliceSize;
    }
  }
  return [out];
};

const scatterND: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const indices = ctx.input(inputs, 1);
  const updates = ctx.input(inputs, 2);
  const reduction = ctx.string('reduction', 'none');
  const q = indices.shape.length;
  const k = indices.shape[q - 1]!;
  const idx = intsOf(indices);
  const xs = stridesOf(x.shape);
  const sliceSize = sizeBetween(x.shape, k);
  const count = sizeBetween(indices.shape, 0, q - 1);
  const out = { dtype: x.dtype, shape: [...x.shape], data: gatherElements(x.dtype, x.data, null, x.data.length) };
  const od = out.data as unknown as ElementArray;
  const ud = updates.data as unknown as ElementArray;
  for (let j = 0; j < count; j++) {
    let off = 0;
    for (let t = 0; t < k; t++) {
      let v = idx[j * k + t]!;
      if (v < 0) v += x.shape[t]!;
      off += v * xs[t]!;
    }
    for (let e = 0; e < sliceSize; e++) od[off + e] = reduce(reduction, od[off + e], ud[j * sliceSize + e], ctx);
  }
  return [out];
};

const expand: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const target = intsOf(ctx.input(inputs, 1));
  const shape = broadcastShapes([x.shape, target]);
  if (!shape) throw ctx.error(`[${x.shape.join(',')}] does not broadcast to [${target.join(',')}]`, 'input 1');
  const n = shapeSize(shape);
  return [{ dtype: x.dtype, shape, data: gatherElements(x.dtype, x.data, broadcastIndex(x.shape, shape), n) }];
};

const tile: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const repeats = intsOf(ctx.input(inputs, 1));
  if (repeats.length !== x.shape.length) throw ctx.error(`repeats has ${repeats.length} entries for rank ${x.shape.length}`, 'input 1');
  const shape = x.shape.map((d, i) => d * repeats[i]!);
  const maps = shape.map((len, a) => Int32Array.from({ length: len }, (_, i) => i % x.shape[a]!));
  const idx = axisMapIndex(shape, maps, stridesOf(x.shape));
  return [{ dtype: x.dtype, shape, data: gatherElements(x.dtype, x.data, idx, idx.length) }];
};

/** Source coordinate of output coordinate `o` on an axis of size `dim` padded by `before`. */
function padSource(mode: string, o: number, dim: number, before: number): number {
  let i = o - before;
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case 'edge':
      return i < 0 ? 0 : dim - 1;
    case 'reflect': {
      if (dim === 1) return 0;
      const period = 2 * (dim - 1);
      i = ((i % period) + period) % period;
      return i < dim ? i : period - i;
    }
    case 'wrap':
      return ((i % dim) + dim) % dim;
    default:
      return -1;
  }
}

const pad: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const rank = x.shape.length;
  const mode = ctx.string('mode', 'constant');
  if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw ctx.error(`unknown mode ${mode}`, 'attribute mode');
  let padsGiven: number[];
  let value: unknown = 0;
  let axes = Array.from({ length: rank }, (_, i) => i);
  if (ctx.opset < 11) {
    padsGiven = [...(ctx.ints(ctx.opset < 2 ? 'paddings' : 'pads') ?? [])];
    value = ctx.float('value', 0);
  } else {
    padsGiven = intsOf(ctx.input(inputs, 1));
    if (inputs[2] && inputs[2].data.length) value = (inputs[2].data as unknown as ElementArray)[0];
    if (inputs[3]) axes = checkAxes(ctx, intsOf(inputs[3]), rank, 'input 3');
  }
  if (padsGiven.length !== 2 * axes.length) throw ctx.error(`expected ${2 * axes.length} pads, got ${padsGiven.length}`, 'pads');
  const before = new Array<number>(rank).fill(0);
  const after = new Array<number>(rank).fill(0);
  axes.forEach((a, k) => {
    before[a] = padsGiven[k]!;
    after[a] = padsGiven[k + axes.length]!;
  });
  const shape = x.shape.map((d, a) => d + before[a]! + after[a]!);
  if (shape.some((d) => d < 0)) throw ctx.error('negative pads remove more than the axis holds', 'pads');
  const maps = shape.map((len, a) => Int32Array.from({ length: len }, (_, o) => padSource(mode, o, x.shape[a]!, before[a]!)));
  const idx = axisMapIndex(shape, maps, stridesOf(x.shape));
  const out = emptyTensor(x.dtype, shape);
  const od = out.data as unknown as ElementArray;
  const xd = x.data as unknown as ElementArray;
  // float16 pad values arrive as bit patterns in a float16 tensor, so copy them raw; attribute values are numbers.
  let fill = value;
  if (ctx.opset < 11 && (x.dtype === 'float16' || x.dtype === 'bfloat16' || x.dtype === 'int64' || x.dtype === 'uint64')) {
    fill = (makeTensor(x.dtype, [1], [value as number]).data as unknown as ElementArray)[0];
  }
  for (let i = 0; i < idx.length; i++) od[i] = idx[i]! >= 0 ? xd[idx[i]!] : fill;
  return [out];
};

const constantOfShape: Kernel = (ctx, inputs) => {
  const shape = intsOf(ctx.input(inputs, 0));
  const value = ctx.node.getTensor('value') ?? makeTensor('float32', [1], [0]);
  const out = emptyTensor(value.dtype, shape);
  const v = (value.data as unknown as ElementArray)[0];
  const od = out.data as unknown as ElementArray;
  for (let i = 0; i < out.data.length; i++) od[i] = v;
  return [out];
};

const range: Kernel = (ctx, inputs) => {
  const start = ctx.input(inputs, 0);
  const dtype = start.dtype;
  const [s, l, d] = [0, 1, 2].map((i) => numbersOf(ctx.input(inputs, i))[0]!) as [number, number, number];
  if (d === 0) throw ctx.error('delta must not be 0', 'input 2');
  const n = Math.max(Math.ceil((l - s) / d), 0);
  if (dtype === 'int64') {
    const bs = (start.data as BigInt64Array)[0]!;
    const bd = (ctx.input(inputs, 2).data as BigInt64Array)[0]!;
    return [makeTensor('int64', [n], Array.from({ length: n }, (_, i) => bs + BigInt(i) * bd))];
  }
  // Accumulate like the reference (start + i*delta in the tensor's precision).
  return [makeTensor(dtype, [n], Array.from({ length: n }, (_, i) => s + i * d))];
};

function depthToSpace(x: Tensor, b: number, crd: boolean): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const cb = c / (b * b);
  const t = crd
    ? transpose(reshaped(x, [n, cb, b, b, h, w]), [0, 1, 4, 2, 5, 3])
    : transpose(reshaped(x, [n, b, b, cb, h, w]), [0, 3, 4, 1, 5, 2]);
  return reshaped(t, [n, cb, h * b, w * b]);
}

const depthToSpaceOp: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const b = ctx.requiredInt('blocksize');
  if (x.shape.length !== 4 || x.shape[1]! % (b * b) !== 0) throw ctx.error(`input [${x.shape.join(',')}] is not NCHW with C divisible by ${b * b}`, 'input 0');
  return [depthToSpace(x, b, ctx.string('mode', 'DCR') === 'CRD')];
};

const spaceToDepth: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const b = ctx.requiredInt('blocksize');
  if (x.shape.length !== 4 || x.shape[2]! % b || x.shape[3]! % b) throw ctx.error(`input [${x.shape.join(',')}] is not NCHW with H, W divisible by ${b}`, 'input 0');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const t = transpose(reshaped(x, [n, c, h / b, b, w / b, b]), [0, 3, 5, 1, 2, 4]);
  return [reshaped(t, [n, c * b * b, h / b, w / b])];
};

const trilu: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const upper = ctx.int('upper', 1) === 1;
  const k = inputs[1] ? intsOf(inputs[1])[0]! : 0;
  const rank = x.shape.length;
  if (rank < 2) throw ctx.error('input must have rank >= 2', 'input 0');
  const rows = x.shape[rank - 2]!;
  const cols = x.shape[rank - 1]!;
  const out = { dtype: x.dtype, shape: [...x.shape], data: gatherElements(x.dtype, x.data, null, x.data.length) };
  const zero = (allocData(x.dtype, 1) as unknown as ElementArray)[0];
  const od = out.data as unknown as ElementArray;
  for (let base = 0; base < od.length; base += rows * cols) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const keep = upper ? j - i >= k : j - i <= k;
        if (!keep) od[base + i * cols + j] = zero;
      }
    }
  }
  return [out];
};

const nonZero: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const v = numbersOf(x);
  const rank = x.shape.length;
  const strides = stridesOf(x.shape);
  const hits: number[] = [];
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) hits.push(i);
  const out = new BigInt64Array(rank * hits.length);
  hits.forEach((flat, j) => {
    let r = flat;
    for (let a = 0; a < rank; a++) {
      const c = Math.floor(r / strides[a]!);
      r -= c * strides[a]!;
      out[a * hits.length + j] = BigInt(c);
    }
  });
  return [{ dtype: 'int64', shape: [rank, hits.length], data: out }];
};

const oneHot: Kernel = (ctx, inputs) => {
  const indices = numbersOf(ctx.input(inputs, 0));
  const ishape = ctx.input(inputs, 0).shape;
  const depth = numbersOf(ctx.input(inputs, 1))[0]!;
  const values = ctx.input(inputs, 2);
  const rank = ishape.length + 1;
  const axis = ctx.axis(ctx.int('axis', -1), rank);
  const shape = [...ishape.slice(0, axis), depth, ...ishape.slice(axis)];
  const out = emptyTensor(values.dtype, shape);
  const vd = values.data as unknown as ElementArray;
  const od = out.data as unknown as ElementArray;
  const outer = sizeBetween(ishape, 0, axis);
  const inner = sizeBetween(ishape, axis);
  for (let o = 0; o < outer; o++) {
    for (let d = 0; d < depth; d++) for (let i = 0; i < inner; i++) od[(o * depth + d) * inner + i] = vd[0];
    for (let i = 0; i < inner; i++) {
      let k = Math.trunc(indices[o * inner + i]!);
      if (k < 0) k += depth;
      if (k >= 0 && k < depth) od[(o * depth + k) * inner + i] = vd[1];
    }
  }
  return [out];
};

const eyeLike: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const dtype = dtypeAttr(ctx, 'dtype', x.dtype);
  const k = ctx.int('k', 0);
  const [rows, cols] = x.shape as [number, number];
  const t = makeTensor(dtype, [rows, cols], Array.from({ length: rows * cols }, (_, i) => (Math.floor(i / cols) + k === i % cols ? 1 : 0)));
  return [t];
};

export const shapeKernels: Record<string, Kernel> = {
  Constant: constant,
  Shape: shapeOp,
  Size: (ctx, inputs) => [makeTensor('int64', [], [BigInt(shapeSize(ctx.input(inputs, 0).shape))])],
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Transpose: transposeOp,
  Concat: concatOp,
  Split: splitOp,
  Slice: sliceOp,
  Gather: gather,
  GatherElements: gatherElementsOp,
  GatherND: gatherND,
  ScatterElements: scatterElements,
  // Scatter (opsets 9-10) is ScatterElements under its old name.
  Scatter: scatterElements,
  ScatterND: scatterND,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  ConstantOfShape: constantOfShape,
  Range: range,
  DepthToSpace: depthToSpaceOp,
  SpaceToDepth: spaceToDepth,
  Trilu: trilu,
  NonZero: nonZero,
  OneHot: oneHot,
  EyeLike: eyeLike,
};
