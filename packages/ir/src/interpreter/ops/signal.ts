/**
 * Signal processing: DFT and STFT (opset 17 forms), evaluated directly as
 *   X[k] = sum_n x[n] * exp(-+2 pi i k n / N)   (1/N and + for the inverse)
 * in float64: O(N^2) per transform, a reference rather than an FFT. Complex values are a trailing
 * axis of size 2 (real, imaginary); a trailing axis of size 1 is a real signal.
 */
import { type Tensor } from '../../tensor.js';
import { intsOf, numbersOf, sizeBetween, tensorFrom } from '../arrays.js';
import type { Kernel } from '../kernel.js';

/** DFT of n complex samples at stride `stride` from `re`/`im` (length-n views), `bins` outputs. */
function dft(re: Float64Array, im: Float64Array, n: number, bins: number, inverse: boolean, outRe: Float64Array, outIm: Float64Array): void {
  const sign = inverse ? 1 : -1;
  for (let k = 0; k < bins; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const angle = (sign * 2 * Math.PI * ((k * t) % n)) / n;
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      sr += re[t]! * c - im[t]! * s;
      si += re[t]! * s + im[t]! * c;
    }
    outRe[k] = inverse ? sr / n : sr;
    outIm[k] = inverse ? si / n : si;
  }
}

const dftOp: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const rank = x.shape.length;
  const complexIn = x.shape[rank - 1] === 2;
  if (x.shape[rank - 1] !== 1 && !complexIn) throw ctx.error('the last axis must have size 1 (real) or 2 (complex)', 'input 0');
  const axis = ctx.axis(ctx.int('axis', 1), rank - 1);
  const inverse = ctx.int('inverse', 0) === 1;
  const onesided = ctx.int('onesided', 0) === 1;
  const inLen = x.shape[axis]!;
  const n = inputs[1] && inputs[1].data.length ? intsOf(inputs[1])[0]! : inLen;
  const bins = onesided ? Math.floor(n / 2) + 1 : n;
  const outer = sizeBetween(x.shape, 0, axis);
  const inner = sizeBetween(x.shape, axis + 1, rank - 1);
  const xv = numbersOf(x);
  const channels = complexIn ? 2 : 1;
  const out = new Float64Array(outer * bins * inner * 2);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const oRe = new Float64Array(bins);
  const oIm = new Float64Array(bins);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      re.fill(0);
      im.fill(0);
      // dft_length pads with zeros or truncates the signal.
      for (let t = 0; t < Math.min(n, inLen); t++) {
        const src = ((o * inLen + t) * inner + i) * channels;
        re[t] = xv[src]!;
        if (complexIn) im[t] = xv[src + 1]!;
      }
      dft(re, im, n, bins, inverse, oRe, oIm);
      for (let k = 0; k < bins; k++) {
        const dst = ((o * bins + k) * inner + i) * 2;
        out[dst] = oRe[k]!;
        out[dst + 1] = oIm[k]!;
      }
    }
  }
  const shape = x.shape.map((d, a) => (a === axis ? bins : a === rank - 1 ? 2 : d));
  return [tensorFrom(x.dtype, shape, out)];
};

const stft: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const [batch, len, channels] = x.shape as [number, number, number];
  const step = intsOf(ctx.input(inputs, 1))[0]!;
  const window: Tensor | null = inputs[2] ?? null;
  const frameLength = inputs[3] && inputs[3].data.length ? intsOf(inputs[3])[0]! : window ? window.data.length : 0;
  if (!frameLength) throw ctx.error('needs a window or a frame_length', 'input 3');
  const onesided = ctx.int('onesided', 1) === 1;
  const bins = onesided ? Math.floor(frameLength / 2) + 1 : frameLength;
  const frames = Math.floor((len - frameLength) / step) + 1;
  const xv = numbersOf(x);
  const wv = window ? numbersOf(window) : null;
  const out = new Float64Array(batch * frames * bins * 2);
  const re = new Float64Array(frameLength);
  const im = new Float64Array(frameLength);
  const oRe = new Float64Array(bins);
  const oIm = new Float64Array(bins);
  for (let b = 0; b < batch; b++) {
    for (let f = 0; f < frames; f++) {
      for (let t = 0; t < frameLength; t++) {
        const src = (b * len + f * step + t) * channels;
        const w = wv ? wv[t]! : 1;
        re[t] = xv[src]! * w;
        im[t] = channels === 2 ? xv[src + 1]! * w : 0;
      }
      dft(re, im, frameLength, bins, false, oRe, oIm);
      for (let k = 0; k < bins; k++) {
        const dst = ((b * frames + f) * bins + k) * 2;
        out[dst] = oRe[k]!;
        out[dst + 1] = oIm[k]!;
      }
    }
  }
  return [tensorFrom(x.dtype, [batch, frames, bins, 2], out)];
};

export const signalKernels: Record<string, Kernel> = {
  DFT: dftOp,
  STFT: stft,
};
