/**
 * Calibration: runs the float model on sample inputs, one sample at a time, and streams every
 * watched activation into its own calibrator. Memory stays bounded by the calibrators' fixed
 * state whatever the number of samples (samples arrive through an async iterator and are dropped
 * after their run). A progress bar goes to stderr when it is a terminal.
 */
import { SlimcError, type Model, type Tensor, type Value } from '@slimc/ir';
import { SingleBar, Presets } from 'cli-progress';
import type { PassContext } from '../core/pass.js';
import { createCalibrator, type CalibrationMethod, type CalibrationRange, type Calibrator } from '../quantize/calibration/index.js';
import { loadSamples } from '../quantize/data/samples.js';
import { PADDLE_OCR_CLS_PREPROCESS, PADDLE_OCR_DET_PREPROCESS, PADDLE_OCR_REC_PREPROCESS, type PreprocessSpec } from '../quantize/data/preprocess.js';
import { parsePreprocessSpec } from '../quantize/data/preprocess-spec.js';

export type Sample = Record<string, Tensor>;

export const PREPROCESS_PRESETS: Record<string, PreprocessSpec | undefined> = {
  'paddle-rec': PADDLE_OCR_REC_PREPROCESS,
  'paddle-cls': PADDLE_OCR_CLS_PREPROCESS,
  'paddle-det': PADDLE_OCR_DET_PREPROCESS,
  none: undefined,
};

export interface SampleSourceOptions {
  samples: string;
  /** A preset name or a spec string (see preprocess-spec.ts). */
  preprocess: string;
  /** How many samples to ask the calibrationData hook for. */
  count: number;
}

/** Samples from the `calibrationData` hook, else from the `samples` folder; an error when neither gives any. */
export async function sampleSource(model: Model, ctx: PassContext, options: SampleSourceOptions): Promise<AsyncIterable<Sample> & { size?: number }> {
  const given = await ctx.compiler.hooks.calibrationData.promise({ model, pass: ctx.pass, count: options.count });
  if (given && given.length) return Object.assign(iterate(given), { size: given.length });
  if (options.samples) {
    const spec = parsePreprocessSpec(options.preprocess, PREPROCESS_PRESETS);
    const inputName = model.graph.inputs.find((v) => !v.isConstant)?.name;
    return loadSamples(options.samples, spec, { inputName, inputNames: model.graph.inputs.map((v) => v.name) });
  }
  throw new SlimcError('invalid-argument', 'static quantization needs calibration samples: give samples=DIR or tap the calibrationData hook', {
    pass: ctx.pass,
    field: 'option samples',
  });
}

async function* iterate(samples: readonly Sample[]): AsyncGenerator<Sample> {
  yield* samples;
}

export interface CalibrationOptions {
  method: CalibrationMethod;
  percentile: number;
}

function makeCalibrator(options: CalibrationOptions, expectedRange?: CalibrationRange): Calibrator {
  if (options.method === 'percentile') return createCalibrator('percentile', { percentile: options.percentile, expectedRange });
  if (options.method === 'minmax') return createCalibrator('minmax');
  return createCalibrator(options.method, { expectedRange });
}

type SampleStream = AsyncIterable<Sample> & { size?: number };

/**
 * One run of `model` over the samples, each watched value's tensors into its calibrator; returns
 * the number of samples. The executor hands out only the watched values, as views it may keep in
 * its own layout: the calibrators' per-tensor statistics read each tensor once, during the call,
 * and do not depend on element order.
 */
async function observeSamples(model: Model, ctx: PassContext, samples: SampleStream, calibrators: ReadonlyMap<Value, Calibrator>, label: string): Promise<number> {
  const executor = ctx.executor('calibration');
  const observed = new Set(calibrators.keys());
  const observe = (v: Value, t: Tensor) => {
    const c = calibrators.get(v);
    if (c && t.dtype === 'float32') c.observe(t.data as Float32Array);
  };
  const bar = process.stderr.isTTY ? new SingleBar({ format: `${label} [{bar}] {value}/{total} samples`, stream: process.stderr }, Presets.shades_classic) : undefined;
  bar?.start(samples.size ?? 0, 0);
  let runs = 0;
  try {
    for await (const sample of samples) {
      for (const v of model.graph.inputs) if (sample[v.name]) observe(v, sample[v.name]!);
      await executor.run(model.graph, sample, { opset: model.opset, observe, observed, data: 'view' });
      runs++;
      bar?.setTotal(Math.max(samples.size ?? 0, runs));
      bar?.update(runs);
    }
  } finally {
    bar?.stop();
  }
  if (runs === 0) throw new SlimcError('invalid-argument', 'no calibration samples', { pass: ctx.pass, field: 'option samples' });
  return runs;
}

/**
 * Runs `model` on every sample and returns the calibrated range of each watched value. `runs`
 * counts the samples seen (per pass).
 *
 * Histogram methods (entropy, percentile, mse) take two passes, as TensorRT's calibrator does: the
 * first finds each value's extremes, the second bins the values into a histogram spanning exactly
 * those, so all 2048 bins resolve the data (one streaming pass re-bins coarser as the range grows,
 * leaving as few as half the bins in use). `samples` is asked once per pass.
 */
export async function calibrate(
  model: Model,
  ctx: PassContext,
  watched: readonly Value[],
  samples: () => Promise<SampleStream>,
  options: CalibrationOptions,
): Promise<{ ranges: Map<Value, CalibrationRange>; runs: number }> {
  const extremes = new Map<Value, Calibrator>(watched.map((v) => [v, createCalibrator('minmax')]));
  const twoPasses = options.method !== 'minmax';
  const runs = await observeSamples(model, ctx, await samples(), extremes, twoPasses ? 'calibrating (1/2: ranges)' : 'calibrating');
  let calibrators = extremes;
  if (twoPasses) {
    calibrators = new Map([...extremes].map(([v, c]) => [v, makeCalibrator(options, c.range())]));
    await observeSamples(model, ctx, await samples(), calibrators, 'calibrating (2/2: histograms)');
  }
  const ranges = new Map<Value, CalibrationRange>();
  for (const [v, c] of calibrators) ranges.set(v, c.range());
  return { ranges, runs };
}
