/**
 * The quantize pass's `overrides` and `preprocess` spec on the real PaddleOCR cls model: images
 * from a folder preprocessed by a spec string, activations named as in the model file (a Conv
 * whose BatchNormalization is folded keeps its own output name), their grids in the emitted model,
 * and the result run in onnxruntime next to the float model.
 */
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeOnnx, loadOnnx } from '@slimc/backends';
import { Compiler, builtinPlugin } from '@slimc/passes';
import { toFloat64, type Model } from '@slimc/ir';
import { collectSamples, parsePreprocessSpec, PADDLE_OCR_CLS_PREPROCESS } from '../packages/passes/src/quantize/data/index.js';
import { PADDLE_CLS } from './fixtures/models.js';
import { runOrt } from './interpreter-oracle.js';
import { OCR_DATA_DIR } from './ocr/ocr-dataset.js';

const LINES = 6;
const CLS_FIELDS = 'height:48;width:192;pad-to:192;keep-aspect:true;mean:0.5;std:0.5;channels:bgr';
let samples = '';

beforeAll(async () => {
  samples = await mkdtemp(join(tmpdir(), 'slimc-cls-lines-'));
  const calib = join(OCR_DATA_DIR, 'calib');
  for (const f of (await readdir(calib)).filter((f) => f.endsWith('.png')).sort().slice(0, LINES)) await copyFile(join(calib, f), join(samples, f));
});
afterAll(() => rm(samples, { recursive: true, force: true }));

/** Scale, zero point and element type of the grid of float tensor `name` (see overrides.test.ts). */
function gridOf(model: Model, name: string) {
  const node = [...model.graph.allNodes()].find((n) => n.outputs.some((v) => v?.name === `${name}_q`));
  if (!node) return undefined;
  const [s, z] = node.op === 'QuantizeLinear' ? [1, 2] : [6, 7];
  const zp = node.input(z)!.constant!;
  return { scale: Number(node.input(s)!.constant!.data[0]), zeroPoint: Number(zp.data[0]), dtype: zp.dtype };
}

describe('quantize options on PaddleOCR cls', () => {
  test.each(['qdq', 'qoperator'])('format=%s: overrides by model names, image folder through a preprocess spec, onnxruntime', async (format) => {
    const float = loadOnnx(PADDLE_CLS.path);
    const model = loadOnnx(PADDLE_CLS.path);
    const pipeline = `quantize(format=${format},samples=${JSON.stringify(samples)},preprocess=${CLS_FIELDS},overrides=[x:scale:0.0078125:zp:128,conv2d_53.tmp_0:dtype:int8,hardswish_0.tmp_0:float])`;
    const report = await new Compiler().use(builtinPlugin).run(model, pipeline);
    expect(report.passes[0]!.stats['calibration-samples']).toBe(LINES);
    expect(report.passes[0]!.stats.quantized).toBeGreaterThan(0);
    expect(gridOf(model, 'x')).toEqual({ scale: 0.0078125, zeroPoint: 128, dtype: 'uint8' });
    expect(gridOf(model, 'conv2d_53.tmp_0')?.dtype).toBe('int8');
    expect(gridOf(model, 'hardswish_0.tmp_0')).toBeUndefined();
    // the other tensors keep their uint8 calibrated grids
    expect(gridOf(model, 'conv2d_54.tmp_0')?.dtype).toBe('uint8');

    const lines = await collectSamples(samples, parsePreprocessSpec(CLS_FIELDS, {}), { inputName: 'x' });
    const floatBytes = encodeOnnx(float);
    const quantizedBytes = encodeOnnx(model);
    let worst = 0;
    for (const line of lines) {
      const want = toFloat64(Object.values(await runOrt(floatBytes, line))[0]!);
      const got = toFloat64(Object.values(await runOrt(quantizedBytes, line))[0]!);
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    }
    console.log(`cls ${format} with overrides: ${report.passes[0]!.stats.quantized} layers quantized; worst |p_int8 - p_float| over ${lines.length} lines = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(0.15);
  });

  test('the spec string loads what the paddle-cls preset loads', async () => {
    const spelled = await collectSamples(samples, parsePreprocessSpec(CLS_FIELDS, {}), { inputName: 'x', limit: 2 });
    const preset = await collectSamples(samples, PADDLE_OCR_CLS_PREPROCESS, { limit: 2 });
    expect(spelled.map((s) => Buffer.from((s.x!.data as Float32Array).buffer))).toEqual(preset.map((s) => Buffer.from((s.x!.data as Float32Array).buffer)));
  });
});
