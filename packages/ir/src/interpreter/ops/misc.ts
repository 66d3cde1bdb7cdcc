/**
 * Small ops that fit no larger family: Dropout (inference, or training with ratio 0), Compress,
 * ReverseSequence, Unique, NonMaxSuppression, StringNormalizer and the window and mel-filter
 * generators.
 */
import { makeTensor, type Tensor } from '../../tensor.js';
import { axisSplit, emptyTensor, intsOf, numbersOf, sizeBetween, tensorFrom } from '../arrays.js';
import type { Kernel } from '../kernel.js';
import { dtypeAttr } from './elementwise.js';
import { copyRange, takeAlongAxis } from './shape.js';

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
  const keep: number[] = [];
  for (let i = 0; i < Math.min(x.shape[axis]!, cond.length); i++) if (cond[i]) keep.push(i);
  return [takeAlongAxis(x, axis, keep)];
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

/**
 * Unique: the distinct elements (or slices along `axis`), sorted ascending or in first-occurrence
 * order, with the first index of each, the inverse map and the counts.
 */
const unique: Kernel = (ctx, inputs) => {
  let x = ctx.input(inputs, 0);
  const sorted = ctx.int('sorted', 1) === 1;
  const hasAxis = ctx.has('axis');
  if (!hasAxis) x = { ...x, shape: [x.data.length] };
  const axis = hasAxis ? ctx.axis(ctx.int('axis', 0), x.shape.length) : 0;
  const { outer, dim, inner } = axisSplit(x.shape, axis);
  const xv = x.dtype === 'string' || x.dtype === 'int64' ? Array.from(x.data as ArrayLike<unknown>) : Array.from(numbersOf(x));
  // Slice k = every element with coordinate k on `axis`, in row-major order.
  const sliceOf = (k: number) => {
    const s: unknown[] = [];
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) s.push(xv[(o * dim + k) * inner + i]);
    return s;
  };
  const slices = Array.from({ length: dim }, (_, k) => sliceOf(k));
  const keyOf = (s: unknown[]) => s.map(String).join('\u0000');
  const firstIndex = new Map<string, number>();
  slices.forEach((s, k) => {
    const key = keyOf(s);
    if (!firstIndex.has(key)) firstIndex.set(key, k);
  });
  let order = [...firstIndex.values()];
  if (sorted) {
    const cmp = (a: unknown[], b: unknown[]) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1;
      return 0;
    };
    order = order.sort((p, q) => cmp(slices[p]!, slices[q]!));
  }
  const rank = new Map(order.map((k, r) => [keyOf(slices[k]!), r]));
  const inverse = slices.map((s) => rank.get(keyOf(s))!);
  const counts = order.map((_, r) => inverse.filter((v) => v === r).length);
  const y = takeAlongAxis(x, axis, order);
  const i64 = (v: number[]) => makeTensor('int64', [v.length], v.map((n) => BigInt(n)));
  return [y, i64(order), i64(inverse), i64(counts)];
};

/**
 * NonMaxSuppression: per batch and class, boxes by descending score above score_threshold, each
 * kept unless its IoU with an already kept box exceeds iou_threshold; at most
 * max_output_boxes_per_class per class. Output rows are [batch, class, box].
 */
const nonMaxSuppression: Kernel = (ctx, inputs) => {
  const boxes = numbersOf(ctx.input(inputs, 0));
  const scoresT = ctx.input(inputs, 1);
  const scores = numbersOf(scoresT);
  const maxOut = inputs[2] && inputs[2].data.length ? intsOf(inputs[2])[0]! : 0;
  const iouThreshold = inputs[3] && inputs[3].data.length ? numbersOf(inputs[3])[0]! : 0;
  const scoreThreshold = inputs[4] && inputs[4].data.length ? numbersOf(inputs[4])[0]! : -Infinity;
  const center = ctx.int('center_point_box', 0) === 1;
  const [batches, classes, count] = scoresT.shape as [number, number, number];
  const corners = (b: number, i: number): [number, number, number, number] => {
    const o = (b * count + i) * 4;
    const [a, c, d, e] = [boxes[o]!, boxes[o + 1]!, boxes[o + 2]!, boxes[o + 3]!];
    if (center) return [c - e / 2, a - d / 2, c + e / 2, a + d / 2];
    return [Math.min(a, d), Math.min(c, e), Math.max(a, d), Math.max(c, e)];
  };
  const iou = (p: [number, number, number, number], q: [number, number, number, number]) => {
    const w = Math.max(0, Math.min(p[2], q[2]) - Math.max(p[0], q[0]));
    const h = Math.max(0, Math.min(p[3], q[3]) - Math.max(p[1], q[1]));
    const inter = w * h;
    const union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
    return union > 0 ? inter / union : 0;
  };
  const selected: number[] = [];
  for (let b = 0; b < batches; b++) {
    for (let c = 0; c < classes; c++) {
      const base = (b * classes + c) * count;
      const order = Array.from({ length: count }, (_, i) => i)
        .filter((i) => scores[base + i]! > scoreThreshold)
        .sort((p, q) => scores[base + q]! - scores[base + p]! || p - q);
      const kept: number[] = [];
      for (const i of order) {
        if (kept.length >= maxOut) break;
        if (kept.every((k) => iou(corners(b, i), corners(b, k)) <= iouThreshold)) kept.push(i);
      }
      for (const k of kept) selected.push(b, c, k);
    }
  }
  return [makeTensor('int64', [selected.length / 3, 3], selected.map((v) => BigInt(v)))];
};

