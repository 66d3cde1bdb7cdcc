/**
 * Resize (opsets 10-19) and Upsample (7-9): nearest, linear and cubic interpolation of any rank.
 *
 * Each mode is separable, so the kernel resizes one axis at a time: per output coordinate x it
 * maps back to an input coordinate with the coordinate transformation mode, e.g.
 *   half_pixel:   x_in = (x + 0.5) / scale - 0.5       asymmetric:  x_in = x / scale
 *   align_corners: x_in = x * (in - 1) / (out - 1)     tf_crop_and_resize: within the roi box
 * and reads taps around x_in (1 for nearest, 2 for linear, 4 for cubic with coefficient A),
 * clamping to the edge; tf_crop_and_resize writes `extrapolation_value` outside the input.
 * Before opset 11 coordinates are asymmetric and nearest takes the floor (ceil when shrinking),
 * as onnxruntime does.
 */
import type { Tensor } from '../../tensor.js';
import { intsOf, numbersOf, roundHalfEven, sizeBetween, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';

const COORDINATE_MODES = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', 'simple'];

interface ResizeSpec {
  mode: 'nearest' | 'linear' | 'cubic';
  coordinateMode: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
  antialias: boolean;
}

/** Interpolation taps of one output coordinate: input indices and weights (none: extrapolate). */
interface Taps {
  index: number[];
  weight: number[];
}

function sourceCoordinate(spec: ResizeSpec, x: number, scale: number, inLen: number, outLen: number, roiStart: number, roiEnd: number): number {
  switch (spec.coordinateMode) {
    case 'half_pixel':
      return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = outLen / (scale * inLen);
      const center = inLen / 2;
      return center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel':
      return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      // The resized length is in * scale, not its floor, as the ONNX reference computes it.
      return outLen === 1 ? 0 : (x * (inLen - 1)) / (inLen * scale - 1);
    case 'asymmetric':
      return x / scale;
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / scale;
    case 'tf_crop_and_resize':
      return outLen > 1
        ? roiStart * (inLen - 1) + (x * (roiEnd - roiStart) * (inLen - 1)) / (outLen - 1)
        : 0.5 * (roiStart + roiEnd) * (inLen - 1);
    default:
      throw new Error(`unknown coordinate_transformation_mode ${spec.coordinateMode}`);
  }
}

function nearestIndex(mode: string, x: number, shrinking: boolean): number {
  switch (mode) {
    case 'round_prefer_floor':
      return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil':
      return Math.round(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'simple':
      return shrinking ? Math.ceil(x) : Math.floor(x);
    default:
      throw new Error(`unknown nearest_mode ${mode}`);
  }
}

function cubicWeights(t: number, a: number): number[] {
  const w = (d: number) => {
    const x = Math.abs(d);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

const clampIndex = (i: number, len: number) => (i < 0 ? 0 : i >= len ? len - 1 : i);

function axisTaps(spec: ResizeSpec, inLen: number, outLen: number, scale: number, roiStart: number, roiEnd: number): (Taps | null)[] {
  const taps: (Taps | null)[] = [];
  for (let x = 0; x < outLen; x++) {
    const s = sourceCoordinate(spec, x, scale, inLen, outLen, roiStart, roiEnd);
    if (spec.coordinateMode === 'tf_crop_and_resize' && (s < 0 || s > inLen - 1)) {
      taps.push(null);
      continue;
    }
    if (spec.mode === 'nearest') {
      taps.push({ index: [clampIndex(nearestIndex(spec.nearestMode, s, scale < 1), inLen)], weight: [1] });
    } else if (spec.antialias && scale < 1) {
      taps.push(antialiasTaps(spec, s, scale, inLen));
    } else if (spec.mode === 'linear') {
      const c = Math.min(Math.max(s, 0), inLen - 1);
      const i0 = Math.floor(c);
      const i1 = Math.min(i0 + 1, inLen - 1);
      const t = c - i0;
      taps.push({ index: [i0, i1], weight: [1 - t, t] });
    } else {
      const i0 = Math.floor(s);
      const w = cubicWeights(s - i0, spec.cubicA);
      const index = [i0 - 1, i0, i0 + 1, i0 + 2];
      if (spec.excludeOutside) {
        let sum = 0;
        index.forEach((i, k) => (i < 0 || i >= inLen ? (w[k] = 0) : (sum += w[k]!)));
        for (let k = 0; k < 4; k++) w[k] = w[k]! / sum;
      }
      taps.push({ index: index.map((i) => clampIndex(i, inLen)), weight: w });
    }
  }
  return taps;
}

/**
 * Antialiased downsampling: the interpolation kernel is stretched by 1/scale so every input pixel
 * under the output footprint contributes; weights outside the input are dropped and the rest
 * renormalized.
 */
function antialiasTaps(spec: ResizeSpec, s: number, scale: number, inLen: number): Taps {
  const support = spec.mode === 'linear' ? 1 : 2;
  const radius = support / scale;
  const index: number[] = [];
  const weight: number[] = [];
  let sum = 0;
  for (let i = Math.ceil(s - radius); i <= Math.floor(s + radius); i++) {
    const d = Math.abs(i - s) * scale;
    let w: number;
    if (spec.mode === 'linear') w = Math.max(0, 1 - d);
    else {
      const a = spec.cubicA;
      w = d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a : 0;
    }
    if (i < 0 || i >= inLen || w === 0) continue;
    index.push(i);
    weight.push(w);
    sum += w;
  }
  return { index, weight: weight.map((w) => w / sum) };
}

/** Resizes `data` (shape `shape`) along `axis` to `outLen`, in float64. */
function resizeAxis(data: Float64Array, shape: number[], axis: number, taps: readonly (Taps | null)[], extrapolation: number): Float64Array {
  const outer = sizeBetween(shape, 0, axis);
  const inLen = shape[axis]!;
  const inner = sizeBetween(shape, axis + 1);
  const outLen = taps.length;
  const out = new Float64Array(outer * outLen * inner);
  for (let o = 0; o < outer; o++) {
    for (let x = 0; x < outLen; x++) {
      const t = taps[x];
      const dst = (o * outLen + x) * inner;
      if (!t) {
        out.fill(extrapolation, dst, dst + inner);
        continue;
      }
      for (let k = 0; k < t.index.length; k++) {
        const w = t.weight[k]!;
        const src = (o * inLen + t.index[k]!) * inner;
        for (let i = 0; i < inner; i++) out[dst + i] += w * data[src + i]!;
      }
    }
  }
  shape[axis] = outLen;
  return out;
}

function resizeTensor(ctx: KernelContext, x: Tensor, spec: ResizeSpec, scales: number[], outShape: number[], roi: number[] | null): Tensor {
  const rank = x.shape.length;
  let data: Float64Array = Float64Array.from(numbersOf(x));
  const shape = [...x.shape];
  for (let a = 0; a < rank; a++) {
    const roiStart = roi ? roi[a]! : 0;
    const roiEnd = roi ? roi[a + rank]! : 1;
    const identity = outShape[a] === x.shape[a] && scales[a] === 1 && spec.coordinateMode !== 'tf_crop_and_resize';
    if (identity) continue;
    const taps = axisTaps(spec, x.shape[a]!, outShape[a]!, scales[a]!, roiStart, roiEnd);
    data = resizeAxis(data, shape, a, taps, spec.extrapolation);
  }
  if (spec.mode === 'nearest' || x.dtype === 'float32' || x.dtype === 'float64' || x.dtype === 'float16') {
    return tensorFrom(x.dtype, shape, data);
  }
  // Integer outputs of interpolation round to nearest and saturate like a float-to-int conversion in ORT.
  return tensorFrom(x.dtype, shape, data.map((v) => Math.round(v)));
}

const resize: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const rank = x.shape.length;
  const legacy = ctx.opset < 11;
  const mode = ctx.string('mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') throw ctx.error(`unknown mode ${mode}`, 'attribute mode');
  const spec: ResizeSpec = {
    mode,
    coordinateMode: legacy ? 'asymmetric' : ctx.string('coordinate_transformation_mode', 'half_pixel'),
    nearestMode: legacy ? 'simple' : ctx.string('nearest_mode', 'round_prefer_floor'),
    cubicA: ctx.float('cubic_coeff_a', -0.75),
    excludeOutside: ctx.int('exclude_outside', 0) === 1,
    extrapolation: ctx.float('extrapolation_value', 0),
    antialias: ctx.int('antialias', 0) === 1,
  };
  if (!COORDINATE_MODES.includes(spec.coordinateMode)) throw ctx.error(`unknown mode ${spec.coordinateMode}`, 'attribute coordinate_transformation_mode');
  if (!NEAREST_MODES.includes(spec.nearestMode)) throw ctx.error(`unknown mode ${spec.nearestMode}`, 'attribute nearest_mode');
  const scalesInput = legacy ? inputs[1] : inputs[2];
  const sizesInput = legacy ? null : inputs[3];
  const axes = ctx.ints('axes')?.map((a) => ctx.axis(a, rank, 'attribute axes')) ?? Array.from({ length: rank }, (_, i) => i);
  const roiIn = !legacy && inputs[1] && inputs[1].data.length ? Array.from(numbersOf(inputs[1])) : null;
  let roi: number[] | null = null;
  if (roiIn) {
    roi = [...new Array<number>(rank).fill(0), ...new Array<number>(rank).fill(1)];
    axes.forEach((a, k) => {
      roi![a] = roiIn[k]!;
      roi![a + rank] = roiIn[k + axes.length]!;
    });
  }
  const scales = new Array<number>(rank).fill(1);
  const outShape = [...x.shape];
  if (sizesInput && sizesInput.data.length) {
    const sizes = intsOf(sizesInput);
    if (sizes.length !== axes.length) throw ctx.error(`sizes has ${sizes.length} entries for ${axes.length} axes`, 'input 3');
    const policy = ctx.string('keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') {
      axes.forEach((a, k) => {
        outShape[a] = sizes[k]!;
        scales[a] = sizes[k]! / x.shape[a]!;
      });
    } else {
      const ratios = axes.map((a, k) => sizes[k]! / x.shape[a]!);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((a) => {
        scales[a] = s;
        outShape[a] = Math.floor(s * x.shape[a]! + 0.5);
      });
    }
  } else if (scalesInput && scalesInput.data.length) {
    const given = Array.from(numbersOf(scalesInput));
    if (given.length !== axes.length) throw ctx.error(`scales has ${given.length} entries for ${axes.length} axes`, legacy ? 'input 1' : 'input 2');
    axes.forEach((a, k) => {
      scales[a] = given[k]!;
      const span = spec.coordinateMode === 'tf_crop_and_resize' && roi ? roi[a + rank]! - roi[a]! : 1;
      outShape[a] = Math.floor(x.shape[a]! * span * given[k]!);
    });
  } else {
    throw ctx.error('needs scales or sizes', 'input 2');
  }
  return [resizeTensor(ctx, x, spec, scales, outShape, roi)];
};

const upsample: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const scales = ctx.opset < 9 ? [...(ctx.floats('scales') ?? [])] : Array.from(numbersOf(ctx.input(inputs, 1)));
  if (scales.length !== x.shape.length) throw ctx.error(`expected ${x.shape.length} scales, got ${scales.length}`, 'scales');
  const mode = ctx.string('mode', 'nearest');
  const spec: ResizeSpec = {
    mode: mode === 'bilinear' || mode === 'linear' ? 'linear' : 'nearest',
    coordinateMode: 'asymmetric',
    nearestMode: 'simple',
    cubicA: -0.75,
    excludeOutside: false,
    extrapolation: 0,
    antialias: false,
  };
  return [resizeTensor(ctx, x, spec, scales, x.shape.map((d, i) => Math.floor(d * scales[i]!)), null)];
};

/** Reflects x into [lo, hi] (mirror at each bound, as many times as needed). */
function reflect(x: number, lo: number, hi: number): number {
  const range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const dx = lo - x;
    const n = Math.floor(dx / range);
    const r = dx - n * range;
    return n % 2 === 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const dx = x - hi;
    const n = Math.floor(dx / range);
    const r = dx - n * range;
    return n % 2 === 0 ? hi - r : lo + r;
  }
  return x;
}

/**
 * GridSample (4-D): output[n, c, h, w] samples X[n, c] at grid[n, h, w] = (x, y) in [-1, 1],
 * mapped to pixels by align_corners (-1 and 1 are the corner pixel centres, or the image edges),
 * with bilinear, nearest (ties to even) or bicubic (A = -0.75) interpolation and zeros, border or
 * reflection padding.
 */
const gridSample: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const grid = ctx.input(inputs, 1);
  if (x.shape.length !== 4 || grid.shape.length !== 4 || grid.shape[3] !== 2) throw ctx.unsupported('only 4-D inputs with a [N, H, W, 2] grid are supported', 'input 1');
  const mode = ctx.string('mode', 'bilinear');
  const padding = ctx.string('padding_mode', 'zeros');
  const alignCorners = ctx.int('align_corners', 0) === 1;
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [, ho, wo] = grid.shape as [number, number, number, number];
  const xv = numbersOf(x);
  const gv = numbersOf(grid);
  const out = new Float64Array(n * c * ho * wo);
  const unnormalize = (g: number, size: number) => (alignCorners ? ((g + 1) / 2) * (size - 1) : ((g + 1) * size - 1) / 2);
  const [minX, maxX, minY, maxY] = alignCorners ? [0, w - 1, 0, h - 1] : [-0.5, w - 0.5, -0.5, h - 0.5];
  const pixel = (plane: number, yy: number, xx: number): number => {
    if (padding === 'zeros') return yy < 0 || yy >= h || xx < 0 || xx >= w ? 0 : xv[plane + yy * w + xx]!;
    if (padding === 'reflection') {
      xx = Math.round(reflect(xx, minX, maxX));
      yy = Math.round(reflect(yy, minY, maxY));
    }
    xx = Math.min(Math.max(xx, 0), w - 1);
    yy = Math.min(Math.max(yy, 0), h - 1);
    return xv[plane + yy * w + xx]!;
  };
  const cubic = (t: number) => cubicWeights(t, -0.75);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho * wo; i++) {
      let gx = unnormalize(gv[(b * ho * wo + i) * 2]!, w);
      let gy = unnormalize(gv[(b * ho * wo + i) * 2 + 1]!, h);
      if (padding === 'border') {
        gx = Math.min(Math.max(gx, 0), w - 1);
        gy = Math.min(Math.max(gy, 0), h - 1);
      } else if (padding === 'reflection') {
        gx = reflect(gx, minX, maxX);
        gy = reflect(gy, minY, maxY);
      }
      for (let ch = 0; ch < c; ch++) {
        const plane = (b * c + ch) * h * w;
        let v: number;
        if (mode === 'nearest') {
          v = pixel(plane, roundHalfEven(gy), roundHalfEven(gx));
        } else if (mode === 'bilinear') {
          const x0 = Math.floor(gx);
          const y0 = Math.floor(gy);
          const tx = gx - x0;
          const ty = gy - y0;
          v =
            (1 - ty) * ((1 - tx) * pixel(plane, y0, x0) + tx * pixel(plane, y0, x0 + 1)) +
            ty * ((1 - tx) * pixel(plane, y0 + 1, x0) + tx * pixel(plane, y0 + 1, x0 + 1));
        } else if (mode === 'bicubic') {
          const x0 = Math.floor(gx);
          const y0 = Math.floor(gy);
          const wx = cubic(gx - x0);
          const wy = cubic(gy - y0);
          v = 0;
          for (let p = 0; p < 4; p++) {
            let row = 0;
            for (let q = 0; q < 4; q++) row += wx[q]! * pixel(plane, y0 - 1 + p, x0 - 1 + q);
            v += wy[p]! * row;
          }
        } else {
          throw ctx.error(`unknown mode ${mode}`, 'attribute mode');
        }
        out[(b * c + ch) * ho * wo + i] = v;
      }
    }
  }
  return [tensorFrom(x.dtype, [n, c, ho, wo], out)];
};

export const resizeKernels: Record<string, Kernel> = {
  Resize: resize,
  Upsample: upsample,
  GridSample: gridSample,
};
