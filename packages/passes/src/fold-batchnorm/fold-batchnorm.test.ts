import { describe, expect, test } from 'vitest';
import { type Graph, type Model, type Value, interpret, printGraph, verify } from '@slimc/ir';
import { buildModel, f32, f32Type, float, int, ints, maxRelativeDiff, op, seededFloats } from '../../../../test/passes-support.js';
import { Compiler, builtinPlugin } from '../index.js';

const run = (m: Model, spec = 'fold-batchnorm') => new Compiler().use(builtinPlugin).run(m, spec);

/** BatchNormalization over `channels` with seeded, non-trivial parameters (variance > 0). */
function batchNorm(g: Graph, x: Value, channels: number, seed: number): Value {
  const c = (name: string, k: number, lo: number, hi: number) => g.addConstant(name, f32([channels], seededFloats(channels, seed + k, lo, hi)));
  return op(g, 'BatchNormalization', [x, c('scale', 1, 0.5, 2), c('bias', 2, -1, 1), c('mean', 3, -0.5, 0.5), c('var', 4, 0.1, 2)], {
    epsilon: float(1e-3),
  });
}

async function expectFoldKeepsOutputs(m: Model, inputs: Record<string, ReturnType<typeof f32>>, gone: string[]) {
  const before = interpret(m.graph, inputs);
  const report = await run(m);
  expect(report.passes[0]!.changed).toBe(true);
  const ops = [...m.graph.nodes()].map((n) => n.op);
  for (const op of gone) expect(ops).not.toContain(op);
  expect(maxRelativeDiff(interpret(m.graph, inputs), before)).toBeLessThan(1e-5);
  expect(verify(m)).toEqual([]);
  return report;
}

