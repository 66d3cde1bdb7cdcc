/**
 * Entropy (KL-divergence) calibration, after TensorRT's INT8 calibrator (Migacz, "8-bit Inference
 * with TensorRT", GTC 2017), with the smoothing of MXNet / ONNX Runtime. It picks the clipping
 * window whose quantized distribution loses the least information relative to the clipped one.
 *
 * Input: the histogram h[0..B) (B = 2048 by default) of |x| (symmetric) or x (asymmetric), and the
 * number of quantization levels L (128 symmetric: the magnitude side of int8; 256 asymmetric).
 *
 * Candidate windows [s, e) of bins, each at least L bins wide (all bins if B < L):
 *  - symmetric: [0, i) for i = L .. B (i = B, no clipping, included);
 *  - asymmetric: growing around the bin z that holds 0 (bin 0 / B-1 when 0 is outside the
 *    histogram): [max(0, z - j), min(B, z + j + 1)) for j = 0, 1, ... until the window is all bins.
 *
 * For each window, with n = e - s:
 *  1. P = h[s..e), with the outliers folded into the edge bins: P[0] += Σ h[<s], P[n-1] += Σ h[≥e].
 *  2. Split the window into L groups of as-equal-as-possible size, group g = [⌊g·n/L⌋, ⌊(g+1)·n/L⌋)
 *     (TensorRT's "quantize into L levels"; every group is one quantized value).
 *  3. Q: each group's mass Σ h (the unclipped counts, so the outliers are what Q cannot represent)
 *     is spread evenly over the group's bins where P is non-zero; bins where P is zero stay zero.
 *  4. Smooth both (ONNX Runtime's `smooth_distribution`, on counts, ε = 1e-4): zero bins get ε and
 *     non-zero bins give up ε·#zeros/#non-zeros, keeping the mass; if that would empty a bin, the
 *     zero bins just get ε.
 *  5. KL(P‖Q) = Σ p log(p/q) over P and Q normalised to sum 1.
 * The window with the smallest KL wins (the first on ties); the range is its outer bin edges
 * (symmetric: t = i·binWidth), narrowed to the observed extremes.
 */
import { SlimcError } from '@slimc/ir';
import { type CalibrationRange, HistogramCalibrator, type HistogramCalibratorOptions, clampToObserved } from './calibrator.js';
import type { StreamingHistogram } from './histogram.js';

const SMOOTHING_EPS = 1e-4;

/**
 * Step 4's smoothing of one distribution, as constants: zero bins become ε, non-zero bins lose
 * `taken` (when that leaves them positive, else they are kept), and the smoothed sum.
 */
interface Smoothing {
  taken: number;
  sum: number;
}

/** The smoothing of a distribution with `zeros` zero bins out of n, smallest non-zero value and sum; null if all zero. */
function smoothing(n: number, zeros: number, smallest: number, sum: number): Smoothing | null {
  const nonZeros = n - zeros;
  if (nonZeros === 0) return null;
  const taken = (SMOOTHING_EPS * zeros) / nonZeros;
  // Taking keeps the mass; when it would empty a bin the zero bins just get ε, adding mass.
  return smallest - taken > 0 ? { taken, sum } : { taken: 0, sum: sum + SMOOTHING_EPS * zeros };
}

/** Steps 4-5 over p[0..n), q[0..n): KL of the smoothed, normalised distributions. */
function smoothedKlDivergence(p: Float64Array, q: Float64Array, n: number, sp: Smoothing, sq: Smoothing): number {
  // Σ (p'/P) log((p'/P) / (q'/Q)) = (1/P) Σ p' log(p'/q') + log(Q/P), with p', q' the smoothed values.
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const pj = p[j] === 0 ? SMOOTHING_EPS : p[j]! - sp.taken;
    const qj = q[j] === 0 ? SMOOTHING_EPS : q[j]! - sq.taken;
    if (pj !== qj) sum += pj * Math.log(pj / qj); // equal bins (e.g. both empty) add nothing
  }
  return sum / sp.sum + Math.log(sq.sum / sp.sum);
}

