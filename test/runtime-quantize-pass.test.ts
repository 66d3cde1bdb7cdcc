/**
 * Models quantized by slimc's own `quantize` pass run on the runtime's integer kernels: the
 * PaddleOCR classifier in QDQ and in QOperator form (calibrated on two fixture inputs), every
 * convolution and the classifier's matmul on int8 kernels, outputs close to the interpreter and to
 * onnxruntime on the same quantized model (one-step requantization differences travel through the
 * layers, see runtime-quantized-real.test.ts; measured 0.012 / 0.001).
 */
import { expect, test } from 'vitest';
import { Runtime, encodeOnnx, loadOnnx } from '@slimc/backends';
import { Compiler, builtinPlugin } from '@slimc/passes';
import { interpret } from '@slimc/ir';
import { PADDLE_CLS } from './fixtures/models.js';
import { runOrt } from './interpreter-oracle.js';

test.each(['qdq', 'qoperator'])('PaddleOCR classifier quantized to %s runs on the int8 kernels', async (format) => {
  const compiler = new Compiler().use(builtinPlugin);
  compiler.hooks.calibrationData.tapPromise('fixture', async () => [PADDLE_CLS.inputs(1), PADDLE_CLS.inputs(2)]);
  const model = loadOnnx(PADDLE_CLS.path);
  await compiler.run(model, [{ name: 'quantize', options: { format, activations: 'uint8', 'reduce-range': 'on' } }]);
  const convs = [...model.graph.nodes()].filter((n) => n.op === 'Conv' || n.op === 'QLinearConv').length;
  const rt = await Runtime.load(model);
  try {
    expect(rt.stepCounts['conv-q8']).toBe(convs);
    expect(rt.stepCounts['gemm-q8']).toBe(1);
    expect(rt.fallbacks).not.toContain('Conv');
    expect(rt.fallbacks).not.toContain('QLinearConv');
    const inputs = PADDLE_CLS.inputs(5);
    const ours = rt.run(inputs);
    const reference = interpret(model.graph, inputs, { opset: model.opset });
    const ort = await runOrt(encodeOnnx(model), inputs);
    for (const [name, want] of Object.entries(reference)) {
      const got = ours[name]!.data as Float32Array;
      for (const other of [want.data as Float32Array, ort[name]!.data as Float32Array]) {
        for (let i = 0; i < other.length; i++) expect(Math.abs(got[i]! - other[i]!)).toBeLessThanOrEqual(0.05);
        expect(got.indexOf(Math.max(...got))).toBe(other.indexOf(Math.max(...other)));
      }
    }
  } finally {
    rt.dispose();
  }
});
