/**
 * Min-max calibration: the range is the extremes of everything observed, or (with
 * `averagingConstant` c, as ONNX Runtime's MinMaxCalibrater with moving_average) an exponential
 * moving average of the per-batch extremes:  min ← min + c·(batchMin - min), same for max,
 * starting from the first batch's extremes. Non-finite values are ignored. Symmetric mode returns
 * [-m, m] with m = max(|min|, |max|).
 *
 * Min-max never clips, so a single outlier stretches the range and costs every other value
 * resolution; the histogram calibrators trade a little clipping for that resolution.
 */
import { SlimcError } from '@slimc/ir';
import { type CalibrationRange, type Calibrator, symmetricRange } from './calibrator.js';

export interface MinMaxCalibratorOptions {
  symmetric?: boolean;
  /** Moving-average constant c in (0, 1]; absent = plain running min/max. */
  averagingConstant?: number;
}

export class MinMaxCalibrator implements Calibrator {
  private min = Infinity;
  private max = -Infinity;
  private batches = 0;
  readonly symmetric: boolean;
  readonly averagingConstant: number | undefined;

  constructor(options: MinMaxCalibratorOptions = {}) {
    this.symmetric = options.symmetric ?? false;
    this.averagingConstant = options.averagingConstant;
    const c = this.averagingConstant;
    if (c !== undefined && !(c > 0 && c <= 1)) {
      throw new SlimcError('invalid-argument', `averaging constant must be in (0, 1], got ${c}`, { field: 'averagingConstant' });
    }
  }

  observe(values: ArrayLike<number>): void {
    let batchMin = Infinity;
    let batchMax = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v - v !== 0) continue; // NaN or ±Infinity
      if (v < batchMin) batchMin = v;
      if (v > batchMax) batchMax = v;
    }
    if (batchMin > batchMax) return; // no finite value
    const c = this.averagingConstant;
    if (c === undefined || this.batches === 0) {
      this.min = Math.min(this.min, batchMin);
      this.max = Math.max(this.max, batchMax);
    } else {
      this.min += c * (batchMin - this.min);
      this.max += c * (batchMax - this.max);
    }
    this.batches++;
  }

  range(): CalibrationRange {
    if (this.batches === 0) return { min: 0, max: 0 };
    return this.symmetric ? symmetricRange(Math.max(Math.abs(this.min), Math.abs(this.max))) : { min: this.min, max: this.max };
  }
}