/** The candidate windows [start, end) described in the module comment. */
export function entropyWindows(h: StreamingHistogram, symmetric: boolean, levels: number): Array<[start: number, end: number]> {
  const bins = h.binCount;
  const minWidth = Math.min(levels, bins);
  const windows: Array<[number, number]> = [];
  if (symmetric) {
    for (let i = minWidth; i <= bins; i++) windows.push([0, i]);
    return windows;
  }
  const zeroBin = 0 <= h.lo ? 0 : 0 >= h.hi ? bins - 1 : Math.min(bins - 1, Math.floor((0 - h.lo) / h.binWidth));
  for (let j = 0; ; j++) {
    const start = Math.max(0, zeroBin - j);
    const end = Math.min(bins, zeroBin + j + 1);
    if (end - start >= minWidth) windows.push([start, end]);
    if (start === 0 && end === bins) return windows;
  }
}

/** The window of `windows` with the smallest KL divergence (steps 1-5), with its divergence. */
export function minimumKlWindow(
  counts: Float64Array,
  windows: ReadonlyArray<readonly [number, number]>,
  levels: number,
): { start: number; end: number; divergence: number } {
  const bins = counts.length;
  const prefix = new Float64Array(bins + 1); // prefix[i] = Σ counts[<i]
  for (let i = 0; i < bins; i++) prefix[i + 1] = prefix[i]! + counts[i]!;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  let best = { start: 0, end: bins, divergence: Infinity };
  for (const [start, end] of windows) {
    const n = end - start;
    // Step 1: P, with the outliers folded into the edge bins.
    for (let j = 0; j < n; j++) p[j] = counts[start + j]!;
    p[0]! += prefix[start]!;
    p[n - 1]! += prefix[bins]! - prefix[end]!;
    // Steps 2-3: Q group by group, gathering what the smoothing needs on the way.
    let pZeros = 0;
    let pSmallest = Infinity;
    let qZeros = 0;
    let qSmallest = Infinity;
    let qSum = 0;
    for (let g = 0; g < levels; g++) {
      const a = Math.floor((g * n) / levels);
      const b = Math.floor(((g + 1) * n) / levels);
      let nonZero = 0;
      for (let j = a; j < b; j++) {
        const pj = p[j]!;
        if (pj === 0) pZeros++;
        else {
          nonZero++;
          if (pj < pSmallest) pSmallest = pj;
        }
      }
      const mass = prefix[start + b]! - prefix[start + a]!;
      const share = nonZero > 0 ? mass / nonZero : 0;
      if (share > 0) {
        qSum += mass;
        if (share < qSmallest) qSmallest = share;
        qZeros += b - a - nonZero;
        for (let j = a; j < b; j++) q[j] = p[j] !== 0 ? share : 0;
      } else {
        qZeros += b - a;
        for (let j = a; j < b; j++) q[j] = 0;
      }
    }
    const sp = smoothing(n, pZeros, pSmallest, prefix[bins]!);
    const sq = smoothing(n, qZeros, qSmallest, qSum);
    const divergence = sp && sq ? smoothedKlDivergence(p, q, n, sp, sq) : Infinity;
    if (divergence < best.divergence) best = { start, end, divergence };
  }
  return best;
}

export interface EntropyCalibratorOptions extends HistogramCalibratorOptions {
  /** Quantization levels L; default 128 symmetric, 256 asymmetric. */
  levels?: number;
}

export class EntropyCalibrator extends HistogramCalibrator {
  readonly levels: number;

  constructor(options: EntropyCalibratorOptions = {}) {
    super(options);
    this.levels = options.levels ?? (this.symmetric ? 128 : 256);
    if (!Number.isInteger(this.levels) || this.levels < 2) {
      throw new SlimcError('invalid-argument', `levels must be an integer ≥ 2, got ${this.levels}`, { field: 'levels' });
    }
  }

  private bestWindow(): { start: number; end: number } {
    const h = this.histogram;
    return minimumKlWindow(h.counts, entropyWindows(h, this.symmetric, this.levels), this.levels);
  }

  protected chooseThreshold(): number {
    return clampToObserved(this.histogram, 0, this.histogram.edge(this.bestWindow().end)).max;
  }

  protected chooseRange(): CalibrationRange {
    const { start, end } = this.bestWindow();
    return clampToObserved(this.histogram, this.histogram.edge(start), this.histogram.edge(end));
  }
}
