/**
 * convert-float16 on PaddleOCR cls and rec: the converted model loads and runs in onnxruntime, its
 * outputs stay within a float16-sized tolerance of the float32 model (worst |a - b| / max(1, |b|),
 * printed), and the encoded file is about half the size. Silero VAD v5/v6 (everything inside an If,
 * LSTM kept float32): the speech probability stays within 1e-3 of the canonicalized float32 model;
 * the recurrent state's largest change is printed.
 */
import { statSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { type Tensor, elementAsNumber, verify } from '@slimc/ir';
import { encodeOnnx, loadOnnx } from '@slimc/backends';
import { Compiler, builtinPlugin } from '@slimc/passes';
import { PADDLE_CLS, PADDLE_REC, SILERO_V5, SILERO_V6 } from './fixtures/models.js';
import { worstRelativeError } from './interpreter-oracle.js';
import { maxAbsDiff, runOrtBytes } from './qdq-support.js';

/** Float16 outputs read as numbers, so they compare against float32 ones. */
function asFloat32(t: Tensor): Tensor {
  if (t.dtype !== 'float16') return t;
  return { dtype: 'float32', shape: t.shape, data: Float32Array.from({ length: t.data.length }, (_, i) => elementAsNumber(t, i)) };
}

const figures: string[] = [];
afterAll(() => console.log(`convert-float16 on real models:\n  ${figures.join('\n  ')}`));

describe('convert-float16 on real models', () => {
  test.each([
    [PADDLE_CLS, 5e-3],
    [PADDLE_REC, 2e-2],
  ])('$id: runs in onnxruntime within tolerance, file about half the size', async (fixture, tolerance) => {
    const model = loadOnnx(fixture.path);
    const inputs = fixture.inputs();
    const original = encodeOnnx(model);
    const before = await runOrtBytes(original, inputs);
    const report = await new Compiler().use(builtinPlugin).run(model, 'canonicalize,convert-float16');
    expect(verify(model)).toEqual([]);
    const converted = encodeOnnx(model);
    const after = await runOrtBytes(converted, inputs);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    let worst = 0;
    for (const [name, want] of Object.entries(before)) worst = Math.max(worst, worstRelativeError(asFloat32(after[name]!), want));
    const ratio = converted.length / statSync(fixture.path).size;
    const stats = report.passes[report.passes.length - 1]!.stats;
    figures.push(
      `${fixture.id}: worst relative error ${worst.toExponential(2)}, file ${converted.length} / ${statSync(fixture.path).size} bytes = ${(100 * ratio).toFixed(1)}%, ` +
        `${stats['nodes-converted']} nodes in float16, ${stats['casts-inserted']} casts, ${stats['values-clamped']} values clamped`,
    );
    expect(worst).toBeLessThan(tolerance);
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(0.6);
  });

  test.each([SILERO_V5, SILERO_V6])('$id: If bodies converted, speech probability within 1e-3', async (fixture) => {
    const model = loadOnnx(fixture.path);
    const compiler = new Compiler().use(builtinPlugin);
    await compiler.run(model, 'canonicalize');
    const inputs = fixture.inputs();
    const before = await runOrtBytes(encodeOnnx(model), inputs);
    const report = await compiler.run(model, 'convert-float16');
    expect(verify(model)).toEqual([]);
    const after = await runOrtBytes(encodeOnnx(model), inputs);
    const stats = report.passes[0]!.stats;
    const probability = maxAbsDiff({ output: after.output! }, { output: before.output! });
    const state = maxAbsDiff({ stateN: after.stateN! }, { stateN: before.stateN! });
    figures.push(`${fixture.id}: |Δ probability| ${probability.toExponential(2)}, max |Δ state| ${state.toExponential(2)}, ${stats['nodes-converted']} nodes in float16, ${stats['casts-inserted']} casts`);
    expect(stats['nodes-converted']).toBeGreaterThan(50);
    expect(probability).toBeLessThan(1e-3);
  });
});
