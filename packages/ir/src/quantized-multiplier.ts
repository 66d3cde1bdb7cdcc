/**
 * Real requantization multipliers in fixed point (TFLite `QuantizeMultiplier`): M ≈ multiplier ·
 * 2^(shift - 31), with `multiplier` a Q31 int32 mantissa in [2^30, 2^31) and `shift` a power-of-two
 * exponent. The passes' requantize math and the runtime's kernels take this one encoding, so it
 * lives here, below both.
 *
 *   M = fraction · 2^exponent, fraction in [0.5, 1)        (frexp)
 *   multiplier = round(fraction · 2^31), shift = exponent  (half away from zero)
 *   multiplier = 2^31 after rounding  ->  2^30, shift + 1  (the carry)
 *
 * Range: any finite M > 0. Below 2^-32 the shift would be < -31, which a 32-bit right shift cannot
 * express; the result is then { multiplier: 0, shift: 0 }, which maps every int32 to 0 — the
 * correctly rounded result, since |x · M| < 2^31 · 2^-32 = 0.5. Above, `maxShift` says how large a
 * left shift the consumer takes (the kernels: 30); unbounded by default, where reals ≥ 2^31 give
 * shift > 31 and every non-zero input saturates.
 */
import { SlimcError } from './errors.js';

const TWO_POW_31 = 2147483648;

/** A real multiplier M ≈ multiplier · 2^(shift - 31), multiplier a Q31 int32. */
export interface QuantizedMultiplier {
  /** Q31 fixed-point mantissa in [2^30, 2^31), or 0 when M is too small to matter. */
  multiplier: number;
  /** Power-of-two exponent: positive shifts left before the high-mul, negative rounds right after it. */
  shift: number;
}

export interface QuantizeMultiplierOptions {
  /** Largest shift the consumer supports; a real needing more is an error. */
  maxShift?: number;
}

/** frexp for finite x > 0: x = fraction · 2^exponent with fraction in [0.5, 1). */
function frexp(x: number): [fraction: number, exponent: number] {
  // log2 can be off by one near powers of two (it is 1024 for the largest doubles, and 2^1024 is
  // Infinity, hence the cap and the division in two steps); division by a power of two is exact,
  // so the loops fix the estimate up.
  let exponent = Math.min(Math.floor(Math.log2(x)), 1023) + 1;
  let fraction = x / 2 ** (exponent - 1) / 2;
  while (fraction >= 1) {
    fraction /= 2;
    exponent++;
  }
  while (fraction < 0.5) {
    fraction *= 2;
    exponent--;
  }
  return [fraction, exponent];
}

/** Encodes a real multiplier M > 0 as a Q31 mantissa and a shift (see the module comment). */
export function quantizeMultiplier(real: number, options: QuantizeMultiplierOptions = {}): QuantizedMultiplier {
  if (!(real > 0) || !Number.isFinite(real)) {
    throw new SlimcError('invalid-argument', `real multiplier must be finite and > 0, got ${real}`, { field: 'multiplier' });
  }
  if (real < 2 ** -33) return { multiplier: 0, shift: 0 }; // far below the representable range
  const [fraction, exponent] = frexp(real);
  let multiplier = Math.round(fraction * TWO_POW_31); // positive, so Math.round is round-half-away
  let shift = exponent;
  if (multiplier === TWO_POW_31) {
    multiplier /= 2;
    shift++;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  if (options.maxShift !== undefined && shift > options.maxShift) {
    throw new SlimcError('unsupported', `real multiplier ${real} needs a left shift above ${options.maxShift}`, { field: 'multiplier' });
  }
  return { multiplier, shift };
}

/** `quantizeMultiplier` for each real (one per channel). */
export function quantizeMultipliers(reals: ArrayLike<number>, options: QuantizeMultiplierOptions = {}): { multipliers: Int32Array; shifts: Int32Array } {
  const multipliers = new Int32Array(reals.length);
  const shifts = new Int32Array(reals.length);
  for (let c = 0; c < reals.length; c++) {
    const q = quantizeMultiplier(reals[c]!, options);
    multipliers[c] = q.multiplier;
    shifts[c] = q.shift;
  }
  return { multipliers, shifts };
}

/** The real value a quantized multiplier stands for: multiplier · 2^(shift - 31). */
export function dequantizeMultiplier(q: QuantizedMultiplier): number {
  return q.multiplier * 2 ** (q.shift - 31);
}
