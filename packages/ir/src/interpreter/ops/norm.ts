/**
 * Normalizations: BatchNormalization (inference form), InstanceNormalization,
 * LayerNormalization, GroupNormalization, LpNormalization, MeanVarianceNormalization.
 *
 *   BatchNorm:    y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + B[c]
 *   Instance:     mean/var over the spatial dims of each (n, c)
 *   Layer:        mean/var over axes [axis, rank), y = (x - mean) * invStd * scale + B (broadcast)
 * Statistics accumulate in float64; variance is the biased (population) one, as ONNX specifies.
 */
import { shapeSize, type Tensor } from '../../tensor.js';
import { axisSplit, broadcastIndex, numberBuffer, numbersOf, sizeBetween, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { reductionPlan } from './reduce.js';

function perChannel(ctx: KernelContext, t: Tensor, channels: number, i: number): ArrayLike<number> {
  if (t.data.length !== channels) throw ctx.error(`expected ${channels} elements, got ${t.data.length}`, `input ${i}`);
  return numbersOf(t);
}

const batchNorm: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  if (x.shape.length < 2) throw ctx.error('input must be N x C x ...', 'input 0');
  const c = x.shape[1]!;
  const [scale, bias, runMean, runVar] = [1, 2, 3, 4].map((i) => perChannel(ctx, ctx.input(inputs, i), c, i)) as ArrayLike<number>[];
  let mean = runMean!;
  let variance = runVar!;
  const eps = ctx.float('epsilon', 1e-5);
  const inner = sizeBetween(x.shape, 2);
  const xv = numbersOf(x);
  const training = ctx.int('training_mode', 0) === 1;
  let extra: Tensor[] = [];
  if (training) {
    // Normalize with the batch statistics; also return the updated running statistics.
    const stats = channelStats(xv, x.shape[0]!, c, inner);
    mean = stats.mean;
    variance = stats.variance;
    const momentum = ctx.float('momentum', 0.9);
    const blend = (run: ArrayLike<number>, cur: Float64Array) => Float64Array.from(cur, (v, k) => run[k]! * momentum + v * (1 - momentum));
    const dt = ctx.input(inputs, 3).dtype;
    extra = [tensorFrom(dt, [c], blend(runMean!, stats.mean)), tensorFrom(dt, [c], blend(runVar!, stats.variance))];
  }
  const out = numberBuffer(x.dtype, xv.length);
  for (let n = 0; n < x.shape[0]!; n++) {
    for (let ch = 0; ch < c; ch++) {
      const mul = scale![ch]! / Math.sqrt(variance[ch]! + eps);
      const add = bias![ch]! - mean[ch]! * mul;
      const base = (n * c + ch) * inner;
      for (let i = base; i < base + inner; i++) out[i] = xv[i]! * mul + add;
    }
  }
  return [tensorFrom(x.dtype, x.shape, out), ...extra];
};

/** Per-channel mean and population variance over batch and spatial positions. */
function channelStats(xv: ArrayLike<number>, batch: number, c: number, inner: number): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  const count = batch * inner;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let n = 0; n < batch; n++) for (let i = 0; i < inner; i++) s += xv[(n * c + ch) * inner + i]!;
    const m = s / count;
    let v = 0;
    for (let n = 0; n < batch; n++) for (let i = 0; i < inner; i++) v += (xv[(n * c + ch) * inner + i]! - m) ** 2;
    mean[ch] = m;
    variance[ch] = v / count;
  }
  return { mean, variance };
}

/** Normalizes each of `groups` contiguous blocks of `size` elements to zero mean, unit variance. */
function normalizeBlocks(xv: ArrayLike<number>, groups: number, size: number, eps: number, out: Float64Array, means?: Float64Array, invStds?: Float64Array): void {
  for (let g = 0; g < groups; g++) {
    const base = g * size;
    let mean = 0;
    for (let i = base; i < base + size; i++) mean += xv[i]!;
    mean /= size;
    let v = 0;
    for (let i = base; i < base + size; i++) v += (xv[i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / size + eps);
    for (let i = base; i < base + size; i++) out[i] = (xv[i]! - mean) * inv;
    if (means) means[g] = mean;
    if (invStds) invStds[g] = inv;
  }
}

const instanceNorm: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const c = x.shape[1]!;
  const scale = perChannel(ctx, ctx.input(inputs, 1), c, 1);
  const bias = perChannel(ctx, ctx.input(inputs, 2), c, 2);
  const inner = sizeBetween(x.shape, 2);
  const norm = new Float64Array(x.data.length);
  normalizeBlocks(numbersOf(x), x.shape[0]! * c, inner, ctx.float('epsilon', 1e-5), norm);
  for (let g = 0; g < x.shape[0]! * c; g++) {
    const ch = g % c;
    for (let i = g * inner; i < (g + 1) * inner; i++) norm[i] = norm[i]! * scale[ch]! + bias[ch]!;
  }
  return [tensorFrom(x.dtype, x.shape, norm)];
};

