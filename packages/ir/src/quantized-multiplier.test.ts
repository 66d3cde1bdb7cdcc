import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { dequantizeMultiplier, quantizeMultiplier, quantizeMultipliers } from './quantized-multiplier.js';

describe('quantizeMultiplier', () => {
  it('encodes the extremes of the double range without looping', () => {
    // MAX_VALUE = (1 - 2^-53) · 2^1024: the mantissa rounds up to 2^31 and carries into the shift.
    expect(quantizeMultiplier(Number.MAX_VALUE)).toEqual({ multiplier: 2 ** 30, shift: 1025 });
    expect(quantizeMultiplier(Number.MIN_VALUE)).toEqual({ multiplier: 0, shift: 0 });
  });

  it('refuses a shift above maxShift, naming the multiplier', () => {
    expect(quantizeMultiplier(2 ** 29, { maxShift: 30 })).toEqual({ multiplier: 2 ** 30, shift: 30 });
    expect(() => quantizeMultiplier(2 ** 30, { maxShift: 30 })).toThrow(/left shift above 30/);
    expect(() => quantizeMultipliers([0.5, 2 ** 31], { maxShift: 30 })).toThrow(/multiplier 2147483648/);
  });

  test.prop([fc.double({ min: 2 ** -32, max: 2 ** 300, noNaN: true })])('mantissa in [2^30, 2^31) within 2^-31 relative', (real) => {
    const q = quantizeMultiplier(real);
    expect(q.multiplier).toBeGreaterThanOrEqual(2 ** 30);
    expect(q.multiplier).toBeLessThan(2 ** 31);
    expect(Math.abs(dequantizeMultiplier(q) - real) / real).toBeLessThanOrEqual(2 ** -31);
  });
});
