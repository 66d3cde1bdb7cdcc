/**
 * Fixed-point requantization (the gemmlowp / TFLite scheme) and TensorFlow's range-based
 * requantize ops.
 *
 * An int8 kernel accumulates `acc = Σ (x_q - x_zp)(w_q - w_zp)` in int32; the real value of the
 * accumulator is `acc · s_x · s_w`, and the output wants `y_q = y_zp + acc · (s_x · s_w / s_y)`.
 * The real ratio M = s_x·s_w/s_y is stored as a Q31 int32 `multiplier` in [2^30, 2^31) and a
 * power-of-two `shift`, M ≈ multiplier · 2^(shift - 31), so that the kernel needs only integer
 * arithmetic:
 *
 *   y = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc · 2^max(shift,0), multiplier),
 *                           max(-shift, 0))
 *
 * (TFLite's "double rounding" MultiplyByQuantizedMultiplier.) The result differs from the real
 * round(acc · M) by at most one LSB: the Q31 multiplier is accurate to 2^-31 relative, and the
 * high-mul and the final shift each round to nearest.
 *
 * Deviations from the C reference, both where C has undefined or wrapping behaviour:
 *  - the left shift saturates to int32 instead of overflowing, so a result whose true value is
 *    beyond ±2^31 still comes out with the right sign and a magnitude ≥ 2^30, and any clamp to an
 *    output type of up to 31 bits gives the saturated value;
 *  - `quantizeMultiplier` accepts reals ≥ 2^31 (shift > 31): every non-zero input then saturates,
 *    which is also what the exact product would do.
 *
 * JS numbers hold integers exactly only up to 2^53, but an int32 × int32 product needs 62 bits.
 * The high-mul below recovers the exact product from two cheap pieces: the low 32 bits from
 * `Math.imul` (exact modulo 2^32) and the high bits from the double product, whose error (≤ 2^9)
 * is far below 2^32, so rounding (a·b - low) / 2^32 gives the exact high word.
 */
import { SlimcError } from '@slimc/ir';
// The multiplier encoding is shared with the runtime, which cannot import passes.
export { type QuantizedMultiplier, dequantizeMultiplier, quantizeMultiplier, quantizeMultipliers } from '@slimc/ir';
import { type ChannelLayout, channelLayoutOf, valuesPerChannel } from './channel-layout.js';
import { INT32_MAX, INT32_MIN, clamp, roundHalfAwayFromZero } from './rounding.js';

const TWO_POW_30 = 1073741824;
const TWO_POW_31 = 2147483648;
const TWO_POW_32 = 4294967296;
const TWO_POW_52 = 4503599627370496;

/**
 * gemmlowp `SaturatingRoundingDoublingHighMul`: the high 32 bits of 2·a·b, i.e. a·b / 2^31
 * rounded to nearest via a nudge of 2^30 (or 1 - 2^30 for a negative product) and a truncating
 * division, so ties round up (towards +inf) on both signs. The only overflow, a = b = -2^31,
 * saturates to 2^31 - 1. Exact for all int32 a, b.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  const product = a * b;
  const nudge = product < 0 ? 1 - TWO_POW_30 : TWO_POW_30;
  // Below 2^52 the product and the nudged product are exact doubles: divide and truncate directly.
  if (product < TWO_POW_52 && product > -TWO_POW_52) return Math.trunc((product + nudge) / TWO_POW_31) | 0; // | 0: no -0
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  // a·b = high · 2^32 + low exactly, low in [0, 2^32).
  const low = Math.imul(a, b) >>> 0;
  const high = Math.round((product - low) / TWO_POW_32);
  // (a·b + nudge) / 2^31 = 2·high + (low + nudge) / 2^31; the division truncates towards zero,
  // which is floor for a non-negative product and ceil for a negative one.
  const rest = (low + nudge) / TWO_POW_31;
  return 2 * high + (product < 0 ? Math.ceil(rest) : Math.floor(rest));
}

/** 2^exponent - 1 for exponent in [0, 31]: the bits a right shift by `exponent` drops. */
function lowBitsMask(exponent: number): number {
  return exponent === 31 ? 0x7fffffff : (1 << exponent) - 1;
}

/** `roundingDivideByPOT` without the argument check; `mask` = lowBitsMask(exponent), hoisted by loops. */
function roundingShiftRight(x: number, exponent: number, mask: number): number {
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + ((x & mask) > threshold ? 1 : 0);
}

/**
 * gemmlowp `RoundingDivideByPOT`: x / 2^exponent rounded to nearest, ties away from zero.
 * Exact for all int32 x and exponent in [0, 31].
 */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (!(exponent >= 0 && exponent <= 31)) {
    throw new SlimcError('invalid-argument', `right shift must be in [0, 31], got ${exponent}`, { field: 'shift' });
  }
  return roundingShiftRight(x, exponent, lowBitsMask(exponent));
}

/** x · 2^shift for shift > 0, saturated to int32. */
function saturatingShiftLeft(x: number, shift: number): number {
  return clamp(x * 2 ** shift, INT32_MIN, INT32_MAX);
}

