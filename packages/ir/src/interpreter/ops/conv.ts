/**
 * Convolutions of any spatial rank: Conv via im2col + GEMM, ConvTranspose via GEMM + col2im.
 *
 * Window geometry (kernel, strides, pads, dilations, auto_pad) is resolved once into a table of
 * input offsets per (kernel position, output position), shared with the pooling kernels, so the
 * per-element work is a table lookup. With dk = (k-1)*d + 1 per spatial axis:
 *   explicit pads:  out = floor((in + pb + pe - dk) / s) + 1   (ceil for pooling with ceil_mode)
 *   SAME_UPPER/LOWER: out = ceil(in / s), total pad = max(0, (out-1)*s + dk - in), the odd unit at
 *   the end (UPPER) or the beginning (LOWER);  VALID: no pads.
 */
import { shapeSize, type Tensor } from '../../tensor.js';
import { numbersOf, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { asFloat64, gemmAccumulate } from './matmul.js';

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  out: number[];
}

/** Resolves the window attributes of a Conv/pool node for input spatial dims `spatial`. */
export function resolveWindow(ctx: KernelContext, spatial: readonly number[], kernel: readonly number[], ceilMode = false): Window {
  const r = spatial.length;
  const strides = [...(ctx.ints('strides') ?? new Array<number>(r).fill(1))];
  const dilations = [...(ctx.ints('dilations') ?? new Array<number>(r).fill(1))];
  const pads = [...(ctx.ints('pads') ?? new Array<number>(2 * r).fill(0))];
  if (strides.length !== r) throw ctx.error(`expected ${r} strides, got ${strides.length}`, 'attribute strides');
  if (dilations.length !== r) throw ctx.error(`expected ${r} dilations, got ${dilations.length}`, 'attribute dilations');
  if (pads.length !== 2 * r) throw ctx.error(`expected ${2 * r} pads, got ${pads.length}`, 'attribute pads');
  if (kernel.length !== r) throw ctx.error(`kernel rank ${kernel.length} does not match ${r} spatial dims`, 'attribute kernel_shape');
  const autoPad = ctx.string('auto_pad', 'NOTSET');
  const padsBegin = pads.slice(0, r);
  const padsEnd = pads.slice(r);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const dk = (kernel[i]! - 1) * dilations[i]! + 1;
    const s = strides[i]!;
    const inp = spatial[i]!;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const o = Math.ceil(inp / s);
      const total = Math.max(0, (o - 1) * s + dk - inp);
      const small = Math.floor(total / 2);
      padsBegin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      padsEnd[i] = total - padsBegin[i]!;
      out.push(o);
    } else if (autoPad === 'VALID') {
      padsBegin[i] = padsEnd[i] = 0;
      out.push(Math.floor((inp - dk) / s) + 1);
    } else if (autoPad === 'NOTSET') {
      const span = inp + padsBegin[i]! + padsEnd[i]! - dk;
      let o = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      // A window may not start in the end padding (ceil_mode rule shared by ORT and PyTorch).
      if (ceilMode && (o - 1) * s >= inp + padsBegin[i]!) o--;
      out.push(o);
    } else {
      throw ctx.error(`unknown auto_pad ${autoPad}`, 'attribute auto_pad');
    }
    if (out[i]! <= 0) throw ctx.error(`window of ${dk} does not fit input of ${inp} (+ pads)`, 'attribute kernel_shape');
  }
  return { kernel: [...kernel], strides, dilations, padsBegin, padsEnd, out };
}

/** Marks a window element in the begin/end padding (>= 0 entries are input offsets). */
export const IN_PADDING = -1;
/** Marks a window element past the end padding (ceil_mode overhang). */
export const BEYOND_PADDING = -2;

/**
 * table[kp * outCount + op] = flat spatial offset in the input read by kernel position kp at
 * output position op, or IN_PADDING / BEYOND_PADDING.
 */
export function windowTable(spatial: readonly number[], w: Window): Int32Array {
  const r = spatial.length;
  const kpos = shapeSize(w.kernel);
  const opos = shapeSize(w.out);
  const table = new Int32Array(kpos * opos);
  const kIdx = new Array<number>(r).fill(0);
  const oIdx = new Array<number>(r);
  for (let kp = 0; kp < kpos; kp++) {
    oIdx.fill(0);
    for (let op = 0; op < opos; op++) {
      let off = 0;
      let status = 0;
      for (let d = 0; d < r; d++) {
        const c = oIdx[d]! * w.strides[d]! - w.padsBegin[d]! + kIdx[d]! * w.dilations[d]!;
        if (c < 0 || c >= spatial[d]!) {
          const beyond = c >= spatial[d]! + w.padsEnd[d]!;
          status = beyond ? BEYOND_PADDING : status === BEYOND_PADDING ? status : IN_PADDING;
        }
        off = off * spatial[d]! + c;
      }
      table[kp * opos + op] = status < 0 ? status : off;
      for (let d = r - 1; d >= 0; d--) {
        if (++oIdx[d]! < w.out[d]!) break;
        oIdx[d] = 0;
      }
    }
    for (let d = r - 1; d >= 0; d--) {
      if (++kIdx[d]! < w.kernel[d]!) break;
      kIdx[d] = 0;
    }
  }
  return table;
}

