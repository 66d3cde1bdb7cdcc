/**
 * slimc's WebAssembly runtime against onnxruntime-node on the int8 PaddleOCR models (cls, rec,
 * det) that slimc's own quantize pass makes (static, minmax, uint8 activations, reduce-range auto:
 * 7-bit weights, so onnxruntime's AVX2 u8s8 kernels never saturate), in both formats (QDQ,
 * QOperator). onnxruntime runs with its default graph optimizations, i.e. QDQ groups fused into its
 * integer kernels: the comparison is with what onnxruntime really computes.
 *
 * Layer by layer: every quantized activation (an int8/uint8 value a step produces) is made an
 * extra graph output of a copy of the model in onnxruntime. Each such value is then recomputed by
 * the runtime alone, from onnxruntime's own values of its quantized inputs: the "segment" of the
 * graph between the nearest quantized activations (or graph inputs) and the value, e.g.
 * DQ -> Conv -> Q or QLinearConv, becomes a model of its own. So every layer sees identical
 * inputs, and its output may differ only by the two implementations' rounding: at most 1 LSB,
 * counted per op kind (printed). The differences inherited along the full run are printed too.
 * Where a layer differs by 1 LSB, it is also run in onnxruntime without graph optimizations (its
 * float ops between Q and DQ) and those differences are printed. Seen on these models:
 *  - Softmax (rec): onnxruntime fuses DQ -> Softmax -> Q into QLinearSoftmax, a float32 table of
 *    exp per input byte, a float32 row sum and reciprocal; the runtime computes the float op in
 *    double precision and quantizes once. It equals the unfused onnxruntime bit for bit.
 * GlobalAveragePool (det) is exact: the runtime's pool kernel follows the interpreter's float steps
 * (float32 dequantized codes, a double sum, float32 mean and quotient, half to even), which gives
 * every output of onnxruntime's QLinearGlobalAveragePool (a float32 multiply of the int32 sum by
 * x_scale / (y_scale * H * W), half to even) on these models; asserted below.
 * Convolutions and matrix products are bit-exact: the runtime's default requantization is
 * onnxruntime's (float32 product, round half to even).
 *
 * End to end: the float outputs (after the last DequantizeLinear) of the runtime and onnxruntime
 * on the committed eval inputs, with the task agreement (cls argmax, rec CTC text, det binarized
 * map IoU).
 *
 * Memory, float and int8, each runtime on a kernel library of its own: the packed weights plus the
 * planned activation arena within weights + 2x the largest live activation set, and so is what
 * the WebAssembly memory grew by beyond its initial size (stack, static data) at its largest,
 * through the first run's online placement (weights, arena, kernel scratch such as im2col rows,
 * allocator slack). The run on the offline plan gives the same outputs as the online run.
 *
 * Subsets keep the test near two minutes on 2 cores: cls calibrates on 8 calib lines, rec on 4,
 * det on one det-calib page at a reduced size (longer side 320); the layer check runs one eval
 * input per model; the end-to-end check EVAL_LINES lines (cls: as many again turned 180 degrees)
 * and EVAL_PAGES pages.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { KernelLibrary, Runtime, encodeOnnx, loadOnnx, paintStack, stackSize, stackUsed, stepLabel, stepOutputs } from '@slimc/backends';
import { Graph, Model, cloneModel, type Tensor, type Value, type Node } from '@slimc/ir';
import { Compiler, builtinPlugin } from '@slimc/passes';
import {
  classifyImages,
  collectSamples,
  compareDetections,
  compareTexts,
  decodeImage,
  detectImages,
  normalizeOcrText,
  preprocessImage,
  readCtcCharset,
  recognizeImages,
  PADDLE_OCR_CLS_PREPROCESS,
  PADDLE_OCR_DET_PREPROCESS,
  PADDLE_OCR_REC_PREPROCESS,
  type PreprocessSpec,
  type RunModel,
} from '../packages/passes/src/quantize/data/index.js';
import { PADDLE_CLS, PADDLE_DET, PADDLE_KEYS, PADDLE_REC } from './fixtures/models.js';
import { fromOrt, toOrt } from './interpreter-oracle.js';
import { OCR_DATA_DIR, readDetPages, readLabeledLines } from './ocr/ocr-dataset.js';
import { join } from 'node:path';

const EVAL_LINES = Number(process.env.SLIMC_EXACT_EVAL_LINES ?? 24);
const EVAL_PAGES = Number(process.env.SLIMC_EXACT_EVAL_PAGES ?? 2);
/** det at a reduced size: its longer side at most 320 (PaddleOCR uses 960) keeps the run short. */
const DET_SMALL: PreprocessSpec = { ...PADDLE_OCR_DET_PREPROCESS, resize: { keepAspect: true, limitSide: 320, multipleOf: 32 } };