const groupNorm: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const c = x.shape[1]!;
  const groups = ctx.requiredInt('num_groups');
  if (c % groups !== 0) throw ctx.error(`${c} channels do not split into ${groups} groups`, 'attribute num_groups');
  const scale = numbersOf(ctx.input(inputs, 1));
  const bias = numbersOf(ctx.input(inputs, 2));
  // Opset 18 has one scale per group, opset 21 one per channel.
  const perGroup = scale.length === groups && groups !== c;
  const inner = sizeBetween(x.shape, 2);
  const norm = new Float64Array(x.data.length);
  normalizeBlocks(numbersOf(x), x.shape[0]! * groups, (c / groups) * inner, ctx.float('epsilon', 1e-5), norm);
  for (let n = 0; n < x.shape[0]!; n++) {
    for (let ch = 0; ch < c; ch++) {
      const k = perGroup ? Math.floor(ch / (c / groups)) : ch;
      const base = (n * c + ch) * inner;
      for (let i = base; i < base + inner; i++) norm[i] = norm[i]! * scale[k]! + bias[k]!;
    }
  }
  return [tensorFrom(x.dtype, x.shape, norm)];
};

const layerNorm: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const rank = x.shape.length;
  const axis = ctx.axis(ctx.int('axis', -1), rank);
  const groups = sizeBetween(x.shape, 0, axis);
  const size = sizeBetween(x.shape, axis);
  const norm = new Float64Array(x.data.length);
  const means = new Float64Array(groups);
  const invStds = new Float64Array(groups);
  normalizeBlocks(numbersOf(x), groups, size, ctx.float('epsilon', 1e-5), norm, means, invStds);
  const affine = (t: Tensor | null, i: number, f: (y: number, p: number) => number) => {
    if (!t) return;
    const idx = broadcastIndex(t.shape, x.shape);
    if (!idx && shapeSize(t.shape) !== norm.length) throw ctx.error(`shape [${t.shape.join(',')}] does not broadcast to the input`, `input ${i}`);
    const p = numbersOf(t);
    for (let j = 0; j < norm.length; j++) norm[j] = f(norm[j]!, p[idx ? idx[j]! : j]!);
  };
  affine(ctx.input(inputs, 1), 1, (y, s) => y * s);
  affine(inputs[2] ?? null, 2, (y, b) => y + b);
  const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
  const stash = ctx.int('stash_type', 1) === 1 ? 'float32' : x.dtype;
  return [tensorFrom(x.dtype, x.shape, norm), tensorFrom(stash, statShape, means), tensorFrom(stash, statShape, invStds)];
};

const lpNorm: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const axis = ctx.axis(ctx.int('axis', -1), x.shape.length);
  const p = ctx.int('p', 2);
  if (p !== 1 && p !== 2) throw ctx.error(`p must be 1 or 2, got ${p}`, 'attribute p');
  const { outer, dim, inner } = axisSplit(x.shape, axis);
  const xv = numbersOf(x);
  const out = numberBuffer(x.dtype, xv.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) {
        const v = xv[(o * dim + k) * inner + i]!;
        s += p === 1 ? Math.abs(v) : v * v;
      }
      const norm = p === 1 ? s : Math.sqrt(s);
      for (let k = 0; k < dim; k++) {
        const idx = (o * dim + k) * inner + i;
        out[idx] = norm === 0 ? 0 : xv[idx]! / norm;
      }
    }
  }
  return [tensorFrom(x.dtype, x.shape, out)];
};

/** LRN: y = x / (bias + alpha / size * sum of x^2 over the `size` nearest channels)^beta. */
const lrn: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const size = ctx.requiredInt('size');
  const alpha = ctx.float('alpha', 1e-4);
  const beta = ctx.float('beta', 0.75);
  const bias = ctx.float('bias', 1);
  const c = x.shape[1]!;
  const inner = sizeBetween(x.shape, 2);
  const xv = numbersOf(x);
  const out = numberBuffer(x.dtype, xv.length);
  const lo = Math.floor((size - 1) / 2);
  const hi = Math.ceil((size - 1) / 2);
  for (let n = 0; n < x.shape[0]!; n++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < inner; i++) {
        let sq = 0;
        for (let k = Math.max(0, ch - lo); k <= Math.min(c - 1, ch + hi); k++) sq += xv[(n * c + k) * inner + i]! ** 2;
        const idx = (n * c + ch) * inner + i;
        out[idx] = xv[idx]! / Math.pow(bias + (alpha / size) * sq, beta);
      }
    }
  }
  return [tensorFrom(x.dtype, x.shape, out)];
};

/** MeanVarianceNormalization: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default N, H, W). */
const meanVarianceNorm: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const axes = (ctx.ints('axes') ?? [0, 2, 3]).map((a) => ctx.axis(a, x.shape.length, 'attribute axes'));
  const plan = reductionPlan(x.shape, axes, true);
  const xv = numbersOf(x);
  const m = shapeSize(plan.outShape);
  const sum = new Float64Array(m);
  const sumSq = new Float64Array(m);
  for (let i = 0; i < xv.length; i++) {
    sum[plan.target[i]!] += xv[i]!;
    sumSq[plan.target[i]!] += xv[i]! ** 2;
  }
  const out = new Float64Array(xv.length);
  for (let i = 0; i < xv.length; i++) {
    const j = plan.target[i]!;
    const mean = sum[j]! / plan.count;
    const std = Math.sqrt(Math.max(0, sumSq[j]! / plan.count - mean * mean));
    out[i] = (xv[i]! - mean) / (std + 1e-9);
  }
  return [tensorFrom(x.dtype, x.shape, out)];
};

export const normKernels: Record<string, Kernel> = {
  BatchNormalization: batchNorm,
  InstanceNormalization: instanceNorm,
  LayerNormalization: layerNorm,
  GroupNormalization: groupNorm,
  LpNormalization: lpNorm,
  LRN: lrn,
  MeanVarianceNormalization: meanVarianceNorm,
};
