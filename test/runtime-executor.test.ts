/**
 * The runtime as the compiler's executor: a plugin taps `executor`, and a pass asking for one
 * (calibration) gets the WebAssembly runtime; results and observed values match the reference
 * interpreter. Calibration observes only the values it quantizes, as views of WebAssembly memory
 * in the runtime's layout: the observed set is respected, each view holds the interpreter's
 * values in the layout it states, and the calibrated ranges equal the interpreter's.
 */
import { expect, test } from 'vitest';
import { LIVE_RUNTIMES, loadOnnx, wasmExecutor } from '@slimc/backends';
import { Compiler, builtinPlugin, referenceInterpreter, type Executor, type ObservedLayout } from '@slimc/passes';
import { cloneModel, shapeSize, type Model, type Tensor, type Value } from '@slimc/ir';
import { PADDLE_CLS } from './fixtures/models.js';
import { worstRelativeError } from './interpreter-oracle.js';

test('a tapped wasm executor runs the classifier like the interpreter, observed values included', async () => {
  const executor: Executor = wasmExecutor();
  const compiler = new Compiler();
  compiler.hooks.executor.tap('wasm-runtime', ({ purpose }) => (purpose === 'calibration' ? executor : undefined));
  const model = loadOnnx(PADDLE_CLS.path);
  expect(compiler.executor(model, 'calibration').name).toBe('wasm');
  expect(compiler.executor(model, 'evaluation')).toBe(referenceInterpreter);

  const inputs = PADDLE_CLS.inputs();
  const seen = new Map<string, Tensor>();
  const ours = await compiler.executor(model, 'calibration').run(model.graph, inputs, { opset: model.opset, observe: (v, t) => seen.set(v.name, t) });
  const want = new Map<string, Tensor>();
  const reference = await referenceInterpreter.run(model.graph, inputs, { opset: model.opset, observe: (v, t) => want.set(v.name, t) });
  for (const [name, t] of Object.entries(reference)) expect(worstRelativeError(ours[name]!, t)).toBeLessThanOrEqual(1e-4);
  expect([...seen.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, t] of want) if (t.dtype === 'float32') expect(worstRelativeError(seen.get(name)!, t), name).toBeLessThanOrEqual(1e-4);
});

/** NCHW data of a 4-D tensor laid out NHWC. */
function nchwFromNhwc(t: Tensor): Tensor {
  const [n, c, h, w] = t.shape as [number, number, number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[(b * c + ch) * h * w + p] = src[(b * h * w + p) * c + ch]!;
  }
  return { dtype: t.dtype, shape: t.shape, data: out };
}

/** What an executor hands out when observing `observed` as views: a copy of each, its layout, and whether it was a view. */
async function observeViews(executor: Executor, model: Model, inputs: Record<string, Tensor>, observed: ReadonlySet<Value>) {
  const seen = new Map<string, { t: Tensor; layout: ObservedLayout; inPlace: boolean }>();
  await executor.run(model.graph, inputs, {
    opset: model.opset,
    observed,
    data: 'view',
    observe: (v, t, layout) => {
      const data = t.data as Float32Array;
      // a copy made for the observer would own a buffer of exactly its size
      seen.set(v.name, { t: { ...t, data: data.slice() }, layout, inPlace: data.buffer.byteLength > data.byteLength });
    },
  });
  return seen;
}

test('the wasm executor hands out only the observed values, as in-place views in the layout it states', async () => {
  const model = loadOnnx(PADDLE_CLS.path);
  const inputs = PADDLE_CLS.inputs();
  const reference = new Map<string, Tensor>();
  await referenceInterpreter.run(model.graph, inputs, { opset: model.opset, observe: (v, t) => reference.set(v.name, t) });
  const nodes = [...model.graph.nodes()];
  const relus = nodes.filter((n) => n.op === 'Relu' && n.input(0)?.producer?.op === 'Conv');
  expect(relus.length).toBeGreaterThan(0);
  const constants = new Set(nodes.filter((n) => n.op === 'Constant').map((n) => n.output(0).name));
  const executor = wasmExecutor();
  const cases: [string, Set<Value>][] = [
    // the Relus convolutions feed can stay fused: their inputs are not wanted
    ['Relu outputs and every 4th float node output', new Set([...relus.map((n) => n.output(0)), ...nodes.filter((n, i) => i % 4 === 0 && !relus.some((r) => r.input(0)!.producer === n)).map((n) => n.output(0))])],
    // an observed convolution output before its Relu: the Relu is not fused away
    ['convolutions before a Relu', new Set(relus.map((n) => n.input(0)!))],
  ];
  let nhwcViews = 0;
  for (const [label, wanted] of cases) {
    for (const v of [...wanted]) if (reference.get(v.name)?.dtype !== 'float32') wanted.delete(v);
    const seen = await observeViews(executor, model, inputs, wanted);
    expect([...seen.keys()].sort(), label).toEqual([...wanted].map((v) => v.name).sort());
    for (const [name, { t, layout, inPlace }] of seen) {
      const want = reference.get(name)!;
      expect(t.shape, name).toEqual(want.shape);
      // a Constant node's value is its own tensor, not computed in WebAssembly memory
      if (!constants.has(name)) expect(inPlace, name).toBe(true);
      expect(worstRelativeError(layout === 'nhwc' ? nchwFromNhwc(t) : t, want), `${label}: ${name} (${layout})`).toBeLessThanOrEqual(1e-4);
    }
    for (const s of seen.values()) if (s.layout === 'nhwc' && s.t.shape[1]! > 1 && shapeSize(s.t.shape.slice(2)) > 1) nhwcViews++;
  }
  // convolutions (not depthwise) leave their results NHWC, and the views say so
  expect(nhwcViews).toBeGreaterThan(0);
});

