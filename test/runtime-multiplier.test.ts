/**
 * The runtime encodes requantization multipliers with the kernels' shift limit; within it the
 * encoding must be the one @slimc/passes' fixed-point math uses (both are @slimc/ir's
 * quantizeMultiplier), and the kernels' scalar multiply must agree with the TypeScript reference on it.
 */
import { expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { KernelLibrary, encodeMultiplier } from '@slimc/backends';
import { multiplyByQuantizedMultiplier, quantizeMultiplier } from '@slimc/passes';

const library = KernelLibrary.loadSync();
const arbReal = fc.double({ min: 2 ** -40, max: 2 ** 29, noNaN: true, noDefaultInfinity: true }).filter((r) => r > 0);

test.prop([arbReal])('encodeMultiplier equals quantizeMultiplier', (real) => {
  expect(encodeMultiplier(real)).toEqual(quantizeMultiplier(real));
});

test.prop([arbReal, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })])('kernel and TypeScript MBQM agree', (real, x) => {
  const { multiplier, shift } = encodeMultiplier(real);
  expect(library.multiplyByQuantizedMultiplier(x, multiplier, shift)).toBe(multiplyByQuantizedMultiplier(x, multiplier, shift));
});
