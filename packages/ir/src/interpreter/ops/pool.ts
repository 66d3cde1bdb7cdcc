/**
 * Pooling of any spatial rank: MaxPool (with optional Indices), AveragePool, LpPool and their
 * Global variants. Windows come from conv.ts's window table; padded positions never win a max and
 * count toward an average's divisor only with count_include_pad=1 (ceil_mode overhang never does).
 */
import { shapeSize } from '../../tensor.js';
import { numberBuffer, numbersOf, sizeBetween, stridesOf, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { IN_PADDING, resolveWindow, windowTable } from './conv.js';

type PoolKind = 'max' | 'avg' | 'lp';

function poolInput(ctx: KernelContext, shape: readonly number[]): void {
  if (shape.length < 3) throw ctx.error(`input must be N x C x spatial..., got rank ${shape.length}`, 'input 0');
}

function pool(kind: PoolKind): Kernel {
  return (ctx, inputs) => {
    const x = ctx.input(inputs, 0);
    poolInput(ctx, x.shape);
    const kernel = ctx.ints('kernel_shape');
    if (!kernel) throw ctx.error('missing required attribute', 'attribute kernel_shape');
    const spatial = x.shape.slice(2);
    const w = resolveWindow(ctx, spatial, kernel, ctx.int('ceil_mode', 0) === 1);
    const table = windowTable(spatial, w);
    const planes = x.shape[0]! * x.shape[1]!;
    const ipos = shapeSize(spatial);
    const opos = shapeSize(w.out);
    const kpos = shapeSize(kernel);
    const xv = numbersOf(x);
    const out = numberBuffer(x.dtype, planes * opos);
    const wantIndices = kind === 'max' && ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== null;
    const indices = wantIndices ? new BigInt64Array(planes * opos) : null;
    const includePad = ctx.int('count_include_pad', 0) === 1;
    const p = ctx.float('p', 2);
    const colMajor = ctx.int('storage_order', 0) === 1;
    for (let pl = 0; pl < planes; pl++) {
      const base = pl * ipos;
      for (let op = 0; op < opos; op++) {
        let acc = kind === 'max' ? -Infinity : 0;
        let best = -1;
        let count = 0;
        for (let kp = 0; kp < kpos; kp++) {
          const off = table[kp * opos + op]!;
          if (off < 0) {
            if (off === IN_PADDING && includePad) count++;
            continue;
          }
          const v = xv[base + off]!;
          count++;
          if (kind === 'max') {
            if (v > acc || best < 0) {
              acc = v;
              best = off;
            }
          } else if (kind === 'avg') {
            acc += v;
          } else {
            acc += Math.pow(Math.abs(v), p);
          }
        }
        out[pl * opos + op] = kind === 'max' ? acc : kind === 'avg' ? acc / count : Math.pow(acc, 1 / p);
        if (indices) indices[pl * opos + op] = BigInt(base + (colMajor ? columnMajor(best, spatial) : best));
      }
    }
    const shape = [x.shape[0]!, x.shape[1]!, ...w.out];
    const y = tensorFrom(x.dtype, shape, out);
    return indices ? [y, { dtype: 'int64', shape, data: indices }] : [y];
  };
}

/** A row-major spatial offset re-expressed in column-major order. */
function columnMajor(off: number, spatial: readonly number[]): number {
  let r = off;
  let result = 0;
  let stride = 1;
  const coords: number[] = [];
  for (let d = spatial.length - 1; d >= 0; d--) {
    coords[d] = r % spatial[d]!;
    r = Math.floor(r / spatial[d]!);
  }
  for (let d = 0; d < spatial.length; d++) {
    result += coords[d]! * stride;
    stride *= spatial[d]!;
  }
  return result;
}

function globalPool(kind: PoolKind): Kernel {
  return (ctx, inputs) => {
    const x = ctx.input(inputs, 0);
    poolInput(ctx, x.shape);
    const planes = x.shape[0]! * x.shape[1]!;
    const size = sizeBetween(x.shape, 2);
    const xv = numbersOf(x);
    const out = numberBuffer(x.dtype, planes);
    const p = ctx.float('p', 2);
    for (let pl = 0; pl < planes; pl++) {
      let acc = kind === 'max' ? -Infinity : 0;
      for (let i = pl * size; i < (pl + 1) * size; i++) {
        const v = xv[i]!;
        if (kind === 'max') acc = v > acc ? v : acc;
        else if (kind === 'avg') acc += v;
        else acc += Math.pow(Math.abs(v), p);
      }
      out[pl] = kind === 'max' ? acc : kind === 'avg' ? acc / size : Math.pow(acc, 1 / p);
    }
    return [tensorFrom(x.dtype, [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)], out)];
  };
}

/**
 * MaxUnpool: zeros of the unpooled shape with each X value written at its MaxPool index (a flat
 * index over the whole output). The shape is output_shape when given, else
 * (in - 1) * stride + kernel - pad_begin - pad_end per spatial axis.
 */
