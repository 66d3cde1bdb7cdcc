import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { seededRandom } from '@slimc/ir';
import {
  type Calibrator,
  EntropyCalibrator,
  MinMaxCalibrator,
  MseCalibrator,
  PercentileCalibrator,
  StreamingHistogram,
  createCalibrator,
  entropyWindows,
  expectedQuantizationError,
  histogramQuantile,
  minimumKlWindow,
} from './index.js';

// ---- deterministic synthetic data ----


function uniformBatch(random: () => number, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + random() * (hi - lo));
}

/** Standard normal samples (Box-Muller). */
function gaussianBatch(random: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
}

/** Feeds `batches` batches of `size` values from `make` to the calibrator. */
function feed(c: Calibrator, batches: number, make: () => Float32Array): void {
  for (let b = 0; b < batches; b++) c.observe(make());
}

/** 50 batches of N(0, 1) with a handful of ±50 outliers in a few batches. */
function gaussianWithOutliers(c: Calibrator, seed = 1): void {
  const random = seededRandom(seed);
  let b = 0;
  feed(c, 50, () => {
    const batch = gaussianBatch(random, 4000);
    if (b++ % 10 === 3) {
      batch[0] = 50;
      batch[1] = -50;
    }
    return batch;
  });
}

/** Bytes held in typed arrays reachable from `root` through own properties (a measure of state size). */
function typedArrayBytes(root: object): number {
  const seen = new Set<object>();
  const walk = (v: unknown): number => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return 0;
    seen.add(v);
    if (ArrayBuffer.isView(v)) return v.byteLength;
    if (Array.isArray(v)) return v.length * 8 + v.reduce((s: number, x) => s + walk(x), 0);
    return Object.values(v).reduce((s: number, x) => s + walk(x), 0);
  };
  return walk(root);
}

// ---- histogram ----

