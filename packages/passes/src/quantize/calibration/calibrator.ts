/**
 * The calibrator interface: a calibrator watches one tensor's values batch by batch during
 * calibration runs and then proposes the real range [min, max] to quantize it with. Every
 * calibrator keeps a fixed amount of state, however many batches it sees.
 *
 * Histogram-based calibrators (entropy, percentile, mse) bin x (asymmetric) or |x| (symmetric,
 * the range is then [-t, t]) into a `StreamingHistogram`, and choose the range from it on demand.
 */
import { StreamingHistogram } from './histogram.js';

export interface CalibrationRange {
  min: number;
  max: number;
}

export interface Calibrator {
  /** Folds one batch of the tensor's values into the statistics. */
  observe(values: ArrayLike<number>): void;
  /** The proposed range ([0, 0] before any finite value was observed). */
  range(): CalibrationRange;
}

export interface HistogramCalibratorOptions {
  /** Bin |x| and return [-t, t] (true) or bin x and return [min, max] (false). Default false. */
  symmetric?: boolean;
  /** Histogram size; default 2048. */
  bins?: number;
  /**
   * The extremes of the values to come (a first pass's minmax): the histogram starts on them, so its
   * bins keep their full resolution instead of coarsening as the range grows batch by batch.
   */
  expectedRange?: CalibrationRange;
}

export abstract class HistogramCalibrator implements Calibrator {
  readonly histogram: StreamingHistogram;
  readonly symmetric: boolean;

  constructor(options: HistogramCalibratorOptions = {}) {
    this.symmetric = options.symmetric ?? false;
    this.histogram = new StreamingHistogram(options.bins ?? 2048, this.symmetric ? 'magnitude' : 'signed');
    const r = options.expectedRange;
    if (r && r.max > r.min) this.histogram.startRange(this.symmetric ? 0 : r.min, this.symmetric ? Math.max(-r.min, r.max) : r.max);
  }

  observe(values: ArrayLike<number>): void {
    this.histogram.add(values);
  }

  range(): CalibrationRange {
    if (this.histogram.total === 0) return { min: 0, max: 0 };
    return this.symmetric ? symmetricRange(this.chooseThreshold()) : this.chooseRange();
  }

  /** Symmetric mode: the clipping threshold t on |x|. */
  protected abstract chooseThreshold(): number;
  /** Asymmetric mode: the clipping range on x. */
  protected abstract chooseRange(): CalibrationRange;
}

export function symmetricRange(threshold: number): CalibrationRange {
  return { min: -threshold, max: threshold };
}

/** [lo, hi] narrowed to what was actually observed (a histogram's range may extend past the data). */
export function clampToObserved(h: StreamingHistogram, lo: number, hi: number): CalibrationRange {
  return { min: Math.max(lo, h.observedMin), max: Math.min(hi, h.observedMax) };
}
