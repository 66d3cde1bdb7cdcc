/**
 * Real requantization multipliers as the kernels take them: M ~= multiplier * 2^(shift - 31),
 * multiplier in [2^30, 2^31) (`quantizeMultiplier` in @slimc/ir; see slimc_kernels.h), with the
 * kernels' limit on the left shift.
 */
import { type QuantizeMultiplierOptions, type QuantizedMultiplier, quantizeMultiplier, quantizeMultipliers } from '@slimc/ir';

/** The kernels shift left by at most 30 bits (a larger shift saturates every non-zero input). */
const KERNEL_LIMITS: QuantizeMultiplierOptions = { maxShift: 30 };

/** Encodes M > 0; reals below 2^-32 (which map every int32 to 0) give { 0, 0 }. */
export function encodeMultiplier(real: number): QuantizedMultiplier {
  return quantizeMultiplier(real, KERNEL_LIMITS);
}

/** One encoded multiplier per real. */
export function encodeMultipliers(reals: ArrayLike<number>): { multipliers: Int32Array; shifts: Int32Array } {
  return quantizeMultipliers(reals, KERNEL_LIMITS);
}
