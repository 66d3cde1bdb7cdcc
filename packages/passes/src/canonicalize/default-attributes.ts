/**
 * drop-default-conv-attributes: leaves out the attributes of a convolution that equal what ONNX
 * gives them when absent (Conv, ConvTranspose, ConvInteger, QLinearConv).
 *
 *   before:  %y = Conv(%x, %w: float32[16,8,3,3]) {dilations=[1,1], group=1, kernel_shape=[3,3], pads=[1,1,1,1], strides=[1,1]}
 *   after:   %y = Conv(%x, %w) {pads=[1,1,1,1]}
 *
 * Defaults (the same in every opset these ops exist in): strides and dilations 1 along every
 * spatial axis, pads 0, group 1, auto_pad "NOTSET", and for ConvTranspose output_padding 0. A
 * missing kernel_shape is the weight's spatial dims (W[2:]; the spec infers it from W), so it goes
 * only when the weight's shape is known statically and equal. Exported models spell all of them on
 * every node (about 85 bytes a 2-D convolution), a sizeable part of a quantized file's graph.
 *
 * Semantics are unchanged: every reader (onnxruntime, slimc's interpreter, shape inference and
 * runtime) applies the same defaults. Only default-domain nodes are touched.
 */
import type { Model, Node, Value } from '@slimc/ir';
import { definePattern, isDefaultDomain, PatternSet, applyPatternsGreedily, staticShapeOf } from '../core/pattern.js';

/** The weight operand of each convolution op. */
const WEIGHT_OPERAND: Readonly<Record<string, number>> = { Conv: 1, ConvTranspose: 1, ConvInteger: 1, QLinearConv: 3 };

const allEqual = (values: readonly number[], x: number) => values.every((v) => v === x);

/** The static shape of a weight: a constant's, its DequantizeLinear source's, or its declared type's. */
function weightShape(w: Value | null): readonly number[] | undefined {
  if (!w) return undefined;
  if (w.constant) return w.constant.shape;
  const dq = w.producer;
  const source = dq?.op === 'DequantizeLinear' && isDefaultDomain(dq) ? dq.input(0)?.constant : undefined;
  return source?.shape ?? staticShapeOf(w);
}

/** Names of `node`'s attributes that hold their default value. */
export function defaultConvAttributes(node: Node): string[] {
  const out: string[] = [];
  for (const [name, a] of node.attrs) {
    const isDefault =
      a.kind === 'ints'
        ? ((name === 'strides' || name === 'dilations') && allEqual(a.value, 1)) ||
          ((name === 'pads' || (name === 'output_padding' && node.op === 'ConvTranspose')) && allEqual(a.value, 0)) ||
          (name === 'kernel_shape' && sameDims(a.value, weightShape(node.input(WEIGHT_OPERAND[node.op]!))?.slice(2)))
        : (name === 'group' && a.kind === 'int' && a.value === 1) || (name === 'auto_pad' && a.kind === 'string' && a.value === 'NOTSET');
    if (isDefault) out.push(name);
  }
  return out;
}

function sameDims(a: readonly number[], b: readonly number[] | undefined): boolean {
  return !!b && a.length === b.length && a.every((d, i) => d === b[i]);
}

export const dropDefaultConvAttributes = definePattern<{ names: string[] }>({
  name: 'drop-default-conv-attributes',
  root: Object.keys(WEIGHT_OPERAND),
  match(node, m) {
    if (!isDefaultDomain(node)) return m.fail('not the default domain');
    const names = defaultConvAttributes(node);
    return names.length ? { names } : m.fail('no attribute holds its default');
  },
  rewrite(node, { names }, rw) {
    for (const name of names) rw.removeAttr(node, name);
  },
});

/** Runs `dropDefaultConvAttributes` over `model` (every graph); returns how many nodes changed. */
export function removeDefaultConvAttributes(model: Model, opset = model.opset): number {
  const r = applyPatternsGreedily(model, PatternSet.of(dropDefaultConvAttributes), { opset, eraseDeadNodes: false });
  return r.fired[dropDefaultConvAttributes.name] ?? 0;
}