describe('StreamingHistogram', () => {
  it('takes the first batch range exactly and counts every value', () => {
    const h = new StreamingHistogram(4, 'signed');
    h.add([1, 2, 3, 5, 5]);
    expect([h.lo, h.hi, h.binWidth]).toEqual([1, 5, 1]);
    expect(Array.from(h.counts)).toEqual([1, 1, 1, 2]); // the maximum lands in the closed last bin
  });

  it.each(['magnitude', 'signed'] as const)('ignores NaN and infinities but counts them (%s, array and Float32Array)', (mode) => {
    for (const values of [[NaN, -2, Infinity, 1, -Infinity], Float32Array.of(NaN, -2, Infinity, 1, -Infinity)]) {
      const h = new StreamingHistogram(8, mode);
      h.add(values);
      h.add(values);
      expect(h.total).toBe(4);
      expect(h.nonFinite).toBe(6);
      expect([h.lo, h.hi]).toEqual(mode === 'magnitude' ? [0, 2] : [-2, 1]);
      expect(h.counts[0]).toBe(mode === 'magnitude' ? 0 : 2);
      expect(h.counts[7]).toBe(2);
    }
  });

  it.each(['signed', 'magnitude'] as const)('bins a Float32Array inside its range in one pass like value by value (%s)', (mode) => {
    // 1,001 values on a dyadic grid (exact bin edges) with both ends of the range, then a NaN and a
    // value past the range near the end: the one-pass binning stops there and the rest goes the general way
    const values = Float32Array.from({ length: 1001 }, (_, i) => -4 + (i % 65) / 8);
    values[997] = NaN;
    values[998] = 9;
    const h = new StreamingHistogram(64, mode);
    h.startRange(mode === 'magnitude' ? 0 : -4, 4);
    h.add(Float32Array.of(0)); // sets nothing new: the range is given
    h.add(values);
    const direct = new Float64Array(64);
    const all = [0, ...Array.from(values).filter((v) => !Number.isNaN(v))].map((v) => (mode === 'magnitude' ? Math.abs(v) : v));
    for (const v of all) direct[Math.min(63, Math.floor((v - h.lo) / h.binWidth))]!++;
    expect(h.total).toBe(all.length);
    expect(h.nonFinite).toBe(1);
    expect([h.observedMin, h.observedMax]).toEqual([Math.min(...all), 9]);
    expect(Array.from(h.counts)).toEqual(Array.from(direct));
  });

  it('grows from a zero-width first batch', () => {
    const h = new StreamingHistogram(16, 'magnitude');
    h.add([0, 0, 0]);
    h.add([-3, 1]);
    expect(h.hi).toBeGreaterThanOrEqual(3);
    expect(h.hi).toBeLessThan(6);
    expect(h.counts[0]).toBe(3 + (h.binWidth > 1 ? 1 : 0));
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(5);
  });

  // Dyadic data (integers, first batch spanning exactly [0, 2048]) keeps every edge exact, so the
  // streamed histogram must equal one built directly on its final bins.
  const batch = fc.array(fc.integer({ min: -1_000_000, max: 1_000_000 }), { minLength: 1, maxLength: 40 });
  // Batches come as plain arrays or as Float32Array (the executors' type, binned by its own loops).
  test.prop([fc.array(batch, { minLength: 1, maxLength: 30 }), fc.constantFrom('signed' as const, 'magnitude' as const), fc.boolean()])(
    're-binning into a wider range preserves counts exactly',
    (batches, mode, float32) => {
      const bins = 2048;
      const h = new StreamingHistogram(bins, mode);
      h.add([0, 2048]);
      const all = [0, 2048];
      for (const b of batches) {
        h.add(float32 ? Float32Array.from(b) : b);
        all.push(...b);
      }
      expect(h.total).toBe(all.length);
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(all.length);
      const direct = new Float64Array(bins);
      for (const v0 of all) {
        const v = mode === 'magnitude' ? Math.abs(v0) : v0;
        expect(v).toBeGreaterThanOrEqual(h.lo);
        expect(v).toBeLessThanOrEqual(h.hi);
        direct[Math.min(bins - 1, Math.floor((v - h.lo) / h.binWidth))]!++;
      }
      expect(Array.from(h.counts)).toEqual(Array.from(direct));
      // The range is less than twice what the data needs (or the initial range).
      const values = all.map((v) => (mode === 'magnitude' ? Math.abs(v) : v));
      const needed = Math.max(...values) - Math.min(...values, mode === 'magnitude' ? 0 : Infinity);
      expect(h.hi - h.lo).toBeLessThan(2 * Math.max(needed, 2048) + 2 * h.binWidth);
    },
  );
});

// ---- memory ----

describe('calibrator state size', () => {
  const makers: Array<[string, () => Calibrator]> = [
    ['minmax', () => new MinMaxCalibrator({ averagingConstant: 0.01 })],
    ['entropy', () => new EntropyCalibrator({ symmetric: true })],
    ['percentile', () => new PercentileCalibrator()],
    ['mse', () => new MseCalibrator()],
  ];
  for (const [name, make] of makers) {
    it(`${name} does not grow over 10k batches with a growing range`, () => {
      const c = make();
      const random = seededRandom(7);
      let b = 0;
      const next = () => uniformBatch(random, 64, -1 - b * 0.01, 1 + b++ * 0.02);
      feed(c, 10, next);
      const early = typedArrayBytes(c);
      feed(c, 10_000, next);
      expect(typedArrayBytes(c)).toBe(early);
      const r = c.range();
      expect(r.max).toBeGreaterThan(1);
    });
  }
});

// ---- methods on synthetic distributions ----

