/**
 * The committed OCR data set (test/data/ocr, made by its generate.sh): text-line images with their
 * labels, and document pages with the boxes of the drawn lines.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Box } from '../../packages/passes/src/quantize/data/index.js';

export const OCR_DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'ocr');

export interface LabeledLine {
  path: string;
  text: string;
}

export interface DetPage {
  path: string;
  boxes: (Box & { text: string })[];
}

function tsvRows(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

/** The lines of one split (`calib`, `eval`, `eval-rotated`) in file order. */
export function readLabeledLines(split: string): LabeledLine[] {
  const dir = join(OCR_DATA_DIR, split);
  return tsvRows(join(dir, 'labels.tsv')).map(([file, text]) => ({ path: join(dir, file!), text: text! }));
}

/** The document pages of one split (`det`, `det-calib`) with the boxes drawn on each. */
export function readDetPages(split = 'det'): DetPage[] {
  const dir = join(OCR_DATA_DIR, split);
  const pages = new Map<string, DetPage>();
  for (const [file, x, y, width, height, text] of tsvRows(join(dir, 'boxes.tsv'))) {
    const page = pages.get(file!) ?? { path: join(dir, file!), boxes: [] };
    page.boxes.push({ x: Number(x), y: Number(y), width: Number(width), height: Number(height), text: text! });
    pages.set(file!, page);
  }
  return [...pages.values()];
}