/**
 * TFLite `MultiplyByQuantizedMultiplier` (double rounding): round(x · multiplier · 2^(shift-31))
 * within one LSB, with the left shift saturating to int32 (see the module comment).
 * Requires shift ≥ -31 (as produced by `quantizeMultiplier`).
 */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  if (shift > 0) return saturatingRoundingDoublingHighMul(saturatingShiftLeft(x, shift), multiplier);
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(x, multiplier), -shift);
}

// ---- vectorized requantize ----

export type QuantizedArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

export interface RequantizeOptions {
  /** Q31 multiplier: one for the whole tensor, or one per channel along `perChannelAxis`. */
  multiplier: number | ArrayLike<number>;
  /** Shift matching `multiplier` (same length when per channel). */
  shift: number | ArrayLike<number>;
  /** Zero point of the output. */
  zeroPoint: number;
  /** Clamp bounds in the quantized domain (defaults: the output array's type range); a fused ReLU narrows them. */
  min?: number;
  max?: number;
  /** Shape of `acc`; required with `perChannelAxis`. */
  shape?: readonly number[];
  /** Axis of `shape` that indexes the per-channel multipliers. */
  perChannelAxis?: number;
}

/** Inclusive value range of a quantized typed array's element type. */
export function quantizedArrayRange(out: QuantizedArray): [number, number] {
  if (out instanceof Int8Array) return [-128, 127];
  if (out instanceof Uint8Array) return [0, 255];
  if (out instanceof Int16Array) return [-32768, 32767];
  if (out instanceof Uint16Array) return [0, 65535];
  return [INT32_MIN, INT32_MAX];
}

/**
 * out[i] = clamp(zeroPoint + MultiplyByQuantizedMultiplier(acc[i], multiplier[c], shift[c]), min, max)
 * where c is element i's channel (or the single multiplier per tensor). Returns `out`.
 */
export function requantize<T extends QuantizedArray>(acc: Int32Array, out: T, options: RequantizeOptions): T {
  if (out.length !== acc.length) {
    throw new SlimcError('invalid-argument', `output has ${out.length} elements, accumulator ${acc.length}`, { field: 'out' });
  }
  const [typeMin, typeMax] = quantizedArrayRange(out);
  const lo = Math.max(options.min ?? typeMin, typeMin);
  const hi = Math.min(options.max ?? typeMax, typeMax);
  if (lo > hi) throw new SlimcError('invalid-argument', `empty clamp range [${lo}, ${hi}]`, { field: 'min/max' });
  const zp = options.zeroPoint;
  let layout: ChannelLayout = { outer: 1, channels: 1, inner: acc.length };
  if (options.perChannelAxis !== undefined) {
    if (!options.shape) throw new SlimcError('invalid-argument', 'per-channel requantize needs the shape', { field: 'shape' });
    layout = channelLayoutOf(options.shape, options.perChannelAxis, acc.length, 'perChannelAxis');
  }
  const multipliers = valuesPerChannel(options.multiplier, layout.channels, 'multiplier');
  const shifts = valuesPerChannel(options.shift, layout.channels, 'shift');
  for (let c = 0; c < layout.channels; c++) {
    const s = shifts[c]!;
    if (!Number.isInteger(s) || s < -31) throw new SlimcError('invalid-argument', `shift must be an integer ≥ -31, got ${s}`, { field: 'shift' });
  }
  // multiplyByQuantizedMultiplier with the per-channel constants hoisted out of the element loop.
  let i = 0;
  for (let o = 0; o < layout.outer; o++) {
    for (let c = 0; c < layout.channels; c++) {
      const m = multipliers[c]!;
      const s = shifts[c]!;
      const end = i + layout.inner;
      if (s > 0) {
        for (; i < end; i++) {
          const v = zp + saturatingRoundingDoublingHighMul(saturatingShiftLeft(acc[i]!, s), m);
          out[i] = v < lo ? lo : v > hi ? hi : v;
        }
      } else {
        const mask = lowBitsMask(-s);
        for (; i < end; i++) {
          const v = zp + roundingShiftRight(saturatingRoundingDoublingHighMul(acc[i]!, m), -s, mask);
          out[i] = v < lo ? lo : v > hi ? hi : v;
        }
      }
    }
  }
  return out;
}

// ---- TensorFlow's range-based requantization (QuantizeDownAndShrinkRange, Requantize) ----

/**
 * TensorFlow represents a quantized tensor as integers plus a float range [min, max] such that
 * the type's lowest value stands for min and its highest for max (2^bits - 1 steps). These follow
 * the reference (non-Eigen) kernels in tensorflow/core/kernels/quantization_utils.h.
 */
export type RangeQuantizedType = 'int8' | 'uint8';

const RANGE_TYPES: Record<RangeQuantizedType | 'int32', { bits: number; lowest: number; highest: number }> = {
  int8: { bits: 8, lowest: -128, highest: 127 },
  uint8: { bits: 8, lowest: 0, highest: 255 },
  int32: { bits: 32, lowest: INT32_MIN, highest: INT32_MAX },
};

