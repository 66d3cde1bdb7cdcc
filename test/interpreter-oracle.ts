/**
 * onnxruntime-node as the oracle for interpreter tests: tensor conversion both ways and a
 * tolerance check. Tolerance is elementwise: |got - want| <= rtol * max(1, |want|).
 */
import * as ort from 'onnxruntime-node';
import { elementAsNumber, makeTensor, type DType, type Tensor } from '@slimc/ir';

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float64: 'float64',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  int64: 'int64',
  bool: 'bool',
  float16: 'float16',
};

export function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (!type) throw new Error(`no onnxruntime type for ${t.dtype}`);
  return new ort.Tensor(type, t.data as Float32Array, [...t.shape]);
}

export function fromOrt(t: ort.Tensor): Tensor {
  const dtype = (Object.entries(ORT_TYPES).find(([, v]) => v === t.type)?.[0] ?? 'float32') as DType;
  return makeTensor(dtype, t.dims.map(Number), t.data as Float32Array);
}

export async function runOrt(model: string | Uint8Array, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await ort.InferenceSession.create(model as string, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) feeds[k] = toOrt(v);
    const out = await session.run(feeds);
    const result: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) result[k] = fromOrt(v);
    return result;
  } finally {
    await session.release();
  }
}

/** The worst |got - want| / max(1, |want|) over all elements (Infinity on a shape or NaN mismatch). */
export function worstRelativeError(got: Tensor, want: Tensor): number {
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.data.length; i++) {
    const a = elementAsNumber(got, i);
    const b = elementAsNumber(want, i);
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) return Infinity;
      continue;
    }
    if (a === b) continue;
    worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(b)));
  }
  return worst;
}
