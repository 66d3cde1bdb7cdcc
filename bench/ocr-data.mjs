// Cost of feeding OCR models from image files (packages/passes/src/quantize/data):
//  - decode (sharp) and PaddleOCR preprocessing (OpenCV-exact resize + normalize) per image, for
//    the 48-high eval lines (rec and cls presets) and the document pages (det preset);
//  - greedy CTC decoding of a [16, 40, 6625] recognizer output.
// Run `npx tsc -b` first: this imports the built package.
// Usage: node bench/ocr-data.mjs
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const d = await import(join(root, 'packages/passes/dist/quantize/data/index.js'));
const ir = await import(join(root, 'packages/ir/dist/index.js'));
const dataDir = join(root, 'test/data/ocr');

const files = (split, ext) => readdirSync(join(dataDir, split)).filter((f) => f.endsWith(ext)).sort().map((f) => join(dataDir, split, f));
const lines = files('eval', '.png');
const pages = files('det', '.jpg');

/** Best of three passes over the inputs, in ms per input (the minimum is least disturbed on a shared machine). */
async function msPer(inputs, work) {
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const t0 = performance.now();
    for (const x of inputs) await work(x);
    best = Math.min(best, (performance.now() - t0) / inputs.length);
  }
  return best;
}

const decodedLines = await Promise.all(lines.map((p) => d.decodeImage(p)));
const decodedPages = await Promise.all(pages.map((p) => d.decodeImage(p)));
const rows = [
  ['decode line PNG (48 high)', await msPer(lines, (p) => d.decodeImage(p)), lines.length],
  ['rec preprocess (48x320)', await msPer(decodedLines, (img) => d.preprocessImage(img, d.PADDLE_OCR_REC_PREPROCESS)), lines.length],
  ['cls preprocess (48x192)', await msPer(decodedLines, (img) => d.preprocessImage(img, d.PADDLE_OCR_CLS_PREPROCESS)), lines.length],
  ['decode page JPEG (<= 640x640)', await msPer(pages, (p) => d.decodeImage(p)), pages.length],
  ['det preprocess (no resize)', await msPer(decodedPages, (img) => d.preprocessImage(img, d.PADDLE_OCR_DET_PREPROCESS)), pages.length],
  ['det preprocess (page x2 -> <= 960)', await msPer(decodedPages.map((img) => d.resizeBilinear(img, img.width * 2, img.height * 2)), (img) => d.preprocessImage(img, d.PADDLE_OCR_DET_PREPROCESS)), pages.length],
];
const classes = 6625;
const scores = new Float32Array(16 * 40 * classes).map((_, i) => ((i * 2654435761) >>> 0) / 4294967296);
const charset = { classes: ['', ...Array.from({ length: classes - 2 }, (_, i) => String.fromCodePoint(0x4e00 + i)), ' '] };
const output = ir.makeTensor('float32', [16, 40, classes], scores);
rows.push(['CTC greedy decode [16,40,6625]', await msPer([output], (t) => d.ctcGreedyDecode(t, charset)), 1]);

console.log('step'.padEnd(38) + 'ms each'.padStart(10) + 'inputs'.padStart(8));
for (const [name, ms, n] of rows) console.log(name.padEnd(38) + ms.toFixed(3).padStart(10) + String(n).padStart(8));