test('the reference interpreter respects the observed set too, in the logical layout', async () => {
  const model = loadOnnx(PADDLE_CLS.path);
  const wanted = new Set([...model.graph.nodes()].filter((_, i) => i % 3 === 1).map((n) => n.output(0)));
  const layouts = new Set<ObservedLayout>();
  const seen: string[] = [];
  await referenceInterpreter.run(model.graph, PADDLE_CLS.inputs(), { opset: model.opset, observed: wanted, data: 'view', observe: (v, _, layout) => (seen.push(v.name), layouts.add(layout)) });
  expect(seen.sort()).toEqual([...wanted].map((v) => v.name).sort());
  expect([...layouts]).toEqual(['logical']);
});

/** Activation scale and zero point of every QuantizeLinear in `model`, by the value it quantizes. */
function activationGrids(model: Model): Map<string, { scale: number; zeroPoint: number }> {
  const grids = new Map<string, { scale: number; zeroPoint: number }>();
  for (const n of model.graph.nodes()) {
    if (n.op !== 'QuantizeLinear') continue;
    const scale = n.input(1)!.constant!;
    const zeroPoint = n.input(2)?.constant;
    grids.set(n.input(0)!.name, { scale: Number(scale.data[0]), zeroPoint: zeroPoint ? Number(zeroPoint.data[0]) : 0 });
  }
  return grids;
}

test('calibration on the wasm executor gives the interpreter\'s activation ranges (minmax, PaddleOCR classifier)', async () => {
  const quantizeWith = async (executor: Executor) => {
    const compiler = new Compiler().use(builtinPlugin);
    compiler.hooks.calibrationData.tapPromise('fixture', async () => [PADDLE_CLS.inputs(1), PADDLE_CLS.inputs(2)]);
    compiler.hooks.executor.tap('calibration-executor', ({ purpose }) => (purpose === 'calibration' ? executor : undefined));
    const model = loadOnnx(PADDLE_CLS.path);
    await compiler.run(model, [{ name: 'quantize', options: { calibration: 'minmax', activations: 'uint8' } }]);
    return activationGrids(model);
  };
  const ours = await quantizeWith(wasmExecutor());
  const want = await quantizeWith(referenceInterpreter);
  expect(want.size).toBeGreaterThan(20);
  expect([...ours.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, grid] of want) {
    const got = ours.get(name)!;
    expect(Math.abs(got.scale - grid.scale) / grid.scale, name).toBeLessThanOrEqual(1e-4);
    expect(got.zeroPoint, name).toBe(grid.zeroPoint);
  }
});

test('the wasm executor keeps a bounded number of graphs loaded: running many graphs does not grow its memory without end, and an evicted graph reloads', async () => {
  const executor = wasmExecutor();
  const inputs = PADDLE_CLS.inputs();
  const base = loadOnnx(PADDLE_CLS.path);
  /** Runs a fresh copy of the classifier; returns its output and the size of the memory its observed view lives in. */
  const runCopy = async (model = cloneModel(base)) => {
    let memoryBytes = 0;
    const watched = model.graph.outputs[0]!.producer!.input(0)!;
    const out = await executor.run(model.graph, inputs, { opset: model.opset, observed: new Set([watched]), data: 'view', observe: (_v, t) => (memoryBytes = (t.data as Float32Array).buffer.byteLength) });
    return { out: Object.values(out)[0]!, memoryBytes };
  };
  const first = cloneModel(base);
  const firstRun = await runCopy(first);
  let afterWarmUp = 0;
  for (let i = 0; i < 6 * LIVE_RUNTIMES; i++) {
    const r = await runCopy();
    if (i === 2 * LIVE_RUNTIMES) afterWarmUp = r.memoryBytes;
    expect(Array.from(r.out.data as Float32Array)).toEqual(Array.from(firstRun.out.data as Float32Array));
  }
  // each copy loads ~0.6 MB of weights: 24 copies kept loaded would need 14 MB more
  expect((await runCopy()).memoryBytes).toBeLessThanOrEqual(afterWarmUp);
  // the first copy was evicted long ago: it loads again and computes the same
  expect(Array.from((await runCopy(first)).out.data as Float32Array)).toEqual(Array.from(firstRun.out.data as Float32Array));
});