export interface ConvGeometry {
  batch: number;
  inChannels: number;
  outChannels: number;
  group: number;
  spatial: number[];
  window: Window;
}

/** Checks Conv operand shapes and resolves the window. */
export function convGeometry(ctx: KernelContext, xShape: readonly number[], wShape: readonly number[]): ConvGeometry {
  if (xShape.length < 3) throw ctx.error(`input must be N x C x spatial..., got rank ${xShape.length}`, 'input 0');
  if (wShape.length !== xShape.length) throw ctx.error(`weight rank ${wShape.length} differs from input rank ${xShape.length}`, 'input 1');
  const group = ctx.int('group', 1);
  const inChannels = xShape[1]!;
  const outChannels = wShape[0]!;
  if (inChannels !== wShape[1]! * group || outChannels % group !== 0) {
    throw ctx.error(`weight [${wShape.join(',')}] does not match ${inChannels} input channels in ${group} group(s)`, 'input 1');
  }
  const kernel = [...(ctx.ints('kernel_shape') ?? wShape.slice(2))];
  if (kernel.some((k, i) => k !== wShape[i + 2])) throw ctx.error('kernel_shape does not match the weight', 'attribute kernel_shape');
  const spatial = xShape.slice(2);
  return { batch: xShape[0]!, inChannels, outChannels, group, spatial, window: resolveWindow(ctx, spatial, kernel) };
}

/**
 * out[b, m, op] = sum_{c, kp} w[m, c, kp] * x[b, g*Cg + c, table[kp, op]]  (+ bias[m]), accumulated
 * in float64. `x` and `w` are number arrays (already zero-point shifted for the integer variants).
 */
export function convolve(geo: ConvGeometry, xIn: ArrayLike<number>, wIn: ArrayLike<number>, bias: ArrayLike<number> | null): Float64Array {
  const x = asFloat64(xIn);
  const w = asFloat64(wIn);
  const { batch, inChannels, outChannels, group, spatial, window } = geo;
  const ipos = shapeSize(spatial);
  const opos = shapeSize(window.out);
  const kpos = shapeSize(window.kernel);
  const cg = inChannels / group;
  const mg = outChannels / group;
  const kdim = cg * kpos;
  const out = new Float64Array(batch * outChannels * opos);
  const pointwise =
    kpos === 1 && window.strides.every((s) => s === 1) && window.padsBegin.every((p) => p === 0) && window.padsEnd.every((p) => p === 0);
  const table = pointwise ? null : windowTable(spatial, window);
  const col = pointwise || (cg === 1 && mg === 1) ? null : new Float64Array(kdim * opos);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < group; g++) {
      const xBase = (b * inChannels + g * cg) * ipos;
      const outOff = (b * outChannels + g * mg) * opos;
      if (bias) for (let m = 0; m < mg; m++) out.fill(bias[g * mg + m]!, outOff + m * opos, outOff + (m + 1) * opos);
      if (table && cg === 1 && mg === 1) {
        // Depthwise: one input and one output channel per group, so accumulate straight from the table.
        for (let kp = 0; kp < kpos; kp++) {
          const wk = w[g * kpos + kp]!;
          const t = kp * opos;
          for (let op = 0; op < opos; op++) {
            const off = table[t + op]!;
            if (off >= 0) out[outOff + op] += wk * x[xBase + off]!;
          }
        }
        continue;
      }
      let src = x;
      let srcOff = xBase;
      if (table && col) {
        for (let c = 0; c < cg; c++) {
          const cBase = xBase + c * ipos;
          for (let kp = 0; kp < kpos; kp++) {
            const row = (c * kpos + kp) * opos;
            const t = kp * opos;
            for (let op = 0; op < opos; op++) {
              const off = table[t + op]!;
              col[row + op] = off >= 0 ? x[cBase + off]! : 0;
            }
          }
        }
        src = col;
        srcOff = 0;
      }
      gemmAccumulate(mg, opos, kdim, w, g * mg * kdim, src, srcOff, out, outOff);
    }
  }
  return out;
}

