/**
 * OCR output decoding and the agreement measures that judge a compressed OCR model against its
 * float original (or against ground truth).
 *
 * - Recognizer (CTC): output [N, T, C] holds per-time-step class scores. Classes follow PaddleOCR's
 *   CTCLabelDecode with use_space_char: 0 = CTC blank, 1..K = the K lines of the charset file,
 *   K + 1 = space, so C = K + 2. Greedy decoding takes the argmax per step, merges repeats, then
 *   drops blanks ("aa-ab" -> "aab").
 * - Character agreement of a candidate text with a reference: 1 - editDistance / length(reference),
 *   over Unicode code points; over a set of lines the distances and lengths are summed first, so
 *   long lines weigh more.
 * - Classifier: agreement of the argmax class per row.
 * - Detector: the probability map binarized at a threshold (DB post-processing uses 0.3), compared by
 *   intersection over union.
 */
import { editDistance } from '../../core/options.js';
import { readFileSync } from 'node:fs';
import { SlimcError, toFloat64, type Tensor } from '@slimc/ir';

/** Class index -> text for a CTC recognizer: [blank, ...charset lines, ' ']. */
export interface CtcCharset {
  readonly classes: readonly string[];
}

/** The CTC classes of a PaddleOCR charset (one character per line; `\r\n` or `\n` endings). */
export function ctcCharsetFromKeys(keysText: string): CtcCharset {
  const lines = keysText.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length && lines[lines.length - 1] === '') lines.pop(); // final newline
  return { classes: ['', ...lines, ' '] };
}

export function readCtcCharset(path: string): CtcCharset {
  try {
    return ctcCharsetFromKeys(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new SlimcError('invalid-argument', `cannot read charset: ${(cause as Error).message}`, { field: 'charset', value: path }, { cause });
  }
}

export interface DecodedLine {
  text: string;
  /** Mean of the winning class scores at the kept steps (0 when the line is empty). */
  confidence: number;
}

/** Greedy CTC decoding of a recognizer output [N, T, C] (scores or probabilities). */
export function ctcGreedyDecode(output: Tensor, charset: CtcCharset): DecodedLine[] {
  if (output.shape.length !== 3) throw new SlimcError('invalid-argument', `expected [N, T, C], got [${output.shape.join(', ')}]`, { field: 'recognizer output' });
  const [n, steps, classes] = output.shape as [number, number, number];
  if (classes !== charset.classes.length) {
    throw new SlimcError('invalid-argument', `output has ${classes} classes but the charset gives ${charset.classes.length} (blank + lines + space)`, { field: 'recognizer output' });
  }
  const scores = numbersOf(output);
  const lines: DecodedLine[] = [];
  for (let b = 0; b < n; b++) {
    let text = '';
    let scoreSum = 0;
    let kept = 0;
    let previous = -1;
    for (let t = 0; t < steps; t++) {
      const base = (b * steps + t) * classes;
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 0; c < classes; c++) {
        const s = scores[base + c]!;
        if (s > bestScore) {
          bestScore = s;
          best = c;
        }
      }
      if (best !== 0 && best !== previous) {
        text += charset.classes[best];
        scoreSum += bestScore;
        kept++;
      }
      previous = best;
    }
    lines.push({ text, confidence: kept ? scoreSum / kept : 0 });
  }
  return lines;
}

export interface TextAgreement {
  lines: number;
  /** Fraction of lines whose candidate text equals the reference exactly. */
  lineEquality: number;
  /** 1 - sum of edit distances / sum of reference lengths (code points), at least 0. */
  charAgreement: number;
  /** Indices of the lines that differ. */
  differing: number[];
}