describe('calibrators on known distributions', () => {
  it('minmax returns the extremes, symmetric or not, and keeps outliers', () => {
    const c = new MinMaxCalibrator();
    c.observe([-1, 0.5]);
    c.observe([3, -0.25]);
    expect(c.range()).toEqual({ min: -1, max: 3 });
    const s = new MinMaxCalibrator({ symmetric: true });
    gaussianWithOutliers(s);
    expect(s.range()).toEqual({ min: -50, max: 50 });
  });

  it('minmax with a moving average follows the per-batch extremes', () => {
    const c = new MinMaxCalibrator({ averagingConstant: 0.5 });
    c.observe([-2, 1]);
    c.observe([-4, 3]);
    c.observe([0, 3]);
    // min: -2 -> -3 -> -1.5; max: 1 -> 2 -> 2.5
    expect(c.range()).toEqual({ min: -1.5, max: 2.5 });
  });

  it('on uniform data every method keeps (nearly) the whole range', () => {
    for (const symmetric of [true, false]) {
      const calibrators = [
        new EntropyCalibrator({ symmetric }),
        new PercentileCalibrator({ symmetric, percentile: 99.99 }),
        new MseCalibrator({ symmetric }),
      ];
      for (const c of calibrators) {
        const random = seededRandom(3);
        feed(c, 20, () => uniformBatch(random, 5000, -1, 1));
        const r = c.range();
        expect(r.max, `${c.constructor.name} symmetric=${symmetric}`).toBeGreaterThan(0.95);
        expect(r.max).toBeLessThanOrEqual(1);
        expect(r.min).toBeLessThan(-0.95);
        expect(r.min).toBeGreaterThanOrEqual(-1);
      }
    }
  });

  it('on Gaussian data with outliers, plain KL entropy and percentile clip the outliers', () => {
    const entropy = new EntropyCalibrator({ symmetric: true, clippingBudget: Infinity });
    const percentile = new PercentileCalibrator({ symmetric: true, percentile: 99.99 });
    for (const c of [entropy, percentile]) gaussianWithOutliers(c);
    // The two-sided 99.99% quantile of |N(0,1)| is 3.89.
    expect(percentile.range().max).toBeGreaterThan(3.6);
    expect(percentile.range().max).toBeLessThan(4.2);
    expect(entropy.range().max).toBeGreaterThan(2);
    expect(entropy.range().max).toBeLessThan(10);
  });

  it('asymmetric calibration of one-sided data keeps the minimum near 0 and clips the outliers', () => {
    const random = seededRandom(11);
    const calibrators = [new EntropyCalibrator({ clippingBudget: Infinity }), new PercentileCalibrator({ percentile: 99.9 })];
    for (const c of calibrators) {
      let b = 0;
      feed(c, 30, () => {
        const batch = gaussianBatch(random, 4000).map(Math.abs);
        if (b++ === 5) batch[0] = 20;
        return batch;
      });
      const r = c.range();
      expect(r.min, c.constructor.name).toBeGreaterThanOrEqual(0);
      expect(r.min, c.constructor.name).toBeLessThan(0.05);
      expect(r.max, c.constructor.name).toBeGreaterThan(2);
      expect(r.max, c.constructor.name).toBeLessThan(10);
    }
  });

  it('percentile reads quantiles with interpolation inside a bin', () => {
    const h = new StreamingHistogram(100, 'signed');
    h.add(Float32Array.from({ length: 10_000 }, (_, i) => i / 1000)); // 0 .. 9.999, 100 values per bin
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(5, 2);
    expect(histogramQuantile(h, 0.123)).toBeCloseTo(1.23, 2);
    const c = new PercentileCalibrator({ percentile: 90 });
    c.observe(Float32Array.from({ length: 10_000 }, (_, i) => i / 1000));
    const r = c.range();
    expect(r.min).toBeCloseTo(0.5, 2);
    expect(r.max).toBeCloseTo(9.5, 2);
  });

  it('before any data every calibrator proposes [0, 0]', () => {
    for (const method of ['minmax', 'entropy', 'percentile', 'mse'] as const) {
      const c = createCalibrator(method);
      c.observe([NaN]);
      expect(c.range()).toEqual({ min: 0, max: 0 });
    }
    expect(() => createCalibrator('median' as 'mse')).toThrow(/unknown calibration method "median"/);
  });
});

// ---- entropy against a slow reference ----

/** ONNX Runtime's smoothing, written out plainly; null when every bin is zero. */
function referenceSmooth(dist: number[]): number[] | null {
  const zeros = dist.filter((v) => v === 0).length;
  const nonZeros = dist.length - zeros;
  if (nonZeros === 0) return null;
  const taken = (1e-4 * zeros) / nonZeros;
  const canTake = dist.every((v) => v === 0 || v - taken > 0);
  return dist.map((v) => (v === 0 ? 1e-4 : canTake ? v - taken : v));
}

