import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  dequantizeMultiplier,
  floatToRangeQuantized,
  multiplyByQuantizedMultiplier,
  quantizeDownAndShrinkRange,
  quantizeMultiplier,
  rangeQuantizedToFloat,
  requantize,
  requantizeRange,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
} from './fixed-point.js';
import { INT32_MAX, INT32_MIN, roundHalfAwayFromZero } from './rounding.js';

// ---- exact gemmlowp reference, written literally in BigInt ----

const B_INT32_MIN = BigInt(INT32_MIN);
const B_INT32_MAX = BigInt(INT32_MAX);

function srdhmReference(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n)); // BigInt division truncates like C
}

function rdbpotReference(x: number, exponent: number): number {
  const bx = BigInt(x);
  const mask = (1n << BigInt(exponent)) - 1n;
  const remainder = bx & mask;
  const threshold = (mask >> 1n) + (bx < 0n ? 1n : 0n);
  return Number((bx >> BigInt(exponent)) + (remainder > threshold ? 1n : 0n));
}

function mbqmReference(x: number, multiplier: number, shift: number): number {
  let shifted = BigInt(x) << BigInt(Math.max(shift, 0));
  if (shifted > B_INT32_MAX) shifted = B_INT32_MAX;
  if (shifted < B_INT32_MIN) shifted = B_INT32_MIN;
  return rdbpotReference(srdhmReference(Number(shifted), multiplier), Math.max(-shift, 0));
}

// ---- arbitraries ----

const int32 = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: INT32_MIN, max: INT32_MAX }) },
  { weight: 1, arbitrary: fc.constantFrom(INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX, 1 << 30, -(1 << 30)) },
  { weight: 1, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
);
/** Real multipliers log-uniform over [2^-31, 2^31], plus edges (exact powers of two, carry cases). */
const realMultiplier = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -31, max: 31, noNaN: true }).map((e) => 2 ** e) },
  { weight: 1, arbitrary: fc.integer({ min: -31, max: 30 }).map((e) => 2 ** e) },
  { weight: 1, arbitrary: fc.integer({ min: -31, max: 30 }).map((e) => 2 ** e * (1 - 2 ** -40)) },
);

describe('quantizeMultiplier', () => {
  it('encodes exact powers of two and handles the rounding carry', () => {
    expect(quantizeMultiplier(1)).toEqual({ multiplier: 2 ** 30, shift: 1 });
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 2 ** 30, shift: 0 });
    expect(quantizeMultiplier(0.75)).toEqual({ multiplier: 3 * 2 ** 29, shift: 0 });
    // q·2^31 rounds up to 2^31: the mantissa halves and the shift grows.
    expect(quantizeMultiplier(1 - 2 ** -40)).toEqual({ multiplier: 2 ** 30, shift: 1 });
  });

  it('maps reals below 2^-32 to a zero multiplier and keeps 2^-32 itself', () => {
    expect(quantizeMultiplier(2 ** -32)).toEqual({ multiplier: 2 ** 30, shift: -31 });
    expect(quantizeMultiplier(2 ** -32 * 0.99)).toEqual({ multiplier: 0, shift: 0 });
    expect(quantizeMultiplier(1e-300)).toEqual({ multiplier: 0, shift: 0 });
    for (const x of [INT32_MIN, INT32_MAX, 12345]) expect(multiplyByQuantizedMultiplier(x, 0, 0)).toBe(0);
  });

  it('rejects non-positive and non-finite reals', () => {
    for (const bad of [0, -1, NaN, Infinity]) expect(() => quantizeMultiplier(bad)).toThrow(/finite and > 0/);
  });

  test.prop([realMultiplier])('multiplier is Q31 in [2^30, 2^31) and within 2^-31 relative of the real', (real) => {
    const q = quantizeMultiplier(real);
    expect(q.multiplier).toBeGreaterThanOrEqual(2 ** 30);
    expect(q.multiplier).toBeLessThan(2 ** 31);
    expect(Math.abs(dequantizeMultiplier(q) - real) / real).toBeLessThanOrEqual(2 ** -31);
  });
});

