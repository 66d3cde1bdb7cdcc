/**
 * requantize on a real dynamically quantized model: PaddleOCR cls after `quantize(mode=dynamic)`
 * (ConvInteger/MatMulInteger -> Cast -> Mul by a run-time scale). Every accumulator is brought down
 * to int8 with a range measured at run time; the model verifies, runs in onnxruntime, and its
 * class probabilities stay close to the dynamically quantized model's (printed).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { verify } from '@slimc/ir';
import { encodeOnnx, loadOnnx } from '@slimc/backends';
import { Compiler, builtinPlugin } from '@slimc/passes';
import { PADDLE_CLS } from './fixtures/models.js';
import { maxAbsDiff, opCounts, runOrtBytes } from './qdq-support.js';

const figures: string[] = [];
afterAll(() => console.log(`requantize on real models:\n  ${figures.join('\n  ')}`));

describe('requantize on real models', () => {
  test('paddleocr-cls after dynamic quantization: every accumulator requantized, onnxruntime runs it', async () => {
    const model = loadOnnx(PADDLE_CLS.path);
    const compiler = new Compiler().use(builtinPlugin);
    // Per-tensor weights: onnxruntime's ConvInteger takes only a scalar weight zero point.
    await compiler.run(model, [{ name: 'quantize', options: { mode: 'dynamic', 'per-channel': false } }]);
    const accumulators = (opCounts(model).ConvInteger ?? 0) + (opCounts(model).MatMulInteger ?? 0);
    expect(accumulators).toBeGreaterThan(10);
    const inputs = PADDLE_CLS.inputs();
    const before = await runOrtBytes(encodeOnnx(model), inputs);

    const report = await compiler.run(model, [{ name: 'requantize', options: { mode: 'dynamic' } }]);
    expect(report.passes[0]!.stats['requantize-accumulator']).toBe(accumulators);
    expect(verify(model)).toEqual([]);
    expect(opCounts(model).ReduceMin).toBe(accumulators);
    const after = await runOrtBytes(encodeOnnx(model), inputs);
    const diff = maxAbsDiff(after, before);
    figures.push(`paddleocr-cls: ${accumulators} accumulators requantized to int8, max |Δ probability| ${diff.toExponential(2)} vs the dynamic int8 model`);
    expect(diff).toBeLessThan(0.02);
    expect((await compiler.run(model, [{ name: 'requantize', options: { mode: 'dynamic' } }])).passes[0]!.changed).toBe(false);
  });
});