describe('fold-batchnorm', () => {
  test('Conv + BatchNormalization', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(1, 2, 5, 5));
      const w = g.addConstant('w', f32([4, 2, 3, 3], seededFloats(72, 10)));
      const b = g.addConstant('b', f32([4], seededFloats(4, 11)));
      g.addOutput(batchNorm(g, op(g, 'Conv', [x, w, b], { pads: ints(1, 1, 1, 1) }), 4, 20));
    });
    await expectFoldKeepsOutputs(m, { x: f32([1, 2, 5, 5], seededFloats(50, 1)) }, ['BatchNormalization']);
    expect(printGraph(m.graph)).toMatchInlineSnapshot(`
      "graph main(%x: float32[1,2,5,5]) -> (%batchnormalization) {
        const %w: float32[4,2,3,3] = [-0.59827691, -0.72328717, 0.38331211, -1.0627909, ... 72 values] #49dbf2a5
        const %b: float32[4] = [-0.81485397, -0.69798595, 0.38404599, -0.97881293] #33c48d56
        %batchnormalization: ? = Conv(%x, %w, %b) {pads=[1,1,1,1]}
        return %batchnormalization
      }
      "
    `);
  });

  test('a weight another Conv also reads is not renamed: the folded copy is <weight>_folded', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(1, 2, 5, 5));
      const w = g.addConstant('w', f32([4, 2, 3, 3], seededFloats(72, 10)));
      g.addOutput(batchNorm(g, op(g, 'Conv', [x, w]), 4, 20));
      g.addOutput(op(g, 'Conv', [x, w]));
    });
    await expectFoldKeepsOutputs(m, { x: f32([1, 2, 5, 5], seededFloats(50, 1)) }, ['BatchNormalization']);
    const [folded, plain] = m.graph.outputs.map((v) => v.producer!);
    expect([folded!.input(1)!.name, plain!.input(1)!.name]).toEqual(['w_folded', 'w']);
  });

  test('grouped ConvTranspose (weight [Cin, Cout/group, k, k]) + BatchNormalization, no bias', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(1, 4, 3, 3));
      const w = g.addConstant('w', f32([4, 3, 2, 2], seededFloats(48, 12)));
      g.addOutput(batchNorm(g, op(g, 'ConvTranspose', [x, w], { group: int(2), strides: ints(2, 2) }), 6, 30));
    });
    await expectFoldKeepsOutputs(m, { x: f32([1, 4, 3, 3], seededFloats(36, 2)) }, ['BatchNormalization']);
  });

  test('grouped ConvTranspose -> Add(per-channel bias) -> Mul -> BatchNormalization folds into one ConvTranspose', async () => {
    // PaddleOCR det's head: ConvTranspose without bias, its bias as an Add of [1, C, 1, 1], then BN
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(1, 4, 3, 3));
      const w = g.addConstant('w', f32([4, 3, 2, 2], seededFloats(48, 18)));
      const up = op(g, 'ConvTranspose', [x, w], { group: int(2), strides: ints(2, 2) });
      const biased = op(g, 'Add', [up, g.addConstant('b', f32([1, 6, 1, 1], seededFloats(6, 19)))]);
      const scaled = op(g, 'Mul', [g.addConstant('s', f32([6, 1, 1], seededFloats(6, 20, 0.5, 1.5))), biased]);
      g.addOutput(batchNorm(g, scaled, 6, 90));
    });
    await expectFoldKeepsOutputs(m, { x: f32([1, 4, 3, 3], seededFloats(36, 6)) }, ['Add', 'Mul', 'BatchNormalization']);
    expect([...m.graph.nodes()].map((n) => n.op)).toEqual(['ConvTranspose']);
  });

  test.each([0, 1])('Gemm (transB=%i, alpha, beta, C) + BatchNormalization', async (transB) => {
    const m = buildModel(13, (g) => {
      const a = g.addInput('a', f32Type(3, 5));
      const w = g.addConstant('w', f32(transB ? [4, 5] : [5, 4], seededFloats(20, 13)));
      const c = g.addConstant('c', f32([4], seededFloats(4, 14)));
      const y = op(g, 'Gemm', [a, w, c], { transB: int(transB), alpha: float(0.5), beta: float(2) });
      g.addOutput(batchNorm(g, y, 4, 40));
    });
    await expectFoldKeepsOutputs(m, { a: f32([3, 5], seededFloats(15, 3)) }, ['BatchNormalization']);
  });

  test('MatMul (2-D) + BatchNormalization becomes MatMul + Add', async () => {
    const m = buildModel(13, (g) => {
      const a = g.addInput('a', f32Type(3, 5));
      const w = g.addConstant('w', f32([5, 4], seededFloats(20, 15)));
      g.addOutput(batchNorm(g, op(g, 'MatMul', [a, w]), 4, 50));
    });
    await expectFoldKeepsOutputs(m, { a: f32([3, 5], seededFloats(15, 4)) }, ['BatchNormalization']);
    expect([...m.graph.nodes()].map((n) => n.op)).toEqual(['MatMul', 'Add']);
  });

  test.each([
    ['Mul', [4, 1, 1]],
    ['Mul', [1, 4, 1, 1]],
    ['Mul', []],
    ['Add', [4, 1, 1]],
    ['Add', [1]],
  ] as const)('%s by a per-channel constant of shape %j folds into the Conv (either operand order)', async (kind, shape) => {
    for (const convFirst of [true, false]) {
      const m = buildModel(13, (g) => {
        const x = g.addInput('x', f32Type(1, 2, 4, 4));
        const w = g.addConstant('w', f32([4, 2, 3, 3], seededFloats(72, 16)));
        const conv = op(g, 'Conv', [x, w]);
        const n = shape.reduce((a, b) => a * b, 1);
        const c = g.addConstant('c', f32([...shape], seededFloats(n, 17, 0.5, 1.5)));
        g.addOutput(op(g, kind, convFirst ? [conv, c] : [c, conv]));
      });
      await expectFoldKeepsOutputs(m, { x: f32([1, 2, 4, 4], seededFloats(32, 5)) }, [kind]);
    }
  });

  test('not folded: a Conv with another user, training mode, non-channel broadcast, non-constant weight', async () => {
    const m = buildModel(15, (g) => {
      const x = g.addInput('x', f32Type(1, 2, 4, 4));
      const wIn = g.addInput('w_dynamic', f32Type(4, 2, 3, 3));
      const w = g.addConstant('w', f32([4, 2, 3, 3], seededFloats(72, 16)));
      const shared = op(g, 'Conv', [x, w]);
      g.addOutput(shared);
      g.addOutput(batchNorm(g, shared, 4, 60));
      const dynamic = op(g, 'Conv', [x, wIn]);
      g.addOutput(batchNorm(g, dynamic, 4, 70));
      const spatial = op(g, 'Conv', [x, w]);
      g.addOutput(op(g, 'Mul', [spatial, g.addConstant('row', f32([2, 1], [1, 2]))]));
      const training = op(g, 'Conv', [x, w]);
      const bn = batchNorm(g, training, 4, 80);
      bn.producer!.setAttr('training_mode', int(1));
      g.addOutput(bn);
    });
    const before = printGraph(m.graph);
    expect((await run(m)).passes[0]!.changed).toBe(false);
    expect(printGraph(m.graph)).toBe(before);
  });
});
