import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { makeTensor, SlimcError } from '@slimc/ir';
import {
  argmaxRows,
  binarize,
  compareTexts,
  ctcCharsetFromKeys,
  ctcGreedyDecode,
  labelAgreement,
  maskCoverage,
  maskIoU,
  normalizeOcrText,
  rasterizeBoxes,
  readCtcCharset,
} from './ocr-metrics.js';
import { editDistance } from '../../core/options.js';
import { PADDLE_KEYS } from '../../../../../test/fixtures/models.js';

/** Scores [1, T, C] with a 0.9 peak on the given class at each step (the rest spread evenly). */
function peakedScores(path: number[], classes: number) {
  const data = new Float32Array(path.length * classes).fill(0.1 / (classes - 1));
  path.forEach((c, t) => (data[t * classes + c] = 0.9));
  return makeTensor('float32', [1, path.length, classes], data);
}

describe('CTC charset and greedy decoding', () => {
  const charset = ctcCharsetFromKeys('a\nb\nc\n');

  it('puts the blank first and the space last, as PaddleOCR does', () => {
    expect(charset.classes).toEqual(['', 'a', 'b', 'c', ' ']);
    expect(ctcCharsetFromKeys('a\r\nb').classes).toEqual(['', 'a', 'b', ' ']);
  });

  it('merges repeats, then drops blanks', () => {
    // a a - a b b ' ' c
    const [line] = ctcGreedyDecode(peakedScores([1, 1, 0, 1, 2, 2, 4, 3], 5), charset);
    expect(line!.text).toBe('aab c');
    expect(line!.confidence).toBeCloseTo(0.9, 6);
    expect(ctcGreedyDecode(peakedScores([0, 0, 0], 5), charset)[0]).toEqual({ text: '', confidence: 0 });
  });

  // Any text can be written as a CTC path: each symbol repeated, a blank between equal neighbours
  // and blanks sprinkled anywhere; greedy decoding must give the text back.
  test.prop([
    fc.array(fc.record({ symbol: fc.integer({ min: 1, max: 4 }), repeat: fc.integer({ min: 1, max: 3 }), blanks: fc.integer({ min: 0, max: 2 }) }), { maxLength: 12 }),
  ])('decodes any CTC path of a text to that text', (steps) => {
    const path: number[] = [];
    let previous = -1;
    for (const { symbol, repeat, blanks } of steps) {
      if (symbol === previous && blanks === 0) path.push(0);
      for (let i = 0; i < blanks; i++) path.push(0);
      for (let i = 0; i < repeat; i++) path.push(symbol);
      previous = symbol;
    }
    path.push(0);
    const text = steps.map((s) => charset.classes[s.symbol]).join('');
    expect(ctcGreedyDecode(peakedScores(path, 5), charset)[0]!.text).toBe(text);
  });

  it('rejects an output whose class count does not match the charset', () => {
    expect(() => ctcGreedyDecode(peakedScores([1], 6), charset)).toThrow(SlimcError);
    expect(() => ctcGreedyDecode(makeTensor('float32', [5], new Float32Array(5)), charset)).toThrow(/expected \[N, T, C\]/);
  });

  it('gives the PaddleOCR recognizer charset 6625 classes, its output width', () => {
    const keys = readCtcCharset(PADDLE_KEYS);
    expect(keys.classes).toHaveLength(6625);
    expect(keys.classes[6624]).toBe(' ');
    expect(keys.classes.slice(1).every((c) => c.length > 0)).toBe(true);
  });
});

describe('text agreement', () => {
  it('edit distance of known pairs', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('上海市', '上海')).toBe(1); // code points, not UTF-16 units
    expect(editDistance('𝔸b', 'b')).toBe(1);
  });

  const arbText = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '中', '𝔸'), maxLength: 8 });
  test.prop([arbText, arbText, arbText])('edit distance is a metric bounded by the lengths', (a, b, c) => {
    const len = (s: string) => Array.from(s).length;
    expect(editDistance(a, a)).toBe(0);
    expect(editDistance(a, b)).toBe(editDistance(b, a));
    expect(editDistance(a, c)).toBeLessThanOrEqual(editDistance(a, b) + editDistance(b, c));
    expect(editDistance(a, b)).toBeGreaterThanOrEqual(Math.abs(len(a) - len(b)));
    expect(editDistance(a, b)).toBeLessThanOrEqual(Math.max(len(a), len(b)));
    expect(editDistance(a, b) === 0).toBe(a === b);
  });

  it('compares line by line and pools characters over the set', () => {
    const r = compareTexts(['hello', 'abc', 'xy'], ['hello', 'abd', 'xyz']);
    expect(r.lines).toBe(3);
    expect(r.lineEquality).toBeCloseTo(1 / 3);
    expect(r.charAgreement).toBeCloseTo(1 - 2 / 10);
    expect(r.differing).toEqual([1, 2]);
    expect(compareTexts(['a'], ['zzzz']).charAgreement).toBe(0);
    expect(() => compareTexts(['a'], [])).toThrow(SlimcError);
  });

  it('normalizes full-width forms and edge spaces', () => {
    expect(normalizeOcrText(' ￥220.17  ＡＢ ')).toBe('¥220.17 AB');
  });
});

describe('classifier and detector measures', () => {
  it('argmax per row and label agreement', () => {
    const scores = makeTensor('float32', [3, 2], [0.9, 0.1, 0.2, 0.8, 0.5, 0.5]);
    expect(argmaxRows(scores)).toEqual([0, 1, 0]); // a tie goes to the first class
    expect(labelAgreement([0, 1, 0, 1], [0, 1, 1, 1])).toBe(0.75);
  });

  it('binarizes strictly above the threshold and measures IoU and coverage', () => {
    const map = makeTensor('float32', [1, 1, 2, 3], [0.1, 0.3, 0.31, 0.9, 0.2, 0.5]);
    const detected = binarize(map, 0.3);
    expect([...detected]).toEqual([0, 0, 1, 1, 0, 1]);
    const truth = new Uint8Array([0, 1, 1, 1, 0, 0]);
    expect(maskIoU(detected, truth)).toBeCloseTo(2 / 4);
    expect(maskCoverage(detected, truth)).toBeCloseTo(2 / 3);
    expect(maskCoverage(truth, detected)).toBeCloseTo(2 / 3);
    expect(maskIoU(new Uint8Array(4), new Uint8Array(4))).toBe(1);
  });

  test.prop([fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => a.map((v) => v & 1)), fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => a.map((v) => v & 1))])(
    'IoU is symmetric, in [0, 1], and 1 exactly for equal masks',
    (a, b) => {
      const iou = maskIoU(a, b);
      expect(iou).toBe(maskIoU(b, a));
      expect(iou).toBeGreaterThanOrEqual(0);
      expect(iou).toBeLessThanOrEqual(1);
      expect(iou === 1).toBe(a.every((v, i) => v === b[i]));
    },
  );

  it('rasterizes boxes scaled to the map and clipped to it', () => {
    const mask = rasterizeBoxes(4, 6, [{ x: 2, y: 0, width: 4, height: 2 }, { x: 10, y: 6, width: 10, height: 10 }], 0.5, 0.5);
    // first box -> x 1..3, y 0..1; second -> x 5..10 clipped to 5, y 3..8 clipped to 3
    const rows = Array.from({ length: 4 }, (_, y) => [...mask.subarray(y * 6, y * 6 + 6)].join(''));
    expect(rows).toEqual(['011000', '000000', '000000', '000001']);
  });
});
