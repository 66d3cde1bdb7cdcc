/**
 * The float PaddleOCR models, fed the committed OCR data through slimc's preprocessing and judged by
 * its OCR metrics: the baseline the quantized models are compared with. A low reading accuracy here
 * means the preprocessing (size, normalization, channel order) is wrong, not the model.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { makeTensor, type Tensor } from '@slimc/ir';
import {
  PADDLE_OCR_CLS_PREPROCESS,
  PADDLE_OCR_DET_PREPROCESS,
  PADDLE_OCR_REC_PREPROCESS,
  argmaxRows,
  binarize,
  compareTexts,
  ctcGreedyDecode,
  decodeImage,
  maskCoverage,
  maskIoU,
  normalizeOcrText,
  preprocessImage,
  rasterizeBoxes,
  readCtcCharset,
  type PreprocessSpec,
} from '../../packages/passes/src/quantize/data/index.js';
import { PADDLE_CLS, PADDLE_DET, PADDLE_KEYS, PADDLE_REC } from '../fixtures/models.js';
import { readDetPages, readLabeledLines, type LabeledLine } from './ocr-dataset.js';

const BATCH = 16;

async function runBatched(session: ort.InferenceSession, inputs: Tensor[]): Promise<Tensor> {
  const parts: Tensor[] = [];
  for (let i = 0; i < inputs.length; i += BATCH) {
    const chunk = inputs.slice(i, i + BATCH);
    const [, ...rest] = chunk[0]!.shape;
    const data = new Float32Array(chunk.reduce((n, t) => n + t.data.length, 0));
    let offset = 0;
    for (const t of chunk) {
      data.set(t.data as Float32Array, offset);
      offset += t.data.length;
    }
    parts.push(await runOne(session, makeTensor('float32', [chunk.length, ...rest], data)));
  }
  const [, ...rest] = parts[0]!.shape;
  const all = new Float32Array(parts.reduce((n, t) => n + t.data.length, 0));
  let offset = 0;
  for (const t of parts) {
    all.set(t.data as Float32Array, offset);
    offset += t.data.length;
  }
  return makeTensor('float32', [inputs.length, ...rest], all);
}

async function runOne(session: ort.InferenceSession, x: Tensor): Promise<Tensor> {
  const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
  const out = result[session.outputNames[0]!]!;
  return makeTensor('float32', out.dims, out.data as Float32Array);
}

async function lineTensors(lines: LabeledLine[], spec: PreprocessSpec): Promise<Tensor[]> {
  return Promise.all(lines.map(async (l) => preprocessImage(await decodeImage(l.path), spec).tensor));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

describe('float PaddleOCR baseline on the committed OCR data', () => {
  const evalLines = readLabeledLines('eval');
  const rotatedLines = readLabeledLines('eval-rotated');

  test('rec reads the eval lines', async () => {
    const session = await ort.InferenceSession.create(PADDLE_REC.path);
    const output = await runBatched(session, await lineTensors(evalLines, PADDLE_OCR_REC_PREPROCESS));
    const decoded = ctcGreedyDecode(output, readCtcCharset(PADDLE_KEYS)).map((d) => normalizeOcrText(d.text));
    const labels = evalLines.map((l) => normalizeOcrText(l.text));
    const exact = compareTexts(labels, decoded);
    const noSpaces = compareTexts(labels.map((t) => t.replace(/ /g, '')), decoded.map((t) => t.replace(/ /g, '')));
    console.log(
      `rec float vs labels (${exact.lines} lines, normalized text): exact ${pct(exact.lineEquality)}, chars ${pct(exact.charAgreement)}; ` +
        `ignoring spaces: exact ${pct(noSpaces.lineEquality)}, chars ${pct(noSpaces.charAgreement)}`,
    );
    for (const i of exact.differing.slice(0, 20)) console.log(`  ${evalLines[i]!.path.split('/').pop()}: "${labels[i]}" read "${decoded[i]}"`);
    expect(exact.lineEquality).toBeGreaterThanOrEqual(0.8);
    expect(exact.charAgreement).toBeGreaterThanOrEqual(0.95);
  });

  test('cls tells upright from upside-down lines', async () => {
    const session = await ort.InferenceSession.create(PADDLE_CLS.path);
    const upright = argmaxRows(await runBatched(session, await lineTensors(evalLines, PADDLE_OCR_CLS_PREPROCESS)));
    const flipped = argmaxRows(await runBatched(session, await lineTensors(rotatedLines, PADDLE_OCR_CLS_PREPROCESS)));
    // class 0 = '0' (upright), class 1 = '180'
    const uprightRight = upright.filter((c) => c === 0).length / upright.length;
    const flippedRight = flipped.filter((c) => c === 1).length / flipped.length;
    console.log(`cls float: upright -> '0' ${pct(uprightRight)} of ${upright.length}, rotated -> '180' ${pct(flippedRight)} of ${flipped.length}`);
    expect(uprightRight).toBeGreaterThanOrEqual(0.9);
    expect(flippedRight).toBeGreaterThanOrEqual(0.8);
  });

  test('det finds the drawn text lines', async () => {
    const session = await ort.InferenceSession.create(PADDLE_DET.path);
    const ious: number[] = [];
    const precisions: number[] = [];
    let linesFound = 0;
    let lines = 0;
    for (const page of readDetPages()) {
      const pre = preprocessImage(await decodeImage(page.path), PADDLE_OCR_DET_PREPROCESS);
      const map = await runOne(session, pre.tensor);
      const [, , h, w] = map.shape as [number, number, number, number];
      expect([h, w]).toEqual([pre.resizedHeight, pre.resizedWidth]);
      const sx = pre.resizedWidth / pre.sourceWidth;
      const sy = pre.resizedHeight / pre.sourceHeight;
      const detected = binarize(map, 0.3);
      const truth = rasterizeBoxes(h, w, page.boxes, sx, sy);
      ious.push(maskIoU(detected, truth));
      precisions.push(maskCoverage(detected, truth));
      for (const box of page.boxes) {
        lines++;
        // DB marks a shrunk core of each line, so a line counts as found when a fifth of its box is marked
        if (maskCoverage(rasterizeBoxes(h, w, [box], sx, sy), detected) >= 0.2) linesFound++;
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(
      `det float over ${ious.length} pages, map binarized at 0.3 vs drawn boxes: IoU mean ${mean(ious).toFixed(3)} (min ${Math.min(...ious).toFixed(3)}; ` +
        `DB marks shrunk line cores, so about 0.4 is what a perfect detector gets against tight boxes), ` +
        `marked pixels inside boxes ${pct(mean(precisions))}, lines found ${linesFound}/${lines}`,
    );
    expect(Math.min(...ious)).toBeGreaterThanOrEqual(0.3);
    expect(Math.min(...precisions)).toBeGreaterThanOrEqual(0.95);
    expect(linesFound / lines).toBeGreaterThanOrEqual(0.95);
  });
});
