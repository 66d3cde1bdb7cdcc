/**
 * Quantization parameters (scale, zero point) and the linear quantize / dequantize of tensors,
 * following ONNX Runtime's quantizer (onnxruntime/python/tools/quantization/quant_utils.py) and
 * the ONNX QuantizeLinear / DequantizeLinear semantics:
 *
 *   q = saturate(roundHalfToEven(x / scale) + zeroPoint)        x ≈ (q - zeroPoint) · scale
 *
 * Choosing parameters for a real range [min, max] on the integer range [qmin, qmax]:
 *  1. widen the range to include 0 (min ← min(min, 0), max ← max(max, 0)), so that 0 — padding,
 *     ReLU output, zero bias — is exactly representable;
 *  2. symmetric: min, max ← -absmax, +absmax;
 *  3. scale = (max - min) / (qmax - qmin), computed in float64 and stored as float32;
 *  4. zeroPoint = symmetric ? roundHalfToEven((qmin + qmax) / 2)   (0 for int8, 128 for uint8)
 *                           : roundHalfToEven(qmin - min / scale)   (using the float64 scale);
 *  5. a degenerate range (scale below the smallest normal float32) gets scale 1; its zero point is
 *     the symmetric midpoint when symmetric (ORT uses 0 there; the midpoint keeps every channel of
 *     a symmetric per-channel tensor on the same zero point) and 0 otherwise (clamped into range).
 *
 * Integer ranges (ORT's `get_qmin_qmax_for_qType`, extended to 16 bits the same way):
 *   uint8 [0, 255]      reduceRange [0, 127]
 *   int8  [-128, 127]   symmetric [-127, 127]        reduceRange [-64, 64]
 *   uint16 [0, 65535]   reduceRange [0, 32767]
 *   int16 [-32768, 32767] symmetric [-32767, 32767] reduceRange [-16384, 16384]
 * Symmetric signed ranges drop the lowest code ([-127, 127]) so that the range is symmetric about
 * the zero point 0 and -absmax is representable; this is `narrowRange`, which defaults to
 * `symmetric` for signed types and may be set explicitly (for unsigned types it drops code 0, as
 * TensorFlow's narrow_range does). reduceRange uses one bit less, which avoids the int16
 * overflow of u8·s8 pair sums in x86 VPMADDUBSW kernels.
 */
import { SlimcError } from '@slimc/ir';
import { channelLayoutOf } from './channel-layout.js';
import type { QuantizedArray } from './fixed-point.js';
import { INT32_MAX, INT32_MIN, clamp, roundHalfToEven } from './rounding.js';

export type QuantDType = 'int8' | 'uint8' | 'int16' | 'uint16';
/** Element types a tensor can be quantized to (int32 for biases). */
export type QuantizedDType = QuantDType | 'int32';

export interface QuantRangeOptions {
  dtype: QuantDType;
  /** Zero point in the middle of the integer range and a range symmetric about 0. */
  symmetric?: boolean;
  /** Use one bit less than the type holds (7 bits for 8-bit types). */
  reduceRange?: boolean;
  /** Drop the lowest code (signed: -128 → [-127, 127]; unsigned: 0 → [1, 255]). Default: symmetric && signed. */
  narrowRange?: boolean;
}

export interface QuantParams {
  dtype: QuantizedDType;
  scale: number;
  zeroPoint: number;
}

export interface PerChannelQuantParams {
  dtype: QuantizedDType;
  /** The channel axis of the tensor's shape. */
  axis: number;
  scales: Float32Array;
  zeroPoints: Int32Array;
}

const SMALLEST_NORMAL_FLOAT32 = 2 ** -126;

const TYPE_RANGE: Record<QuantizedDType, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [INT32_MIN, INT32_MAX],
};