function referenceKl(hist: number[], start: number, end: number, levels: number): number {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const n = end - start;
  const p = hist.slice(start, end);
  p[0]! += sum(hist.slice(0, start));
  p[n - 1]! += sum(hist.slice(end));
  const q = new Array<number>(n).fill(0);
  for (let g = 0; g < levels; g++) {
    const members: number[] = [];
    for (let j = Math.floor((g * n) / levels); j < Math.floor(((g + 1) * n) / levels); j++) members.push(j);
    const mass = sum(members.map((j) => hist[start + j]!));
    const nonZero = members.filter((j) => p[j] !== 0);
    for (const j of nonZero) q[j] = mass / nonZero.length;
  }
  const ps = referenceSmooth(p);
  const qs = referenceSmooth(q);
  if (!ps || !qs) return Infinity;
  const sp = sum(ps);
  const sq = sum(qs);
  return sum(ps.map((v, j) => (v / sp) * Math.log(v / sp / (qs[j]! / sq))));
}

function referenceBestWindow(hist: number[], windows: Array<[number, number]>, levels: number) {
  let best = { start: 0, end: hist.length, divergence: Infinity };
  for (const [start, end] of windows) {
    const divergence = referenceKl(hist, start, end, levels);
    if (divergence < best.divergence) best = { start, end, divergence };
  }
  return best;
}

