import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SlimcError, printGraph } from '@slimc/ir';
import { encodeOnnx } from '@slimc/backends';
import { buildModel, f32, f32Type, ints, op, seededFloats, tensorAttr } from '../../../test/passes-support.js';
import { activationScales, worstScaleDifference } from '../../../test/qdq-support.js';
import { compile, createCompiler, emitOnnx, findConfig, loadConfig, loadPlugin, referenceInterpreter, selectCalibrationExecutor, type Executor, type Plugin } from './index.js';

const sample = () =>
  buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(2));
    const c = g.addNode({ op: 'Constant', attrs: { value: tensorAttr(f32([2], [1, 2])) }, outputs: ['c'] }).output(0);
    g.addOutput(op(g, 'Add', [op(g, 'Identity', [x]), c]));
  });

describe('compile', () => {
  test('from a Model: the input is not mutated; the report has per-pass and total figures', async () => {
    const input = sample();
    const text = printGraph(input.graph);
    const events: string[] = [];
    const { model, report } = await compile(input, {
      pipeline: 'eliminate-identity,fold-constants',
      dumpAfter: ['eliminate-identity'],
      onProgress: (e) => events.push(`${e.phase}:${e.pass}:${e.index}/${e.total}`),
    });
    expect(printGraph(input.graph)).toBe(text);
    expect(model).not.toBe(input);
    expect(report.pipeline).toBe('eliminate-identity,fold-constants(sizeLimit=65536,inferShapes=true)');
    expect(report.passes.map((p) => [p.name, p.changed, p.nodesBefore, p.nodesAfter])).toEqual([
      ['eliminate-identity', true, 3, 2],
      ['fold-constants', true, 2, 1],
    ]);
    expect(report.totals).toMatchObject({ changed: true, nodesBefore: 3, nodesAfter: 1 });
    expect(report.model).toMatchObject({ opset: 13, nodes: 1, initializers: 1, initializerBytes: 8, inputs: ['x'], outputs: ['add'] });
    expect(report.dumps['eliminate-identity']).toContain('Constant');
    expect(events).toEqual(['start:eliminate-identity:0/2', 'end:eliminate-identity:0/2', 'start:fold-constants:1/2', 'end:fold-constants:1/2']);
  });

  test('from ONNX bytes, default pipeline canonicalize, and back to bytes through beforeEmit', async () => {
    const { model, report, compiler } = await compile(encodeOnnx(sample()));
    expect(report.pipeline).toMatch(/^canonicalize\(/);
    expect([...model.graph.nodes()].map((n) => n.op)).toEqual(['Add']);
    const seen: string[] = [];
    compiler.hooks.beforeEmit.tapPromise('check', async (_m, info) => void seen.push(info.format));
    expect((await emitOnnx(compiler, model)).byteLength).toBeGreaterThan(0);
    expect(seen).toEqual(['onnx']);
  });

  test('a bad pipeline fails before anything runs, as invalid-argument', async () => {
    const err = await compile(sample(), { pipeline: 'fold-constant' }).catch((e) => e);
    expect(err).toBeInstanceOf(SlimcError);
    expect(err.kind).toBe('invalid-argument');
    expect(err.message).toContain('unknown pass "fold-constant" (did you mean "fold-constants"?)');
  });
});

/** x[1,3,12,12] -> Conv 3x3 (8 channels) -> Relu -> Conv 1x1 (4 channels): two layers to calibrate. */
const twoConvs = () =>
  buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 3, 12, 12));
    const w1 = g.addConstant('w1', f32([8, 3, 3, 3], seededFloats(8 * 3 * 9, 1)));
    const w2 = g.addConstant('w2', f32([4, 8, 1, 1], seededFloats(4 * 8, 2)));
    const h = op(g, 'Relu', [op(g, 'Conv', [x, w1], { kernel_shape: ints(3, 3), pads: ints(1, 1, 1, 1) })]);
    g.addOutput(op(g, 'Conv', [h, w2], { kernel_shape: ints(1, 1) }));
  });

const calibrationSamples: Plugin = {
  name: 'samples',
  apply: (c) => c.hooks.calibrationData.tapPromise('samples', async () => [1, 2, 3].map((seed) => ({ x: f32([1, 3, 12, 12], seededFloats(3 * 144, 10 + seed, -2, 2)) }))),
};

