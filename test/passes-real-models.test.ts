/**
 * canonicalize on every real model: onnxruntime gives the same outputs (within 1e-5 relative,
 * |a - b| <= 1e-5 * max(1, |b|) elementwise) on the canonicalized model as on the original, the
 * node count drops, the IR verifies after every pass, and a second run changes nothing.
 *
 * The reference is the original model run by onnxruntime with its own graph optimizations on: ORT
 * then folds constants too, so both models run the same kernels. With optimizations off, ORT picks
 * a different LSTM path for weights computed at run time than for constant weights (Silero v6
 * assembles its LSTM weights with Slice/Concat): the original model alone then differs from itself
 * by ~8e-5 between the two levels. Against the unoptimized run, the canonicalized model must be as
 * close as ORT's own spread (or 1e-5, whichever is larger).
 *
 * compact-names on every real model (subgraphs of If/Loop bodies included): identical outputs.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import type { Tensor } from '@slimc/ir';
import { encodeOnnx } from '@slimc/backends';
import { compile } from '@slimc/passes';
import { REAL_MODELS } from './fixtures/models.js';
import { fromOrt, toOrt, worstRelativeError } from './interpreter-oracle.js';

async function runOrt(model: Uint8Array, inputs: Record<string, Tensor>, level: 'disabled' | 'all'): Promise<Record<string, Tensor>> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: level, intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) feeds[k] = toOrt(v);
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
  } finally {
    await session.release();
  }
}

function worst(actual: Record<string, Tensor>, expected: Record<string, Tensor>): number {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  return Math.max(...Object.entries(expected).map(([name, want]) => worstRelativeError(actual[name]!, want)));
}

const counts: string[] = [];

describe.each(REAL_MODELS.map((m) => [m.id, m] as const))('%s', (id, fixture) => {
  test('canonicalize keeps onnxruntime outputs and drops nodes', async () => {
    const { model, report } = await compile(fixture.path, { pipeline: 'canonicalize', verifyEach: true });
    const inputs = fixture.inputs();
    const original = readFileSync(fixture.path);
    const canonical = encodeOnnx(model);
    const reference = await runOrt(original, inputs, 'all');
    const unoptimized = await runOrt(original, inputs, 'disabled');
    const actual = await runOrt(canonical, inputs, 'disabled');
    const ortSpread = worst(unoptimized, reference);
    expect(worst(actual, reference)).toBeLessThanOrEqual(1e-5);
    expect(worst(actual, unoptimized)).toBeLessThanOrEqual(Math.max(1e-5, ortSpread));
    const { nodesBefore, nodesAfter } = report.totals;
    expect(nodesAfter).toBeLessThan(nodesBefore);
    const again = await compile(model, { pipeline: 'canonicalize' });
    expect(again.report.totals.changed).toBe(false);
    const stats = Object.entries(report.passes[0]!.stats)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    counts.push(`${id}: ${nodesBefore} -> ${nodesAfter} nodes, ${report.passes[0]!.ms.toFixed(0)} ms (${stats})`);
  });

  test('compact-names: the same onnxruntime outputs, bit for bit, from a smaller file', async () => {
    const { model } = await compile(fixture.path, { pipeline: 'compact-names', verifyEach: true });
    const inputs = fixture.inputs();
    const original = readFileSync(fixture.path);
    const compact = encodeOnnx(model);
    expect(compact.length).toBeLessThan(original.length);
    const [want, got] = [await runOrt(original, inputs, 'all'), await runOrt(compact, inputs, 'all')];
    expect(worst(got, want)).toBe(0);
  });
});

afterAll(() => console.log(`canonicalize node counts (subgraphs included):\n${counts.join('\n')}`));
