/**
 * fold-batchnorm: folds inference BatchNormalization, and per-channel Mul/Add by constants, into
 * the weights of the preceding linear op.
 *
 * BatchNormalization computes, per channel c,
 *     y = scale[c] * (x - mean[c]) / sqrt(var[c] + eps) + B[c]  =  s[c] * x + t[c]
 * with s = scale / sqrt(var + eps) and t = B - mean * s. When x = W * in + b is linear with the
 * output channel c on known weight slices, s and t fold into the weights:
 *     W'[c-slice] = W[c-slice] * s[c],   b'[c] = b[c] * s[c] + t[c]
 *
 *   Conv(x, W[Cout, Cin/g, k...], b?) -> BN       ==>  Conv(x, W', b')
 *   ConvTranspose(x, W[Cin, Cout/g, k...], b?) -> BN   ==>  ConvTranspose(x, W', b')
 *       (output channel c = g * Cout/g + j lives in W[ci, j, ...] for the input channels ci of group g)
 *   Gemm(A, B, C?) {alpha, beta, transB} -> BN (2-D, channel = column n)
 *       ==>  Gemm(A, B', C') {beta=1}   with column n of op(B) scaled by s[n], C' = beta*C*s + t
 *   MatMul(x[M,K], W[K,N]) -> BN (2-D)   ==>  Add(MatMul(x, W'), t)
 *   Mul(Conv(x, W, b), c) / Mul(c, Conv(...))  ==>  Conv(x, W*c, b*c)
 *   Add(Conv(x, W, b), c) / Add(c, Conv(...))  ==>  Conv(x, W, b+c)
 *       (and the same for ConvTranspose, scaling its output-channel slices as for BN)
 *       where c is a scalar or per-channel constant ([C,1,1], [1,C,1,1], [1], ...: every dim but the
 *       channel axis is 1, and c does not raise the rank), so broadcasting leaves the shape as is.
 *
 * Preconditions: the linear op's output has no other use (it disappears); its weight and bias and
 * all BN parameters are float constants; BN is in inference form (training_mode absent or 0; its
 * extra outputs unused; spatial BN before opset 9). Arithmetic is done in float64 and stored in the
 * weight's own dtype, so the folded model differs from the original only by the one rounding of
 * each folded weight.
 */
import { type Node, type Tensor, type Value, makeTensor, toFloat64, isFloatDType } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { type MatchFailure, type Matcher, type Rewriter, PatternSet, definePattern } from '../core/pattern.js';

interface Affine {
  /** Per-channel multiplier and offset: y[c] = s[c] * x[c] + t[c]. */
  s: Float64Array;
  t: Float64Array;
}

/** BN parameters as s and t, or a failure. */
function batchNormAffine(bn: Node, m: Matcher): Affine | MatchFailure {
  if (bn.getInt('training_mode', 0) !== 0) return m.fail('training mode');
  if (m.opset < 9 && bn.getInt('spatial', 1) !== 1) return m.fail('non-spatial BatchNormalization');
  if (bn.outputs.slice(1).some((o) => o?.hasUses)) return m.fail('running statistics are used');
  const params = [1, 2, 3, 4].map((i) => m.constant(bn.input(i)));
  if (params.some((p) => !p || !isFloatDType(p.dtype))) return m.fail('parameters are not float constants');
  const [scale, bias, mean, variance] = params.map((p) => toFloat64(p!)) as [Float64Array, Float64Array, Float64Array, Float64Array];
  const n = scale.length;
  if ([bias, mean, variance].some((a) => a.length !== n)) return m.fail('parameter lengths differ');
  const eps = bn.getFloat('epsilon', 1e-5);
  // eps is stored as float32 in the model; ONNX runtimes add it in float32 too.
  const epsilon = Math.fround(eps);
  const s = new Float64Array(n);
  const t = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    s[c] = scale[c]! / Math.sqrt(variance[c]! + epsilon);
    t[c] = bias[c]! - mean[c]! * s[c]!;
  }
  return { s, t };
}

function floatConstant(m: Matcher, v: Value | null): Tensor | undefined {
  const t = m.constant(v);
  return t && isFloatDType(t.dtype) ? t : undefined;
}

/** New weight: every element of output channel c multiplied by s[c]; `channelOf(i)` maps a flat index to c. */
function scaleWeight(w: Tensor, s: Float64Array, channelOf: (i: number) => number): Tensor {
  const data = toFloat64(w);
  for (let i = 0; i < data.length; i++) data[i] = data[i]! * s[channelOf(i)]!;
  return makeTensor(w.dtype, w.shape, data);
}

/** b' = b * s + t (b absent: zeros), in the dtype of the weight. */
function foldBias(b: Tensor | undefined, affine: Affine, dtype: Tensor['dtype']): Tensor {
  const n = affine.s.length;
  const old = b ? toFloat64(b) : new Float64Array(n);
  const out = new Float64Array(n);
  for (let c = 0; c < n; c++) out[c] = old[c]! * affine.s[c]! + affine.t[c]!;
  return makeTensor(b?.dtype ?? dtype, [n], out);
}

