/**
 * A fixed-size streaming histogram for calibration: memory is two arrays of `binCount` counts
 * and four of `binCount` 32-bit counts (see Speed below), whatever the number of samples.
 *
 * The first batch sets the range to exactly its [min, max] (or [0, max|x|] for a magnitude
 * histogram). When a later batch falls outside, the bins coarsen by a power-of-two factor f = 2^k,
 * re-anchored so that every new bin is the union of exactly f old bins:
 *
 *   new lo = lo - d·w (d a whole number of old bins), new bin width = f·w,
 *   old bin i  →  new bin floor((i + d) / f)
 *
 * where d and the smallest f ≥ 1 (f = 1 being a shift by whole bins) make the new range cover the
 * new batch and the occupied old bins (a magnitude histogram keeps lo = 0). Minimality of f keeps
 * the new range under twice the span it must cover plus one old bin, however the data drift.
 *
 * Re-binning so moves whole counts, never splits a bin, and preserves the total exactly. The price
 * is resolution: after growth the data may occupy as little as half of the bins. Interpolating
 * re-binning would keep full resolution but smear counts a little on every growth, which compounds
 * over many batches; exact merging keeps the histogram a faithful, if coarser, record.
 *
 * The last bin is closed, so the range's upper end is binned; the histogram remembers how many
 * values sat exactly there and moves them to their proper bin when the range grows past it.
 *
 * Non-finite values (NaN, ±Infinity) are not binned; they are counted in `nonFinite`.
 *
 * Speed (Float32Array batches, what executors hand over): once the range is set, a batch is binned
 * and its extremes found in one pass, four values at a time, for as long as the values stay inside
 * the range (always, on a second pass over the samples); the four go to four integer
 * sub-histograms, so runs of equal values (padding, ReLU zeros) do not make each increment wait for
 * the previous one. The sub-histograms are folded into `counts` when it is read. The first value
 * outside the range sends the rest of the batch the general way (extremes, growth, binning).
 */
import { SlimcError } from '@slimc/ir';

export type HistogramMode = 'signed' | 'magnitude';

export class StreamingHistogram {
  private binned: Float64Array;
  private scratch: Float64Array;
  /** Four sub-histograms of `binCount` integer counts each (see the module comment), not yet in `binned`. */
  private readonly lanes: Uint32Array;
  /** Values counted in `lanes` since they were last folded. */
  private inLanes = 0;
  lo = 0;
  binWidth = 0;
  /** Number of values binned (the sum of `counts`). */
  total = 0;
  nonFinite = 0;
  /** Exact extremes of the binned values (of |x| in magnitude mode). */
  observedMin = Infinity;
  observedMax = -Infinity;
  /** Values that sat exactly on the upper end of the range, so are binned in the (closed) last bin. */
  private atUpperEnd = 0;

  constructor(
    readonly binCount: number,
    /** `magnitude` bins |x| over [0, max|x|]; `signed` bins x over [min, max]. */
    readonly mode: HistogramMode,
  ) {
    if (!Number.isInteger(binCount) || binCount < 2) {
      throw new SlimcError('invalid-argument', `histogram needs an integer number of bins ≥ 2, got ${binCount}`, { field: 'bins' });
    }
    this.binned = new Float64Array(binCount);
    this.scratch = new Float64Array(binCount);
    this.lanes = new Uint32Array(4 * binCount);
  }

  /** Bin counts; bin i covers [lo + i·binWidth, lo + (i+1)·binWidth), the last bin closed. */
  get counts(): Float64Array {
    if (this.inLanes > 0) this.foldLanes();
    return this.binned;
  }

  private foldLanes(): void {
    const n = this.binCount;
    const lanes = this.lanes;
    const binned = this.binned;
    for (let i = 0; i < n; i++) binned[i]! += lanes[i]! + lanes[i + n]! + lanes[i + 2 * n]! + lanes[i + 3 * n]!;
    lanes.fill(0);
    this.inLanes = 0;
  }

  get hi(): number {
    return this.lo + this.binCount * this.binWidth;
  }

  /** Lower edge of bin i (i = binCount gives the upper end of the range). */
  edge(i: number): number {
    return this.lo + i * this.binWidth;
  }

