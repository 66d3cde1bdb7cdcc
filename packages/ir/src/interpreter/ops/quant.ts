/**
 * Quantization kernels with the exact ONNX rules.
 *
 *   QuantizeLinear:    q = saturate(round_half_even(x / scale) + zp)      (x / scale rounded to float32)
 *   DequantizeLinear:  x = float32(q - zp) * scale
 *   DynamicQuantizeLinear: scale = (max(0, max x) - min(0, min x)) / 255,
 *                      zp = saturate(round_half_even(-min / scale)), then QuantizeLinear to uint8
 *   MatMulInteger / ConvInteger: int32 = sum (a - a_zp)(b - b_zp), exact
 *   QLinearMatMul / QLinearConv: the same integer accumulation (plus an int32 bias for the
 *                      convolution), requantized as saturate(round_half_even(acc * M) + y_zp) with
 *                      M = a_scale * b_scale / y_scale in float32, as onnxruntime computes it.
 *
 * Scale and zero point are per tensor (one element), per axis (1-D along `axis`) or blocked (same
 * rank as x, `block_size` elements of x along `axis` per parameter). Integer accumulation runs in
 * float64, exact while |sum| < 2^53 (8- and 16-bit products summed over any realistic K).
 */
import { integerRange, type DType } from '../../dtype.js';
import { shapeSize, type Tensor } from '../../tensor.js';
import { numberBuffer, numbersOf, roundHalfEven, sizeBetween, stridesOf, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { convGeometry, convolve } from './conv.js';
import { dtypeAttr } from './elementwise.js';
import { matmulOrFail } from './matmul.js';

const QUANT_DTYPES: readonly DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32'];

/**
 * For each element of x, the index of its quantization parameter: 0 for per-tensor, the
 * coordinate along `axis` for per-axis, and that coordinate divided by `blockSize` for blocked.
 */
function paramIndex(ctx: KernelContext, xShape: readonly number[], param: Tensor, axisAttr: number, blockSize: number, field: string): Int32Array | null {
  const count = shapeSize(param.shape);
  if (count === 1 && param.shape.length <= 1 && blockSize === 0) return null;
  const rank = xShape.length;
  const axis = ctx.axis(axisAttr, rank);
  const n = shapeSize(xShape);
  const idx = new Int32Array(n);
  if (blockSize === 0 || param.shape.length === 1) {
    if (param.shape.length !== 1 || count !== xShape[axis]) {
      throw ctx.error(`shape [${param.shape.join(',')}] is not per-tensor or per-axis for axis ${axis} of [${xShape.join(',')}]`, field);
    }
    const inner = sizeBetween(xShape, axis + 1);
    const dim = xShape[axis]!;
    for (let i = 0; i < n; i++) idx[i] = Math.floor(i / inner) % dim;
    return idx;
  }
  // Blocked: param shape equals x's shape except ceil(dim / blockSize) along axis.
  const ok = param.shape.length === rank && param.shape.every((d, a) => (a === axis ? d === Math.ceil(xShape[a]! / blockSize) : d === xShape[a]));
  if (!ok) throw ctx.error(`shape [${param.shape.join(',')}] does not block [${xShape.join(',')}] by ${blockSize} on axis ${axis}`, field);
  const xs = stridesOf(xShape);
  const ps = stridesOf(param.shape);
  for (let i = 0; i < n; i++) {
    let r = i;
    let off = 0;
    for (let a = 0; a < rank; a++) {
      const c = Math.floor(r / xs[a]!);
      r -= c * xs[a]!;
      off += (a === axis ? Math.floor(c / blockSize) : c) * ps[a]!;
    }
    idx[i] = off;
  }
  return idx;
}

/** Scale and zero point of element i of x (inputs 1 and 2 of the Q/DQ ops; no zero point means 0). */
function quantParams(ctx: KernelContext, x: Tensor, scale: Tensor, zp: Tensor | null): { scaleAt: (i: number) => number; zeroPointAt: (i: number) => number } {
  const axis = ctx.int('axis', 1);
  const block = ctx.int('block_size', 0);
  const si = paramIndex(ctx, x.shape, scale, axis, block, 'input 1');
  const zi = zp ? paramIndex(ctx, x.shape, zp, axis, block, 'input 2') : null;
  const sv = numbersOf(scale);
  const zv = zp ? numbersOf(zp) : null;
  return {
    scaleAt: (i) => sv[si ? si[i]! : 0]!,
    zeroPointAt: (i) => (zv ? zv[zi ? zi[i]! : 0]! : 0),
  };
}

function checkQuantDtype(ctx: KernelContext, dtype: DType, field: string): void {
  if (!QUANT_DTYPES.includes(dtype)) throw ctx.unsupported(`quantized type ${dtype} is not supported`, field);
}

/** saturate(round_half_even(v) + zp) into [lo, hi]. */
function quantizeValue(v: number, zp: number, lo: number, hi: number): number {
  const q = roundHalfEven(v) + zp;
  return q < lo ? lo : q > hi ? hi : q;
}

const quantizeLinear: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const scale = ctx.input(inputs, 1);
  const zpT = inputs[2] ?? null;
  const outDtype = zpT ? zpT.dtype : dtypeAttr(ctx, 'output_dtype', 'uint8');
  checkQuantDtype(ctx, outDtype, zpT ? 'input 2' : 'attribute output_dtype');
  const { scaleAt, zeroPointAt } = quantParams(ctx, x, scale, zpT);
  const xv = numbersOf(x);
  const [lo, hi] = integerRange(outDtype);
  const n = xv.length;
  const out = numberBuffer(outDtype, n);
  const toScaleType = scale.dtype === 'float32' ? Math.fround : (v: number) => v;
  for (let i = 0; i < n; i++) {
    out[i] = quantizeValue(toScaleType(xv[i]! / scaleAt(i)), zeroPointAt(i), lo, hi);
  }
  return [tensorFrom(outDtype, x.shape, out)];
};