/** The integer range [qmin, qmax] the options allow (see the module comment's table). */
export function quantizedRange(options: QuantRangeOptions): [qmin: number, qmax: number] {
  const { dtype, symmetric = false, reduceRange = false } = options;
  const range = TYPE_RANGE[dtype];
  if (!range || dtype === ('int32' as string)) {
    throw new SlimcError('invalid-argument', `cannot choose parameters for dtype ${dtype}`, { field: 'dtype' });
  }
  const signed = range[0] < 0;
  const narrowRange = options.narrowRange ?? (symmetric && signed);
  const bits = dtype.endsWith('8') ? 8 : 16;
  if (reduceRange) {
    // One bit less; a reduced signed range is symmetric ([-64, 64]) as in ORT.
    return signed ? [-(2 ** (bits - 2)), 2 ** (bits - 2)] : [narrowRange ? 1 : 0, 2 ** (bits - 1) - 1];
  }
  return [range[0] + (narrowRange ? 1 : 0), range[1]];
}

/** Scale and zero point for the real range [min, max] (see the module comment for the rules). */
export function chooseQuantParams(options: QuantRangeOptions & { min: number; max: number }): QuantParams {
  const { min, max, dtype, symmetric = false } = options;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new SlimcError('invalid-argument', `invalid real range [${min}, ${max}]`, { field: 'range' });
  }
  const [qmin, qmax] = quantizedRange(options);
  let rmin = Math.min(min, 0);
  let rmax = Math.max(max, 0);
  if (symmetric) {
    const absmax = Math.max(-rmin, rmax);
    rmin = -absmax;
    rmax = absmax;
  }
  const scale = (rmax - rmin) / (qmax - qmin);
  const midpoint = roundHalfToEven((qmin + qmax) / 2);
  if (scale < SMALLEST_NORMAL_FLOAT32) {
    return { dtype, scale: 1, zeroPoint: symmetric ? midpoint : clamp(0, qmin, qmax) };
  }
  const zeroPoint = symmetric ? midpoint : clamp(roundHalfToEven(qmin - rmin / scale), qmin, qmax);
  return { dtype, scale: Math.fround(scale), zeroPoint };
}

/** The [min, max] of a tensor's values (NaN ignored; [0, 0] when empty). */
export function valueRange(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min > max ? { min: 0, max: 0 } : { min, max };
}

/** Per-tensor parameters from the values' own range (e.g. for weights). */
export function chooseQuantParamsForValues(values: ArrayLike<number>, options: QuantRangeOptions): QuantParams {
  return chooseQuantParams({ ...options, ...valueRange(values) });
}

/** Per-channel parameters: one scale and zero point per index of `axis`, from that slice's range. */
export function chooseQuantParamsPerChannel(
  values: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
  options: QuantRangeOptions,
): PerChannelQuantParams {
  const { outer, channels, inner } = channelLayoutOf(shape, axis, values.length);
  const mins = new Float64Array(channels).fill(Infinity);
  const maxs = new Float64Array(channels).fill(-Infinity);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let lo = mins[c]!;
      let hi = maxs[c]!;
      for (let k = 0; k < inner; k++, i++) {
        const v = values[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      mins[c] = lo;
      maxs[c] = hi;
    }
  }
  const scales = new Float32Array(channels);
  const zeroPoints = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const empty = mins[c]! > maxs[c]!;
    const p = chooseQuantParams({ ...options, min: empty ? 0 : mins[c]!, max: empty ? 0 : maxs[c]! });
    scales[c] = p.scale;
    zeroPoints[c] = p.zeroPoint;
  }
  return { dtype: options.dtype, axis: axis < 0 ? axis + shape.length : axis, scales, zeroPoints };
}

function allocQuantized(dtype: QuantizedDType, n: number): QuantizedArray {
  switch (dtype) {
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
      return new Uint8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'int32':
      return new Int32Array(n);
  }
}

