/**
 * Percentile calibration: clip at the p-th percentile of the observed distribution, read from
 * the histogram with linear interpolation inside a bin (values are taken as uniform within it).
 *
 *  symmetric:  t = quantile_|x|(p / 100), range [-t, t];
 *  asymmetric: the (100 - p)% tail is cut equally from both sides (as ONNX Runtime does):
 *              range [quantile_x(q), quantile_x(1 - q)] with q = (100 - p) / 200.
 *
 * The result is narrowed to the observed extremes, so p = 100 gives the min-max range.
 */
import { SlimcError } from '@slimc/ir';
import { type CalibrationRange, HistogramCalibrator, type HistogramCalibratorOptions, clampToObserved } from './calibrator.js';
import type { StreamingHistogram } from './histogram.js';

/** The value below which a fraction `q` of the histogram's mass lies. */
export function histogramQuantile(h: StreamingHistogram, q: number): number {
  const target = q * h.total;
  let below = 0;
  for (let i = 0; i < h.binCount; i++) {
    const count = h.counts[i]!;
    if (count > 0 && below + count >= target) {
      return h.edge(i) + Math.max(0, (target - below) / count) * h.binWidth;
    }
    below += count;
  }
  return h.hi;
}

export interface PercentileCalibratorOptions extends HistogramCalibratorOptions {
  /** Percentage of the values to keep inside the range; default 99.99. */
  percentile?: number;
}

export class PercentileCalibrator extends HistogramCalibrator {
  readonly percentile: number;

  constructor(options: PercentileCalibratorOptions = {}) {
    super(options);
    this.percentile = options.percentile ?? 99.99;
    if (!(this.percentile > 0 && this.percentile <= 100)) {
      throw new SlimcError('invalid-argument', `percentile must be in (0, 100], got ${this.percentile}`, { field: 'percentile' });
    }
  }

  protected chooseThreshold(): number {
    return clampToObserved(this.histogram, 0, histogramQuantile(this.histogram, this.percentile / 100)).max;
  }

  protected chooseRange(): CalibrationRange {
    const tail = (100 - this.percentile) / 200;
    return clampToObserved(this.histogram, histogramQuantile(this.histogram, tail), histogramQuantile(this.histogram, 1 - tail));
  }
}
