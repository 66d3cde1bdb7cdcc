import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SlimcError } from '@slimc/ir';
import { readNpy } from '@slimc/backends';
import { decodeImage, resizeBilinear, rotateImage180, type RgbImage } from './image.js';

const ocrData = fileURLToPath(new URL('../../../../../test/data/ocr/', import.meta.url));

describe('decodeImage', () => {
  const width = 5;
  const height = 3;
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 256);

  it('reads RGB PNG pixels exactly', async () => {
    const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const img = await decodeImage(png);
    expect([img.width, img.height]).toEqual([width, height]);
    expect([...img.data]).toEqual([...rgb]);
  });

  it('expands grayscale to three equal channels and drops alpha without compositing', async () => {
    const gray = Uint8Array.from({ length: width * height }, (_, i) => i * 16);
    const grayImg = await decodeImage(await sharp(gray, { raw: { width, height, channels: 1 } }).png().toBuffer());
    for (let p = 0; p < width * height; p++) expect([...grayImg.data.subarray(p * 3, p * 3 + 3)]).toEqual([gray[p], gray[p], gray[p]]);

    const rgba = new Uint8Array(width * height * 4);
    for (let p = 0; p < width * height; p++) rgba.set([...rgb.subarray(p * 3, p * 3 + 3), p % 2 ? 0 : 128], p * 4);
    const rgbaImg = await decodeImage(await sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer());
    expect([...rgbaImg.data]).toEqual([...rgb]);
  });

  it('reads JPEG to within compression error', async () => {
    const flat = new Uint8Array(16 * 16 * 3).fill(200);
    const img = await decodeImage(await sharp(flat, { raw: { width: 16, height: 16, channels: 3 } }).jpeg({ quality: 95 }).toBuffer());
    for (const v of img.data) expect(Math.abs(v - 200)).toBeLessThanOrEqual(2);
  });

  it('reads the committed data: a rotated eval line is the eval line turned 180 degrees', async () => {
    const upright = await decodeImage(join(ocrData, 'eval', 'line-000.png'));
    const rotated = await decodeImage(join(ocrData, 'eval-rotated', 'line-000.png'));
    expect(upright.height).toBe(48);
    expect(rotated).toEqual(rotateImage180(upright));
  });

  it('reports unreadable and undecodable input as SlimcError naming the file', async () => {
    await expect(decodeImage('/nonexistent/x.png')).rejects.toThrow(SlimcError);
    await expect(decodeImage(new Uint8Array([1, 2, 3]), 'bad.png')).rejects.toThrow(/bad\.png.*cannot decode image/);
  });
});

describe('resizeBilinear matches OpenCV', () => {
  // references made by test/data/ocr/opencv-resize/generate.py with cv2.resize(INTER_LINEAR)
  const dir = join(ocrData, 'opencv-resize');
  const asImage = (file: string): RgbImage => {
    const t = readNpy(readFileSync(join(dir, file)), file);
    expect(t.dtype).toBe('uint8');
    const [height, width, channels] = t.shape as [number, number, number];
    expect(channels).toBe(3);
    return { width, height, data: t.data as Uint8Array };
  };
  const source = asImage('source.npy');
  const references = readdirSync(dir).filter((f) => f.startsWith('resized-'));

  it.each(references)('byte for byte: %s', (file) => {
    const expected = asImage(file);
    const actual = resizeBilinear(source, expected.width, expected.height);
    const differing = expected.data.reduce((n, v, i) => n + (v === actual.data[i] ? 0 : 1), 0);
    expect(differing).toBe(0);
  });

  it('has references to check', () => expect(references.length).toBeGreaterThanOrEqual(8));
});