/**
 * MelWeightMatrix [dft_length/2 + 1, num_mel_bins]: triangular filters between num_mel_bins + 2
 * points equally spaced on the mel scale (mel = 2595 log10(1 + f / 700)) from lower to upper
 * edge, each point mapped to the spectrogram bin floor((dft_length + 1) * f / sample_rate).
 */
const melWeightMatrix: Kernel = (ctx, inputs) => {
  const [bins, dftLength, sampleRate] = [0, 1, 2].map((i) => intsOf(ctx.input(inputs, i))[0]!) as [number, number, number];
  const [lower, upper] = [3, 4].map((i) => numbersOf(ctx.input(inputs, i))[0]!) as [number, number];
  const spectrogramBins = Math.floor(dftLength / 2) + 1;
  const toMel = (f: number) => 2595 * Math.log10(1 + f / 700);
  const lowMel = toMel(lower);
  const step = (toMel(upper) - lowMel) / (bins + 2);
  const points = Array.from({ length: bins + 2 }, (_, i) => {
    const hz = 700 * (Math.pow(10, (i * step + lowMel) / 2595) - 1);
    return Math.floor(((dftLength + 1) * hz) / sampleRate);
  });
  const out = new Float64Array(spectrogramBins * bins);
  for (let i = 0; i < bins; i++) {
    const [left, center, right] = [points[i]!, points[i + 1]!, points[i + 2]!];
    if (center === left) out[center * bins + i] = 1;
    else for (let j = left; j <= center; j++) out[j * bins + i] = (j - left) / (center - left);
    for (let j = center; j < right; j++) out[j * bins + i] = (right - j) / (right - center);
  }
  return [tensorFrom(dtypeAttr(ctx, 'output_datatype', 'float32'), [spectrogramBins, bins], out)];
};

/** StringNormalizer: drops stopwords (optionally case-insensitively), then changes case. */
const stringNormalizer: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  if (x.dtype !== 'string') throw ctx.error('input must be a string tensor', 'input 0');
  const caseSensitive = ctx.int('is_case_sensitive', 0) === 1;
  const action = ctx.string('case_change_action', 'NONE');
  const fold = (w: string) => (caseSensitive ? w : w.toLowerCase());
  const stop = new Set((ctx.strings('stopwords') ?? []).map(fold));
  let kept = (x.data as string[]).filter((w) => !stop.has(fold(w)));
  if (action === 'LOWER') kept = kept.map((w) => w.toLowerCase());
  else if (action === 'UPPER') kept = kept.map((w) => w.toUpperCase());
  // An input emptied by the stopwords becomes a single empty string.
  if (!kept.length) kept = [''];
  const shape = x.shape.length === 2 ? [1, kept.length] : [kept.length];
  return [makeTensor('string', shape, kept)];
};

export const miscKernels: Record<string, Kernel> = {
  Dropout: dropout,
  Compress: compress,
  ReverseSequence: reverseSequence,
  Unique: unique,
  NonMaxSuppression: nonMaxSuppression,
  MelWeightMatrix: melWeightMatrix,
  StringNormalizer: stringNormalizer,
  HannWindow: cosineWindow([0.5, -0.5]),
  HammingWindow: cosineWindow([25 / 46, -21 / 46]),
  BlackmanWindow: cosineWindow([0.42, -0.5, 0.08]),
};
