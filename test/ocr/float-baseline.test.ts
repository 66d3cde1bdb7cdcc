/**
 * The float PaddleOCR models, fed the committed OCR data through slimc's preprocessing and judged by
 * its OCR metrics: the baseline the quantized models are compared with. A low reading accuracy here
 * means the preprocessing (size, normalization, channel order) is wrong, not the model.
 */
import { describe, expect, test } from 'vitest';
import { PREPROCESS_PRESETS } from '@slimc/passes';
import {
  classifyImages,
  binarize,
  compareDetections,
  compareTexts,
  detectImages,
  maskCoverage,
  maskIoU,
  normalizeOcrText,
  parsePreprocessSpec,
  rasterizeBoxes,
  readCtcCharset,
  recognizeImages,
} from '../../packages/passes/src/quantize/data/index.js';
import { PADDLE_CLS, PADDLE_DET, PADDLE_KEYS, PADDLE_REC } from '../fixtures/models.js';
import { readDetPages, readLabeledLines } from './ocr-dataset.js';
import { ortRunner } from './ort-runner.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('float PaddleOCR baseline on the committed OCR data', () => {
  const evalLines = readLabeledLines('eval');
  const rotatedLines = readLabeledLines('eval-rotated');

  test('rec reads the eval lines', async () => {
    const read = await recognizeImages(await ortRunner(PADDLE_REC.path), evalLines.map((l) => l.path), readCtcCharset(PADDLE_KEYS));
    const decoded = read.map(normalizeOcrText);
    const labels = evalLines.map((l) => normalizeOcrText(l.text));
    const exact = compareTexts(labels, decoded);
    const noSpaces = compareTexts(labels.map((t) => t.replace(/ /g, '')), decoded.map((t) => t.replace(/ /g, '')));
    const raw = compareTexts(evalLines.map((l) => l.text), read);
    console.log(
      `rec float vs labels (${exact.lines} lines, normalized text): exact ${pct(exact.lineEquality)}, chars ${pct(exact.charAgreement)}; ` +
        `ignoring spaces: exact ${pct(noSpaces.lineEquality)}; raw (edge spaces, full-width forms kept): exact ${pct(raw.lineEquality)}`,
    );
    for (const i of exact.differing.slice(0, 20)) console.log(`  ${evalLines[i]!.path.split('/').pop()}: "${labels[i]}" read "${decoded[i]}"`);
    expect(exact.lineEquality).toBeGreaterThanOrEqual(0.8);
    expect(exact.charAgreement).toBeGreaterThanOrEqual(0.95);
  });

  test('rec reads the eval lines at their own width (pad-to:none) at least as well as padded to 320', async () => {
    const run = await ortRunner(PADDLE_REC.path);
    const charset = readCtcCharset(PADDLE_KEYS);
    const paths = evalLines.map((l) => l.path);
    const labels = evalLines.map((l) => normalizeOcrText(l.text));
    const unpadded = parsePreprocessSpec('paddle-rec;pad-to:none', PREPROCESS_PRESETS)!;
    const padded = compareTexts(labels, (await recognizeImages(run, paths, charset)).map(normalizeOcrText));
    const own = compareTexts(labels, (await recognizeImages(run, paths, charset, { spec: unpadded })).map(normalizeOcrText));
    console.log(`rec float vs labels: padded to 320 ${pct(padded.lineEquality)} of lines, at their own width ${pct(own.lineEquality)} (chars ${pct(padded.charAgreement)}, ${pct(own.charAgreement)})`);
    expect(own.lineEquality).toBeGreaterThanOrEqual(padded.lineEquality);
    expect(own.charAgreement).toBeGreaterThanOrEqual(0.99);
  });

  test('cls tells upright from upside-down lines', async () => {
    const run = await ortRunner(PADDLE_CLS.path);
    // class 0 = '0' (upright), class 1 = '180'
    const upright = await classifyImages(run, evalLines.map((l) => l.path));
    const flipped = await classifyImages(run, rotatedLines.map((l) => l.path));
    const uprightRight = upright.filter((c) => c === 0).length / upright.length;
    const flippedRight = flipped.filter((c) => c === 1).length / flipped.length;
    console.log(`cls float: upright -> '0' ${pct(uprightRight)} of ${upright.length}, rotated -> '180' ${pct(flippedRight)} of ${flipped.length}`);
    expect(uprightRight).toBeGreaterThanOrEqual(0.9);
    expect(flippedRight).toBeGreaterThanOrEqual(0.8);
  });

  test('det finds the drawn text lines', async () => {
    const pages = readDetPages();
    const detected = await detectImages(await ortRunner(PADDLE_DET.path), pages.map((p) => p.path));
    const ious: number[] = [];
    const precisions: number[] = [];
    let linesFound = 0;
    let lines = 0;
    pages.forEach((page, i) => {
      const { map, input } = detected[i]!;
      const [, , h, w] = map.shape as [number, number, number, number];
      expect([h, w]).toEqual([input.resizedHeight, input.resizedWidth]);
      const sx = input.resizedWidth / input.sourceWidth;
      const sy = input.resizedHeight / input.sourceHeight;
      const marked = binarize(map, 0.3);
      const truth = rasterizeBoxes(h, w, page.boxes, sx, sy);
      ious.push(maskIoU(marked, truth));
      precisions.push(maskCoverage(marked, truth));
      for (const box of page.boxes) {
        lines++;
        // DB marks a shrunk core of each line, so a line counts as found when a fifth of its box is marked
        if (maskCoverage(rasterizeBoxes(h, w, [box], sx, sy), marked) >= 0.2) linesFound++;
      }
    });
    console.log(
      `det float over ${ious.length} pages, map binarized at 0.3 vs drawn boxes: IoU mean ${mean(ious).toFixed(3)} (min ${Math.min(...ious).toFixed(3)}; ` +
        `DB marks shrunk line cores, so about 0.4 is what a perfect detector gets against tight boxes), ` +
        `marked pixels inside boxes ${pct(mean(precisions))}, lines found ${linesFound}/${lines}`,
    );
    expect(Math.min(...ious)).toBeGreaterThanOrEqual(0.3);
    expect(Math.min(...precisions)).toBeGreaterThanOrEqual(0.95);
    expect(linesFound / lines).toBeGreaterThanOrEqual(0.95);
    // the measure used against a compressed detector: a model agrees with itself exactly
    expect(compareDetections(detected, detected).minIoU).toBe(1);
  });
});
