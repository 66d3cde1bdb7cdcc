/**
 * upgrade-opset on the real models: PaddleOCR det (opset 11), rec and cls (opset 9) to 13 and 21,
 * Silero VAD (opset 16, If subgraphs) to 17, 18 and 21. onnxruntime runs the original and the
 * upgraded model on the same inputs; outputs must agree within 1e-5 relative.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { type Model, type Tensor } from '@slimc/ir';
import { decodeOnnx, encodeOnnx } from '@slimc/backends';
import { upgradeOpset } from '@slimc/passes';
import { PADDLE_CLS, PADDLE_DET, PADDLE_REC, SILERO_LEGACY, SILERO_V5, SILERO_V6, type RealModel } from './fixtures/models.js';

async function runOrt(bytes: Uint8Array, inputs: Record<string, Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(inputs)) feeds[k] = new ort.Tensor(t.dtype === 'int64' ? 'int64' : 'float32', t.data as Float32Array, [...t.shape]);
  const out = await session.run(feeds);
  await session.release();
  return out;
}

function maxRelativeDiff(a: Record<string, ort.Tensor>, b: Record<string, ort.Tensor>): number {
  let worst = 0;
  for (const [k, tb] of Object.entries(b)) {
    const ta = a[k];
    if (!ta || ta.dims.join() !== tb.dims.join()) return Infinity;
    const x = ta.data as Float32Array;
    const y = tb.data as Float32Array;
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(Number(x[i]) - Number(y[i])) / Math.max(1e-3, Math.abs(Number(y[i]))));
  }
  return worst;
}

/** Attributes that must be gone once a node is in its opset-13+ form. */
function leftoverLegacyForms(model: Model): string[] {
  const found: string[] = [];
  for (const n of model.graph.allNodes()) {
    if (n.domain !== '') continue;
    if (['Squeeze', 'Unsqueeze', 'ReduceSum', 'Slice', 'Split'].includes(n.op) && (n.attr('axes') || n.attr('starts') || n.attr('split'))) found.push(n.label);
    if (n.op === 'Clip' && (n.attr('min') || n.attr('max'))) found.push(n.label);
    if (model.opset >= 18 && n.op.startsWith('Reduce') && n.attr('axes')) found.push(n.label);
  }
  return found;
}

const CASES: [RealModel, number[]][] = [
  [PADDLE_CLS, [13, 21]],
  [PADDLE_REC, [13, 21]],
  [PADDLE_DET, [13, 21]],
  [SILERO_V5, [17, 18, 21]],
  [SILERO_V6, [18]],
  [SILERO_LEGACY, [17, 21]],
];

describe.each(CASES.map(([m, targets]) => [m.id, m, targets] as const))('%s', (_id, fixture, targets) => {
  test.each(targets)('upgraded to opset %i runs like the original in onnxruntime', async (to) => {
    const original = readFileSync(fixture.path);
    const inputs = fixture.inputs();
    const expected = await runOrt(original, inputs);
    const model = decodeOnnx(original, { source: fixture.id });
    const from = model.opset;
    const result = upgradeOpset(model, to);
    expect(result.changed).toBe(true);
    expect(model.opset).toBe(to);
    expect(model.irVersion).toBeGreaterThanOrEqual(to >= 21 ? 10 : to >= 19 ? 9 : to >= 14 ? 8 : 7);
    expect(leftoverLegacyForms(model)).toEqual([]);
    // Opset 9 has Softmax, Slice, Squeeze, Clip and ReduceMean in their old forms; det (opset 11) may need none.
    if (from < 10) expect(Object.keys(result.rewritten).length).toBeGreaterThan(0);
    const actual = await runOrt(encodeOnnx(model), inputs);
    expect(maxRelativeDiff(actual, expected)).toBeLessThanOrEqual(1e-5);
  });
});
