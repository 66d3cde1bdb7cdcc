/**
 * Image decoding and resampling for calibration and evaluation inputs.
 *
 * An `RgbImage` is 8-bit RGB, interleaved row-major (HWC), whatever the file held: grayscale is
 * expanded to three equal channels and an alpha channel is dropped without compositing, which is
 * what OpenCV's `imread(IMREAD_COLOR)` gives the PaddleOCR tools (they then see it as BGR).
 * Decoding is done by sharp (libvips); resampling is done here so its arithmetic is fixed and
 * matches OpenCV's `INTER_LINEAR`, the resize the PaddleOCR models were trained behind.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { SlimcError } from '@slimc/ir';

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
 * Bilinear resize with OpenCV's `INTER_LINEAR` sampling: destination pixel d samples the source at
 * s = (d + 0.5) * (srcSize / dstSize) - 0.5 (pixel centres aligned), neighbours clamped at the border,
 * no low-pass filter when shrinking. Results are rounded to the nearest byte as OpenCV does for
 * 8-bit images (OpenCV's fixed-point weights can differ from this by 1 in rare pixels).
 */
export function resizeBilinear(image: RgbImage, width: number, height: number): RgbImage {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new SlimcError('invalid-argument', `resize target must be positive integers, got ${width}x${height}`, { field: 'resize' });
  }
  if (width === image.width && height === image.height) return image;
  const xs = samplePositions(image.width, width);
  const ys = samplePositions(image.height, height);
  const src = image.data;
  const out = new Uint8Array(width * height * 3);
  const rowStride = image.width * 3;
  for (let y = 0; y < height; y++) {
    const r0 = ys.lo[y]! * rowStride;
    const r1 = ys.hi[y]! * rowStride;
    const wy = ys.weight[y]!;
    for (let x = 0; x < width; x++) {
      const c0 = xs.lo[x]! * 3;
      const c1 = xs.hi[x]! * 3;
      const wx = xs.weight[x]!;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const top = src[r0 + c0 + c]! + (src[r0 + c1 + c]! - src[r0 + c0 + c]!) * wx;
        const bottom = src[r1 + c0 + c]! + (src[r1 + c1 + c]! - src[r1 + c0 + c]!) * wx;
        out[o + c] = Math.round(top + (bottom - top) * wy);
      }
    }
  }
  return { width, height, data: out };
}

/** For each destination index: the two source indices to blend and the weight of the second. */
function samplePositions(srcSize: number, dstSize: number): { lo: Int32Array; hi: Int32Array; weight: Float64Array } {
  const lo = new Int32Array(dstSize);
  const hi = new Int32Array(dstSize);
  const weight = new Float64Array(dstSize);
  const ratio = srcSize / dstSize;
  for (let d = 0; d < dstSize; d++) {
    const s = (d + 0.5) * ratio - 0.5;
    let i = Math.floor(s);
    let w = s - i;
    if (i < 0) {
      i = 0;
      w = 0;
    }
    if (i >= srcSize - 1) {
      i = srcSize - 1;
      w = 0;
    }
    lo[d] = i;
    hi[d] = Math.min(i + 1, srcSize - 1);
    weight[d] = w;
  }
  return { lo, hi, weight };
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