type ModelId = 'cls' | 'rec' | 'det';
type Format = 'qdq' | 'qoperator';

const CASES: Record<ModelId, { path: string; calibSplit: string; calibCount: number; spec: PreprocessSpec }> = {
  cls: { path: PADDLE_CLS.path, calibSplit: 'calib', calibCount: 8, spec: PADDLE_OCR_CLS_PREPROCESS },
  rec: { path: PADDLE_REC.path, calibSplit: 'calib', calibCount: 4, spec: PADDLE_OCR_REC_PREPROCESS },
  det: { path: PADDLE_DET.path, calibSplit: 'det-calib', calibCount: 1, spec: DET_SMALL },
};

const quantized = new Map<string, Promise<Model>>();

/** The model quantized by slimc's quantize pass (memoized per model and format). */
function quantizedModel(id: ModelId, format: Format): Promise<Model> {
  const key = `${id}/${format}`;
  let m = quantized.get(key);
  if (!m) {
    m = (async () => {
      const c = CASES[id];
      const compiler = new Compiler().use(builtinPlugin);
      const samples = await collectSamples(join(OCR_DATA_DIR, c.calibSplit), c.spec, { limit: c.calibCount });
      compiler.hooks.calibrationData.tapPromise('ocr-calib', async () => samples);
      const model = loadOnnx(c.path);
      await compiler.run(model, [{ name: 'quantize', options: { mode: 'static', calibration: 'minmax', activations: 'uint8', 'reduce-range': 'auto', format } }]);
      return model;
    })();
    quantized.set(key, m);
  }
  return m;
}

/** One eval input per model for the layer check. */
async function layerInput(id: ModelId): Promise<Tensor> {
  const path = id === 'det' ? readDetPages()[0]!.path : readLabeledLines('eval')[0]!.path;
  return preprocessImage(await decodeImage(path), CASES[id].spec).tensor;
}

const isQ8 = (t: Tensor) => t.dtype === 'int8' || t.dtype === 'uint8';

/** `unfused`: no graph optimizations, so QDQ groups run as onnxruntime's float ops between Q/DQ. */
async function ortSession(bytes: Uint8Array, unfused = false): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, ...(unfused ? { graphOptimizationLevel: 'disabled' as const } : {}) });
}

async function runSession(session: ort.InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)])));
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
}

/** A copy of `model` whose graph also outputs the values named. */
function withExtraOutputs(model: Model, names: ReadonlySet<string>): Model {
  const copy = cloneModel(model);
  const g = copy.graph;
  const present = new Set(g.outputs.map((v) => v.name));
  for (const n of g.nodeList()) for (const v of n.outputs) if (v && names.has(v.name) && !present.has(v.name)) g.addOutput(v);
  return copy;
}

/**
 * The part of `model` that computes `target` from the nearest values in `boundary` (quantized
 * activations) or graph inputs, as a model of its own whose inputs are those values.
 */
