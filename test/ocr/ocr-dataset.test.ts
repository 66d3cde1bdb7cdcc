/** The committed OCR data set is what its generator and README promise. */
import { describe, expect, it } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, readCtcCharset } from '../../packages/passes/src/quantize/data/index.js';
import { PADDLE_KEYS } from '../fixtures/models.js';
import { OCR_DATA_DIR, readDetPages, readLabeledLines } from './ocr-dataset.js';

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (n, e) => n + (e.isDirectory() ? folderBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
}

describe('OCR data set', () => {
  const calib = readLabeledLines('calib');
  const evalSet = readLabeledLines('eval');
  const rotated = readLabeledLines('eval-rotated');

  it('has the promised splits, disjoint in text, every file labelled', () => {
    expect(calib).toHaveLength(64);
    expect(evalSet.length).toBeGreaterThanOrEqual(200);
    expect(rotated.length).toBe(Math.ceil(evalSet.length / 2));
    const calibTexts = new Set(calib.map((l) => l.text));
    expect(evalSet.filter((l) => calibTexts.has(l.text))).toEqual([]);
    for (const [split, lines] of [['calib', calib], ['eval', evalSet], ['eval-rotated', rotated]] as const) {
      const images = readdirSync(join(OCR_DATA_DIR, split)).filter((f) => f.endsWith('.png'));
      expect(images.sort()).toEqual(lines.map((l) => l.path.split('/').pop()).sort());
    }
  });

  it('writes only characters the recognizer can output', () => {
    const known = new Set(readCtcCharset(PADDLE_KEYS).classes);
    const unknown = [...calib, ...evalSet].flatMap((l) => Array.from(l.text).filter((c) => !known.has(c)));
    expect(unknown).toEqual([]);
  });

  it('has lines 48 high that fit the 320-wide recognizer input, and pages with sides multiple of 32', async () => {
    for (const line of [...calib, ...evalSet, ...rotated]) {
      const { height, width } = await decodeImage(line.path);
      expect(height).toBe(48);
      expect(width).toBeLessThanOrEqual(320);
    }
    const pages = [...readDetPages('det'), ...readDetPages('det-calib')];
    expect(pages.length).toBeGreaterThanOrEqual(8);
    for (const page of pages) {
      const { height, width } = await decodeImage(page.path);
      expect([height % 32, width % 32]).toEqual([0, 0]);
      for (const b of page.boxes) {
        expect(b.x >= 0 && b.y >= 0 && b.x + b.width <= width && b.y + b.height <= height).toBe(true);
      }
    }
  });

  it('stays small', () => {
    expect(folderBytes(OCR_DATA_DIR)).toBeLessThan(8 * 1024 * 1024);
  });
});