/** TF `QuantizedToFloat`: the float a grid value stands for (float32 result). */
export function rangeQuantizedToFloat(q: number, rangeMin: number, rangeMax: number, type: RangeQuantizedType | 'int32'): number {
  if (rangeMin === rangeMax) return rangeMin;
  const { bits, lowest } = RANGE_TYPES[type];
  const steps = 2 ** bits;
  const rangeScale = ((rangeMax - rangeMin) * (steps / (steps - 1))) / steps;
  // TF rounds the minimum with the step size narrowed to float32, for agreement with its Eigen path.
  const stepF32 = Math.fround(rangeScale);
  const rangeMinRounded = roundHalfAwayFromZero(rangeMin / stepF32) * stepF32;
  return Math.fround(rangeMinRounded + (q - lowest) * rangeScale);
}

/** TF `FloatToQuantized`: the nearest grid value of `type` for `x`, clamped to the type. */
export function floatToRangeQuantized(x: number, rangeMin: number, rangeMax: number, type: RangeQuantizedType | 'int32'): number {
  const { bits, lowest, highest } = RANGE_TYPES[type];
  if (rangeMin === rangeMax) return lowest;
  const steps = 2 ** bits;
  const rangeScale = steps / ((rangeMax - rangeMin) * (steps / (steps - 1)));
  const q = roundHalfAwayFromZero(x * rangeScale) - roundHalfAwayFromZero(rangeMin * rangeScale) + lowest;
  return clamp(q, lowest, highest);
}

export interface RangeQuantized {
  output: Int8Array | Uint8Array;
  /** The float range of the output grid. */
  min: number;
  max: number;
}

function checkRange(min: number, max: number, field: string): void {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new SlimcError('invalid-argument', `invalid range [${min}, ${max}]`, { field });
  }
}

function requantizeIntoRange(input: Int32Array, inputMin: number, inputMax: number, outMin: number, outMax: number, outType: RangeQuantizedType): Int8Array | Uint8Array {
  const output = outType === 'int8' ? new Int8Array(input.length) : new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const x = rangeQuantizedToFloat(input[i]!, inputMin, inputMax, 'int32');
    output[i] = floatToRangeQuantized(x, outMin, outMax, outType);
  }
  return output;
}

/**
 * TF `Requantize`: re-expresses int32 data whose grid spans [inputMin, inputMax] on an 8-bit grid
 * spanning the requested [requestedMin, requestedMax] (values outside saturate).
 * Pre (as in TF): requestedMin ≤ 0 and requestedMin ≤ requestedMax.
 */
export function requantizeRange(
  input: Int32Array,
  inputMin: number,
  inputMax: number,
  requestedMin: number,
  requestedMax: number,
  outType: RangeQuantizedType,
): RangeQuantized {
  checkRange(inputMin, inputMax, 'input range');
  checkRange(requestedMin, requestedMax, 'requested output range');
  if (requestedMin > 0) {
    throw new SlimcError('invalid-argument', `requested output minimum must be ≤ 0, got ${requestedMin}`, { field: 'requested output range' });
  }
  const min = Math.fround(requestedMin);
  const max = Math.fround(requestedMax);
  return { output: requantizeIntoRange(input, inputMin, inputMax, min, max, outType), min, max };
}

/**
 * TF `QuantizeDownAndShrinkRange`: narrows int32 data (grid spanning [inputMin, inputMax]) to
 * 8 bits, using only the range the data actually covers so no output code is wasted.
 *
 * Dynamic (no `calibrated`): the new range is [min(0, float(min q)), float(max q)] over the data —
 * the minimum is kept ≤ 0, as TF does, so that zero stays exactly representable.
 * Static (`calibrated` given, e.g. from a calibration run): that range is used instead (also with
 * its minimum kept ≤ 0 and maximum ≥ 0), and data outside it saturates.
 */
export function quantizeDownAndShrinkRange(
  input: Int32Array,
  inputMin: number,
  inputMax: number,
  outType: RangeQuantizedType,
  calibrated?: { min: number; max: number },
): RangeQuantized {
  checkRange(inputMin, inputMax, 'input range');
  let min: number;
  let max: number;
  if (calibrated) {
    checkRange(calibrated.min, calibrated.max, 'calibrated range');
    min = Math.fround(Math.min(0, calibrated.min));
    max = Math.fround(Math.max(0, calibrated.max));
  } else if (input.length === 0) {
    // No data to shrink to (TF would report the type's extremes swapped); the empty range is [0, 0].
    min = 0;
    max = 0;
  } else {
    let qMin = INT32_MAX;
    let qMax = INT32_MIN;
    for (let i = 0; i < input.length; i++) {
      const q = input[i]!;
      if (q < qMin) qMin = q;
      if (q > qMax) qMax = q;
    }
    min = Math.min(0, rangeQuantizedToFloat(qMin, inputMin, inputMax, 'int32'));
    max = rangeQuantizedToFloat(qMax, inputMin, inputMax, 'int32');
  }
  return { output: requantizeIntoRange(input, inputMin, inputMax, min, max, outType), min, max };
}
