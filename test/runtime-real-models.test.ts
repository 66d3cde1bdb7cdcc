/**
 * The WebAssembly runtime runs the float PaddleOCR models (conv and matmul on the SIMD kernels,
 * the rest in the interpreter) and agrees with onnxruntime within 1e-4 elementwise
 * (|ours - ort| <= 1e-4 * max(1, |ort|)); a model round-tripped through the .slimc format gives
 * the same bits as the in-memory plan.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Runtime, compileForWasm, loadOnnx } from '@slimc/backends';
import { interpret, tensorsEqual } from '@slimc/ir';
import { PADDLE_CLS, PADDLE_DET, PADDLE_REC, SILERO_LEGACY, SILERO_V5 } from './fixtures/models.js';
import { runOrt, worstRelativeError } from './interpreter-oracle.js';

const TOLERANCE = 1e-4;
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

describe('runtime on real float models', () => {
  test.each([PADDLE_CLS, PADDLE_REC, PADDLE_DET].map((m) => [m.id, m] as const))('%s matches onnxruntime', async (_id, fixture) => {
    const model = loadOnnx(fixture.path);
    const rt = await Runtime.load(model);
    runtimes.push(rt);
    const counts = rt.stepCounts;
    // every Conv of these models runs on the kernels
    const convs = [...model.graph.nodes()].filter((n) => n.op === 'Conv').length;
    expect(counts['conv-f32']).toBe(convs);
    expect(rt.fallbacks).not.toContain('Conv');
    const inputs = fixture.inputs();
    const ours = rt.run(inputs);
    const theirs = await runOrt(fixture.path, inputs);
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    for (const [name, want] of Object.entries(theirs)) {
      expect(worstRelativeError(ours[name]!, want), name).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(rt.memory.weights).toBeGreaterThan(0);
    expect(rt.memory.peakActivations).toBeGreaterThanOrEqual(rt.memory.largestLiveSet);
    expect(rt.memory.wasmPeak).toBeGreaterThan(rt.memory.weights + rt.memory.peakActivations);
    // a second run reuses the region and gives the same bits
    const again = rt.run(inputs);
    for (const name of Object.keys(ours)) expect(tensorsEqual(again[name]!, ours[name]!)).toBe(true);
    if (fixture === PADDLE_CLS) {
      const compiled = await Runtime.load(compileForWasm(model));
      runtimes.push(compiled);
      const fromFile = compiled.run(inputs);
      for (const name of Object.keys(ours)) expect(tensorsEqual(fromFile[name]!, ours[name]!)).toBe(true);
      expect(compiled.fallbacks).toEqual(rt.fallbacks);
    }
  });
});

describe('runtime on models with control flow', () => {
  // Silero VAD keeps its network inside If branches: the If steps run in the interpreter and read
  // the outer values their branches capture from the runtime's buffers.
  test.each([SILERO_V5, SILERO_LEGACY].map((m) => [m.id, m] as const))('%s equals the interpreter', async (_id, fixture) => {
    const model = loadOnnx(fixture.path);
    const rt = await Runtime.load(model);
    runtimes.push(rt);
    expect(rt.fallbacks).toContain('If');
    const inputs = fixture.inputs();
    const ours = rt.run(inputs);
    const want = interpret(model.graph, inputs, { opset: model.opset });
    for (const [name, t] of Object.entries(want)) expect(tensorsEqual(ours[name]!, t), name).toBe(true);
  });
});