const conv: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const w = ctx.input(inputs, 1);
  const geo = convGeometry(ctx, x.shape, w.shape);
  const b = inputs[2];
  if (b && b.data.length !== geo.outChannels) throw ctx.error(`bias has ${b.data.length} elements for ${geo.outChannels} channels`, 'input 2');
  const out = convolve(geo, numbersOf(x), numbersOf(w), b ? numbersOf(b) : null);
  return [tensorFrom(x.dtype, [geo.batch, geo.outChannels, ...geo.window.out], out)];
};

const convTranspose: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const w = ctx.input(inputs, 1);
  if (x.shape.length < 3 || w.shape.length !== x.shape.length) throw ctx.error('input and weight must be N x C x spatial... of one rank', 'input 1');
  const group = ctx.int('group', 1);
  const [batch, inChannels] = x.shape as [number, number];
  if (w.shape[0] !== inChannels || inChannels % group !== 0) throw ctx.error(`weight [${w.shape.join(',')}] does not match ${inChannels} input channels`, 'input 1');
  const mg = w.shape[1]!;
  const outChannels = mg * group;
  const spatial = x.shape.slice(2);
  const r = spatial.length;
  const kernel = [...(ctx.ints('kernel_shape') ?? w.shape.slice(2))];
  const strides = [...(ctx.ints('strides') ?? new Array<number>(r).fill(1))];
  const dilations = [...(ctx.ints('dilations') ?? new Array<number>(r).fill(1))];
  const outPadding = [...(ctx.ints('output_padding') ?? new Array<number>(r).fill(0))];
  const pads = [...(ctx.ints('pads') ?? new Array<number>(2 * r).fill(0))];
  const autoPad = ctx.string('auto_pad', 'NOTSET');
  let outShape = ctx.ints('output_shape')?.slice();
  if (outShape && outShape.length === r + 2) outShape = outShape.slice(2);
  const padsBegin = pads.slice(0, r);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const dk = (kernel[i]! - 1) * dilations[i]! + 1;
    const full = strides[i]! * (spatial[i]! - 1) + outPadding[i]! + dk;
    if (outShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const o = outShape ? outShape[i]! : spatial[i]! * strides[i]!;
      const total = Math.max(0, full - o);
      padsBegin[i] = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
      out.push(o);
    } else {
      if (autoPad === 'VALID') padsBegin[i] = pads[i + r] = 0;
      out.push(full - padsBegin[i]! - pads[i + r]!);
    }
  }
  const ipos = shapeSize(spatial);
  const opos = shapeSize(out);
  const kpos = shapeSize(kernel);
  const cg = inChannels / group;
  const xv = asFloat64(numbersOf(x));
  const wv = numbersOf(w);
  // target[kp * ipos + ip] = output spatial offset written by input position ip through kernel
  // position kp (negative: cropped by the pads). It is the Conv window table with the roles of
  // input and output exchanged: output coordinate = ip * stride + kp * dilation - padBegin.
  const target = windowTable(out, { kernel, strides, dilations, padsBegin, padsEnd: new Array<number>(r).fill(0), out: spatial });
  const result = new Float64Array(batch * outChannels * opos);
  const bias = inputs[2] ? numbersOf(inputs[2]) : null;
  const col = new Float64Array(mg * kpos * ipos);
  for (let g = 0; g < group; g++) {
    // W_g^T: [Mg*kpos, Cg] from W_g laid out [Cg, Mg*kpos].
    const wt = new Float64Array(mg * kpos * cg);
    for (let c = 0; c < cg; c++) for (let j = 0; j < mg * kpos; j++) wt[j * cg + c] = wv[(g * cg + c) * mg * kpos + j]!;
    for (let b = 0; b < batch; b++) {
      col.fill(0);
      gemmAccumulate(mg * kpos, ipos, cg, wt, 0, xv, (b * inChannels + g * cg) * ipos, col, 0);
      for (let m = 0; m < mg; m++) {
        const oBase = (b * outChannels + g * mg + m) * opos;
        if (bias) result.fill(bias[g * mg + m]!, oBase, oBase + opos);
        for (let kp = 0; kp < kpos; kp++) {
          const row = (m * kpos + kp) * ipos;
          const t = kp * ipos;
          for (let ip = 0; ip < ipos; ip++) {
            const o = target[t + ip]!;
            if (o >= 0) result[oBase + o] += col[row + ip]!;
          }
        }
      }
    }
  }
  return [tensorFrom(x.dtype, [batch, outChannels, ...out], result)];
};

export const convKernels: Record<string, Kernel> = {
  Conv: conv,
  ConvTranspose: convTranspose,
};
