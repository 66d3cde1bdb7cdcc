/**
 * Reductions and axis-wise ops: Reduce{Sum,Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare},
 * ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax, CumSum, TopK.
 *
 * Reduce* axes are an attribute until the op's input form appears (ReduceSum at opset 13, the
 * others at 18). Softmax before opset 13 coerces the input to 2-D at `axis` (default 1) and
 * normalizes over the whole flattened tail; from 13 it normalizes along `axis` (default -1) only.
 */
import { isFloatDType } from '../../dtype.js';
import { shapeSize, type Tensor } from '../../tensor.js';
import { axisSplit, intsOf, numberBuffer, numbersOf, sizeBetween, stridedIndex, stridesOf, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';

type ReduceKind = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'l1' | 'l2' | 'logsum' | 'logsumexp' | 'sumsquare';

/** The opset at which each Reduce op took `axes` as an input. */
const AXES_INPUT_SINCE: Record<ReduceKind, number> = {
  sum: 13,
  mean: 18,
  max: 18,
  min: 18,
  prod: 18,
  l1: 18,
  l2: 18,
  logsum: 18,
  logsumexp: 18,
  sumsquare: 18,
};

interface Reduction {
  /** For each input element, the output element it folds into. */
  target: Int32Array;
  outShape: number[];
  /** Elements folded into each output. */
  count: number;
}

/** Maps every input element to its output slot when `axes` are reduced. */
export function reductionPlan(shape: readonly number[], axes: readonly number[], keepDims: boolean): Reduction {
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const keptStrides = stridesOf(keptShape);
  const target = stridedIndex(shape, keptStrides.map((s, i) => (axes.includes(i) ? 0 : s)));
  const outShape = keepDims ? keptShape : shape.filter((_, i) => !axes.includes(i));
  const count = axes.reduce((p, a) => p * shape[a]!, 1);
  return { target, outShape, count };
}

function reduceAxes(ctx: KernelContext, inputs: readonly (Tensor | null)[], kind: ReduceKind, rank: number): number[] | null {
  let axes: number[] | undefined;
  if (ctx.opset < AXES_INPUT_SINCE[kind]) axes = ctx.ints('axes')?.slice();
  else if (inputs[1]) axes = intsOf(inputs[1]);
  if (!axes || axes.length === 0) {
    if (ctx.int('noop_with_empty_axes', 0) === 1) return null;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => ctx.axis(a, rank, 'axes'));
}

function reduceKernel(kind: ReduceKind): Kernel {
  return (ctx, inputs) => {
    const x = ctx.input(inputs, 0);
    const axes = reduceAxes(ctx, inputs, kind, x.shape.length);
    if (!axes) return [x];
    const plan = reductionPlan(x.shape, axes, ctx.int('keepdims', 1) === 1);
    const n = shapeSize(plan.outShape);
    const xv = numbersOf(x);
    const acc = new Float64Array(n);
    const init = kind === 'max' || kind === 'logsumexp' ? -Infinity : kind === 'min' ? Infinity : kind === 'prod' ? 1 : 0;
    acc.fill(init);
    const t = plan.target;
    const len = t.length;
    switch (kind) {
      case 'max':
      case 'logsumexp':
        for (let i = 0; i < len; i++) {
          const v = xv[i]!;
          if (v > acc[t[i]!]! || Number.isNaN(v)) acc[t[i]!] = v;
        }
        break;
      case 'min':
        for (let i = 0; i < len; i++) {
          const v = xv[i]!;
          if (v < acc[t[i]!]! || Number.isNaN(v)) acc[t[i]!] = v;
        }
        break;
      case 'prod':
        for (let i = 0; i < len; i++) acc[t[i]!] *= xv[i]!;
        break;
      case 'l1':
        for (let i = 0; i < len; i++) acc[t[i]!] += Math.abs(xv[i]!);
        break;
      case 'l2':
      case 'sumsquare':
        for (let i = 0; i < len; i++) acc[t[i]!] += xv[i]! * xv[i]!;
        break;
      default:
        for (let i = 0; i < len; i++) acc[t[i]!] += xv[i]!;
    }
    if (kind === 'logsumexp') {
      // log sum exp(x) = m + log sum exp(x - m), m the max: no overflow.
      const max = Float64Array.from(acc, (m) => (Number.isFinite(m) ? m : 0));
      acc.fill(0);
      for (let i = 0; i < len; i++) acc[t[i]!] += Math.exp(xv[i]! - max[t[i]!]!);
      for (let j = 0; j < n; j++) acc[j] = max[j]! + Math.log(acc[j]!);
    }
    const integer = !isFloatDType(x.dtype);
    for (let j = 0; j < n; j++) {
      if (kind === 'mean') acc[j] = integer ? Math.trunc(acc[j]! / plan.count) : acc[j]! / plan.count;
      else if (kind === 'l2') acc[j] = Math.sqrt(acc[j]!);
      else if (kind === 'logsum') acc[j] = Math.log(acc[j]!);
    }
    return [tensorFrom(x.dtype, plan.outShape, acc)];
  };
}

function argReduce(largest: boolean): Kernel {
  return (ctx, inputs) => {
    const x = ctx.input(inputs, 0);
    const axis = ctx.axis(ctx.int('axis', 0), x.shape.length);
    const last = ctx.int('select_last_index', 0) === 1;
    const keep = ctx.int('keepdims', 1) === 1;
    const { outer, dim, inner } = axisSplit(x.shape, axis);
    const xv = numbersOf(x);
    const out = new BigInt64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = 0;
        let bv = xv[o * dim * inner + i]!;
        for (let k = 1; k < dim; k++) {
          const v = xv[(o * dim + k) * inner + i]!;
          const better = largest ? v > bv || (last && v === bv) : v < bv || (last && v === bv);
          if (better) {
            best = k;
            bv = v;
          }
        }
        out[o * inner + i] = BigInt(best);
      }
    }
    const shape = keep ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
    return [{ dtype: 'int64', shape, data: out }];
  };
}