/** How well `candidate` texts agree with `reference` texts, line by line. */
export function compareTexts(reference: readonly string[], candidate: readonly string[]): TextAgreement {
  checkSameLength(reference.length, candidate.length, 'texts');
  let distance = 0;
  let length = 0;
  const differing: number[] = [];
  reference.forEach((ref, i) => {
    const cand = candidate[i]!;
    if (ref !== cand) differing.push(i);
    distance += ref === cand ? 0 : editDistance(ref, cand);
    length += Array.from(ref).length;
  });
  const lines = reference.length;
  return {
    lines,
    lineEquality: lines ? (lines - differing.length) / lines : 1,
    charAgreement: length ? Math.max(0, 1 - distance / length) : distance === 0 ? 1 : 0,
    differing,
  };
}

/**
 * Text as a reader would compare it: Unicode NFKC (full-width forms such as '￥' and 'Ａ' become
 * '¥' and 'A'), runs of whitespace collapsed to one space, no space at either end. The recognizer
 * often reads the blank margin of a line as a space.
 */
export function normalizeOcrText(text: string): string {
  return text.normalize('NFKC').replace(/\s+/g, ' ').trim();
}

/** Argmax along the last axis, one index per row (e.g. the class of each classifier output row). */
export function argmaxRows(scores: Tensor): number[] {
  if (scores.shape.length === 0) throw new SlimcError('invalid-argument', 'scores must have at least one axis', { field: 'classifier output' });
  const classes = scores.shape[scores.shape.length - 1]!;
  const values = numbersOf(scores);
  const rows = classes ? values.length / classes : 0;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[r * classes + c]! > values[r * classes + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** Fraction of positions where the two label lists agree. */
export function labelAgreement(reference: readonly number[], candidate: readonly number[]): number {
  checkSameLength(reference.length, candidate.length, 'labels');
  if (reference.length === 0) return 1;
  let same = 0;
  reference.forEach((r, i) => (same += r === candidate[i] ? 1 : 0));
  return same / reference.length;
}

/**
 * 1 where map > threshold (DB's probability-map binarization), else 0. For a float32 map the
 * threshold is rounded to float32 first, as NumPy compares a float32 array with a Python float, so
 * a value stored as float32(0.3) is not above 0.3.
 */
export function binarize(map: Tensor, threshold: number): Uint8Array {
  const values = numbersOf(map);
  if (map.dtype === 'float32') threshold = Math.fround(threshold);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = values[i]! > threshold ? 1 : 0;
  return out;
}

/** |a and b| / |a or b| of two masks of equal size; 1 when both are empty. */
export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  checkSameLength(a.length, b.length, 'masks');
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union ? inter / union : 1;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Fraction of the set pixels of `mask` that are also set in `within` (1 when `mask` is empty). */
export function maskCoverage(mask: Uint8Array, within: Uint8Array): number {
  checkSameLength(mask.length, within.length, 'masks');
  let set = 0;
  let inside = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    set++;
    if (within[i] !== 0) inside++;
  }
  return set ? inside / set : 1;
}

/** A height x width mask with 1 inside the boxes, box coordinates scaled by (scaleX, scaleY) first. */
export function rasterizeBoxes(height: number, width: number, boxes: readonly Box[], scaleX = 1, scaleY = 1): Uint8Array {
  const mask = new Uint8Array(height * width);
  for (const b of boxes) {
    const x0 = Math.max(0, Math.round(b.x * scaleX));
    const x1 = Math.min(width, Math.round((b.x + b.width) * scaleX));
    const y0 = Math.max(0, Math.round(b.y * scaleY));
    const y1 = Math.min(height, Math.round((b.y + b.height) * scaleY));
    for (let y = y0; y < y1; y++) mask.fill(1, y * width + x0, y * width + Math.max(x0, x1));
  }
  return mask;
}

/** The elements as numbers, without a copy for float32 (model outputs almost always are). */
function numbersOf(t: Tensor): ArrayLike<number> {
  return t.dtype === 'float32' ? (t.data as Float32Array) : toFloat64(t);
}

function checkSameLength(a: number, b: number, what: string): void {
  if (a !== b) throw new SlimcError('invalid-argument', `reference has ${a} ${what}, candidate has ${b}`, { field: what });
}