/** Flat-index -> output-channel maps for the weight layouts. */
function convChannelOf(w: Tensor): (i: number) => number {
  const per = w.data.length / w.shape[0]!;
  return (i) => Math.floor(i / per);
}

function convTransposeChannelOf(w: Tensor, group: number): (i: number) => number {
  const [cin, coutPerGroup] = [w.shape[0]!, w.shape[1]!];
  const spatial = w.data.length / (cin * coutPerGroup);
  const cinPerGroup = cin / group;
  return (i) => {
    const ci = Math.floor(i / (coutPerGroup * spatial));
    const j = Math.floor(i / spatial) % coutPerGroup;
    return Math.floor(ci / cinPerGroup) * coutPerGroup + j;
  };
}

interface LinearCaptures {
  linear: Node;
  affine: Affine;
  weight: Tensor;
  bias: Tensor | undefined;
}

/** The Conv/ConvTranspose producing `x` when `x` has a single use, with its float weights. */
function convProducer(x: Value | null, m: Matcher, ops: readonly string[], channels: number): Omit<LinearCaptures, 'affine'> | MatchFailure {
  const linear = m.producer(x, ops);
  if (!linear) return m.fail(`operand is not a ${ops.join('/')}`);
  if (!m.hasOneUse(x!)) return m.fail('the linear output has other uses');
  const weight = floatConstant(m, linear.input(1));
  if (!weight) return m.fail('weight is not a float constant');
  const bias = linear.input(2) ? floatConstant(m, linear.input(2)) : undefined;
  if (linear.input(2) && !bias) return m.fail('bias is not a float constant');
  const cout = outputChannels(linear, weight);
  if (cout !== channels) return m.fail(`weight has ${cout} output channels, the scale ${channels}`);
  return { linear, weight, bias };
}

function rewriteConvLike(node: Node, { linear, affine, weight, bias }: LinearCaptures, rw: Rewriter): void {
  const channelOf = linear.op === 'Conv' ? convChannelOf(weight) : convTransposeChannelOf(weight, linear.getInt('group', 1));
  rw.replaceConstantOperand(linear, 1, scaleWeight(weight, affine.s, channelOf));
  rw.replaceConstantOperand(linear, 2, foldBias(bias, affine, weight.dtype), `${linear.output(0).name}_bias`);
  rw.replaceValue(node.output(0), linear.output(0));
  rw.eraseNode(node);
}

/** BatchNormalization(Conv | ConvTranspose)  ==>  Conv | ConvTranspose with folded weights. */
export const foldBatchNormIntoConv = definePattern<LinearCaptures>({
  name: 'fold-batchnorm-into-conv',
  root: 'BatchNormalization',
  benefit: 3,
  match(bn, m) {
    const affine = batchNormAffine(bn, m);
    if ('failed' in affine) return affine;
    const conv = convProducer(bn.input(0), m, ['Conv', 'ConvTranspose'], affine.s.length);
    if ('failed' in conv) return conv;
    if (!m.canReplaceValue(bn.output(0), conv.linear.output(0))) return m.fail('output name cannot be kept');
    return { ...conv, affine };
  },
  rewrite: rewriteConvLike,
});

/** Per-channel values of a constant that broadcasts over [N, C, spatial...] (rank `rank`) only along C. */
function perChannel(c: Tensor, rank: number, channels: number): Float64Array | undefined {
  if (!isFloatDType(c.dtype) || c.shape.length > rank) return undefined;
  const channelAxis = c.shape.length - (rank - 1); // index of axis 1 of the output in c's shape
  let count = 1;
  for (let k = 0; k < c.shape.length; k++) {
    const d = c.shape[k]!;
    if (k === channelAxis) count = d;
    else if (d !== 1) return undefined;
  }
  if (count !== 1 && count !== channels) return undefined;
  const values = toFloat64(c);
  if (count === channels) return values;
  return new Float64Array(channels).fill(values[0]!);
}

/** Output channels of a Conv (W[Cout, ...]) or ConvTranspose (W[Cin, Cout/group, ...]). */
function outputChannels(linear: Node, w: Tensor): number {
  return linear.op === 'Conv' ? w.shape[0]! : w.shape[1]! * linear.getInt('group', 1);
}