describe('entropy calibration', () => {
  it('enumerates windows scaling the occupied bins about 0, at least `levels` wide', () => {
    const h = new StreamingHistogram(8, 'signed');
    h.add([-1, 3]); // bin width 0.5, zero at edge 2: two bins below 0, six above
    // [1, 5) is [-0.5, 1.5]: half of each side; narrower windows are under 4 bins wide
    expect(entropyWindows(h, false, 4)).toEqual([
      [1, 5],
      [0, 6],
      [0, 7],
      [0, 8],
    ]);
    expect(entropyWindows(h, true, 6)).toEqual([
      [0, 6],
      [0, 7],
      [0, 8],
    ]);
  });

  const sparseCounts = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })), { minLength: 64, maxLength: 96 });
  test.prop([sparseCounts, fc.integer({ min: 2, max: 32 })], { numRuns: 60 })(
    'minimumKlWindow picks the same window and divergence as the slow reference',
    (counts, levels) => {
      const hist = counts.map((c, i) => (i % 7 === 0 ? 0 : c));
      hist[hist.length - 1] = 5; // an outlier bin at the far end
      const windows: Array<[number, number]> = [];
      for (let i = Math.min(levels, hist.length); i <= hist.length; i++) windows.push([0, i]);
      for (let s = 1; s < 10; s++) windows.push([s, hist.length - s]);
      const fast = minimumKlWindow(Float64Array.from(hist), windows, levels);
      const slow = referenceBestWindow(hist, windows, levels);
      expect(fast.divergence).toBeCloseTo(slow.divergence, 9);
      if (Number.isFinite(slow.divergence)) {
        // Equal up to rounding: the reference's choice must be (near-)optimal for the fast one too.
        expect(referenceKl(hist, fast.start, fast.end, levels)).toBeCloseTo(slow.divergence, 9);
      }
    },
  );

  it('windows of one-sided data start at 0 and keep it on the grid', () => {
    const h = new StreamingHistogram(16, 'signed');
    h.add([0, 2, 4]);
    const windows = entropyWindows(h, false, 4);
    expect(windows.every(([start]) => start === 0)).toBe(true);
    expect(windows.map(([, end]) => end)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it('plain KL (no clipping budget) picks the same threshold as the reference on a full 2048-bin Gaussian histogram', () => {
    const c = new EntropyCalibrator({ symmetric: true, clippingBudget: Infinity });
    gaussianWithOutliers(c, 5);
    const h = c.histogram;
    const hist = Array.from(h.counts);
    const windows: Array<[number, number]> = [];
    for (let i = 128; i <= 2048; i++) windows.push([0, i]);
    const slow = referenceBestWindow(hist, windows, 128);
    expect(c.range().max).toBeCloseTo(Math.min(h.edge(slow.end), h.observedMax), 12);
  });
});

describe('expected range (a first pass\'s extremes)', () => {
  it('the histogram starts on it and keeps every bin, where streaming growth coarsens', () => {
    const random = seededRandom(41);
    const batches = Array.from({ length: 20 }, (_, b) => uniformBatch(random, 1000, -1 - b, 1 + b));
    const extremes = new MinMaxCalibrator();
    for (const x of batches) extremes.observe(x);
    const streamed = new EntropyCalibrator();
    const ranged = new EntropyCalibrator({ expectedRange: extremes.range() });
    for (const x of batches) for (const c of [streamed, ranged]) c.observe(x);
    const occupied = (c: EntropyCalibrator) => c.histogram.counts.filter((n) => n > 0).length;
    expect(ranged.histogram.lo).toBeCloseTo(extremes.range().min, 12);
    expect(ranged.histogram.hi).toBeCloseTo(extremes.range().max, 12);
    expect(ranged.histogram.total).toBe(20_000);
    expect(occupied(ranged)).toBeGreaterThan(1800);
    expect(occupied(streamed)).toBeLessThan(0.75 * occupied(ranged));
  });

  it('a first batch past the expected range widens it; symmetric calibrators bin |x| from 0', () => {
    const c = new EntropyCalibrator({ expectedRange: { min: -1, max: 1 } });
    c.observe([-3, 0.5, 2]);
    expect([c.histogram.lo, c.histogram.hi]).toEqual([-3, 2]);
    const s = new MseCalibrator({ symmetric: true, expectedRange: { min: -4, max: 1 } });
    expect([s.histogram.lo, s.histogram.hi]).toEqual([0, 4]);
    expect(() => new StreamingHistogram(8, 'signed').startRange(1, 0)).toThrow(/lo ≤ hi/);
  });
});

describe('entropy clipping budget', () => {
  /** Σ (x - clip(x))² and Σ of the rounding error step²/12 over the values, for the range [lo, hi] with `levels` codes. */
  function errors(values: Float32Array, lo: number, hi: number, levels: number) {
    let clipping = 0;
    for (const x of values) clipping += x < lo ? (lo - x) ** 2 : x > hi ? (x - hi) ** 2 : 0;
    const step = (hi - lo) / (levels - 1);
    return { clipping, rounding: (values.length * step * step) / 12 };
  }

  /** 99% N(0, 1) and 1% N(0, 20²): one per-tensor grid over channels of two scales. */
  function twoScales(seed: number): Float32Array {
    const random = seededRandom(seed);
    const values = gaussianBatch(random, 200_000);
    for (let i = 0; i < values.length; i += 100) values[i]! *= 20;
    return values;
  }

  it('keeps a heavy tail that plain KL clips, and clips no more than it rounds', () => {
    const values = twoScales(31);
    const plain = new EntropyCalibrator({ clippingBudget: Infinity });
    const budget = new EntropyCalibrator();
    for (let i = 0; i < values.length; i += 10_000) for (const c of [plain, budget]) c.observe(values.subarray(i, i + 10_000));
    const p = plain.range();
    const b = budget.range();
    const ep = errors(values, p.min, p.max, 256);
    const eb = errors(values, b.min, b.max, 256);
    // plain KL weighs the tail by its 1% of mass and clips it hard
    expect(ep.clipping).toBeGreaterThan(5 * ep.rounding);
    expect(b.max - b.min).toBeGreaterThan(1.2 * (p.max - p.min));
    // the budget's window: clipping within its rounding (up to the histogram's bin-centre estimate) ...
    expect(eb.clipping).toBeLessThanOrEqual(1.1 * eb.rounding);
    // ... and a smaller total squared error than plain KL's
    expect(eb.clipping + eb.rounding).toBeLessThan(0.5 * (ep.clipping + ep.rounding));
    // still a clipping window, not the extremes
    expect(b.max).toBeLessThan(values.reduce((a, x) => Math.max(a, x)));
  });

  it('a smaller budget keeps more of the tail; budget 0 keeps everything observed', () => {
    const values = twoScales(37);
    const widths = [4, 1, 0.25, 0].map((clippingBudget) => {
      const c = new EntropyCalibrator({ clippingBudget });
      c.observe(values);
      const r = c.range();
      return r.max - r.min;
    });
    for (let i = 1; i < widths.length; i++) expect(widths[i]!).toBeGreaterThanOrEqual(widths[i - 1]!);
    const min = values.reduce((a, x) => Math.min(a, x));
    const max = values.reduce((a, x) => Math.max(a, x));
    expect(widths[3]).toBeCloseTo(max - min, 5);
  });

  it('rejects a negative budget', () => {
    expect(() => new EntropyCalibrator({ clippingBudget: -1 })).toThrow(/clipping budget/);
  });
});

// ---- mse ----

describe('mse calibration', () => {
  it('expected error is step²/12 for dense data well inside the range and grows with clipping', () => {
    const h = new StreamingHistogram(1000, 'signed');
    const random = seededRandom(9);
    h.add(uniformBatch(random, 100_000, -1, 1));
    const step = 2 / 255;
    const perValue = expectedQuantizationError(h, step, -10, 10) / h.total;
    expect(perValue / (step * step / 12)).toBeCloseTo(1, 2);
    // Clipping to [-0.5, 0.5] adds E[(|x| - 0.5)² ; |x| > 0.5] = 0.5 · 0.5²/3 per value.
    const clipped = expectedQuantizationError(h, step, -0.5, 0.5) / h.total;
    expect(clipped).toBeCloseTo((0.5 * 0.25) / 3 + 0.5 * (step * step / 12), 3);
  });

  /** Σ (x - Q(x))² of actually quantizing `values` on the grid of step s clipped to [lo, hi]. */
  function empiricalError(values: ArrayLike<number>, step: number, lo: number, hi: number): number {
    let sum = 0;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      sum += (x - Math.min(hi, Math.max(lo, step * Math.round(x / step)))) ** 2;
    }
    return sum;
  }

  /** Laplace(0, 1) samples. */
  const laplaceBatch = (random: () => number, n: number) =>
    Float32Array.from({ length: n }, () => {
      const u = random() - 0.5;
      return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
    });

  it('the histogram estimate agrees with the error of actually quantizing the samples', () => {
    const random = seededRandom(21);
    const values = laplaceBatch(random, 200_000);
    const c = new MseCalibrator({ symmetric: true });
    c.observe(values);
    for (const t of [1, 4, 8, c.histogram.observedMax]) {
      const step = t / 127;
      const estimate = expectedQuantizationError(c.histogram, step, 0, t);
      expect(estimate / empiricalError(values.map(Math.abs), step, 0, t)).toBeCloseTo(1, 1);
    }
  });

  it('on heavy-tailed data clips below the maximum, at a threshold as good as any other', () => {
    for (const symmetric of [true, false]) {
      const random = seededRandom(23);
      const values = laplaceBatch(random, 200_000);
      const c = new MseCalibrator({ symmetric });
      for (let i = 0; i < values.length; i += 10_000) c.observe(values.subarray(i, i + 10_000));
      const r = c.range();
      const observedMin = values.reduce((a, b) => Math.min(a, b));
      const observedMax = values.reduce((a, b) => Math.max(a, b));
      expect(r.max).toBeLessThan(observedMax * 0.95);
      // Known optimum for 8-bit Laplace(b) is near 10·b; check the empirical error instead of a constant:
      // the chosen range must beat min-max and clipping at 60% / 140% of the chosen threshold.
      const errorAt = (lo: number, hi: number) => empiricalError(values, (hi - lo) / 254, lo, hi);
      const chosen = errorAt(r.min, r.max);
      for (const scale of [0.6, 1.4]) expect(chosen).toBeLessThan(errorAt(r.min * scale, r.max * scale));
      expect(chosen).toBeLessThan(errorAt(observedMin, observedMax));
    }
  });

  it('keeps outliers when clipping them would cost more than the coarser step', () => {
    // Ten values at ±50 among 200k N(0, 1): clipping them to ~4 costs 10·46² ≈ 21000, while a step of
    // 50/127 costs only ≈ 200000·0.155²/12 ≈ 2600 — the MSE choice is to keep them.
    const c = new MseCalibrator({ symmetric: true });
    gaussianWithOutliers(c, 13);
    expect(c.range().max).toBeGreaterThan(30);
  });
});
