/**
 * Small ops that fit no larger family: Dropout (inference, or training with ratio 0), Compress,
 * ReverseSequence and the Hann/Hamming/Blackman window generators.
 */
import { makeTensor, type Tensor } from '../../tensor.js';
import { emptyTensor, intsOf, numbersOf, sizeBetween, tensorFrom } from '../arrays.js';
import type { Kernel } from '../kernel.js';
import { dtypeAttr } from './elementwise.js';
import { copyRange } from './shape.js';

/**
 * Dropout is the identity at inference; its mask is all ones. A training-mode Dropout with a
 * non-zero ratio draws random masks, which a reference interpreter cannot reproduce.
 */
const dropout: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const training = ctx.opset >= 12 && inputs[2] ? numbersOf(inputs[2])[0] !== 0 : false;
  const ratio = ctx.opset >= 12 ? (inputs[1] ? numbersOf(inputs[1])[0]! : 0.5) : ctx.float('ratio', 0.5);
  if (training && ratio !== 0) throw ctx.unsupported('training-mode dropout with a non-zero ratio is random', 'input 2');
  const maskDtype = ctx.opset >= 10 ? 'bool' : x.dtype;
  const mask = makeTensor(maskDtype, x.shape, new Array<number>(x.data.length).fill(1));
  return [x, mask];
};

const compress: Kernel = (ctx, inputs) => {
  let x = ctx.input(inputs, 0);
  const cond = numbersOf(ctx.input(inputs, 1));
  let axis = 0;
  if (ctx.has('axis')) axis = ctx.axis(ctx.int('axis', 0), x.shape.length);
  else x = { ...x, shape: [x.data.length] };
  const dim = x.shape[axis]!;
  const keep: number[] = [];
  for (let i = 0; i < Math.min(dim, cond.length); i++) if (cond[i]) keep.push(i);
  const outer = sizeBetween(x.shape, 0, axis);
  const inner = sizeBetween(x.shape, axis + 1);
  const shape = x.shape.map((d, a) => (a === axis ? keep.length : d));
  const out = emptyTensor(x.dtype, shape);
  let p = 0;
  for (let o = 0; o < outer; o++) {
    for (const k of keep) {
      copyRange(out.data, p, x.data, (o * dim + k) * inner, inner);
      p += inner;
    }
  }
  return [out];
};

const reverseSequence: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const lens = intsOf(ctx.input(inputs, 1));
  const batchAxis = ctx.int('batch_axis', 1);
  const timeAxis = ctx.int('time_axis', 0);
  const out: Tensor = { dtype: x.dtype, shape: [...x.shape], data: emptyTensor(x.dtype, x.shape).data };
  copyRange(out.data, 0, x.data, 0, x.data.length);
  const inner = sizeBetween(x.shape, 2);
  const [d0, d1] = [x.shape[0]!, x.shape[1]!];
  // Element (t, b) along the time/batch axes (which are axes 0 and 1 in some order).
  const offset = (t: number, b: number) => (timeAxis === 0 ? t * d1 + b : b * d1 + t) * inner;
  if (batchAxis + timeAxis !== 1) throw ctx.error('batch_axis and time_axis must be 0 and 1', 'attribute batch_axis');
  const batch = batchAxis === 0 ? d0 : d1;
  for (let b = 0; b < batch; b++) {
    const len = lens[b]!;
    for (let t = 0; t < len; t++) copyRange(out.data, offset(t, b), x.data, offset(len - 1 - t, b), inner);
  }
  return [out];
};

/** A window of `size` samples: w[n] = sum_k a_k cos(2 pi k n / N), N = size (periodic) or size - 1. */
function cosineWindow(coefficients: readonly number[]): Kernel {
  return (ctx, inputs) => {
    const size = intsOf(ctx.input(inputs, 0))[0]!;
    const periodic = ctx.int('periodic', 1) === 1;
    const dtype = dtypeAttr(ctx, 'output_datatype', 'float32');
    const n = periodic ? size : size - 1;
    const values = Float64Array.from({ length: size }, (_, i) => coefficients.reduce((s, a, k) => s + a * Math.cos((2 * Math.PI * k * i) / n), 0));
    return [tensorFrom(dtype, [size], values)];
  };
}

export const miscKernels: Record<string, Kernel> = {
  Dropout: dropout,
  Compress: compress,
  ReverseSequence: reverseSequence,
  HannWindow: cosineWindow([0.5, -0.5]),
  HammingWindow: cosineWindow([25 / 46, -21 / 46]),
  BlackmanWindow: cosineWindow([0.42, -0.5, 0.08]),
};