  /**
   * Starts an empty histogram on [lo, hi] (magnitude: [0, hi]) instead of the first batch's range:
   * given the extremes from a first pass over the data, every bin stays in use (no coarsening).
   */
  startRange(lo: number, hi: number): void {
    if (this.total !== 0) throw new SlimcError('invalid-argument', 'a histogram range can only be set before the first value', { field: 'range' });
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
      throw new SlimcError('invalid-argument', `histogram range must be finite with lo ≤ hi, got [${lo}, ${hi}]`, { field: 'range' });
    }
    this.initRange(this.mode === 'magnitude' ? 0 : lo, hi);
    this.ranged = true;
  }

  /** Set by `startRange`: the first batch does not reset the range. */
  private ranged = false;

  add(values: ArrayLike<number>): void {
    const magnitude = this.mode === 'magnitude';
    if (values instanceof Float32Array && this.total > 0) {
      const inside = binInsideF32(values, magnitude, this.lanes, this.lo, this.hi, 1 / this.binWidth, laneScan);
      if (inside > 0) {
        this.total += inside;
        this.inLanes += inside;
        this.atUpperEnd += laneScan.past;
        if (laneScan.min < this.observedMin) this.observedMin = laneScan.min;
        if (laneScan.max > this.observedMax) this.observedMax = laneScan.max;
        // a lane's count stays far below 2^32
        if (this.inLanes > 2 ** 30) this.foldLanes();
      }
      if (inside < values.length) this.addScanned(values.subarray(inside));
      return;
    }
    this.addScanned(values);
  }

  /** The general way: the batch's extremes first (growing the range if needed), then binning. */
  private addScanned(values: ArrayLike<number>): void {
    const magnitude = this.mode === 'magnitude';
    const { min: batchMin, max: batchMax, finite } = extremes(values, magnitude);
    this.nonFinite += values.length - finite;
    if (finite === 0) return;
    const outside = batchMin < this.lo || batchMax > this.hi;
    if (this.total === 0 && !this.ranged) this.initRange(magnitude ? 0 : batchMin, batchMax);
    // a preset range the first batch overflows is widened to cover both (nothing is binned yet)
    else if (this.total === 0 && outside) this.initRange(magnitude ? 0 : Math.min(this.lo, batchMin), Math.max(this.hi, batchMax));
    else if (outside) this.grow(batchMin, batchMax);
    if (batchMin < this.observedMin) this.observedMin = batchMin;
    if (batchMax > this.observedMax) this.observedMax = batchMax;
    // Every finite value now lies in [lo, hi]: only rounding can put one a bin outside.
    this.atUpperEnd += bin(values, magnitude, this.counts, this.lo, 1 / this.binWidth);
    this.total += finite;
  }

  private initRange(lo: number, hi: number): void {
    this.lo = lo;
    // A zero-width first batch (e.g. all zeros) gets a tiny range; growth doubles it as needed.
    const width = hi > lo ? hi - lo : Math.max(Math.abs(lo), 1) * 2 ** -20;
    this.binWidth = width / this.binCount;
  }

  /** Re-bins to the smallest power-of-two coarsening that covers [min, max] (see the module comment). */
  private grow(min: number, max: number): void {
    const w = this.binWidth;
    const n = this.binCount;
    const old = this.counts; // with the lanes folded in
    let firstUsed = 0;
    while (old[firstUsed] === 0) firstUsed++;
    let lastUsed = n - 1;
    while (old[lastUsed] === 0) lastUsed--;
    // New lo = lo - d·w. A magnitude histogram stays anchored at 0 (d = 0); a signed one may also
    // drop empty bins at the bottom (d < 0), so headroom left by an earlier growth is not kept forever.
    const needLo = Math.min(min, this.lo + firstUsed * w);
    const needHi = Math.max(max, this.lo + (lastUsed + 1) * w);
    const d = this.mode === 'magnitude' ? 0 : Math.max(-firstUsed, Math.ceil((this.lo - needLo) / w));
    // factor 1 is a pure shift (the data still fit in n bins once empty ones are dropped).
    let factor = 1;
    while ((factor * n - d) * w < needHi - this.lo) factor *= 2;
    const merged = this.scratch;
    merged.fill(0);
    for (let i = firstUsed; i <= lastUsed; i++) {
      if (old[i] !== 0) merged[Math.min(n - 1, Math.floor((i + d) / factor))]! += old[i]!;
    }
    // Values on the old upper end belong to the bin the old end falls in, unless it is still the end.
    const upperEndBin = Math.floor((n + d) / factor);
    if (upperEndBin < n && this.atUpperEnd > 0) {
      merged[Math.floor((n - 1 + d) / factor)]! -= this.atUpperEnd;
      merged[upperEndBin]! += this.atUpperEnd;
      this.atUpperEnd = 0;
    }
    this.scratch = old;
    this.binned = merged;
    this.lo -= d * w;
    this.binWidth = w * factor;
  }
}

