import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Graph, Model, type Tensor, type Value, interpret, makeTensor } from '@slimc/ir';
import { encodeOnnx } from '@slimc/backends';
import { compile, createCompiler, loadPlugin } from '@slimc/passes';
import { PADDLE_DET } from '../../../test/fixtures/models.js';
import { fromOrt, toOrt, worstRelativeError } from '../../../test/interpreter-oracle.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** y = x * HardSigmoid(x) {alpha, beta}, with the operands of Mul in either order. */
function hardSwishModel(opset: number, alpha = 1 / 6, beta = 0.5, swap = false): Model {
  const m = new Model(new Graph('main'));
  m.opsetImports.set('', opset);
  const g = m.graph;
  const x = g.addInput('x', { dtype: 'float32', shape: [2, 8] });
  const h = g.addNode({ op: 'HardSigmoid', inputs: [x], attrs: { alpha: { kind: 'float', value: alpha }, beta: { kind: 'float', value: beta } }, outputs: ['h'] }).output(0);
  const ops: [Value, Value] = swap ? [h, x] : [x, h];
  g.addOutput(g.addNode({ op: 'Mul', inputs: ops, outputs: ['y'] }).output(0));
  return m;
}

/** y = Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6) at opset 14 (Clip bounds as inputs). */
function clipHardSwishModel(three = 3): Model {
  const m = new Model(new Graph('main'));
  m.opsetImports.set('', 14);
  const g = m.graph;
  const x = g.addInput('x', { dtype: 'float32', shape: [2, 8] });
  const k = (v: number) => g.addConstant('k', makeTensor('float32', [], [v]));
  const a = g.addNode({ op: 'Add', inputs: [x, k(three)], outputs: ['a'] }).output(0);
  const c = g.addNode({ op: 'Clip', inputs: [a, k(0), k(6)], outputs: ['c'] }).output(0);
  const p = g.addNode({ op: 'Mul', inputs: [c, x], outputs: ['p'] }).output(0);
  g.addOutput(g.addNode({ op: 'Div', inputs: [p, k(6)], outputs: ['y'] }).output(0));
  return m;
}

const x = makeTensor('float32', [2, 8], Array.from({ length: 16 }, (_, i) => (i - 8) * 0.9));

describe('fuse-hardswish loaded by path', () => {
  test.each([false, true])('fuses x * HardSigmoid(x) into HardSwish at opset 14 (HardSigmoid first: %s)', async (swap) => {
    const model = hardSwishModel(14, 1 / 6, 0.5, swap);
    const before = interpret(model.graph, { x });
    const { model: out, report } = await compile(model, { plugins: [pluginDir], pipeline: 'fuse-hardswish' });
    expect([...out.graph.nodes()].map((n) => n.op)).toEqual(['HardSwish']);
    expect(out.graph.outputs.map((v) => v.name)).toEqual(['y']);
    expect(report.passes[0]!.stats).toEqual({ 'fuse-hardswish': 1 });
    expect(report.plugins).toContain('slimc-plugin-fuse-hardswish');
    expect(worstRelativeError(interpret(out.graph, { x }).y!, before.y!)).toBeLessThan(1e-6);
  });

  test('fuses Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)', async () => {
    const model = clipHardSwishModel();
    const before = interpret(model.graph, { x });
    const { model: out } = await compile(model, { plugins: [pluginDir], pipeline: 'fuse-hardswish' });
    expect([...out.graph.nodes()].map((n) => n.op)).toEqual(['HardSwish']);
    expect(worstRelativeError(interpret(out.graph, { x }).y!, before.y!)).toBeLessThan(1e-6);
  });

  test.each([
    ['x + 2 instead of x + 3', clipHardSwishModel(2)],
    ['opset 13', hardSwishModel(13)],
    ['alpha 0.2', hardSwishModel(14, 0.2)],
    ['beta 0.4', hardSwishModel(14, 1 / 6, 0.4)],
  ])('leaves %s alone', async (_what, model) => {
    const { report } = await compile(model, { plugins: [pluginDir], pipeline: 'fuse-hardswish' });
    expect(report.passes[0]!.changed).toBe(false);
  });

  test('the plugin joins canonicalize through the patterns hook and lists its pass', async () => {
    const compiler = await createCompiler({ plugins: [pluginDir] });
    expect(compiler.listPasses().map((p) => p.name)).toContain('fuse-hardswish');
    const { model } = await compile(hardSwishModel(14), { plugins: [pluginDir] });
    expect([...model.graph.nodes()].map((n) => n.op)).toEqual(['HardSwish']);
  });
});

describe('fuse-hardswish loaded by package name', () => {
  // A project directory with the plugin installed in its node_modules.
  const project = mkdtempSync(join(tmpdir(), 'slimc-plugin-project-'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(pluginDir, join(project, 'node_modules', 'slimc-plugin-fuse-hardswish'), 'dir');
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  test('resolves from the project directory', async () => {
    const plugin = await loadPlugin('slimc-plugin-fuse-hardswish', project);
    expect(plugin.name).toBe('slimc-plugin-fuse-hardswish');
    const { model } = await compile(hardSwishModel(14), { plugins: ['slimc-plugin-fuse-hardswish'], pluginDir: project, pipeline: 'fuse-hardswish' });
    expect([...model.graph.nodes()].map((n) => n.op)).toEqual(['HardSwish']);
  });

  test('an unknown package name is an invalid-argument error naming it', async () => {
    await expect(loadPlugin('slimc-plugin-missing', project)).rejects.toThrow('cannot find plugin "slimc-plugin-missing"');
  });
});

test('PaddleOCR det upgraded to opset 14: every x * Clip(x + 3, 0, 6) / 6 fuses, onnxruntime outputs unchanged', async () => {
  const { model, report } = await compile(PADDLE_DET.path, { plugins: [pluginDir], pipeline: 'upgrade-opset(to=14),canonicalize' });
  const fused = report.passes[1]!.stats['fuse-clip-hardswish'] ?? 0;
  const clips = [...model.graph.allNodes()].filter((n) => n.op === 'Clip').length;
  console.log(`PaddleOCR det: ${fused} HardSwish fusions, ${clips} Clip left, ${report.totals.nodesBefore} -> ${report.totals.nodesAfter} nodes`);
  // Every Clip in the model is part of a paddle2onnx HardSwish; SE blocks' x * HardSigmoid(f(x)) are not HardSwish.
  expect(fused).toBeGreaterThan(0);
  expect(clips).toBe(0);
  const inputs = PADDLE_DET.inputs();
  const run = async (bytes: Uint8Array): Promise<Record<string, Tensor>> => {
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    const out = await session.run({ x: toOrt(inputs.x!) });
    await session.release();
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
  };
  const [want, got] = [await run(readFileSync(PADDLE_DET.path)), await run(encodeOnnx(model))];
  for (const [k, t] of Object.entries(want)) expect(worstRelativeError(got[k]!, t), k).toBeLessThanOrEqual(1e-5);
});