function segmentModel(model: Model, target: string, boundary: ReadonlyMap<string, Tensor>): { model: Model; feeds: Record<string, Tensor>; ops: string[] } {
  const producers = new Map<string, Node>();
  for (const n of model.graph.nodeList()) for (const v of n.outputs) if (v) producers.set(v.name, n);
  const nodes = new Set<Node>();
  const sources = new Map<string, Value>();
  const visit = (n: Node) => {
    if (nodes.has(n)) return;
    nodes.add(n);
    for (const v of n.inputs) {
      if (!v || v.constant) continue;
      const p = producers.get(v.name);
      if (!p || boundary.has(v.name)) sources.set(v.name, v);
      else visit(p);
    }
  };
  visit(producers.get(target)!);
  const m = new Model(new Graph('segment'));
  for (const [d, v] of model.opsetImports) m.opsetImports.set(d, v);
  const g = m.graph;
  const map = new Map<Value, Value>();
  const feeds: Record<string, Tensor> = {};
  for (const [name, v] of sources) {
    const t = boundary.get(name);
    if (!t) throw new Error(`segment ${target}: no value for ${name}`);
    map.set(v, g.addInput(name, { dtype: t.dtype, shape: [...t.shape] }));
    feeds[name] = t;
  }
  const operand = (v: Value | null) => {
    if (!v) return null;
    let w = map.get(v);
    if (!w && v.constant) map.set(v, (w = g.addConstant(v.name, v.constant)));
    return w!;
  };
  const ordered = model.graph.nodeList().filter((n) => nodes.has(n));
  for (const n of ordered) {
    const copy = g.addNode({ op: n.op, domain: n.domain, inputs: n.inputs.map(operand), attrs: n.attrs, outputs: n.outputs.map((v) => v?.name ?? null) });
    n.outputs.forEach((v, i) => v && map.set(v, copy.outputs[i]!));
  }
  g.addOutput(map.get(producers.get(target)!.outputs.find((v) => v?.name === target)!)!);
  const ops = ordered.map((n) => n.op).filter((op) => op !== 'QuantizeLinear' && op !== 'DequantizeLinear');
  return { model: m, feeds, ops: ops.length ? ops : ordered.map((n) => n.op) };
}

/** Elements equal, 1 LSB apart and further apart. */
interface LsbCounts {
  equal: number;
  one: number;
  more: number;
  worst: number;
}

function countLsb(got: Tensor, want: Tensor, into: LsbCounts): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(Number(got.data[i]) - Number(want.data[i]));
    if (d === 0) into.equal++;
    else if (d === 1) into.one++;
    else into.more++;
    into.worst = Math.max(into.worst, d);
  }
}

const emptyCounts = (): LsbCounts => ({ equal: 0, one: 0, more: 0, worst: 0 });
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

