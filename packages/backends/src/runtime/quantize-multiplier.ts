/**
 * Real requantization multipliers as the kernels take them: M ~= multiplier * 2^(shift - 31),
 * multiplier in [2^30, 2^31) (TFLite `QuantizeMultiplier`, frexp-based; see slimc_kernels.h).
 * Same encoding as `quantizeMultiplier` in @slimc/passes (fixed-point.ts), which backends cannot
 * import because passes depends on backends.
 */
import { SlimcError } from '@slimc/ir';

const TWO_POW_31 = 2147483648;

/** Encodes M > 0; reals below 2^-32 (which map every int32 to 0) give { 0, 0 }. */
export function encodeMultiplier(real: number): { multiplier: number; shift: number } {
  if (!(real > 0) || !Number.isFinite(real)) {
    throw new SlimcError('invalid-argument', `real multiplier must be finite and > 0, got ${real}`, { field: 'multiplier' });
  }
  // frexp: real = fraction * 2^exponent, fraction in [0.5, 1); division by a power of two is exact
  let exponent = Math.floor(Math.log2(real)) + 1;
  let fraction = real / 2 ** exponent;
  while (fraction >= 1) (fraction /= 2), exponent++;
  while (fraction < 0.5) (fraction *= 2), exponent--;
  let multiplier = Math.round(fraction * TWO_POW_31);
  let shift = exponent;
  if (multiplier === TWO_POW_31) {
    multiplier /= 2;
    shift++;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  if (shift > 30) {
    throw new SlimcError('unsupported', `real multiplier ${real} needs a left shift above 30`, { field: 'multiplier' });
  }
  return { multiplier, shift };
}

/** One encoded multiplier per real. */
export function encodeMultipliers(reals: ArrayLike<number>): { multipliers: Int32Array; shifts: Int32Array } {
  const multipliers = new Int32Array(reals.length);
  const shifts = new Int32Array(reals.length);
  for (let i = 0; i < reals.length; i++) {
    const q = encodeMultiplier(reals[i]!);
    multipliers[i] = q.multiplier;
    shifts[i] = q.shift;
  }
  return { multipliers, shifts };
}
