import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { SlimcError } from '@slimc/ir';
import { resizeBilinear, rotateImage180, type RgbImage } from './image.js';
import {
  PADDLE_OCR_CLS_PREPROCESS,
  PADDLE_OCR_DET_PREPROCESS,
  PADDLE_OCR_REC_PREPROCESS,
  preprocessImage,
  resizedSize,
  type PreprocessSpec,
} from './preprocess.js';

const arbImage = (maxSide = 12) =>
  fc
    .record({ width: fc.integer({ min: 1, max: maxSide }), height: fc.integer({ min: 1, max: maxSide }) })
    .chain(({ width, height }) =>
      fc.uint8Array({ minLength: width * height * 3, maxLength: width * height * 3 }).map((data): RgbImage => ({ width, height, data })),
    );

function solidImage(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(rgb, p * 3);
  return { width, height, data };
}

const pixel = (img: RgbImage, x: number, y: number, c: number) => img.data[(y * img.width + x) * 3 + c]!;

describe('resizeBilinear', () => {
  test.prop([arbImage(), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 3, maxLength: 3 })])(
    'a solid image stays solid at any size',
    (img, w, h, rgb) => {
      const out = resizeBilinear(solidImage(img.width, img.height, rgb as [number, number, number]), w, h);
      expect([out.width, out.height]).toEqual([w, h]);
      for (let p = 0; p < w * h; p++) expect([...out.data.subarray(p * 3, p * 3 + 3)]).toEqual(rgb);
    },
  );

  const arbEvenImage = fc.record({ width: fc.integer({ min: 1, max: 6 }), height: fc.integer({ min: 1, max: 6 }) }).chain(({ width, height }) =>
    fc.uint8Array({ minLength: 12 * width * height, maxLength: 12 * width * height }).map((data): RgbImage => ({ width: 2 * width, height: 2 * height, data })),
  );
  test.prop([arbEvenImage])('halving samples the middle of each 2x2 block: its rounded mean', (img) => {
    const small = { width: img.width / 2, height: img.height / 2 };
    const half = resizeBilinear(img, small.width, small.height);
    for (let y = 0; y < small.height; y++)
      for (let x = 0; x < small.width; x++)
        for (let c = 0; c < 3; c++) {
          const sum = pixel(img, 2 * x, 2 * y, c) + pixel(img, 2 * x + 1, 2 * y, c) + pixel(img, 2 * x, 2 * y + 1, c) + pixel(img, 2 * x + 1, 2 * y + 1, c);
          expect(Math.abs(pixel(half, x, y, c) - sum / 4)).toBeLessThanOrEqual(0.5);
        }
  });

  test.prop([arbImage()])('output stays within the range of the input', (img) => {
    const out = resizeBilinear(img, img.width * 2 + 1, img.height + 3);
    for (let c = 0; c < 3; c++) {
      const channel = (i: RgbImage) => Array.from({ length: i.width * i.height }, (_, p) => i.data[p * 3 + c]!);
      const src = channel(img);
      const lo = Math.min(...src);
      const hi = Math.max(...src);
      expect(channel(out).every((v) => v >= lo && v <= hi)).toBe(true);
    }
  });

  it('doubling a 2-pixel ramp follows the half-pixel-centre rule', () => {
    // source 0, 100: destination x samples s = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamp, 25, 75, clamp
    const img: RgbImage = { width: 2, height: 1, data: new Uint8Array([0, 0, 0, 100, 100, 100]) };
    const out = resizeBilinear(img, 4, 1);
    expect(Array.from({ length: 4 }, (_, x) => pixel(out, x, 0, 0))).toEqual([0, 25, 75, 100]);
  });

  it('rejects a non-positive target size', () => {
    expect(() => resizeBilinear(solidImage(2, 2, [0, 0, 0]), 0, 3)).toThrow(SlimcError);
  });

  test.prop([arbImage()])('rotating by 180 twice gives the image back', (img) => {
    expect(rotateImage180(rotateImage180(img))).toEqual(img);
  });
});