describe.each(['qdq', 'qoperator'] as const)('int8 PaddleOCR in the runtime vs onnxruntime-node (%s)', (format) => {
  test.each(['cls', 'rec', 'det'] as const)('%s: every quantized layer within 1 LSB of onnxruntime on onnxruntime\'s inputs', async (id) => {
    const model = await quantizedModel(id, format);
    const x = await layerInput(id);
    const inputName = model.graph.inputs[0]!.name;
    const library = await KernelLibrary.load();

    // the runtime's full run names the quantized activations (and gives the inherited drift)
    const own = new Map<string, Tensor>();
    const rt = await Runtime.load(model, { library });
    const kindOf = new Map<string, string>();
    try {
      rt.run({ [inputName]: x }, (name, t) => isQ8(t) && own.set(name, t));
      for (const step of rt.plan.steps) for (const name of stepOutputs(step)) kindOf.set(name, stepLabel(step).split(' ')[0]!);
    } finally {
      rt.dispose();
    }
    expect(own.size).toBeGreaterThan(10);
    const session = await ortSession(encodeOnnx(withExtraOutputs(model, new Set(own.keys()))));
    const reference = await runSession(session, { [inputName]: x });
    await session.release();
    // adding outputs must not change what onnxruntime computes: same final outputs as the plain model
    const plain = await runSession(await ortSession(encodeOnnx(model)), { [inputName]: x });
    for (const [name, t] of Object.entries(plain)) expect(reference[name]!.data, name).toEqual(t.data);

    const boundary = new Map<string, Tensor>([[inputName, x]]);
    for (const name of own.keys()) boundary.set(name, reference[name]!);
    const byOp = new Map<string, LsbCounts>();
    /** Per op kind with 1-LSB differences: the runtime against onnxruntime's unfused float ops on the same inputs. */
    const unfusedByOp = new Map<string, LsbCounts>();
    const inherited = emptyCounts();
    for (const [name, mine] of own) {
      countLsb(mine, reference[name]!, inherited);
      const segment = segmentModel(model, name, boundary);
      const layer = await Runtime.load(segment.model, { library });
      try {
        const got = layer.run(segment.feeds)[name]!;
        const key = `${segment.ops.join('+')} [${kindOf.get(name)}]`;
        const counts = byOp.get(key) ?? emptyCounts();
        const before = counts.one;
        countLsb(got, reference[name]!, counts);
        byOp.set(key, counts);
        expect(counts.worst, `${id} ${format} ${name} (${key})`).toBeLessThanOrEqual(1);
        if (segment.ops.includes('GlobalAveragePool')) expect(counts.one - before, `${id} ${format} ${name} (${key})`).toBe(0);
        if (counts.one > before) {
          // where the two differ: is it onnxruntime's fused integer kernel (its own rounding)?
          const unfused = await ortSession(encodeOnnx(segment.model), true);
          const plainOrt = (await runSession(unfused, segment.feeds))[name]!;
          await unfused.release();
          const c = unfusedByOp.get(key) ?? emptyCounts();
          countLsb(got, plainOrt, c);
          unfusedByOp.set(key, c);
        }
      } finally {
        layer.dispose();
      }
    }
    const lines = [...byOp].map(([op, c]) => {
      const n = c.equal + c.one + c.more;
      const u = unfusedByOp.get(op);
      const vsUnfused = u ? ` (against onnxruntime without fusions: ${u.one + u.more} of ${u.equal + u.one + u.more} differ)` : '';
      return `  ${op}: ${n} elements, ${pct(c.one / n)} off by 1, ${c.more} by more${vsUnfused}`;
    });
    const total = inherited.equal + inherited.one + inherited.more;
    console.log(`${id} ${format}: ${own.size} quantized activations, each recomputed from onnxruntime's inputs:\n${lines.join('\n')}\n` +
      `  full run (differences inherited): ${pct(inherited.equal / total)} equal, ${pct(inherited.one / total)} off by 1, ${pct(inherited.more / total)} more, worst ${inherited.worst} LSB`);
  }, 240_000);

  test.each(['cls', 'rec', 'det'] as const)('%s: end to end, float outputs and task agreement with onnxruntime', async (id) => {
    const model = await quantizedModel(id, format);
    const inputName = model.graph.inputs[0]!.name;
    const outputName = model.graph.outputs[0]!.name;
    const session = await ortSession(encodeOnnx(model));
    const rt = await Runtime.load(model);
    // both runners see the same inputs in the same order: their outputs are compared pairwise
    const ortOutputs: Tensor[] = [];
    const ownOutputs: Tensor[] = [];
    const runOrt: RunModel = async (t) => {
      const y = (await runSession(session, { [inputName]: t }))[outputName]!;
      ortOutputs.push(y);
      return y;
    };
    const runOwn: RunModel = async (t) => {
      const y = rt.run({ [inputName]: t })[outputName]!;
      ownOutputs.push(y);
      return y;
    };
    let agreement: string;
    try {
      if (id === 'cls') {
        const images = [...readLabeledLines('eval').slice(0, EVAL_LINES), ...readLabeledLines('eval-rotated').slice(0, EVAL_LINES)].map((l) => l.path);
        const want = await classifyImages(runOrt, images);
        const got = await classifyImages(runOwn, images);
        const same = got.filter((c, i) => c === want[i]).length;
        agreement = `argmax equal on ${same} of ${want.length} lines`;
        expect(same).toBe(want.length);
      } else if (id === 'rec') {
        const charset = readCtcCharset(PADDLE_KEYS);
        const images = readLabeledLines('eval').slice(0, EVAL_LINES).map((l) => l.path);
        const want = (await recognizeImages(runOrt, images, charset)).map(normalizeOcrText);
        const got = (await recognizeImages(runOwn, images, charset)).map(normalizeOcrText);
        const c = compareTexts(want, got);
        agreement = `text equal on ${c.lines - c.differing.length} of ${c.lines} lines, characters ${pct(c.charAgreement)}`;
        expect(c.lineEquality).toBeGreaterThanOrEqual(0.95);
        expect(c.charAgreement).toBeGreaterThanOrEqual(0.99);
      } else {
        const pages = readDetPages().slice(0, EVAL_PAGES).map((p) => p.path);
        const want = await detectImages(runOrt, pages, { spec: DET_SMALL });
        const got = await detectImages(runOwn, pages, { spec: DET_SMALL });
        const d = compareDetections(want, got);
        agreement = `binarized map IoU mean ${d.meanIoU.toFixed(4)}, min ${d.minIoU.toFixed(4)} over ${pages.length} pages`;
        expect(d.minIoU).toBeGreaterThanOrEqual(0.98);
      }
    } finally {
      rt.dispose();
      await session.release();
    }
    expect(ownOutputs.length).toBe(ortOutputs.length);
    let worst = 0;
    let equal = 0;
    let elements = 0;
    ownOutputs.forEach((got, k) => {
      const want = ortOutputs[k]!;
      expect(got.shape).toEqual(want.shape);
      for (let i = 0; i < want.data.length; i++) {
        const d = Math.abs(Number(got.data[i]) - Number(want.data[i]));
        worst = Math.max(worst, d);
        if (d === 0) equal++;
      }
      elements += want.data.length;
    });
    console.log(`${id} ${format} end to end (${outputName}, ${ortOutputs.length} runs): ${pct(equal / elements)} of ${elements} float outputs equal, ` +
      `largest difference ${worst.toExponential(2)}; ${agreement}`);
  }, 240_000);
});

