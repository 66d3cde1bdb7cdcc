/**
 * Streaming calibrators: `createCalibrator(method, options)` gives one calibrator per tensor.
 */
import { SlimcError } from '@slimc/ir';
import type { Calibrator } from './calibrator.js';
import { EntropyCalibrator, type EntropyCalibratorOptions } from './entropy.js';
import { MinMaxCalibrator, type MinMaxCalibratorOptions } from './minmax.js';
import { MseCalibrator, type MseCalibratorOptions } from './mse.js';
import { PercentileCalibrator, type PercentileCalibratorOptions } from './percentile.js';

export * from './calibrator.js';
export * from './histogram.js';
export * from './minmax.js';
export * from './entropy.js';
export * from './percentile.js';
export * from './mse.js';

export type CalibrationMethod = 'minmax' | 'entropy' | 'percentile' | 'mse';

export interface CalibrationOptions {
  minmax: MinMaxCalibratorOptions;
  entropy: EntropyCalibratorOptions;
  percentile: PercentileCalibratorOptions;
  mse: MseCalibratorOptions;
}

export function createCalibrator<M extends CalibrationMethod>(method: M, options: CalibrationOptions[M] = {}): Calibrator {
  switch (method) {
    case 'minmax':
      return new MinMaxCalibrator(options);
    case 'entropy':
      return new EntropyCalibrator(options);
    case 'percentile':
      return new PercentileCalibrator(options);
    case 'mse':
      return new MseCalibrator(options);
    default:
      throw new SlimcError('invalid-argument', `unknown calibration method "${String(method)}" (expected minmax, entropy, percentile or mse)`, {
        field: 'calibration method',
      });
  }
}
