/**
 * `slimc compare` on a float model and its static int8 quantization: per-output agreement and
 * per-layer SQNR, worst first; a model compared with itself is exact.
 */
import { describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloneModel } from '@slimc/ir';
import { encodeOnnx, writeTensorProto } from '@slimc/backends';
import { Compiler, builtinPlugin } from '@slimc/passes';
import { buildModel, f32, f32Type, ints, op, seededFloats } from '../../../test/passes-support.js';
import { runCli } from './main.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), isTTY: false });
  return { code, out, err };
}

describe('slimc compare', () => {
  test('float vs quantized: outputs agree closely, layers sorted worst first', async () => {
    const float = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(1, 3, 6, 6));
      const c1 = op(g, 'Conv', [x, g.addConstant('w1', f32([4, 3, 3, 3], seededFloats(108, 1, -0.5, 0.5)))], { pads: ints(1, 1, 1, 1) }, f32Type(1, 4, 6, 6));
      const r = op(g, 'Relu', [c1], {}, f32Type(1, 4, 6, 6));
      const c2 = op(g, 'Conv', [r, g.addConstant('w2', f32([2, 4, 1, 1], seededFloats(8, 2, -0.5, 0.5)))], {}, f32Type(1, 2, 6, 6));
      g.addOutput(op(g, 'Sigmoid', [c2], {}, f32Type(1, 2, 6, 6)));
    });
    const samples = [1, 2, 3].map((s) => ({ x: f32([1, 3, 6, 6], seededFloats(108, 10 + s, -1, 1)) }));
    const quantized = cloneModel(float);
    const compiler = new Compiler().use(builtinPlugin);
    compiler.hooks.calibrationData.tapPromise('test', async () => samples);
    await compiler.run(quantized, ['quantize']);
    const dir = mkdtempSync(join(tmpdir(), 'slimc-compare-'));
    writeFileSync(join(dir, 'float.onnx'), encodeOnnx(float));
    writeFileSync(join(dir, 'int8.onnx'), encodeOnnx(quantized));
    samples.forEach((s, i) => {
      mkdirSync(join(dir, 'inputs', `test_data_set_${i}`), { recursive: true });
      writeFileSync(join(dir, 'inputs', `test_data_set_${i}`, 'input_0.pb'), writeTensorProto(s.x, 'x'));
    });
    const r = await cli(['compare', join(dir, 'float.onnx'), join(dir, 'int8.onnx'), '--inputs', join(dir, 'inputs'), '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const c = JSON.parse(r.out);
    expect(c.samples).toBe(3);
    expect(c.outputs).toHaveLength(1);
    expect(c.outputs[0].cosine).toBeGreaterThan(0.99);
    expect(c.outputs[0].maxAbsError).toBeGreaterThan(0);
    expect(c.outputs[0].sqnr).toBeGreaterThan(20);
    const names = c.layers.map((l: { name: string }) => l.name);
    expect(names).toEqual(expect.arrayContaining(['conv', 'conv_1']));
    const sqnrs = c.layers.map((l: { sqnr: number }) => l.sqnr);
    expect([...sqnrs].sort((a, b) => a - b)).toEqual(sqnrs);

    const self = await cli(['compare', join(dir, 'float.onnx'), join(dir, 'float.onnx'), '--inputs', join(dir, 'inputs', 'test_data_set_0')]);
    expect(self.code).toBe(0);
    expect(self.out).toMatch(/cosine 1\.000000, max abs error 0\.000, SQNR exact, argmax agreement 100\.0%/);
  });
});
