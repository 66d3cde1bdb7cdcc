/**
 * Dynamic and weight-only quantization.
 *
 * Dynamic (weights quantized offline, activations at run time, as onnxruntime's quantize_dynamic):
 *
 *   before:  %y = MatMul(%x, %w)                                   (w: float [K, N])
 *   after:   %x_q, %x_scale, %x_zp = DynamicQuantizeLinear(%x)          (uint8)
 *            %acc = MatMulInteger(%x_q, %w_q, %x_zp, %w_zp)   (int32)
 *            %y   = Mul(Cast(%acc, float), Mul(%x_scale, %w_scale))
 *
 *   Gemm (transA = 0, alpha = beta = 1) is the same with w transposed offline when transB, and the
 *   float bias added after (Add). Conv becomes ConvInteger with the scale product and the bias
 *   shaped [1, M, 1, ...] to broadcast over output channels; its weight zero point is one scalar
 *   (onnxruntime's ConvInteger takes no other), so per-channel weights need equal zero points
 *   (symmetric) and fall back to per tensor otherwise.
 *   Math: y = sx·sw·Σ(xq - zx)(wq - zw) ≈ Σ x·w, exact integer accumulation in int32.
 *   ConvTranspose has no integer form and gets weight-only quantization (below).
 *
 * Weight-only: every weight operand becomes DequantizeLinear(int8 or int16 constant) feeding the
 * unchanged float op; biases and activations stay float. 16-bit weights need opset 21.
 */
import { makeTensor, type Graph, type Node, type Tensor, type Value } from '@slimc/ir';
import { quantizeTensor } from '../quantize/params.js';
import { irQuantParams, paramConstants, quantizeConstantOperand, weightParams, type AnyQuantParams, type WeightQuantOptions } from './emit-qdq.js';
import type { QuantTarget } from './targets.js';
import { quantizedName, scaleName, zeroPointName } from './names.js';

/** [K, N] row-major transpose of a [N, K] float tensor. */
function transpose2d(t: Tensor): Tensor {
  const [n, k] = t.shape as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[j * n + i] = src[i * k + j]!;
  return makeTensor('float32', [k, n], out);
}

/** A per-channel scale vector (or scalar) as a constant shaped to broadcast along `axis` of a rank-`rank` tensor. */
function broadcastConstant(g: Graph, name: string, values: Float32Array, channelAxis: number, rank: number): Value {
  if (values.length === 1) return g.root.addConstant(name, makeTensor('float32', [], values));
  const shape = Array.from({ length: rank }, (_, i) => (i === channelAxis ? values.length : 1));
  return g.root.addConstant(name, makeTensor('float32', shape, values));
}

function scalesOf(p: AnyQuantParams): Float32Array {
  return 'scale' in p ? Float32Array.of(p.scale) : p.scales;
}

/**
 * Rewrites one MatMul (constant 2-D w at operand 1), Gemm or Conv target into the dynamic form.
 * Returns false when the target does not fit (left float).
 */
export function quantizeDynamic(t: QuantTarget, o: WeightQuantOptions): boolean {
  // no integer ConvTranspose exists (ConvInteger has no transposed twin): its weights go weight-only
  if (t.node.op === 'ConvTranspose') return quantizeWeightsOnly(t, o).length > 0;
  const node = t.node;
  const g = node.graph;
  const x = node.input(0)!;
  const wValue = node.input(1);
  if (t.activations.length !== 1 || t.activations[0] !== 0 || !wValue?.isConstant) return false;
  let w = wValue.constant!;
  const y = node.output(0);
  const isConv = node.op === 'Conv';
  if (!isConv) {
    if (w.shape.length !== 2) return false;
    if (node.op === 'Gemm' && node.getInt('transB', 0)) w = transpose2d(w);
  }
  // Conv output channels are axis 1 of [N, M, ...]; a [N] vector broadcasts over the last axis of a MatMul output.
  const perOutputChannel = (name: string, values: Float32Array) =>
    isConv ? broadcastConstant(g, name, values, 1, w.shape.length) : broadcastConstant(g, name, values, 0, 1);
  let p = weightParams({ constant: w } as Value, isConv ? 0 : 1, o);
  // ConvInteger kernels (onnxruntime's) take one weight zero point: per-channel scales are applied
  // in the float rescale anyway, so per-channel works when every channel's zero point is the same.
  const oneZeroPoint = 'scale' in p || p.zeroPoints.every((z, _, all) => z === all[0]);
  if (isConv && !oneZeroPoint) p = weightParams({ constant: w } as Value, undefined, o);
  const wq = g.root.addConstant(quantizedName(wValue.name), makeTensor(p.dtype, w.shape, quantizeTensor(w.data as Float32Array, w.shape, p)));
  wq.quant = irQuantParams(p, o.reduceRange ? 7 : 8);
  const zp = isConv
    ? g.root.addConstant(zeroPointName(wValue.name), makeTensor(p.dtype, [], ['scale' in p ? p.zeroPoint : p.zeroPoints[0]!]))
    : paramConstants(g, wValue.name, p).zeroPoint;
  const at = { before: node };
  const base = y.name;
  const dql = g.addNode({ op: 'DynamicQuantizeLinear', inputs: [x], outputs: [quantizedName(x.name), scaleName(x.name), zeroPointName(x.name)] }, at);
  const [xq, xs, xzp] = [dql.output(0), dql.output(1), dql.output(2)];
  const integerOp =
    isConv
      ? g.addNode({ op: 'ConvInteger', inputs: [xq, wq, xzp, zp], attrs: node.attrs, outputs: [`${base}_int32`] }, at)
      : g.addNode({ op: 'MatMulInteger', inputs: [xq, wq, xzp, zp], outputs: [`${base}_int32`] }, at);
  const accFloat = g.addNode({ op: 'Cast', inputs: [integerOp.output(0)], attrs: { to: { kind: 'int', value: 1 } }, outputs: [`${base}_int32_float`] }, at);
  const wScale = perOutputChannel(scaleName(wValue.name), scalesOf(p));
  const scale = g.addNode({ op: 'Mul', inputs: [xs, wScale], outputs: [`${base}_rescale`] }, at);
  let out = g.addNode({ op: 'Mul', inputs: [accFloat.output(0), scale.output(0)], outputs: [{ name: `${base}_dynamic`, type: y.type }] }, at).output(0);
  const biasValue = t.bias !== undefined ? node.input(t.bias) : null;
  if (biasValue) {
    const bias = perOutputChannel(`${biasValue.name}_broadcast`, biasValue.constant!.data as Float32Array);
    out = g.addNode({ op: 'Add', inputs: [out, bias], outputs: [{ name: `${base}_biased`, type: y.type }] }, at).output(0);
  }
  y.replaceAllUsesWith(out);
  node.erase();
  out.name = base;
  for (const v of [wValue, biasValue]) if (v && !v.hasUses && v.graph.initializers.includes(v)) v.graph.removeConstant(v);
  return true;
}

/** Weight-only: each weight operand of `t` read through DequantizeLinear of an integer constant. */
export function quantizeWeightsOnly(t: QuantTarget, o: WeightQuantOptions): Node[] {
  const bits = o.dtype === 'int16' ? 16 : o.reduceRange ? 7 : 8;
  return t.weights.map(({ index, axis }) => quantizeConstantOperand(t.node, index, weightParams(t.node.input(index)!, axis, o), bits));
}
