/**
 * Entropy (KL-divergence) calibration, after TensorRT's INT8 calibrator (Migacz, "8-bit Inference
 * with TensorRT", GTC 2017), with the smoothing of MXNet / ONNX Runtime. It picks the clipping
 * window whose quantized distribution loses the least information relative to the clipped one,
 * among the windows whose clipping does not cost more than their rounding (the budget below).
 *
 * Input: the histogram h[0..B) (B = 2048 by default) of |x| (symmetric) or x (asymmetric), and the
 * number of quantization levels L: the codes of the grid the window becomes (128 symmetric: the
 * magnitude side of int8; 256 asymmetric: all codes of uint8 / int8 spread over [min, max]).
 *
 * Candidate windows [s, e) of bins, each at least L bins wide (all bins if B < L):
 *  - symmetric: [0, i) for i = L .. B (i = B, no clipping, included);
 *  - asymmetric: the occupied bins [f, l] scaled about the position z of 0 (clamped to the
 *    histogram), [⌊z - α(z - f)⌋, ⌈z + α(l + 1 - z)⌉) for α = k/K, k = 1..K (K = 512), so a
 *    skewed or one-sided tensor keeps its shape and a window is exactly the range its grid covers.
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
 * The admissible window with the smallest KL wins (the first on ties); the range is its outer bin
 * edges (symmetric: t = i·binWidth), narrowed to the observed extremes.
 *
 * Clipping budget. KL weighs probability mass, not magnitude: clipping 1% of the values costs
 * about as much KL whether they sit just past the threshold or ten times past it. On post-ReLU
 * features with light tails that is harmless, but the activations of networks with folded
 * BatchNorm, HardSwish and attention are heavy-tailed, and their tail is signal (whole channels
 * with a larger scale under one per-tensor grid): unconstrained KL clips it away (on PaddleOCR rec,
 * so far that no evaluation line was read as the float model reads it). So a window is
 * admissible only if its expected clipping error, Σ over clipped values of (x - clip(x))² (bin
 * centres), is at most `clippingBudget` (default 1) times its expected rounding error N·s²/12,
 * s = window width / (L - 1). The unclipped window always qualifies; `clippingBudget: Infinity`
 * gives TensorRT's plain search.
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

/** Proportional steps of the asymmetric window search (K in the module comment). */
const ASYMMETRIC_SCALES = 512;

/** The candidate windows [start, end) described in the module comment. */
export function entropyWindows(h: StreamingHistogram, symmetric: boolean, levels: number): Array<[start: number, end: number]> {
  const bins = h.binCount;
  const minWidth = Math.min(levels, bins);
  const windows: Array<[number, number]> = [];
  if (symmetric) {
    for (let i = minWidth; i <= bins; i++) windows.push([0, i]);
    return windows;
  }
  let first = 0;
  while (first < bins - 1 && h.counts[first] === 0) first++;
  let last = bins - 1;
  while (last > first && h.counts[last] === 0) last--;
  const zero = Math.min(last + 1, Math.max(first, (0 - h.lo) / h.binWidth));
  for (let k = 1; k <= ASYMMETRIC_SCALES; k++) {
    const alpha = k / ASYMMETRIC_SCALES;
    let start = Math.max(0, Math.floor(zero - alpha * (zero - first)));
    let end = Math.min(bins, Math.ceil(zero + alpha * (last + 1 - zero)));
    if (k === ASYMMETRIC_SCALES) [start, end] = [0, bins];
    else if (end - start < minWidth) continue;
    const previous = windows[windows.length - 1];
    if (!previous || previous[0] !== start || previous[1] !== end) windows.push([start, end]);
  }
  return windows;
}

/**
 * The windows whose expected clipping error is at most `budget` times their expected rounding
 * error with `levels` codes (see the module comment); the widest window always stays.
 */
export function withinClippingBudget(
  h: StreamingHistogram,
  windows: ReadonlyArray<readonly [number, number]>,
  levels: number,
  budget: number,
): Array<readonly [number, number]> {
  if (budget === Infinity) return [...windows];
  const bins = h.binCount;
  // Prefix sums of c, c·x, c·x² over bin centres x: Σ c·(x - t)² = Σ c·x² - 2t·Σ c·x + t²·Σ c on any bin range.
  const count = new Float64Array(bins + 1);
  const first = new Float64Array(bins + 1);
  const second = new Float64Array(bins + 1);
  for (let i = 0; i < bins; i++) {
    const c = h.counts[i]!;
    const x = h.edge(i) + h.binWidth / 2;
    count[i + 1] = count[i]! + c;
    first[i + 1] = first[i]! + c * x;
    second[i + 1] = second[i]! + c * x * x;
  }
  const squaredDistance = (a: number, b: number, t: number) => {
    const c = count[b]! - count[a]!;
    if (c === 0) return 0;
    return Math.max(0, second[b]! - second[a]! - 2 * t * (first[b]! - first[a]!) + t * t * c);
  };
  let widest = windows[0];
  const kept: Array<readonly [number, number]> = [];
  for (const w of windows) {
    const [start, end] = w;
    if (widest && end - start > widest[1] - widest[0]) widest = w;
    const step = (h.edge(end) - h.edge(start)) / (levels - 1);
    const rounding = (h.total * step * step) / 12;
    const clipping = squaredDistance(0, start, h.edge(start)) + squaredDistance(end, bins, h.edge(end));
    if (clipping <= budget * rounding) kept.push(w);
  }
  if (kept.length === 0 && widest) kept.push(widest);
  return kept;
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
  /** Admissible windows clip at most this multiple of their rounding error; default 1, Infinity = plain KL. */
  clippingBudget?: number;
}

export class EntropyCalibrator extends HistogramCalibrator {
  readonly levels: number;
  readonly clippingBudget: number;

  constructor(options: EntropyCalibratorOptions = {}) {
    super(options);
    this.levels = options.levels ?? (this.symmetric ? 128 : 256);
    this.clippingBudget = options.clippingBudget ?? 1;
    if (!(this.clippingBudget >= 0)) {
      throw new SlimcError('invalid-argument', `clipping budget must be ≥ 0, got ${this.clippingBudget}`, { field: 'clippingBudget' });
    }
    if (!Number.isInteger(this.levels) || this.levels < 2) {
      throw new SlimcError('invalid-argument', `levels must be an integer ≥ 2, got ${this.levels}`, { field: 'levels' });
    }
  }

  private bestWindow(): { start: number; end: number } {
    const h = this.histogram;
    const windows = withinClippingBudget(h, entropyWindows(h, this.symmetric, this.levels), this.levels, this.clippingBudget);
    return minimumKlWindow(h.counts, windows, this.levels);
  }

  protected chooseThreshold(): number {
    return clampToObserved(this.histogram, 0, this.histogram.edge(this.bestWindow().end)).max;
  }

  protected chooseRange(): CalibrationRange {
    const { start, end } = this.bestWindow();
    return clampToObserved(this.histogram, this.histogram.edge(start), this.histogram.edge(end));
  }
}