/** Mul/Add(Conv | ConvTranspose (x), c) with c per-channel  ==>  Conv | ConvTranspose with c folded in. */
export const foldScaleShiftIntoConv = definePattern<LinearCaptures>({
  name: 'fold-scale-shift-into-conv',
  root: ['Mul', 'Add'],
  benefit: 2,
  match(node, m) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') return m.fail('op of another domain');
    const ops = ['Conv', 'ConvTranspose'];
    const swapped = !m.producer(node.input(0), ops);
    const convOut = node.input(swapped ? 1 : 0);
    const c = m.constant(node.input(swapped ? 0 : 1));
    const conv = m.producer(convOut, ops);
    if (!conv || !c) return m.fail('not a Conv/ConvTranspose and a constant');
    const w = floatConstant(m, conv.input(1));
    if (!w) return m.fail('weight is not a float constant');
    const channels = outputChannels(conv, w);
    const values = perChannel(c, w.shape.length, channels);
    if (!values) return m.fail('constant is not per-channel');
    const s = node.op === 'Mul' ? values : new Float64Array(values.length).fill(1);
    const t = node.op === 'Mul' ? new Float64Array(values.length) : values;
    const linear = convProducer(convOut, m, ops, channels);
    if ('failed' in linear) return linear;
    if (!m.canReplaceValue(node.output(0), conv.output(0))) return m.fail('output name cannot be kept');
    return { ...linear, affine: { s, t } };
  },
  rewrite: rewriteConvLike,
});

/** BatchNormalization(Gemm | MatMul) on a 2-D output  ==>  folded Gemm, or MatMul + Add. */
export const foldBatchNormIntoGemm = definePattern<{ linear: Node; affine: Affine; weight: Tensor; bias?: Tensor }>({
  name: 'fold-batchnorm-into-gemm',
  root: 'BatchNormalization',
  benefit: 3,
  match(bn, m) {
    const affine = batchNormAffine(bn, m);
    if ('failed' in affine) return affine;
    const x = bn.input(0)!;
    const linear = m.producer(x, ['Gemm', 'MatMul']);
    if (!linear) return m.fail('operand is not a Gemm/MatMul');
    if (!m.hasOneUse(x)) return m.fail('the linear output has other uses');
    if (linear.op === 'MatMul' && linear.input(0)?.type?.shape?.length !== 2) return m.fail('MatMul input is not known to be 2-D');
    const weight = floatConstant(m, linear.input(1));
    if (!weight || weight.shape.length !== 2) return m.fail('weight is not a 2-D float constant');
    const transB = linear.op === 'Gemm' && linear.getInt('transB', 0) === 1;
    const n = transB ? weight.shape[0]! : weight.shape[1]!;
    if (n !== affine.s.length) return m.fail(`weight has ${n} columns, the scale ${affine.s.length}`);
    let bias: Tensor | undefined;
    if (linear.op === 'Gemm' && linear.input(2)) {
      bias = floatConstant(m, linear.input(2));
      if (!bias) return m.fail('C is not a float constant');
      const lead = bias.shape.slice(0, -1);
      const last = bias.shape[bias.shape.length - 1] ?? 1;
      if (bias.shape.length > 2 || lead.some((d) => d !== 1) || (last !== 1 && last !== n)) return m.fail('C is not per-column');
    }
    if (!m.canReplaceValue(bn.output(0), linear.output(0))) return m.fail('output name cannot be kept');
    return { linear, affine, weight, bias };
  },
  rewrite(bn, { linear, affine, weight, bias }, rw) {
    const g = linear.graph;
    const transB = linear.op === 'Gemm' && linear.getInt('transB', 0) === 1;
    const cols = weight.shape[1]!;
    const column = transB ? (i: number) => Math.floor(i / cols) : (i: number) => i % cols;
    rw.replaceConstantOperand(linear, 1, scaleWeight(weight, affine.s, column));
    if (linear.op === 'Gemm') {
      // C' = beta * C * s + t, broadcast to one value per column; beta becomes 1.
      const beta = linear.getFloat('beta', 1);
      const n = affine.s.length;
      const old = bias ? toFloat64(bias) : new Float64Array(1);
      const c = new Float64Array(n);
      for (let k = 0; k < n; k++) c[k] = beta * old[old.length === 1 ? 0 : k]! * affine.s[k]! + affine.t[k]!;
      rw.replaceConstantOperand(linear, 2, makeTensor(bias?.dtype ?? weight.dtype, [n], c), `${linear.output(0).name}_bias`);
      rw.setAttr(linear, 'beta', { kind: 'float', value: 1 });
      rw.replaceValue(bn.output(0), linear.output(0));
      rw.eraseNode(bn);
      return;
    }
    const shift = rw.addConstant(g, `${linear.output(0).name}_shift`, makeTensor(weight.dtype, [affine.t.length], affine.t));
    rw.replaceOpWithNew(bn, { op: 'Add', inputs: [linear.output(0), shift] });
  },
});

export const foldBatchNormPass = definePass({
  name: 'fold-batchnorm',
  description: 'Fold inference BatchNormalization and per-channel Mul/Add constants into Conv, ConvTranspose, Gemm and MatMul weights',
  kind: 'pattern',
  options: {},
  patterns: () => PatternSet.of(foldBatchNormIntoConv, foldBatchNormIntoGemm, foldScaleShiftIntoConv),
});
