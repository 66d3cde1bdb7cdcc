/** A `RunModel` backed by onnxruntime-node: the reference the OCR measurements run models on. */
import * as ort from 'onnxruntime-node';
import { makeTensor, type Tensor } from '@slimc/ir';
import type { RunModel } from '../../packages/passes/src/quantize/data/index.js';

/** Loads the model (a path or ONNX bytes) and returns a runner feeding its first input. */
export async function ortRunner(model: string | Uint8Array): Promise<RunModel> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  const input = session.inputNames[0]!;
  const output = session.outputNames[0]!;
  return async (x: Tensor) => {
    const result = await session.run({ [input]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
    const out = result[output]!;
    return makeTensor('float32', out.dims, out.data as Float32Array);
  };
}
