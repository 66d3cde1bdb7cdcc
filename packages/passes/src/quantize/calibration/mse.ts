/**
 * MSE calibration: the clipping range that minimises the expected squared quantization error
 * over the observed distribution, rounding error and clipping error together.
 *
 * The histogram stands for the distribution with values uniform inside each bin. For a quantizer
 * with step s whose grid is anchored at 0 (x ↦ s·round(x/s)) and clipped to [L, U] (both grid
 * points), the error of a bin [a, b) holding c values is c/(b-a) · ∫_a^b (x - Q(x))² dx, where
 *  - on [L, U]: ∫ (x - s·round(x/s))² = F(b) - F(a), with F(x) = n·s³/12 + (r³ + s³/8)/3,
 *    n = ⌊x/s + ½⌋, r = x - n·s (F sums whole periods of s³/12 plus the partial one);
 *  - above U: ∫ (x - U)² = ((b-U)³ - (a-U)³)/3, and symmetrically below L.
 *
 * Candidates, with `levels` codes (default 128 symmetric: the magnitude side of int8, 256
 * asymmetric), are the observed range scaled by α = k/K, k = 1..K (K = `candidates`, default 512):
 *  - symmetric (histogram of |x|): t = α·max|x|, s = t / (levels - 1), clip to [0, t]; range [-t, t];
 *  - asymmetric: [α·m⁻, α·m⁺], where [m⁻, m⁺] is the observed range widened to include 0; the grid
 *    is the one `chooseQuantParams` builds for that range on [0, levels-1]: s = (b - a)/(levels - 1),
 *    zp = round(-a/s), L = -zp·s, U = (levels - 1 - zp)·s.
 * The first candidate with the least error wins.
 */
import { SlimcError } from '@slimc/ir';
import { clamp, roundHalfToEven } from '../rounding.js';
import { type CalibrationRange, HistogramCalibrator, type HistogramCalibratorOptions } from './calibrator.js';
import type { StreamingHistogram } from './histogram.js';

/** F(x) = ∫_{-s/2}^{x} (u - s·round(u/s))² du (see the module comment); differences give any interval. */
function roundingErrorIntegral(x: number, step: number): number {
  const n = Math.floor(x / step + 0.5);
  const r = x - n * step;
  const s3 = step * step * step;
  return (n * s3) / 12 + (r * r * r + s3 / 8) / 3;
}

function cube(x: number): number {
  return x * x * x;
}

/** Σ over bins of the expected squared error of quantizing with `step`, clipped to [clipLo, clipHi]. */
export function expectedQuantizationError(h: StreamingHistogram, step: number, clipLo: number, clipHi: number): number {
  let total = 0;
  const w = h.binWidth;
  // F at the upper edge of the previous bin, reused as the next bin's lower edge (halves the F calls).
  let cachedEdge = -1;
  let cachedIntegral = 0;
  const counts = h.counts;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (count === 0) continue;
    const a = h.edge(i);
    const b = h.edge(i + 1);
    let integral = 0;
    if (a < clipLo) {
      const top = Math.min(b, clipLo);
      integral += (cube(clipLo - a) - cube(clipLo - top)) / 3;
    }
    if (b > clipHi) {
      const bottom = Math.max(a, clipHi);
      integral += (cube(b - clipHi) - cube(bottom - clipHi)) / 3;
    }
    const inLo = Math.max(a, clipLo);
    const inHi = Math.min(b, clipHi);
    if (inHi > inLo) {
      const below = inLo === a && cachedEdge === i ? cachedIntegral : roundingErrorIntegral(inLo, step);
      const above = roundingErrorIntegral(inHi, step);
      if (inHi === b) {
        cachedEdge = i + 1;
        cachedIntegral = above;
      }
      integral += above - below;
    }
    total += (count * integral) / w;
  }
  return total;
}

export interface MseCalibratorOptions extends HistogramCalibratorOptions {
  /** Quantization codes; default 128 symmetric (magnitude side of int8), 256 asymmetric. */
  levels?: number;
  /** Number of scaled ranges tried; default 512. */
  candidates?: number;
}

export class MseCalibrator extends HistogramCalibrator {
  readonly levels: number;
  readonly candidates: number;

  constructor(options: MseCalibratorOptions = {}) {
    super(options);
    this.levels = options.levels ?? (this.symmetric ? 128 : 256);
    this.candidates = options.candidates ?? 512;
    if (!Number.isInteger(this.levels) || this.levels < 2) {
      throw new SlimcError('invalid-argument', `levels must be an integer ≥ 2, got ${this.levels}`, { field: 'levels' });
    }
    if (!Number.isInteger(this.candidates) || this.candidates < 1) {
      throw new SlimcError('invalid-argument', `candidates must be a positive integer, got ${this.candidates}`, { field: 'candidates' });
    }
  }

  protected chooseThreshold(): number {
    const h = this.histogram;
    const maxAbs = h.observedMax;
    if (maxAbs <= 0) return 0;
    const steps = this.levels - 1;
    let best = maxAbs;
    let bestError = Infinity;
    for (let k = 1; k <= this.candidates; k++) {
      const t = (k / this.candidates) * maxAbs;
      const error = expectedQuantizationError(h, t / steps, 0, t);
      if (error < bestError) {
        bestError = error;
        best = t;
      }
    }
    return best;
  }

  protected chooseRange(): CalibrationRange {
    const h = this.histogram;
    const lo = Math.min(h.observedMin, 0);
    const hi = Math.max(h.observedMax, 0);
    if (hi - lo <= 0) return { min: 0, max: 0 };
    const steps = this.levels - 1;
    let best = { min: lo, max: hi };
    let bestError = Infinity;
    for (let k = 1; k <= this.candidates; k++) {
      const alpha = k / this.candidates;
      const a = alpha * lo;
      const b = alpha * hi;
      const step = (b - a) / steps;
      const zeroPoint = clamp(roundHalfToEven(-a / step), 0, steps);
      const error = expectedQuantizationError(h, step, -zeroPoint * step, (steps - zeroPoint) * step);
      if (error < bestError) {
        bestError = error;
        best = { min: a, max: b };
      }
    }
    return best;
  }
}
