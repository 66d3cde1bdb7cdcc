/**
 * Image -> model input tensor, described by a `PreprocessSpec`, with the PaddleOCR presets.
 *
 *   RgbImage (H x W, 8-bit)  --resize-->  h x w  --normalize, reorder, pad-->  float32 [1,3,h,W'] (nchw)
 *                                                                           or [1,h,W',3] (nhwc)
 *
 * Resize (`ResizeSpec`), in this order:
 *   - `height` set: the output height is `height`; with `keepAspect` the width is
 *     ceil(height * W / H), capped at `width` when given (a longer line is squeezed); without
 *     `keepAspect` the width is `width`.
 *   - `height` unset: the image keeps its size, scaled down so its longer side is at most
 *     `limitSide` (each side truncated to an integer, as PaddleOCR's DetResizeForTest does).
 *   - `multipleOf` m: each side becomes max(m, roundHalfToEven(side / m) * m) (Python's round, as
 *     PaddleOCR computes it).
 *   - `padTo`: the tensor's width is max(w, padTo); the extra columns on the right hold `padValue`
 *     (default 0, i.e. the padding is applied after normalization, as PaddleOCR pads).
 * Normalize: out[c] = (pixel[c'] * scale - mean[c]) / std[c], where c' is the source channel that
 * `channelOrder` puts at output channel c (bgr: c' = 2 - c), so mean/std are listed in output order.
 */
import { makeTensor, SlimcError, type Tensor } from '@slimc/ir';
import { roundHalfToEven } from '../rounding.js';
import { resizeBilinear, type RgbImage } from './image.js';

export interface ResizeSpec {
  /** Output height in pixels; unset keeps the image's height (after `limitSide`). */
  height?: number;
  /** With `keepAspect`: the widest the resized image may be. Without: the exact output width. */
  width?: number;
  keepAspect: boolean;
  /** Pad the tensor's width on the right up to this many columns. */
  padTo?: number;
  /** Round each resized side to a multiple of this. */
  multipleOf?: number;
  /** Without `height`: scale down so the longer side is at most this many pixels. */
  limitSide?: number;
}

export interface PreprocessSpec {
  /** The model input the tensor feeds (used when samples are read from a folder of images). */
  inputName?: string;
  resize: ResizeSpec;
  /** Multiplies the 0..255 pixel values first (1/255 maps them to 0..1). */
  scale: number;
  /** Per output channel (one value applies to all three). */
  mean: readonly number[];
  /** Per output channel (one value applies to all three). */
  std: readonly number[];
  channelOrder: 'rgb' | 'bgr';
  layout: 'nchw' | 'nhwc';
  /** Value of the padded columns in the output tensor (default 0). */
  padValue?: number;
}

export interface PreprocessedImage {
  tensor: Tensor;
  /** Size of the image before resizing. */
  sourceHeight: number;
  sourceWidth: number;
  /** Size of the resized image inside the tensor (the rest of the width is padding). */
  resizedHeight: number;
  resizedWidth: number;
}

/** PaddleOCR text recognizer (PP-OCRv4 rec): 48 high, up to 320 wide, (x/255 - 0.5) / 0.5, BGR, padded with 0. */
export const PADDLE_OCR_REC_PREPROCESS: Readonly<PreprocessSpec> = Object.freeze({
  inputName: 'x',
  resize: Object.freeze({ height: 48, width: 320, keepAspect: true, padTo: 320 }),
  scale: 1 / 255,
  mean: Object.freeze([0.5, 0.5, 0.5]),
  std: Object.freeze([0.5, 0.5, 0.5]),
  channelOrder: 'bgr',
  layout: 'nchw',
});

/** PaddleOCR text direction classifier (mobile v2.0 cls): 48 x 192, same normalization as the recognizer. */
export const PADDLE_OCR_CLS_PREPROCESS: Readonly<PreprocessSpec> = Object.freeze({
  ...PADDLE_OCR_REC_PREPROCESS,
  resize: Object.freeze({ height: 48, width: 192, keepAspect: true, padTo: 192 }),
});

/**
 * PaddleOCR text detector (PP-OCRv4 det, DetResizeForTest limit_type "max"): longer side at most
 * 960, sides rounded to multiples of 32, ImageNet mean/std on x/255. PaddleOCR applies the RGB-order
 * ImageNet statistics to its BGR image as they are, and the model was trained that way, so they are
 * kept in that order here.
 */
export const PADDLE_OCR_DET_PREPROCESS: Readonly<PreprocessSpec> = Object.freeze({
  inputName: 'x',
  resize: Object.freeze({ keepAspect: true, limitSide: 960, multipleOf: 32 }),
  scale: 1 / 255,
  mean: Object.freeze([0.485, 0.456, 0.406]),
  std: Object.freeze([0.229, 0.224, 0.225]),
  channelOrder: 'bgr',
  layout: 'nchw',
});