const dequantizeLinear: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const scale = ctx.input(inputs, 1);
  const zpT = inputs[2] ?? null;
  checkQuantDtype(ctx, x.dtype, 'input 0');
  if (zpT && zpT.dtype !== x.dtype) throw ctx.error(`zero point dtype ${zpT.dtype} differs from input ${x.dtype}`, 'input 2');
  const { scaleAt, zeroPointAt } = quantParams(ctx, x, scale, zpT);
  const xv = numbersOf(x);
  const n = xv.length;
  const out = numberBuffer(scale.dtype, n);
  // q - zp is an exact integer; converting it to float32 first matches the reference for int32 inputs.
  const toFloat = scale.dtype === 'float32' ? Math.fround : (v: number) => v;
  for (let i = 0; i < n; i++) {
    out[i] = toFloat(xv[i]! - zeroPointAt(i)) * scaleAt(i);
  }
  return [tensorFrom(scale.dtype, x.shape, out)];
};

const dynamicQuantizeLinear: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const xv = numbersOf(x);
  let min = 0;
  let max = 0;
  for (let i = 0; i < xv.length; i++) {
    const v = xv[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const f = Math.fround;
  const scale = f(f(max - min) / 255);
  const zp = scale === 0 ? 0 : quantizeValue(f(f(0 - min) / scale), 0, 0, 255);
  const out = new Uint8Array(xv.length);
  for (let i = 0; i < xv.length; i++) out[i] = scale === 0 ? zp : quantizeValue(f(xv[i]! / scale), zp, 0, 255);
  return [
    { dtype: 'uint8', shape: [...x.shape], data: out },
    tensorFrom('float32', [], [scale]),
    tensorFrom('uint8', [], [zp]),
  ];
};

/**
 * x - zp as float64, where zp is per tensor or indexed by `zpIndex(i)` (per row / column /
 * channel). Missing zp means 0.
 */
function shifted(x: Tensor, zp: Tensor | null, zpIndex: (i: number) => number): Float64Array {
  const xv = numbersOf(x);
  const out = new Float64Array(xv.length);
  if (!zp) {
    out.set(xv);
    return out;
  }
  const zv = numbersOf(zp);
  const perTensor = zv.length === 1;
  for (let i = 0; i < xv.length; i++) out[i] = xv[i]! - zv[perTensor ? 0 : zpIndex(i)]!;
  return out;
}

/** Integer matmul of (a - a_zp)(b - b_zp): a_zp per tensor or per row, b_zp per tensor or per column. */
function integerMatmul(ctx: KernelContext, a: Tensor, aZp: Tensor | null, b: Tensor, bZp: Tensor | null) {
  const k = a.shape[a.shape.length - 1]!;
  const m = a.shape.length >= 2 ? a.shape[a.shape.length - 2]! : 1;
  const n = b.shape[b.shape.length - 1]!;
  const av = shifted(a, aZp, (i) => Math.floor(i / k) % m);
  const bv = shifted(b, bZp, (i) => i % n);
  return matmulOrFail(ctx, av, a.shape, bv, b.shape);
}

const matMulInteger: Kernel = (ctx, inputs) => {
  const r = integerMatmul(ctx, ctx.input(inputs, 0), inputs[2] ?? null, ctx.input(inputs, 1), inputs[3] ?? null);
  return [tensorFrom('int32', r.shape, r.data)];
};

/** Requantizes int accumulators: y = saturate(round(acc * M) + y_zp), M per output column/channel. */
function requantize(acc: Float64Array, multiplier: (i: number) => number, yZp: Tensor | null, outDtype: DType): ArrayLike<number> {
  const [lo, hi] = integerRange(outDtype);
  const zp = yZp ? numbersOf(yZp)[0]! : 0;
  const out = numberBuffer(outDtype, acc.length);
  for (let i = 0; i < acc.length; i++) out[i] = quantizeValue(Math.fround(acc[i]! * multiplier(i)), zp, lo, hi);
  return out;
}

/** Float32 multipliers M[j] = a_scale * b_scale[j] / y_scale (b_scale per tensor or per column/channel). */
function multipliers(aScale: Tensor, bScale: Tensor, yScale: Tensor): Float64Array {
  const f = Math.fround;
  const as = numbersOf(aScale)[0]!;
  const ys = numbersOf(yScale)[0]!;
  return Float64Array.from(numbersOf(bScale), (bs) => f(f(as * bs) / ys));
}

const qlinearMatMul: Kernel = (ctx, inputs) => {
  const [a, aScale, aZp, b, bScale, bZp, yScale] = [0, 1, 2, 3, 4, 5, 6].map((i) => ctx.input(inputs, i)) as Tensor[];
  const yZp = inputs[7] ?? null;
  const outDtype = yZp?.dtype ?? 'uint8';
  checkQuantDtype(ctx, outDtype, 'input 7');
  if (numbersOf(aScale!).length !== 1) throw ctx.unsupported('per-row a_scale is not supported', 'input 1');
  const r = integerMatmul(ctx, a!, aZp!, b!, bZp!);
  const ms = multipliers(aScale!, bScale!, yScale!);
  const n = r.shape[r.shape.length - 1] ?? 1;
  const perColumn = ms.length > 1;
  return [tensorFrom(outDtype, r.shape, requantize(r.data, (i) => ms[perColumn ? i % n : 0]!, yZp, outDtype))];
};

/** Integer convolution of (x - x_zp) and (w - w_zp[m]) plus an optional int32 bias. */
function integerConv(ctx: KernelContext, x: Tensor, xZp: Tensor | null, w: Tensor, wZp: Tensor | null, bias: Tensor | null) {
  const geo = convGeometry(ctx, x.shape, w.shape);
  const perChannel = sizeBetween(w.shape, 1);
  const xs = shifted(x, xZp, () => 0);
  const ws = shifted(w, wZp, (i) => Math.floor(i / perChannel));
  return { geo, acc: convolve(geo, xs, ws, bias ? numbersOf(bias) : null) };
}

const convInteger: Kernel = (ctx, inputs) => {
  const { geo, acc } = integerConv(ctx, ctx.input(inputs, 0), inputs[2] ?? null, ctx.input(inputs, 1), inputs[3] ?? null, null);
  return [tensorFrom('int32', [geo.batch, geo.outChannels, ...geo.window.out], acc)];
};

const qlinearConv: Kernel = (ctx, inputs) => {
  const [x, xScale, xZp, w, wScale, wZp, yScale] = [0, 1, 2, 3, 4, 5, 6].map((i) => ctx.input(inputs, i)) as Tensor[];
  const yZp = inputs[7] ?? null;
  const outDtype = yZp?.dtype ?? 'uint8';
  checkQuantDtype(ctx, outDtype, 'input 7');
  const { geo, acc } = integerConv(ctx, x!, xZp!, w!, wZp!, inputs[8] ?? null);
  const ms = multipliers(xScale!, wScale!, yScale!);
  const plane = shapeSize(geo.window.out);
  const perChannel = ms.length > 1;
  const out = requantize(acc, (i) => ms[perChannel ? Math.floor(i / plane) % geo.outChannels : 0]!, yZp, outDtype);
  return [tensorFrom(outDtype, [geo.batch, geo.outChannels, ...geo.window.out], out)];
};

export const quantKernels: Record<string, Kernel> = {
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  MatMulInteger: matMulInteger,
  ConvInteger: convInteger,
  QLinearMatMul: qlinearMatMul,
  QLinearConv: qlinearConv,
};
