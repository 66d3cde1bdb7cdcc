/**
 * Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (= NLL of LogSoftmax over axis 1).
 *
 *   loss[n, d...] = -w[t] * input[n, t, d...]   with t = target[n, d...], w = weight or ones;
 *   entries whose target equals ignore_index contribute 0 to the loss and 0 to the weight sum.
 *   reduction: none (per entry), sum, or mean = sum(loss) / sum(w[t]).
 */
import type { Tensor } from '../../tensor.js';
import { intsOf, numbersOf, sizeBetween, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';

function nll(ctx: KernelContext, logits: ArrayLike<number>, shape: readonly number[], target: Tensor, weight: Tensor | null, dtype: Tensor['dtype']): Tensor {
  if (shape.length < 2) throw ctx.error('input must be N x C x ...', 'input 0');
  const n = shape[0]!;
  const c = shape[1]!;
  const inner = sizeBetween(shape, 2);
  const t = intsOf(target);
  if (t.length !== n * inner) throw ctx.error(`target has ${t.length} elements, expected ${n * inner}`, 'input 1');
  const w = weight ? numbersOf(weight) : null;
  const ignore = ctx.has('ignore_index') ? ctx.int('ignore_index', 0) : null;
  const reduction = ctx.string('reduction', 'mean');
  const loss = new Float64Array(n * inner);
  let weightSum = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < inner; i++) {
      const k = t[b * inner + i]!;
      if (k === ignore) continue;
      if (k < 0 || k >= c) throw ctx.error(`target ${k} is out of range for ${c} classes`, 'input 1');
      const wk = w ? w[k]! : 1;
      loss[b * inner + i] = -logits[(b * c + k) * inner + i]! * wk;
      weightSum += wk;
    }
  }
  if (reduction === 'none') return tensorFrom(dtype, [n, ...shape.slice(2)], loss);
  const total = loss.reduce((s, v) => s + v, 0);
  if (reduction === 'sum') return tensorFrom(dtype, [], [total]);
  if (reduction === 'mean') return tensorFrom(dtype, [], [total / weightSum]);
  throw ctx.error(`unknown reduction ${reduction}`, 'attribute reduction');
}

const negativeLogLikelihoodLoss: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  return [nll(ctx, numbersOf(x), x.shape, ctx.input(inputs, 1), inputs[2] ?? null, x.dtype)];
};

const softmaxCrossEntropyLoss: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  if (x.shape.length < 2) throw ctx.error('scores must be N x C x ...', 'input 0');
  const c = x.shape[1]!;
  const inner = sizeBetween(x.shape, 2);
  const xv = numbersOf(x);
  const logProb = new Float64Array(xv.length);
  for (let b = 0; b < x.shape[0]!; b++) {
    for (let i = 0; i < inner; i++) {
      let max = -Infinity;
      for (let k = 0; k < c; k++) max = Math.max(max, xv[(b * c + k) * inner + i]!);
      let sum = 0;
      for (let k = 0; k < c; k++) sum += Math.exp(xv[(b * c + k) * inner + i]! - max);
      const lse = max + Math.log(sum);
      for (let k = 0; k < c; k++) logProb[(b * c + k) * inner + i] = xv[(b * c + k) * inner + i]! - lse;
    }
  }
  const loss = nll(ctx, logProb, x.shape, ctx.input(inputs, 1), inputs[2] ?? null, x.dtype);
  return [loss, tensorFrom(x.dtype, x.shape, logProb)];
};

export const lossKernels: Record<string, Kernel> = {
  NegativeLogLikelihoodLoss: negativeLogLikelihoodLoss,
  SoftmaxCrossEntropyLoss: softmaxCrossEntropyLoss,
};