/** The resized (height, width) an image of srcHeight x srcWidth gets under `resize` (before padding). */
export function resizedSize(srcHeight: number, srcWidth: number, resize: ResizeSpec): { height: number; width: number } {
  checkResizeSpec(resize);
  let height: number;
  let width: number;
  if (resize.height !== undefined) {
    height = resize.height;
    if (resize.keepAspect) {
      width = Math.ceil((height * srcWidth) / srcHeight);
      if (resize.width !== undefined) width = Math.min(width, resize.width);
    } else {
      width = resize.width!;
    }
  } else {
    const longer = Math.max(srcHeight, srcWidth);
    const ratio = resize.limitSide !== undefined && longer > resize.limitSide ? resize.limitSide / longer : 1;
    height = Math.floor(srcHeight * ratio);
    width = Math.floor(srcWidth * ratio);
  }
  if (resize.multipleOf !== undefined) {
    const m = resize.multipleOf;
    height = Math.max(m, roundHalfToEven(height / m) * m);
    width = Math.max(m, roundHalfToEven(width / m) * m);
  }
  return { height: Math.max(1, height), width: Math.max(1, width) };
}

/** Resizes, normalizes and lays out `image` as a float32 tensor with a batch dimension of 1. */
export function preprocessImage(image: RgbImage, spec: PreprocessSpec): PreprocessedImage {
  const { mean, std } = checkNormalization(spec);
  const size = resizedSize(image.height, image.width, spec.resize);
  const resized = resizeBilinear(image, size.width, size.height);
  const h = size.height;
  const w = size.width;
  const tensorWidth = Math.max(w, spec.resize.padTo ?? 0);
  const out = new Float32Array(3 * h * tensorWidth);
  const padValue = spec.padValue ?? 0;
  if (padValue !== 0 && tensorWidth > w) out.fill(padValue);
  // (x * scale - mean) / std as one multiply-add per element
  const gain = std.map((s) => spec.scale / s);
  const offset = std.map((s, c) => -mean[c]! / s);
  const sourceChannel = spec.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const px = resized.data;
  for (let c = 0; c < 3; c++) {
    const g = gain[c]!;
    const o = offset[c]!;
    const sc = sourceChannel[c]!;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = px[(y * w + x) * 3 + sc]! * g + o;
        if (spec.layout === 'nchw') out[(c * h + y) * tensorWidth + x] = v;
        else out[(y * tensorWidth + x) * 3 + c] = v;
      }
    }
  }
  const shape = spec.layout === 'nchw' ? [1, 3, h, tensorWidth] : [1, h, tensorWidth, 3];
  return {
    tensor: makeTensor('float32', shape, out),
    sourceHeight: image.height,
    sourceWidth: image.width,
    resizedHeight: h,
    resizedWidth: w,
  };
}

/** Throws a SlimcError naming the field when `spec` cannot be applied to an image. */
export function checkPreprocessSpec(spec: PreprocessSpec): void {
  checkResizeSpec(spec.resize);
  checkNormalization(spec);
}

function checkResizeSpec(resize: ResizeSpec): void {
  const positiveInt = (v: number | undefined, field: string) => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new SlimcError('invalid-argument', `must be a positive integer, got ${v}`, { field: `resize.${field}` });
    }
  };
  positiveInt(resize.height, 'height');
  positiveInt(resize.width, 'width');
  positiveInt(resize.padTo, 'padTo');
  positiveInt(resize.multipleOf, 'multipleOf');
  positiveInt(resize.limitSide, 'limitSide');
  if (resize.height !== undefined && !resize.keepAspect && resize.width === undefined) {
    throw new SlimcError('invalid-argument', 'a fixed height without keepAspect needs a width', { field: 'resize.width' });
  }
}

function checkNormalization(spec: PreprocessSpec): { mean: number[]; std: number[] } {
  const perChannel = (values: readonly number[], field: string): number[] => {
    if (values.length !== 1 && values.length !== 3) {
      throw new SlimcError('invalid-argument', `needs 1 or 3 values, got ${values.length}`, { field });
    }
    if (values.some((v) => !Number.isFinite(v))) throw new SlimcError('invalid-argument', 'values must be finite', { field });
    return values.length === 1 ? [values[0]!, values[0]!, values[0]!] : [...values];
  };
  const mean = perChannel(spec.mean, 'mean');
  const std = perChannel(spec.std, 'std');
  if (std.some((s) => s === 0)) throw new SlimcError('invalid-argument', 'std must not be 0', { field: 'std' });
  if (!Number.isFinite(spec.scale)) throw new SlimcError('invalid-argument', `scale must be finite, got ${spec.scale}`, { field: 'scale' });
  return { mean, std };
}