type SoftmaxKind = 'softmax' | 'logsoftmax' | 'hardmax';

/** Normalizes rows of length `dim` laid out with stride `inner` (outer x dim x inner blocks). */
function softmaxRows(kind: SoftmaxKind, xv: ArrayLike<number>, out: Float64Array | ArrayLike<number>, outer: number, dim: number, inner: number): void {
  const o = out as Float64Array;
  for (let b = 0; b < outer; b++) {
    for (let i = 0; i < inner; i++) {
      const base = b * dim * inner + i;
      let max = -Infinity;
      let arg = 0;
      for (let k = 0; k < dim; k++) {
        const v = xv[base + k * inner]!;
        if (v > max) {
          max = v;
          arg = k;
        }
      }
      if (kind === 'hardmax') {
        for (let k = 0; k < dim; k++) o[base + k * inner] = k === arg ? 1 : 0;
        continue;
      }
      let sum = 0;
      for (let k = 0; k < dim; k++) sum += Math.exp(xv[base + k * inner]! - max);
      const logSum = Math.log(sum);
      for (let k = 0; k < dim; k++) {
        const v = xv[base + k * inner]! - max;
        o[base + k * inner] = kind === 'softmax' ? Math.exp(v) / sum : v - logSum;
      }
    }
  }
}

function softmaxKernel(kind: SoftmaxKind): Kernel {
  return (ctx, inputs) => {
    const x = ctx.input(inputs, 0);
    const rank = x.shape.length;
    const out = numberBuffer(x.dtype, x.data.length);
    if (ctx.opset < 13) {
      let axis = ctx.int('axis', 1);
      if (axis < 0) axis += rank;
      if (axis < 0 || axis > rank) throw ctx.error(`axis out of range for rank ${rank}`, 'attribute axis');
      softmaxRows(kind, numbersOf(x), out, sizeBetween(x.shape, 0, axis), sizeBetween(x.shape, axis), 1);
    } else {
      const axis = ctx.axis(ctx.int('axis', -1), rank);
      softmaxRows(kind, numbersOf(x), out, sizeBetween(x.shape, 0, axis), x.shape[axis]!, sizeBetween(x.shape, axis + 1));
    }
    return [tensorFrom(x.dtype, x.shape, out)];
  };
}

const cumSum: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const axis = ctx.axis(intsOf(ctx.input(inputs, 1))[0]!, x.shape.length, 'input 1');
  const exclusive = ctx.int('exclusive', 0) === 1;
  const reverse = ctx.int('reverse', 0) === 1;
  const { outer, dim, inner } = axisSplit(x.shape, axis);
  const xv = numbersOf(x);
  const out = numberBuffer(x.dtype, xv.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let sum = 0;
      for (let s = 0; s < dim; s++) {
        const k = reverse ? dim - 1 - s : s;
        const idx = (o * dim + k) * inner + i;
        if (exclusive) {
          out[idx] = sum;
          sum += xv[idx]!;
        } else {
          sum += xv[idx]!;
          out[idx] = sum;
        }
      }
    }
  }
  return [tensorFrom(x.dtype, x.shape, out)];
};

const topK: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const k = ctx.opset < 10 ? ctx.requiredInt('k') : intsOf(ctx.input(inputs, 1))[0]!;
  const axis = ctx.axis(ctx.int('axis', -1), x.shape.length);
  const largest = ctx.int('largest', 1) === 1;
  const dim = x.shape[axis]!;
  if (k < 0 || k > dim) throw ctx.error(`k=${k} exceeds axis size ${dim}`, 'input 1');
  const outer = sizeBetween(x.shape, 0, axis);
  const inner = sizeBetween(x.shape, axis + 1);
  const xv = numbersOf(x);
  const vals = numberBuffer(x.dtype, outer * k * inner);
  const idx = new BigInt64Array(outer * k * inner);
  const order = new Array<number>(dim);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => xv[(o * dim + j) * inner + i]!;
      for (let j = 0; j < dim; j++) order[j] = j;
      // Ties keep the lower index first (stable sort).
      order.sort((p, q) => (largest ? at(q) - at(p) : at(p) - at(q)) || p - q);
      for (let j = 0; j < k; j++) {
        vals[(o * k + j) * inner + i] = at(order[j]!);
        idx[(o * k + j) * inner + i] = BigInt(order[j]!);
      }
    }
  }
  const shape = x.shape.map((d, a) => (a === axis ? k : d));
  return [tensorFrom(x.dtype, shape, vals), { dtype: 'int64', shape, data: idx }];
};

export const reduceKernels: Record<string, Kernel> = {
  ReduceSum: reduceKernel('sum'),
  ReduceMean: reduceKernel('mean'),
  ReduceMax: reduceKernel('max'),
  ReduceMin: reduceKernel('min'),
  ReduceProd: reduceKernel('prod'),
  ReduceL1: reduceKernel('l1'),
  ReduceL2: reduceKernel('l2'),
  ReduceLogSum: reduceKernel('logsum'),
  ReduceLogSumExp: reduceKernel('logsumexp'),
  ReduceSumSquare: reduceKernel('sumsquare'),
  ArgMax: argReduce(true),
  ArgMin: argReduce(false),
  Softmax: softmaxKernel('softmax'),
  LogSoftmax: softmaxKernel('logsoftmax'),
  Hardmax: softmaxKernel('hardmax'),
  CumSum: cumSum,
  TopK: topK,
};