interface Extremes {
  min: number;
  max: number;
  /** How many values were finite. */
  finite: number;
}

/** Smallest and largest finite value of `values` (of |x| when `magnitude`), and how many were finite. */
function extremes(values: ArrayLike<number>, magnitude: boolean): Extremes {
  let min = Infinity;
  let max = -Infinity;
  let finite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = magnitude ? Math.abs(values[i]!) : values[i]!;
    if (v - v !== 0) continue; // NaN or ±Infinity
    finite++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max, finite };
}

/** Adds the finite values to `counts` (bin ⌊(v - lo)·perBin⌋, clamped); returns how many fell past the last bin. */
function bin(values: ArrayLike<number>, magnitude: boolean, counts: Float64Array, lo: number, perBin: number): number {
  const last = counts.length - 1;
  let past = 0;
  for (let i = 0; i < values.length; i++) {
    const v = magnitude ? Math.abs(values[i]!) : values[i]!;
    if (v - v !== 0) continue;
    const b = ((v - lo) * perBin) | 0; // ≥ 0 up to rounding (v ≥ lo): truncation is the floor
    if (b > last) past++;
    counts[b > last ? last : b]!++;
  }
  return past;
}

/** What `binInsideF32` found besides the count (one object, reused). */
const laneScan = { min: Infinity, max: -Infinity, past: 0 };

/**
 * Bins `values` (|values| when `magnitude`) four at a time into the four sub-histograms `lanes`
 * while every value of a group of four is finite and inside [lo, hi]; returns how many it binned
 * (a multiple of four, or all) and leaves their extremes and the count of values past the last bin
 * (those equal to hi) in `laneScan`.
 */
function binInsideF32(values: Float32Array, magnitude: boolean, lanes: Uint32Array, lo: number, hi: number, perBin: number, scan: typeof laneScan): number {
  const bins = lanes.length >> 2;
  const last = bins - 1;
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  let past = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let x0 = values[i]!;
    let x1 = values[i + 1]!;
    let x2 = values[i + 2]!;
    let x3 = values[i + 3]!;
    if (magnitude) {
      x0 = Math.abs(x0);
      x1 = Math.abs(x1);
      x2 = Math.abs(x2);
      x3 = Math.abs(x3);
    }
    // NaN fails every comparison, ±Infinity the bounds: such a group ends the scan
    if (!(x0 >= lo && x0 <= hi && x1 >= lo && x1 <= hi && x2 >= lo && x2 <= hi && x3 >= lo && x3 <= hi)) break;
    min = Math.min(min, x0, x1, x2, x3);
    max = Math.max(max, x0, x1, x2, x3);
    let b0 = ((x0 - lo) * perBin) | 0; // ≥ 0 up to rounding: truncation is the floor
    let b1 = ((x1 - lo) * perBin) | 0;
    let b2 = ((x2 - lo) * perBin) | 0;
    let b3 = ((x3 - lo) * perBin) | 0;
    if (b0 > last) (past++, (b0 = last));
    if (b1 > last) (past++, (b1 = last));
    if (b2 > last) (past++, (b2 = last));
    if (b3 > last) (past++, (b3 = last));
    lanes[b0]!++;
    lanes[b1 + bins]!++;
    lanes[b2 + 2 * bins]!++;
    lanes[b3 + 3 * bins]!++;
  }
  scan.min = min;
  scan.max = max;
  scan.past = past;
  return i;
}