describe('gemmlowp primitives', () => {
  test.prop([int32, int32], { numRuns: 3000 })('saturatingRoundingDoublingHighMul equals the BigInt reference bit for bit', (a, b) => {
    expect(saturatingRoundingDoublingHighMul(a, b)).toBe(srdhmReference(a, b));
  });

  test.prop([int32, fc.integer({ min: 0, max: 31 })], { numRuns: 3000 })('roundingDivideByPOT equals the BigInt reference bit for bit', (x, e) => {
    expect(roundingDivideByPOT(x, e)).toBe(rdbpotReference(x, e));
  });

  test.prop([int32, fc.integer({ min: 1, max: 31 })])('roundingDivideByPOT rounds x / 2^e to nearest, ties away from zero', (x, e) => {
    const half = 1n << BigInt(e - 1);
    const magnitude = (BigInt(Math.abs(x)) + half) >> BigInt(e);
    expect(roundingDivideByPOT(x, e)).toBe(Number(x < 0 ? -magnitude : magnitude));
  });

  it('saturates the single overflow case and rounds ties up', () => {
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN)).toBe(INT32_MAX);
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MAX)).toBe(-INT32_MAX);
    // a·b = ±2^30 is exactly ±0.5 after the division by 2^31.
    expect(saturatingRoundingDoublingHighMul(1 << 15, 1 << 15)).toBe(1);
    expect(saturatingRoundingDoublingHighMul(-(1 << 15), 1 << 15)).toBe(0);
  });

  it('rejects right shifts outside [0, 31]', () => {
    expect(() => roundingDivideByPOT(5, 32)).toThrow(/\[0, 31\]/);
    expect(() => roundingDivideByPOT(5, -1)).toThrow(/\[0, 31\]/);
  });

  test.prop([int32, realMultiplier], { numRuns: 3000 })('multiplyByQuantizedMultiplier equals the BigInt reference bit for bit', (x, real) => {
    const { multiplier, shift } = quantizeMultiplier(real);
    expect(multiplyByQuantizedMultiplier(x, multiplier, shift)).toBe(mbqmReference(x, multiplier, shift));
  });
});

describe('requantize', () => {
  const outputTypes = fc.constantFrom('int8', 'uint8', 'int16', 'uint16');
  const makeOut = (t: string, n: number) =>
    t === 'int8' ? new Int8Array(n) : t === 'uint8' ? new Uint8Array(n) : t === 'int16' ? new Int16Array(n) : new Uint16Array(n);

  test.prop([fc.array(int32, { minLength: 1, maxLength: 64 }), realMultiplier, outputTypes, fc.integer({ min: -200, max: 200 })], { numRuns: 1000 })(
    'equals the float reference clamp(zp + round(x·M)) within 1 LSB',
    (xs, real, type, zpOffset) => {
      const acc = Int32Array.from(xs);
      const out = makeOut(type, acc.length);
      const lo = type === 'int8' ? -128 : type === 'int16' ? -32768 : 0;
      const hi = type === 'int8' ? 127 : type === 'uint8' ? 255 : type === 'int16' ? 32767 : 65535;
      const zeroPoint = Math.min(hi, Math.max(lo, Math.round((lo + hi) / 2) + zpOffset));
      requantize(acc, out, { ...quantizeMultiplier(real), zeroPoint });
      for (let i = 0; i < acc.length; i++) {
        const expected = Math.min(hi, Math.max(lo, zeroPoint + Math.round(acc[i]! * real)));
        expect(Math.abs(out[i]! - expected)).toBeLessThanOrEqual(1);
      }
    },
  );

  test.prop([int32, realMultiplier], { numRuns: 2000 })('int32 output is within 1 LSB plus the Q31 mantissa error', (x, real) => {
    const out = requantize(Int32Array.of(x), new Int32Array(1), { ...quantizeMultiplier(real), zeroPoint: 0 });
    const exact = x * real;
    const expected = Math.min(INT32_MAX, Math.max(INT32_MIN, Math.round(exact)));
    if (Math.abs(exact) < 2 ** 30) {
      expect(Math.abs(out[0]! - expected)).toBeLessThanOrEqual(1 + Math.abs(exact) * 2 ** -30);
    } else {
      // Beyond 2^30 the saturating left shift only guarantees the sign and magnitude ≥ 2^30.
      expect(Math.sign(out[0]!)).toBe(Math.sign(exact));
      expect(Math.abs(out[0]!)).toBeGreaterThanOrEqual(2 ** 30 - 1);
    }
  });

  it('applies per-channel multipliers along an axis and the clamp bounds', () => {
    // Shape [2, 3, 2], channel axis 1 with real multipliers 0.5, 1, 2.
    const shape = [2, 3, 2];
    const acc = Int32Array.from({ length: 12 }, (_, i) => (i % 5) * 10 - 20);
    const reals = [0.5, 1, 2];
    const qs = reals.map(quantizeMultiplier);
    const out = requantize(acc, new Int8Array(12), {
      multiplier: qs.map((q) => q.multiplier),
      shift: qs.map((q) => q.shift),
      zeroPoint: 3,
      min: -10,
      shape,
      perChannelAxis: 1,
    });
    for (let i = 0; i < 12; i++) {
      const channel = Math.floor(i / 2) % 3;
      const expected = Math.max(-10, 3 + roundHalfAwayFromZero(acc[i]! * reals[channel]!));
      expect(out[i]).toBe(expected);
    }
  });

  it('reports mismatched per-channel arguments', () => {
    const acc = new Int32Array(6);
    expect(() => requantize(acc, new Int8Array(6), { multiplier: [1, 2], shift: 0, zeroPoint: 0, shape: [2, 3], perChannelAxis: 1 })).toThrow(
      /expected 3 values/,
    );
    expect(() => requantize(acc, new Int8Array(6), { multiplier: 1, shift: 0, zeroPoint: 0, shape: [2, 3], perChannelAxis: 2 })).toThrow(/out of range/);
    expect(() => requantize(acc, new Int8Array(5), { multiplier: 1, shift: 0, zeroPoint: 0 })).toThrow(/elements/);
  });
});