describe('memory of the runtime: WebAssembly memory at its largest <= weights + 2x the largest live set', () => {
  const MiB = 2 ** 20;
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;
  test.each(['cls', 'rec', 'det'] as const)('%s float and int8', async (id) => {
    const x = await layerInput(id);
    const variants: [string, Model][] = [['float', loadOnnx(CASES[id].path)], ['int8 qdq', await quantizedModel(id, 'qdq')], ['int8 qoperator', await quantizedModel(id, 'qoperator')]];
    for (const [label, model] of variants) {
      // a library of its own: its memory holds this runtime alone, from the fixed part on
      const library = await KernelLibrary.load();
      const initial = library.exports.memory.buffer.byteLength;
      const rt = await Runtime.load(model, { library });
      try {
        const feeds = { [model.graph.inputs[0]!.name]: x };
        paintStack(library);
        const online = rt.run(feeds); // placed online (the region grows, moving its contents), recorded
        const planned = rt.run(feeds); // the offline plan
        const stack = stackUsed(library);
        for (const [name, t] of Object.entries(online)) expect(planned[name]!.data, `${id} ${label} ${name}`).toEqual(t.data);
        const m = rt.memory;
        const bound = m.weights + 2 * m.largestLiveSet;
        console.log(`${id} ${label} [${x.shape.join('x')}]: weights ${mib(m.weights)}, largest live set ${mib(m.largestLiveSet)}, ` +
          `planned arena ${mib(m.plannedActivations)} (online ${mib(m.onlineActivations)}); weights + planned ${mib(m.weights + m.plannedActivations)}; ` +
          `wasm memory at its largest ${mib(m.wasmPeak)} <= bound ${mib(bound)} (initial size ${mib(initial)}: stack and static data); ` +
          `C stack used ${stack} of ${stackSize(library)} bytes`);
        expect(m.plannedActivations, `${id} ${label}`).toBeGreaterThanOrEqual(m.largestLiveSet);
        expect(m.weights + m.plannedActivations, `${id} ${label}`).toBeLessThanOrEqual(bound);
        // the whole WebAssembly memory (stack, static data, weights, arena, scratch, allocator
        // slack, counted in 64 KiB pages) within the bound; the C stack used well inside its region
        expect(m.wasmPeak, `${id} ${label}`).toBeGreaterThan(initial);
        expect(m.wasmPeak, `${id} ${label}`).toBeLessThanOrEqual(bound);
        expect(stack, `${id} ${label}`).toBeGreaterThan(0);
        expect(stack, `${id} ${label}`).toBeLessThanOrEqual(stackSize(library) / 4);
      } finally {
        rt.dispose();
      }
    }
  }, 240_000);
});
