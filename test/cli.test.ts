import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli, type CliIO } from '@slimc/cli';
import { makeTensor, toFloat64 } from '@slimc/ir';
import { readTensorProto, writeNpy, writeTensorProto, loadOnnx } from '@slimc/backends';
import { PADDLE_CLS } from './fixtures/models.js';
import { activationScales, worstScaleDifference } from './qdq-support.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const io: CliIO = { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false };
  const code = await runCli(argv, io);
  return { code, out, err };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'slimc-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('slimc inspect', () => {
  test('prints opsets, io shapes, op histogram and parameter bytes', async () => {
    const r = await cli('inspect', PADDLE_CLS.path);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/opsets\s+ai\.onnx 9/);
    expect(r.out).toMatch(/x: float32\[p2o\.DynamicDimension\.0,3,/);
    expect(r.out).toMatch(/Conv\s+53/);
    expect(r.out).toMatch(/float32\s+[\d,]+ in\s+\d+ tensors/);
  });

  test('--json carries the same numbers as the model', async () => {
    const r = await cli('inspect', PADDLE_CLS.path, '--json');
    const report = JSON.parse(r.out);
    const model = loadOnnx(PADDLE_CLS.path);
    const convs = [...model.graph.allNodes()].filter((n) => n.op === 'Conv').length;
    expect(report.ops.Conv).toBe(convs);
    expect(report.nodes).toBe([...model.graph.allNodes()].length);
    expect(report.parameters.byDtype.float32.bytes).toBe(report.parameters.byDtype.float32.count * 4);
  });

  test('--ir prints the graph text form', async () => {
    const r = await cli('inspect', PADDLE_CLS.path, '--ir');
    expect(r.out.startsWith('graph ')).toBe(true);
    expect(r.out).toContain('= Conv');
  });
});

describe('slimc compile', () => {
  test('no pipeline is a round trip that reloads to the same IR', async () => {
    const out = join(dir, 'cls-rt.onnx');
    const r = await cli('compile', PADDLE_CLS.path, '-o', out);
    expect(r.code).toBe(0);
    expect(r.out).toContain('round trip');
    const { printGraph } = await import('@slimc/ir');
    expect(printGraph(loadOnnx(out).graph)).toBe(printGraph(loadOnnx(PADDLE_CLS.path).graph));
  });

  test('--pipeline canonicalize --json reports passes and fewer nodes', async () => {
    const out = join(dir, 'cls-canon.onnx');
    const r = await cli('compile', PADDLE_CLS.path, '-o', out, '--pipeline', 'canonicalize', '--json', '--verify-each');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.passes.length).toBeGreaterThan(0);
    expect(report.totals.nodesAfter).toBeLessThan(report.totals.nodesBefore);
    expect(existsSync(out)).toBe(true);
  });

  test('refuses to overwrite its input', async () => {
    const copy = join(dir, 'mine.onnx');
    copyFileSync(PADDLE_CLS.path, copy);
    const before = readFileSync(copy);
    const r = await cli('compile', copy, '-o', copy, '--pipeline', 'canonicalize');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/overwrite the input/);
    expect(Buffer.compare(readFileSync(copy), before)).toBe(0);
  });

  test('unknown pass: one line, exit 2, nothing written', async () => {
    const out = join(dir, 'never.onnx');
    const r = await cli('compile', PADDLE_CLS.path, '-o', out, '--pipeline', 'fold-constant');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/unknown pass "fold-constant" \(did you mean "fold-constants"\?\)/);
    expect(existsSync(out)).toBe(false);
  });

  test('a corrupt model: one line naming the file, exit 2, no output file', async () => {
    const bad = join(dir, 'truncated.onnx');
    writeFileSync(bad, readFileSync(PADDLE_CLS.path).subarray(0, 5000));
    const out = join(dir, 'from-bad.onnx');
    const r = await cli('compile', bad, '-o', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain('truncated.onnx');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).some((f) => f.includes('from-bad'))).toBe(false);
  });
});