const maxUnpool: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  poolInput(ctx, x.shape);
  const indices = ctx.input(inputs, 1);
  const kernel = ctx.ints('kernel_shape');
  if (!kernel) throw ctx.error('missing required attribute', 'attribute kernel_shape');
  const r = kernel.length;
  const strides = ctx.ints('strides') ?? new Array<number>(r).fill(1);
  const pads = ctx.ints('pads') ?? new Array<number>(2 * r).fill(0);
  const natural = [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map((d, i) => (d - 1) * strides[i]! + kernel[i]! - pads[i]! - pads[i + r]!)];
  const shape = inputs[2] ? Array.from(inputs[2].data as ArrayLike<number | bigint>, Number) : natural;
  const xv = numbersOf(x);
  const idx = indices.data as ArrayLike<number | bigint>;
  const out = numberBuffer(x.dtype, shapeSize(shape));
  const naturalStrides = stridesOf(natural);
  const outStrides = stridesOf(shape);
  for (let i = 0; i < xv.length; i++) {
    // Indices address the natural shape; a larger output_shape keeps each element's coordinates.
    let rem = Number(idx[i]);
    let k = 0;
    for (let a = 0; a < natural.length; a++) {
      const c = Math.floor(rem / naturalStrides[a]!);
      rem -= c * naturalStrides[a]!;
      if (c >= shape[a]!) throw ctx.error(`index ${Number(idx[i])} is outside the output shape`, 'input 1');
      k += c * outStrides[a]!;
    }
    out[k] = xv[i]!;
  }
  return [tensorFrom(x.dtype, shape, out)];
};

/**
 * RoiAlign: each ROI (x1, y1, x2, y2, scaled by spatial_scale, shifted by -0.5 with half_pixel)
 * is split into output_height x output_width bins; each bin averages (or, as onnxruntime does,
 * takes the max of the weighted corners of) sampling_ratio^2 bilinear samples, or
 * ceil(roi size / bins) per axis when sampling_ratio is 0. Samples beyond one pixel outside the
 * image contribute 0.
 */
const roiAlign: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  if (x.shape.length !== 4) throw ctx.error('input must be N x C x H x W', 'input 0');
  const rois = numbersOf(ctx.input(inputs, 1));
  const batchIndex = Array.from(ctx.input(inputs, 2).data as ArrayLike<number | bigint>, Number);
  const [, c, h, w] = x.shape as [number, number, number, number];
  const ph = ctx.int('output_height', 1);
  const pw = ctx.int('output_width', 1);
  const ratio = ctx.int('sampling_ratio', 0);
  const scale = ctx.float('spatial_scale', 1);
  const max = ctx.string('mode', 'avg') === 'max';
  const halfPixel = ctx.opset >= 16 && ctx.string('coordinate_transformation_mode', 'half_pixel') === 'half_pixel';
  const offset = halfPixel ? 0.5 : 0;
  const xv = numbersOf(x);
  const count = batchIndex.length;
  const out = new Float64Array(count * c * ph * pw);
  for (let r = 0; r < count; r++) {
    const [x1, y1, x2, y2] = [0, 1, 2, 3].map((k) => rois[r * 4 + k]! * scale - offset) as [number, number, number, number];
    const roiW = halfPixel ? x2 - x1 : Math.max(x2 - x1, 1);
    const roiH = halfPixel ? y2 - y1 : Math.max(y2 - y1, 1);
    const binH = roiH / ph;
    const binW = roiW / pw;
    const gridH = ratio > 0 ? ratio : Math.ceil(roiH / ph);
    const gridW = ratio > 0 ? ratio : Math.ceil(roiW / pw);
    const samples = Math.max(gridH * gridW, 1);
    const base = batchIndex[r]! * c * h * w;
    for (let ch = 0; ch < c; ch++) {
      const plane = base + ch * h * w;
      for (let i = 0; i < ph; i++) {
        for (let j = 0; j < pw; j++) {
          let acc = max ? -Infinity : 0;
          for (let iy = 0; iy < gridH; iy++) {
            const yy = y1 + i * binH + ((iy + 0.5) * binH) / gridH;
            for (let ix = 0; ix < gridW; ix++) {
              const xx = x1 + j * binW + ((ix + 0.5) * binW) / gridW;
              if (yy < -1 || yy > h || xx < -1 || xx > w) {
                if (max) acc = Math.max(acc, 0);
                continue;
              }
              let y0 = Math.floor(Math.max(yy, 0));
              let x0 = Math.floor(Math.max(xx, 0));
              let yc = Math.max(yy, 0);
              let xc = Math.max(xx, 0);
              let yh = y0 + 1;
              let xh = x0 + 1;
              if (y0 >= h - 1) {
                yh = y0 = h - 1;
                yc = y0;
              }
              if (x0 >= w - 1) {
                xh = x0 = w - 1;
                xc = x0;
              }
              const ly = yc - y0;
              const lx = xc - x0;
              const terms = [
                (1 - ly) * (1 - lx) * xv[plane + y0 * w + x0]!,
                (1 - ly) * lx * xv[plane + y0 * w + xh]!,
                ly * (1 - lx) * xv[plane + yh * w + x0]!,
                ly * lx * xv[plane + yh * w + xh]!,
              ];
              if (max) acc = Math.max(acc, ...terms);
              else acc += terms[0]! + terms[1]! + terms[2]! + terms[3]!;
            }
          }
          out[((r * c + ch) * ph + i) * pw + j] = max ? acc : acc / samples;
        }
      }
    }
  }
  return [tensorFrom(x.dtype, [count, c, ph, pw], out)];
};

export const poolKernels: Record<string, Kernel> = {
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  LpPool: pool('lp'),
  GlobalMaxPool: globalPool('max'),
  GlobalAveragePool: globalPool('avg'),
  GlobalLpPool: globalPool('lp'),
  MaxUnpool: maxUnpool,
  RoiAlign: roiAlign,
};
