/**
 * Sensitivity of a quantized model: its output SQNR against the float model, and the SQNR of each
 * quantized layer's output against its float twin (matched by name), worst first. The quantize
 * pass keeps the worst layer float while the output SQNR is below `target-sqnr`.
 */
import type { Model } from '@slimc/ir';
import type { PassContext } from '../core/pass.js';
import { compareModels } from '../compare/index.js';
import type { Sample } from './calibrate.js';

export interface Sensitivity {
  /** The lowest SQNR over the graph outputs (dB). */
  outputSqnr: number;
  /** Layer outputs (float value names) of the quantized targets, worst first. */
  layers: { output: string; sqnr: number }[];
}

export async function measureSqnr(float: Model, quantized: Model, layerOutputs: readonly string[], ctx: PassContext, samples: AsyncIterable<Sample>): Promise<Sensitivity> {
  const c = await compareModels(float, quantized, samples, { executor: ctx.executor('calibration') });
  const wanted = new Set(layerOutputs);
  return {
    outputSqnr: Math.min(...c.outputs.map((o) => o.sqnr)),
    layers: c.layers.filter((l) => wanted.has(l.name)).map((l) => ({ output: l.name, sqnr: l.sqnr })),
  };
}