describe('the calibration executor', () => {
  const quantize = (executor?: 'auto' | 'wasm' | 'interpreter') =>
    compile(twoConvs(), { pipeline: 'quantize(calibration=minmax)', plugins: [calibrationSamples], ...(executor ? { executor } : {}) });

  test('by default calibration runs on the WebAssembly runtime; interpreter forces the reference interpreter; ranges agree', async () => {
    const byDefault = await quantize();
    const forced = await quantize('interpreter');
    expect(byDefault.report.executor).toBe('wasm');
    expect((await quantize('wasm')).report.executor).toBe('wasm');
    expect(forced.report.executor).toBe(referenceInterpreter.name);
    expect(byDefault.report.passes[0]!.stats['calibration-samples']).toBe(3);
    expect(activationScales(forced.model).size).toBe(3);
    expect(worstScaleDifference(byDefault.model, forced.model)).toBeLessThanOrEqual(1e-4);
  });

  test('nothing calibrated: the report names no executor', async () => {
    expect((await compile(sample())).report.executor).toBeUndefined();
  });

  test("a plugin's executor wins over the default and is the one reported", async () => {
    let runs = 0;
    const counting: Executor = { name: 'counting', run: (g, inputs, opts) => (runs++, referenceInterpreter.run(g, inputs, opts)) };
    const plugin: Plugin = { name: 'counting', apply: (c) => c.hooks.executor.tap('counting', () => counting) };
    const { report } = await compile(twoConvs(), { pipeline: 'quantize', plugins: [calibrationSamples, plugin] });
    expect(report.executor).toBe('counting');
    expect(runs).toBe(3);
  });

  test('auto falls back to the interpreter when the kernels do not load; wasm then fails clearly', async () => {
    const broken = () => Promise.reject(new Error('no WebAssembly here'));
    expect(await selectCalibrationExecutor('auto', broken)).toBe(referenceInterpreter);
    expect(await selectCalibrationExecutor('interpreter', broken)).toBe(referenceInterpreter);
    expect((await selectCalibrationExecutor('auto')).name).toBe('wasm');
    const err = await selectCalibrationExecutor('wasm', broken).catch((e) => e);
    expect(err).toBeInstanceOf(SlimcError);
    expect(err.kind).toBe('unsupported');
    expect(err.message).toBe('executor, value "wasm": the WebAssembly kernels did not load (no WebAssembly here); use executor auto or interpreter');
  });

  test('a bad value is one invalid-argument error naming the field and the choices', async () => {
    const err = await compile(sample(), { executor: 'gpu' as never }).catch((e) => e);
    expect(err).toBeInstanceOf(SlimcError);
    expect(err.kind).toBe('invalid-argument');
    expect(err.message).toBe('executor, value "gpu": expected one of auto, wasm, interpreter');
  });
});

describe('plugins and config files', () => {
  const root = mkdtempSync(join(tmpdir(), 'slimc-config-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const deep = join(root, 'a', 'b');
  mkdirSync(deep, { recursive: true });
  mkdirSync(join(root, 'plugins'));
  writeFileSync(
    join(root, 'plugins', 'count.mjs'),
    `export const plugin = () => ({ name: 'counter', apply(c) { c.hooks.afterPass.tap('counter', (s, m, r) => { r.stats.counted = 1; }); } });\n`,
  );
  writeFileSync(join(root, 'plugins', 'empty.mjs'), 'export default 42;\n');
  writeFileSync(join(root, 'slimc.config.json'), JSON.stringify({ plugins: ['./plugins/count.mjs'], pipeline: 'eliminate-dead-code' }));

  test('findConfig walks up from the working directory; plugin paths resolve from the config', async () => {
    const path = findConfig(deep);
    expect(path).toBe(join(root, 'slimc.config.json'));
    const config = await loadConfig(path!);
    expect(config.pipeline).toBe('eliminate-dead-code');
    const { report } = await compile(sample(), { plugins: config.plugins, pipeline: config.pipeline });
    expect(report.plugins).toContain('counter');
    expect(report.passes[0]!.stats.counted).toBe(1);
  });

  test('a module without a plugin export is reported', async () => {
    await expect(loadPlugin('./plugins/empty.mjs', root)).rejects.toThrow('exports no plugin');
    await expect(createCompiler({ plugins: ['./plugins/missing.mjs'], pluginDir: root })).rejects.toThrow('cannot find plugin');
  });

  test('no config anywhere above a directory gives undefined', () => {
    expect(findConfig('/')).toBeUndefined();
  });
});
