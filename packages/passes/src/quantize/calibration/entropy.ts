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

/** Smooths `dist[0..n)` in place (step 4); false when it has no non-zero bin. */
function smoothDistribution(dist: Float64Array, n: number): boolean {
  let zeros = 0;
  let smallest = Infinity;
  for (let j = 0; j < n; j++) {
    const v = dist[j]!;
    if (v === 0) zeros++;
    else if (v < smallest) smallest = v;
  }
  const nonZeros = n - zeros;
  if (nonZeros === 0) return false;
  const taken = (SMOOTHING_EPS * zeros) / nonZeros;
  const keepMass = smallest - taken > 0;
  for (let j = 0; j < n; j++) {
    if (dist[j] === 0) dist[j] = SMOOTHING_EPS;
    else if (keepMass) dist[j]! -= taken;
  }
  return true;
}

/** KL(P‖Q) of two positive distributions over n bins, each normalised to sum 1. */
function klDivergence(p: Float64Array, q: Float64Array, n: number): number {
  let sumP = 0;
  let sumQ = 0;
  for (let j = 0; j < n; j++) {
    sumP += p[j]!;
    sumQ += q[j]!;
  }
  let kl = 0;
  for (let j = 0; j < n; j++) {
    const pj = p[j]! / sumP;
    kl += pj * Math.log(pj / (q[j]! / sumQ));
  }
  return kl;
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
    for (let j = 0; j < n; j++) p[j] = counts[start + j]!;
    p[0]! += prefix[start]!;
    p[n - 1]! += prefix[bins]! - prefix[end]!;
    for (let g = 0; g < levels; g++) {
      const a = Math.floor((g * n) / levels);
      const b = Math.floor(((g + 1) * n) / levels);
      let nonZero = 0;
      for (let j = a; j < b; j++) if (p[j] !== 0) nonZero++;
      const share = nonZero > 0 ? (prefix[start + b]! - prefix[start + a]!) / nonZero : 0;
      for (let j = a; j < b; j++) q[j] = p[j] !== 0 ? share : 0;
    }
    const divergence = smoothDistribution(p, n) && smoothDistribution(q, n) ? klDivergence(p, q, n) : Infinity;
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