describe('resizedSize', () => {
  it('recognizer: height 48, width from the aspect ratio (rounded up), capped at 320', () => {
    const rec = PADDLE_OCR_REC_PREPROCESS.resize;
    expect(resizedSize(48, 100, rec)).toEqual({ height: 48, width: 100 });
    expect(resizedSize(30, 101, rec)).toEqual({ height: 48, width: 162 }); // 48 * 101 / 30 = 161.6
    expect(resizedSize(48, 1000, rec)).toEqual({ height: 48, width: 320 });
    expect(resizedSize(32, 200, PADDLE_OCR_CLS_PREPROCESS.resize)).toEqual({ height: 48, width: 192 }); // 300 capped
  });

  it('detector: longer side limited to 960, sides truncated then rounded half-even to multiples of 32', () => {
    const det = PADDLE_OCR_DET_PREPROCESS.resize;
    expect(resizedSize(480, 640, det)).toEqual({ height: 480, width: 640 });
    expect(resizedSize(1000, 2000, det)).toEqual({ height: 480, width: 960 }); // ratio 0.48
    expect(resizedSize(80, 144, det)).toEqual({ height: 64, width: 128 }); // 80/32 = 2.5 -> 2, 144/32 = 4.5 -> 4
  });

  test.prop([fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 })])('detector sizes are multiples of 32 within the limit', (h, w) => {
    const { height, width } = resizedSize(h, w, PADDLE_OCR_DET_PREPROCESS.resize);
    expect(height % 32).toBe(0);
    expect(width % 32).toBe(0);
    expect(Math.max(height, width)).toBeLessThanOrEqual(960 + 16);
    expect(Math.min(height, width)).toBeGreaterThanOrEqual(32);
  });

  test.prop([fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 5000 })])('keepAspect keeps the ratio to within one column', (h, w) => {
    const { height, width } = resizedSize(h, w, { height: 48, keepAspect: true });
    expect(height).toBe(48);
    expect(width).toBeGreaterThanOrEqual((48 * w) / h);
    expect(width).toBeLessThan((48 * w) / h + 1);
  });

  it('rejects malformed specs with the field named', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as SlimcError;
      }
      throw new Error('expected a throw');
    };
    expect(err(() => resizedSize(10, 10, { height: 0, keepAspect: true })).context.field).toBe('resize.height');
    expect(err(() => resizedSize(10, 10, { height: 8, keepAspect: false })).context.field).toBe('resize.width');
    expect(err(() => resizedSize(10, 10, { keepAspect: true, multipleOf: 2.5 })).context.field).toBe('resize.multipleOf');
  });
});

describe('preprocessImage', () => {
  const spec: PreprocessSpec = {
    resize: { height: 2, width: 3, keepAspect: false, padTo: 5 },
    scale: 1 / 255,
    mean: [0.1, 0.2, 0.3],
    std: [0.5, 0.25, 2],
    channelOrder: 'bgr',
    layout: 'nchw',
    padValue: -9,
  };
  const img = solidImage(3, 2, [255, 51, 0]); // R G B

  it('normalizes per output channel in the requested channel order and pads the width', () => {
    const { tensor, resizedWidth, resizedHeight } = preprocessImage(img, spec);
    expect(tensor.shape).toEqual([1, 3, 2, 5]);
    expect([resizedHeight, resizedWidth]).toEqual([2, 3]);
    const d = tensor.data as Float32Array;
    // bgr: channel 0 is B = 0, channel 1 is G = 51, channel 2 is R = 255
    const expected = [(0 - 0.1) / 0.5, (0.2 - 0.2) / 0.25, (1 - 0.3) / 2];
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 2; y++)
        for (let x = 0; x < 5; x++) {
          const v = d[(c * 2 + y) * 5 + x]!;
          if (x < 3) expect(v).toBeCloseTo(expected[c]!, 6);
          else expect(v).toBe(-9);
        }
  });

  test.prop([arbImage(6)])('nhwc is the transpose of nchw', (image) => {
    const spec2: PreprocessSpec = { ...spec, resize: { keepAspect: true }, channelOrder: 'rgb' };
    const a = preprocessImage(image, { ...spec2, layout: 'nchw' }).tensor;
    const b = preprocessImage(image, { ...spec2, layout: 'nhwc' }).tensor;
    const [, , h, w] = a.shape as number[];
    expect(b.shape).toEqual([1, h, w, 3]);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < h!; y++)
        for (let x = 0; x < w!; x++) expect(b.data[(y * w! + x) * 3 + c]).toBe(a.data[(c * h! + y) * w! + x]);
  });

  it('recognizer preset: white maps to 1, black to -1, padding to 0', () => {
    const line = solidImage(20, 10, [255, 255, 255]);
    line.data.fill(0, 0, 3 * 20 * 5); // top half black
    const { tensor, resizedWidth } = preprocessImage(line, PADDLE_OCR_REC_PREPROCESS);
    expect(tensor.shape).toEqual([1, 3, 48, 320]);
    expect(resizedWidth).toBe(96);
    const d = tensor.data as Float32Array;
    expect(d[0]).toBe(-1); // row 0, black
    expect(d[47 * 320]).toBe(1); // row 47, white
    expect(d[100]).toBe(0); // padding
  });

  it('rejects bad normalization parameters', () => {
    expect(() => preprocessImage(img, { ...spec, std: [1, 0, 1] })).toThrow(/std must not be 0/);
    expect(() => preprocessImage(img, { ...spec, mean: [1, 2] })).toThrow(/needs 1 or 3 values/);
  });
});