/** Iterates (scale, zeroPoint, element range) runs of a per-tensor or per-channel parameter set. */
function forEachRun(
  params: QuantParams | PerChannelQuantParams,
  shape: readonly number[],
  length: number,
  visit: (scale: number, zeroPoint: number, start: number, end: number) => void,
): void {
  if ('scale' in params) {
    if (!(params.scale > 0) || !Number.isFinite(params.scale)) {
      throw new SlimcError('invalid-argument', `scale must be finite and > 0, got ${params.scale}`, { field: 'scale' });
    }
    visit(params.scale, params.zeroPoint, 0, length);
    return;
  }
  const { outer, channels, inner } = channelLayoutOf(shape, params.axis, length);
  if (params.scales.length !== channels || params.zeroPoints.length !== channels) {
    throw new SlimcError('invalid-argument', `expected ${channels} scales and zero points for axis ${params.axis}`, { field: 'scales' });
  }
  params.scales.forEach((s, c) => {
    if (!(s > 0) || !Number.isFinite(s)) throw new SlimcError('invalid-argument', `channel ${c} scale must be finite and > 0, got ${s}`, { field: 'scales' });
  });
  let start = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++, start += inner) visit(params.scales[c]!, params.zeroPoints[c]!, start, start + inner);
  }
}

/**
 * ONNX QuantizeLinear: q = saturate(roundHalfToEven(x / scale) + zeroPoint), with the division
 * rounded to float32 as ONNX Runtime computes it. NaN maps to the zero point.
 */
export function quantizeTensor(values: ArrayLike<number>, shape: readonly number[], params: QuantParams | PerChannelQuantParams): QuantizedArray {
  const out = allocQuantized(params.dtype, values.length);
  const [lo, hi] = TYPE_RANGE[params.dtype];
  forEachRun(params, shape, values.length, (scale, zeroPoint, start, end) => {
    for (let i = start; i < end; i++) {
      const scaled = Math.fround(values[i]! / scale);
      out[i] = Number.isNaN(scaled) ? zeroPoint : clamp(roundHalfToEven(scaled) + zeroPoint, lo, hi);
    }
  });
  return out;
}

/** ONNX DequantizeLinear: x = (q - zeroPoint) · scale, in float32. */
export function dequantizeTensor(q: QuantizedArray, shape: readonly number[], params: QuantParams | PerChannelQuantParams): Float32Array {
  const out = new Float32Array(q.length);
  forEachRun(params, shape, q.length, (scale, zeroPoint, start, end) => {
    for (let i = start; i < end; i++) out[i] = (q[i]! - zeroPoint) * scale;
  });
  return out;
}

/**
 * Bias of a quantized Conv / Gemm / MatMul, quantized to int32 with zero point 0 and
 * scale_c = inputScale · weightScale_c (float32), so it adds straight into the int32 accumulator
 * whose real scale is the same product. `weightScale` is a number (per-tensor weights) or one
 * scale per output channel (bias element c ↔ weight channel c). Values beyond int32 saturate.
 */
export function quantizeBias(bias: ArrayLike<number>, inputScale: number, weightScale: number | ArrayLike<number>): { data: Int32Array; params: PerChannelQuantParams } {
  const channels = bias.length;
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const w = typeof weightScale === 'number' ? weightScale : weightScale[c];
    if (w === undefined) {
      throw new SlimcError('invalid-argument', `bias has ${channels} elements but ${(weightScale as ArrayLike<number>).length} weight scales`, { field: 'weight scales' });
    }
    scales[c] = Math.fround(inputScale * w);
    if (!(scales[c]! > 0)) {
      throw new SlimcError('invalid-argument', `bias scale of channel ${c} is ${scales[c]} (input scale ${inputScale} × weight scale ${w})`, { field: 'bias scale' });
    }
  }
  if (typeof weightScale !== 'number' && weightScale.length !== channels) {
    throw new SlimcError('invalid-argument', `bias has ${channels} elements but ${weightScale.length} weight scales`, { field: 'weight scales' });
  }
  const params: PerChannelQuantParams = { dtype: 'int32', axis: 0, scales, zeroPoints: new Int32Array(channels) };
  return { data: quantizeTensor(bias, [channels], params) as Int32Array, params };
}
