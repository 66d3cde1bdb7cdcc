/**
 * Names of the values quantization adds, made from the name of the value they stand for:
 * `<x>_q` the quantized tensor, `<x>_scale` and `<x>_zp` its parameters (a fresh `_N` is appended
 * on a clash). Short on purpose: a quantized model spells each of them several times (the
 * initializer or output, and every node input that reads it), and with the long layer names of
 * exported models longer suffixes cost kilobytes. A scalar zero point is named after its value
 * instead (`zp_uint8_128`, see `nameZeroPointsByValue`): one constant serves every tensor with it.
 */
import type { Model, Value } from '@slimc/ir';

export const QUANTIZED_SUFFIX = '_q';
export const quantizedName = (base: string): string => `${base}${QUANTIZED_SUFFIX}`;
export const scaleName = (base: string): string => `${base}_scale`;
export const zeroPointName = (base: string): string => `${base}_zp`;

/** Zero-point operands of the standard ops static quantization emits. */
const ZERO_POINT_OPERANDS: Readonly<Record<string, readonly number[]>> = {
  QuantizeLinear: [2],
  DequantizeLinear: [2],
  QLinearConv: [2, 5, 7],
  QLinearMatMul: [2, 5, 7],
};

/** The name of a shared scalar zero-point constant: its type and value, e.g. `zp_uint8_128`. */
export const sharedZeroPointName = (dtype: string, value: number): string => `zp_${dtype}_${value}`;

/**
 * Renames each scalar zero-point constant that `isNew` accepts (one quantization added) and that a
 * QuantizeLinear, DequantizeLinear, QLinearConv or QLinearMatMul reads, after its value. Run after
 * constants are deduplicated: one constant then stands for every tensor with that zero point (all
 * of them 0 or 128 after a ReLU, say), and the name of whichever tensor came first
 * (`conv1.w_q_zp` read by every QLinearConv) would mislead at each of its many uses.
 * Returns how many were renamed.
 */
export function nameZeroPointsByValue(model: Model, isNew: (v: Value) => boolean): number {
  const renamed = new Set<Value>();
  for (const n of model.graph.allNodes()) {
    if (n.domain !== '') continue;
    for (const i of ZERO_POINT_OPERANDS[n.op] ?? []) {
      const z = n.input(i);
      const t = z?.constant;
      if (!z || !t || t.shape.length !== 0 || renamed.has(z) || !isNew(z) || z.isGraphInput || z.isGraphOutput) continue;
      renamed.add(z);
      z.name = model.graph.names.fresh(sharedZeroPointName(t.dtype, Number(t.data[0])));
    }
  }
  return renamed.size;
}
