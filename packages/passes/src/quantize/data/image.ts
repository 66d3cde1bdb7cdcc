/**
 * Image decoding and resampling for calibration and evaluation inputs.
 *
 * An `RgbImage` is 8-bit RGB, interleaved row-major (HWC), whatever the file held: grayscale is
 * expanded to three equal channels and an alpha channel is dropped without compositing, which is
 * what OpenCV's `imread(IMREAD_COLOR)` gives the PaddleOCR tools (they then see it as BGR).
 * Decoding is done by sharp (libvips); resampling is done here so its arithmetic is fixed and
 * matches OpenCV's `INTER_LINEAR`, the resize the PaddleOCR tools feed their models through.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { SlimcError } from '@slimc/ir';
import { roundHalfToEven } from '../rounding.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes, R G B per pixel, rows top to bottom. */
  readonly data: Uint8Array;
}

/** Decodes a PNG, JPEG (or anything libvips reads: WebP, TIFF, GIF) file or buffer to RGB. */
export async function decodeImage(source: string | Uint8Array, name = typeof source === 'string' ? source : 'image'): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = typeof source === 'string' ? await readFile(source) : source;
  } catch (cause) {
    throw new SlimcError('invalid-argument', `cannot read image: ${(cause as Error).message}`, { field: 'image', value: name }, { cause });
  }
  try {
    const { data, info } = await sharp(bytes)
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoder gave ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (cause) {
    throw new SlimcError('invalid-argument', `cannot decode image: ${(cause as Error).message}`, { field: 'image', value: name }, { cause });
  }
}

/**
 * Bilinear resize with OpenCV's `INTER_LINEAR` sampling and arithmetic for 8-bit images:
 *   - destination pixel d samples the source at s = (d + 0.5) * (srcSize / dstSize) - 0.5 (pixel
 *     centres aligned; s in float32 as OpenCV computes it), neighbours clamped at the border, no
 *     low-pass filter when shrinking;
 *   - weights are rounded to 11 fraction bits, ties to even;
 *   - a horizontal pass gives h = p0 * a0 + p1 * a1, and the vertical pass combines two such rows
 *     as OpenCV's vector code does: ((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2 >> 2.
 * This reproduces OpenCV 4's bytes (checked against cv2.resize on x86: see
 * test/data/ocr/opencv-resize); OpenCV's scalar fallback rounds the vertical pass as
 * (b0 * h0 + b1 * h1 + 2^21) >> 22, which can differ by 1 on builds without its vector code.
 */
export function resizeBilinear(image: RgbImage, width: number, height: number): RgbImage {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new SlimcError('invalid-argument', `resize target must be positive integers, got ${width}x${height}`, { field: 'resize' });
  }
  if (width === image.width && height === image.height) return image;
  const xs = samplePositions(image.width, width, 'x');
  const ys = samplePositions(image.height, height, 'y');
  const src = image.data;
  const out = new Uint8Array(width * height * 3);
  const rowStride = image.width * 3;
  // horizontal pass of each source row the output needs, computed once per row and dropped once
  // the output has moved below it (source rows are visited in increasing order)
  const rows = new Map<number, Int32Array>();
  const horizontal = (sy: number): Int32Array => {
    let row = rows.get(sy);
    if (row) return row;
    row = new Int32Array(width * 3);
    const base = sy * rowStride;
    for (let x = 0; x < width; x++) {
      const c0 = base + xs.lo[x]! * 3;
      const c1 = base + xs.hi[x]! * 3;
      const a0 = xs.w0[x]!;
      const a1 = xs.w1[x]!;
      for (let c = 0; c < 3; c++) row[x * 3 + c] = src[c0 + c]! * a0 + src[c1 + c]! * a1;
    }
    rows.set(sy, row);
    return row;
  };
  for (let y = 0; y < height; y++) {
    const h0 = horizontal(ys.lo[y]!);
    const h1 = horizontal(ys.hi[y]!);
    const b0 = ys.w0[y]!;
    const b1 = ys.w1[y]!;
    for (const sy of rows.keys()) if (sy < ys.lo[y]!) rows.delete(sy);
    const o = y * width * 3;
    for (let i = 0; i < width * 3; i++) {
      const v = (((b0 * (h0[i]! >> 4)) >> 16) + ((b1 * (h1[i]! >> 4)) >> 16) + 2) >> 2;
      out[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, data: out };
}

const WEIGHT_ONE = 2048; // OpenCV's INTER_RESIZE_COEF_SCALE: 11 fraction bits

/**
 * For each destination index: the two source indices to blend and their fixed-point weights.
 * Outside the source, OpenCV treats the axes differently: a column clamps its position (weight
 * (1, 0) on the border pixel), a row keeps its weights and clamps only the row indices, so the
 * border row is blended with itself.
 */
function samplePositions(srcSize: number, dstSize: number, axis: 'x' | 'y'): { lo: Int32Array; hi: Int32Array; w0: Int32Array; w1: Int32Array } {
  const lo = new Int32Array(dstSize);
  const hi = new Int32Array(dstSize);
  const w0 = new Int32Array(dstSize);
  const w1 = new Int32Array(dstSize);
  const ratio = 1 / (dstSize / srcSize); // as OpenCV: the inverse of its scale factor, not src / dst
  const last = srcSize - 1;
  for (let d = 0; d < dstSize; d++) {
    const s = Math.fround((d + 0.5) * ratio - 0.5);
    let i = Math.floor(s);
    let f = Math.fround(s - i);
    if (axis === 'x' && i < 0) {
      i = 0;
      f = 0;
    }
    if (axis === 'x' && i >= last) {
      i = last;
      f = 0;
    }
    lo[d] = Math.min(Math.max(i, 0), last);
    hi[d] = Math.min(Math.max(i + 1, 0), last);
    // cvRound: ties to even
    w0[d] = roundHalfToEven(Math.fround(1 - f) * WEIGHT_ONE);
    w1[d] = roundHalfToEven(f * WEIGHT_ONE);
  }
  return { lo, hi, w0, w1 };
}

/** Turns an image upside down (180 degrees), e.g. to make the flipped class for a text-direction classifier. */
export function rotateImage180(image: RgbImage): RgbImage {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const q = (n - 1 - p) * 3;
    out[p * 3] = image.data[q]!;
    out[p * 3 + 1] = image.data[q + 1]!;
    out[p * 3 + 2] = image.data[q + 2]!;
  }
  return { width: image.width, height: image.height, data: out };
}