describe('TensorFlow range requantization', () => {
  it('maps the ends of a grid to the ends of its range, with the minimum snapped so zero is on the grid', () => {
    const step = 4 / 255;
    expect(Math.abs(rangeQuantizedToFloat(0, -1, 3, 'uint8') + 1)).toBeLessThanOrEqual(step / 2);
    expect(Math.abs(rangeQuantizedToFloat(255, -1, 3, 'uint8') - 3)).toBeLessThanOrEqual(step / 2);
    expect(Math.abs(rangeQuantizedToFloat(floatToRangeQuantized(0, -1, 3, 'uint8'), -1, 3, 'uint8'))).toBeLessThan(1e-6);
    expect(floatToRangeQuantized(-1, -1, 3, 'uint8')).toBe(0);
    expect(floatToRangeQuantized(3, -1, 3, 'uint8')).toBe(255);
    expect(floatToRangeQuantized(100, -1, 3, 'int8')).toBe(127);
    expect(floatToRangeQuantized(-100, -1, 3, 'int8')).toBe(-128);
  });

  // Float data placed on an int32 grid spanning a much wider range than the data needs.
  const floats = [-0.75, -0.5, 0, 0.1, 0.25, 1.5, 2];
  const inputMin = -64;
  const inputMax = 64;
  const grid = Int32Array.from(floats, (f) => floatToRangeQuantized(f, inputMin, inputMax, 'int32'));

  it('QuantizeDownAndShrinkRange (dynamic) shrinks to the data range and keeps resolution', () => {
    const r = quantizeDownAndShrinkRange(grid, inputMin, inputMax, 'uint8');
    expect(r.min).toBeCloseTo(-0.75, 6);
    expect(r.max).toBeCloseTo(2, 6);
    const step = (r.max - r.min) / 255;
    floats.forEach((f, i) => {
      expect(Math.abs(rangeQuantizedToFloat(r.output[i]!, r.min, r.max, 'uint8') - f)).toBeLessThanOrEqual(step / 2 + 1e-6);
    });
    expect(r.output[0]).toBe(0);
    expect(r.output[floats.length - 1]).toBe(255);
  });

  it('QuantizeDownAndShrinkRange of no data is an empty tensor on [0, 0]', () => {
    const r = quantizeDownAndShrinkRange(new Int32Array(0), inputMin, inputMax, 'uint8');
    expect([r.output.length, r.min, r.max]).toEqual([0, 0, 0]);
  });

  it('QuantizeDownAndShrinkRange keeps the minimum ≤ 0 for all-positive data', () => {
    const positive = Int32Array.from([0.5, 1, 3], (f) => floatToRangeQuantized(f, inputMin, inputMax, 'int32'));
    const r = quantizeDownAndShrinkRange(positive, inputMin, inputMax, 'uint8');
    expect(r.min).toBe(0);
    expect(r.max).toBeCloseTo(3, 6);
  });

  it('QuantizeDownAndShrinkRange (static) uses the calibrated range and saturates outliers', () => {
    const r = quantizeDownAndShrinkRange(grid, inputMin, inputMax, 'int8', { min: -0.5, max: 1 });
    expect(r.min).toBe(-0.5);
    expect(r.max).toBe(1);
    expect(r.output[0]).toBe(-128); // -0.75 below the calibrated minimum
    expect(r.output[floats.length - 1]).toBe(127); // 2 above the maximum
    expect(Math.abs(rangeQuantizedToFloat(r.output[3]!, r.min, r.max, 'int8') - 0.1)).toBeLessThanOrEqual(1.5 / 255 / 2 + 1e-6);
  });

  it('Requantize uses the requested range and validates it', () => {
    const r = requantizeRange(grid, inputMin, inputMax, -0.75, 1.25, 'uint8');
    expect([r.min, r.max]).toEqual([-0.75, 1.25]);
    expect(r.output[floats.length - 1]).toBe(255);
    const step = 2 / 255;
    floats.slice(0, 5).forEach((f, i) => { // the values inside the requested range
      expect(Math.abs(rangeQuantizedToFloat(r.output[i]!, r.min, r.max, 'uint8') - f)).toBeLessThanOrEqual(step / 2 + 1e-6);
    });
    expect(() => requantizeRange(grid, inputMin, inputMax, 0.5, 1, 'uint8')).toThrow(/must be ≤ 0/);
    expect(() => requantizeRange(grid, inputMin, inputMax, 0, -1, 'uint8')).toThrow(/invalid range/);
  });
});
