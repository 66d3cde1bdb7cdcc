/**
 * The IR form of an integer rescale for slimc's runtime: one node in the `slimc` domain.
 *
 *   %y: int8|uint8 = slimc:Requantize(%x: int8|uint8|int32)
 *       {multiplier: int, shift: int, input_zero_point: int, output_zero_point: int, to: int (ONNX dtype code)}
 *
 *   y = clamp(output_zero_point + MultiplyByQuantizedMultiplier(x - input_zero_point, multiplier, shift), range(to))
 *
 * with M = multiplier · 2^(shift - 31) the real ratio s_in / s_out (fixed-point.ts). This replaces
 * a DequantizeLinear -> QuantizeLinear pair with different parameters (cancel-qdq) or the float
 * Cast -> Mul -> QuantizeLinear chain after an int32 accumulator (requantize) when the consumer
 * is slimc's runtime; ONNX output never contains it (onnxruntime has no such op). The result is
 * within one LSB of the float pair (ties round away from zero here, to even in QuantizeLinear).
 */
import { type DType, type Model, type Node, type Tensor, type TensorType, type Value, SlimcError, dtypeFromOnnx, dtypeToOnnx, makeTensor, toFloat64 } from '@slimc/ir';
import type { Rewriter } from '../core/pattern.js';
import { type QuantizedArray, quantizeMultiplier, requantize } from '../quantize/fixed-point.js';

export const SLIMC_DOMAIN = 'slimc';
export const SLIMC_REQUANTIZE = 'Requantize';

export interface IntegerRescale {
  multiplier: number;
  shift: number;
  inputZeroPoint: number;
  outputZeroPoint: number;
  /** The output's integer type. */
  dtype: DType;
}

/** The fixed-point form of y = round(x · ratio) shifted by the zero points. */
export function integerRescale(ratio: number, inputZeroPoint: number, outputZeroPoint: number, dtype: DType): IntegerRescale {
  const { multiplier, shift } = quantizeMultiplier(ratio);
  return { multiplier, shift, inputZeroPoint, outputZeroPoint, dtype };
}

/** Creates `slimc:Requantize(input)` before `before` and records the `slimc` opset import on the model. */
export function createSlimcRequantize(rw: Rewriter, before: Node, input: Value, r: IntegerRescale, output: { name: string; type?: TensorType }): Node {
  declareSlimcDomain(rw.model);
  return rw.createNode(
    {
      op: SLIMC_REQUANTIZE,
      domain: SLIMC_DOMAIN,
      inputs: [input],
      outputs: [output],
      attrs: {
        multiplier: { kind: 'int', value: r.multiplier },
        shift: { kind: 'int', value: r.shift },
        input_zero_point: { kind: 'int', value: r.inputZeroPoint },
        output_zero_point: { kind: 'int', value: r.outputZeroPoint },
        to: { kind: 'int', value: dtypeToOnnx(r.dtype) },
      },
    },
    before,
  );
}

export function declareSlimcDomain(model: Model): void {
  if (!model.opsetImports.has(SLIMC_DOMAIN)) model.opsetImports.set(SLIMC_DOMAIN, 1);
}

export function isSlimcRequantize(n: Node): boolean {
  return n.domain === SLIMC_DOMAIN && n.op === SLIMC_REQUANTIZE;
}

/** Reference semantics of `slimc:Requantize` (what the runtime computes), for tests and tools. */
export function evaluateSlimcRequantize(node: Node, x: Tensor): Tensor {
  const int = (name: string) => {
    const v = node.getInt(name);
    if (v === undefined) throw new SlimcError('invalid-model', `missing attribute ${name}`, { node: node.label, op: node.qualifiedOp, field: `attribute ${name}` });
    return v;
  };
  const dtype = dtypeFromOnnx(int('to'));
  if (dtype !== 'int8' && dtype !== 'uint8' && dtype !== 'int16' && dtype !== 'uint16') {
    throw new SlimcError('unsupported', `output type ${dtype ?? int('to')} is not handled`, { node: node.label, op: node.qualifiedOp, field: 'attribute to' });
  }
  const values = toFloat64(x);
  const inZp = int('input_zero_point');
  const acc = new Int32Array(values.length);
  // x - input_zero_point fits int32 for 8/16-bit inputs; int32 inputs have input_zero_point 0.
  for (let i = 0; i < values.length; i++) acc[i] = values[i]! - inZp;
  const out = makeTensor(dtype, x.shape);
  requantize(acc, out.data as QuantizedArray, { multiplier: int('multiplier'), shift: int('shift'), zeroPoint: int('output_zero_point') });
  return out;
}
