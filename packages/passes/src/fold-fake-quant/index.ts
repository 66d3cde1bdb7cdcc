/**
 * fold-fake-quant: turns the fake-quantization of a quantization-aware-trained (QAT) model into
 * real quantized weights and quantization annotations.
 *
 * Weights:
 *   DequantizeLinear(QuantizeLinear(W, s, z), s', z')   W a float constant
 *     ==>  DequantizeLinear(Wq, s', z')                   Wq = QuantizeLinear(W, s, z), an int8/uint8/... constant
 *   Wq is computed by the reference interpreter's QuantizeLinear kernel, i.e. with ONNX's rounding
 *   (x / s rounded to float32, then round half to even, plus z, saturated), so the folded model
 *   computes bit-identical outputs, and stores the weight at a quarter of its float size.
 *   Pre: W, s and z are constants; the grid is per-tensor or per-axis with an integer type (blocked
 *   and float8 forms are left alone); every user of the QuantizeLinear output is a
 *   DequantizeLinear; that output is no graph output.
 *
 * Activations:
 *   DequantizeLinear(QuantizeLinear(x, s, z), s, z)      x not a constant
 *   The pair stays in the ONNX graph: it rounds x to the grid and saturates it, which is part of
 *   what the trained model computes (removing it changes outputs by up to s/2 per element). It is
 *   marked instead: the QuantizeLinear output and the DequantizeLinear output get `Value.quant`
 *   = (s, z, axis, dtype), so later passes and backends see the activation's grid without
 *   pattern-matching the pair. With `drop-activation-pairs` (for backends that re-insert Q/DQ from
 *   the annotations, e.g. an integer lowering), the pair is removed and x itself carries
 *   `Value.quant`. Pre for dropping: both nodes use the same parameters (cancel-qdq's
 *   `sameQdqParams`), x carries no other annotation, and graph output names can be kept.
 */
import { type DType, type Node, type QuantParams, type Tensor, type Value, runNode } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { PatternSet, definePattern, isDefaultDomain } from '../core/pattern.js';
import { type QdqParams, matchQdqPair, qdqParams, sameQdqParams } from '../cancel-qdq/qdq-params.js';

const BITS: Partial<Record<DType, number>> = { int8: 8, uint8: 8, int16: 16, uint16: 16, int32: 32 };

/** The IR annotation for a Q/DQ grid. */
export function quantAnnotation(p: QdqParams): QuantParams {
  return {
    scale: Float32Array.from(p.scales),
    zeroPoint: Int32Array.from(p.zeroPoints),
    ...(p.axis !== undefined ? { axis: p.axis } : {}),
    dtype: p.dtype,
    bits: BITS[p.dtype] ?? 8,
  };
}

export function sameAnnotation(a: QuantParams | undefined, b: QuantParams): boolean {
  if (!a || a.dtype !== b.dtype || a.axis !== b.axis || a.bits !== b.bits) return false;
  if (a.scale.length !== b.scale.length || a.zeroPoint.length !== b.zeroPoint.length) return false;
  return a.scale.every((s, i) => s === b.scale[i]) && a.zeroPoint.every((z, i) => z === b.zeroPoint[i]);
}

/** QuantizeLinear(W const, s, z) feeding only DequantizeLinear  ==>  the quantized constant. */
export const foldWeightQuantize = definePattern<{ quantized: Tensor; annotation: QuantParams }>({
  name: 'fold-weight-quantize',
  root: 'QuantizeLinear',
  benefit: 2,
  match(q, m) {
    if (!isDefaultDomain(q)) return m.fail('op of another domain');
    const w = m.constant(q.input(0));
    if (!w) return m.fail('input is not a constant');
    const scale = m.constant(q.input(1));
    const zp = q.input(2) ? m.constant(q.input(2)) : null;
    if (!scale || zp === undefined) return m.fail('scale or zero point is not a constant');
    const y = q.output(0);
    if (y.isGraphOutput) return m.fail('the quantized weight is a graph output');
    if (!y.uses.every((u) => 'op' in u.user && (u.user as Node).op === 'DequantizeLinear')) return m.fail('a user is not a DequantizeLinear');
    // Only the integer grids the annotation can describe (float8, int4 and blocked forms are left alone).
    const params = qdqParams(q, m);
    if (typeof params === 'string') return m.fail(params);
    const [quantized] = runNode(q, [w, scale, zp], m.opset);
    return { quantized: quantized!, annotation: quantAnnotation(params) };
  },
  rewrite(q, { quantized, annotation }, rw) {
    const c = rw.replaceWithConstant(q.output(0), quantized);
    c.quant = annotation;
    rw.eraseNode(q);
  },
});

interface ActivationCaptures {
  q: Node;
  x: Value;
  annotation: QuantParams;
  /** The QuantizeLinear's own grid (equal to `annotation` in a well-formed QAT pair). */
  innerAnnotation: QuantParams;
  drop: boolean;
}

function activationPair(drop: boolean) {
  return definePattern<ActivationCaptures>({
    name: drop ? 'drop-activation-pair' : 'mark-activation-pair',
    root: 'DequantizeLinear',
    benefit: 1,
    match(dq, m) {
      const pair = matchQdqPair(dq, 'QuantizeLinear', m);
      if ('failed' in pair) return pair;
      const { inner: q, innerParams: inner, outerParams: outer } = pair;
      const x = q.input(0)!;
      if (m.constant(x)) return m.fail('a weight pair (fold-weight-quantize)');
      const annotation = quantAnnotation(outer);
      const innerAnnotation = quantAnnotation(inner);
      const canDrop = drop && sameQdqParams(inner, outer) && (!x.quant || sameAnnotation(x.quant, annotation)) && m.canReplaceValue(dq.output(0), x);
      if (canDrop) return { q, x, annotation, innerAnnotation, drop: true };
      if (sameAnnotation(dq.output(0).quant, annotation) && sameAnnotation(q.output(0).quant, innerAnnotation)) return m.fail('already marked');
      return { q, x, annotation, innerAnnotation, drop: false };
    },
    rewrite(dq, { q, x, annotation, innerAnnotation, drop: dropIt }, rw) {
      if (dropIt) {
        x.quant = annotation;
        rw.replaceOp(dq, [x]);
        return;
      }
      dq.output(0).quant = annotation;
      q.output(0).quant = innerAnnotation;
      rw.notifyChanged(dq);
    },
  });
}

export const markActivationPair = activationPair(false);
export const dropActivationPair = activationPair(true);

export const foldFakeQuantPass = definePass({
  name: 'fold-fake-quant',
  description: 'Fold QAT weight Q/DQ pairs into quantized constants; mark activation Q/DQ pairs with Value.quant (or drop them)',
  kind: 'pattern',
  options: {
    'drop-activation-pairs': {
      type: 'boolean',
      default: false,
      description: 'remove activation Q->DQ pairs, leaving their grid as Value.quant (for backends that re-insert them; changes numerics)',
    },
  },
  patterns: (options) => PatternSet.of(foldWeightQuantize, options['drop-activation-pairs'] ? dropActivationPair : markActivationPair),
});
