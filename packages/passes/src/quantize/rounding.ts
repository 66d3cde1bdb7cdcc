/**
 * Integer rounding and saturation shared by the quantization math.
 *
 * Two rounding rules appear in the references we follow: ONNX QuantizeLinear and numpy round
 * half to even (banker's rounding); TFLite's `TfLiteRound` and TensorFlow's `round()` are C
 * `round`, which rounds half away from zero. Using the wrong one moves exact .5 cases by one LSB.
 */

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

/** Round to nearest, ties to even (IEEE roundTiesToEven, numpy.round, std::nearbyint). */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x); // ties go up (towards +inf)
  // A tie that went up to an odd value goes back down to the even neighbour.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Round to nearest, ties away from zero (C `round`, `std::round`). */
export function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** x clamped to [lo, hi]. */
export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