describe('slimc compile --executor', () => {
  /** Quantizes cls on four calibration lines with `flags`; the report (JSON) and the written model. */
  async function quantizeCls(name: string, ...flags: string[]) {
    const lines = join(dir, 'calib-4');
    if (!existsSync(lines)) {
      mkdirSync(lines);
      const calib = join(__dirname, 'data', 'ocr', 'calib');
      for (const f of readdirSync(calib).filter((f) => f.endsWith('.png')).sort().slice(0, 4)) copyFileSync(join(calib, f), join(lines, f));
    }
    const out = join(dir, name);
    const r = await cli('compile', PADDLE_CLS.path, '-o', out, '--pipeline', `quantize(samples=${lines},preprocess=paddle-cls)`, ...flags);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    return { out: r.out, model: loadOnnx(out) };
  }

  test('calibrates on the WebAssembly runtime by default, on the interpreter when asked; the ranges agree', async () => {
    const byDefault = await quantizeCls('cls-auto.onnx', '--json');
    expect(JSON.parse(byDefault.out)).toMatchObject({ executor: 'wasm', passes: [{ name: 'quantize', stats: { 'calibration-samples': 4 } }] });
    const forced = await quantizeCls('cls-interpreter.onnx', '--executor', 'interpreter');
    expect(forced.out).toMatch(/^executor {2}reference-interpreter \(calibration\)$/m);
    expect(activationScales(forced.model).size).toBeGreaterThan(20);
    expect(worstScaleDifference(byDefault.model, forced.model)).toBeLessThanOrEqual(1e-4);
  }, 120_000);

  test('a bad value: one line naming the option and the choices, exit 2, nothing written', async () => {
    const out = join(dir, 'never-gpu.onnx');
    const r = await cli('compile', PADDLE_CLS.path, '-o', out, '--executor', 'gpu');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--executor <executor>.*'gpu' is invalid.*auto, wasm, interpreter/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('slimc run', () => {
  test('.pb inputs by name produce output_K.pb equal to the stored reference', async () => {
    const ref = join(__dirname, '..', 'examples', 'demo', 'cls');
    const inputs = join(dir, 'in-pb');
    mkdirSync(inputs);
    copyFileSync(join(ref, 'input_0.pb'), join(inputs, 'input_0.pb'));
    const outDir = join(dir, 'out-pb');
    const r = await cli('run', PADDLE_CLS.path, '--inputs', inputs, '-o', outDir);
    expect(r.code).toBe(0);
    const got = readTensorProto(readFileSync(join(outDir, 'output_0.pb')));
    const want = readTensorProto(readFileSync(join(ref, 'output_0.pb')));
    expect(got.name).toBe(want.name);
    const g = toFloat64(got.tensor);
    const w = toFloat64(want.tensor);
    g.forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThan(1e-4));
  });

  test('.npy inputs named after the graph input, .npy outputs', async () => {
    const inputs = join(dir, 'in-npy');
    mkdirSync(inputs);
    const x = PADDLE_CLS.inputs().x!;
    writeFileSync(join(inputs, 'x.npy'), writeNpy(x));
    const outDir = join(dir, 'out-npy');
    const r = await cli('run', PADDLE_CLS.path, '--inputs', inputs, '-o', outDir, '--format', 'npy');
    expect(r.code).toBe(0);
    expect(statSync(join(outDir, 'output_0.npy')).size).toBeGreaterThan(0);
  });

  test('a missing input names the graph input', async () => {
    const inputs = join(dir, 'in-wrong');
    mkdirSync(inputs);
    writeFileSync(join(inputs, 'input_3.pb'), writeTensorProto(makeTensor('float32', [1], [1]), ''));
    const r = await cli('run', PADDLE_CLS.path, '--inputs', inputs, '-o', join(dir, 'o'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/matches no graph input|no tensor given/);
  });
});

describe('slimc passes', () => {
  test('lists built-in passes with options', async () => {
    const r = await cli('passes');
    expect(r.code).toBe(0);
    for (const p of ['fold-constants', 'eliminate-dead-code', 'fold-batchnorm', 'deduplicate', 'canonicalize', 'upgrade-opset']) {
      expect(r.out).toContain(p);
    }
  });
});

describe('the slimc binary', () => {
  const bin = join(__dirname, '..', 'packages', 'cli', 'dist', 'bin.js');
  test('exits 2 with one line and no stack trace; --verbose adds it', () => {
    const missing = spawnSync(process.execPath, [bin, 'inspect', join(dir, 'nope.onnx')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^slimc: .*nope\.onnx.*no such model file$/);
    const bad = join(dir, 'garbage.onnx');
    writeFileSync(bad, Buffer.from('this is not a model at all, just text'));
    const r = spawnSync(process.execPath, [bin, 'inspect', bad], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const v = spawnSync(process.execPath, [bin, '--verbose', 'inspect', bad], { encoding: 'utf8' });
    expect(v.stderr).toMatch(/\n\s+at /);
  });
});

describe('the wasm target', () => {
  test('compile --target wasm writes a .slimc that run and bench execute, matching the interpreter', async () => {
    const out = join(dir, 'cls.slimc');
    const c = await cli('compile', PADDLE_CLS.path, '-o', out, '--target', 'wasm', '--pipeline', 'canonicalize');
    expect(c.code).toBe(0);
    expect(readFileSync(out).subarray(0, 7).toString('latin1')).toBe('SLIMCRT');
    const ref = join(__dirname, '..', 'examples', 'demo', 'cls'); // holds output_0.pb too: it must not be taken as an input
    const r = await cli('run', out, '--inputs', ref, '-o', join(dir, 'out-wasm'));
    expect(r.code).toBe(0);
    const got = toFloat64(readTensorProto(readFileSync(join(dir, 'out-wasm', 'output_0.pb'))).tensor);
    const want = toFloat64(readTensorProto(readFileSync(join(ref, 'output_0.pb'))).tensor);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
    const b = await cli('bench', out, '--shape', 'x=1x3x48x192', '--runs', '2', '--json');
    expect(b.code).toBe(0);
    const report = JSON.parse(b.out);
    expect(report.engine).toBe('wasm');
    expect(report.medianMs).toBeGreaterThan(0);
    expect(report.memory.weights).toBeGreaterThan(100_000);
  });

  test('a .slimc model refuses the interpreter; symbolic inputs need a shape', async () => {
    const out = join(dir, 'cls2.slimc');
    await cli('compile', PADDLE_CLS.path, '-o', out, '--target', 'wasm');
    const r = await cli('bench', out, '--runtime', 'interpreter');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/runs only on the wasm runtime/);
    const s = await cli('bench', PADDLE_CLS.path, '--runs', '1');
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/--shape x=/);
  });
});
