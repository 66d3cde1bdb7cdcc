import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { type Model, interpret, printGraph, tensorByteSize, tensorsEqual, verify } from '@slimc/ir';
import { buildModel, f32, f32Type, ints, op, seededFloats } from '../../../../test/passes-support.js';
import { type GridSpec, dequantize, opCounts, quantize, runBoth } from '../../../../test/qdq-support.js';
import { Compiler, builtinPlugin } from '../index.js';

const run = (m: Model, options: Record<string, unknown> = {}) => new Compiler().use(builtinPlugin).run(m, [{ name: 'fold-fake-quant', options }]);

const ACT: GridSpec = { scale: 0.04, zeroPoint: 120 };

/** A QAT-style model: fake-quantized input, Conv with a fake-quantized weight, fake-quantized output. */
function qatConv(weightGrid: GridSpec): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 3, 6, 6));
    const xq = dequantize(g, quantize(g, x, ACT), ACT, 'x_fq');
    const wFloat = g.addConstant('w', f32([4, 3, 3, 3], seededFloats(108, 7, -0.6, 0.6)));
    const w = dequantize(g, quantize(g, wFloat, weightGrid, 'w_q'), weightGrid, 'w_fq');
    const y = op(g, 'Conv', [xq, w], { pads: ints(1, 1, 1, 1) }, f32Type(1, 4, 6, 6));
    g.addOutput(dequantize(g, quantize(g, y, ACT), ACT, 'y'));
  });
}

const inputs = () => ({ x: f32([1, 3, 6, 6], seededFloats(108, 3, -2, 2)) });

/** Every output bit-identical (NaN-free float data compared as bytes). */
function expectBitIdentical(a: Record<string, import('@slimc/ir').Tensor>, b: Record<string, import('@slimc/ir').Tensor>) {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const k of Object.keys(b)) expect(tensorsEqual(a[k]!, b[k]!)).toBe(true);
}

describe('fold-fake-quant', () => {
  test.each([
    ['per-tensor int8', { scale: 0.005, zeroPoint: 0, dtype: 'int8' }],
    ['per-channel int8 (axis 0)', { scale: [0.004, 0.005, 0.006, 0.003], zeroPoint: [0, 0, 0, 0], dtype: 'int8', axis: 0 }],
    ['per-tensor uint8 with a zero point', { scale: 0.005, zeroPoint: 128 }],
  ] as const)('%s weight: folds into a quantized constant with bit-identical outputs (interpreter and onnxruntime)', async (_, grid) => {
    const m = qatConv(grid as GridSpec);
    const floatBytes = tensorByteSize(m.graph.initializers.find((c) => c.name === 'w')!.constant!);
    const before = await runBoth(m, inputs());
    const report = await run(m);
    expect(report.passes[0]!.stats['fold-weight-quantize']).toBe(1);
    expect(report.passes[0]!.stats['mark-activation-pair']).toBe(2);
    expect(opCounts(m)).toEqual({ QuantizeLinear: 2, DequantizeLinear: 3, Conv: 1 });
    expect(verify(m)).toEqual([]);
    const weight = m.graph.initializers.find((c) => c.name === 'w_q')!;
    expect(weight.constant!.dtype).toBe((grid as GridSpec).dtype ?? 'uint8');
    expect(tensorByteSize(weight.constant!)).toBe(floatBytes / 4);
    expect(m.graph.initializers.some((c) => c.name === 'w')).toBe(false);
    const after = await runBoth(m, inputs());
    expectBitIdentical(after.interpreter, before.interpreter);
    expectBitIdentical(after.ort, before.ort);
  });

  test('activation pairs stay and are marked with their grid; a second run changes nothing', async () => {
    const m = qatConv({ scale: 0.005, zeroPoint: 0, dtype: 'int8' });
    await run(m);
    expect(printGraph(m.graph)).toMatchInlineSnapshot(`
      "graph main(%x: float32[1,3,6,6]) -> (%y) {
        const %scale: float32[] = [0.039999999] #a1d8c8ee
        const %zero_point: uint8[] = [120] #fd0c5087
        const %scale_1: float32[] = [0.039999999] #a1d8c8ee
        const %zero_point_1: uint8[] = [120] #fd0c5087
        const %scale_3: float32[] = [0.0049999999] #a29b9794
        const %zero_point_3: int8[] = [0] #050c5d1f
        const %scale_4: float32[] = [0.039999999] #a1d8c8ee
        const %zero_point_4: uint8[] = [120] #fd0c5087
        const %scale_5: float32[] = [0.039999999] #a1d8c8ee
        const %zero_point_5: uint8[] = [120] #fd0c5087
        const %w_q: int8[4,3,3,3] = [-63, 99, 27, 102, ... 108 values] #f5f915ef q(int8/8b, 0.0049999999, 0)
        %q: uint8[1,3,6,6] q(uint8/8b, 0.039999999, 120) = QuantizeLinear(%x, %scale, %zero_point)
        %x_fq: float32[1,3,6,6] q(uint8/8b, 0.039999999, 120) = DequantizeLinear(%q, %scale_1, %zero_point_1)
        %w_fq: float32[4,3,3,3] = DequantizeLinear(%w_q, %scale_3, %zero_point_3)
        %conv: float32[1,4,6,6] = Conv(%x_fq, %w_fq) {pads=[1,1,1,1]}
        %q_1: uint8[1,4,6,6] q(uint8/8b, 0.039999999, 120) = QuantizeLinear(%conv, %scale_4, %zero_point_4)
        %y: float32[1,4,6,6] q(uint8/8b, 0.039999999, 120) = DequantizeLinear(%q_1, %scale_5, %zero_point_5)
        return %y
      }
      "
    `);
    expect((await run(m)).passes[0]!.changed).toBe(false);
  });

  test('drop-activation-pairs removes the pairs and leaves the grid on the float value', async () => {
    const m = qatConv({ scale: 0.005, zeroPoint: 0, dtype: 'int8' });
    const before = interpret(m.graph, inputs());
    const report = await run(m, { 'drop-activation-pairs': true });
    // The output pair goes too: the Conv output takes over the graph output name y.
    expect(report.passes[0]!.stats['drop-activation-pair']).toBe(2);
    expect(opCounts(m)).toEqual({ DequantizeLinear: 1, Conv: 1 });
    expect(m.graph.inputs[0]!.quant?.scale[0]).toBeCloseTo(0.04, 7);
    expect(verify(m)).toEqual([]);
    // Numerics change (the rounding to the grid is gone), but only by about the grid step.
    const after = interpret(m.graph, inputs());
    const a = after.y!.data as Float32Array;
    const b = before.y!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.5);
  });

  test('not folded: a weight Q with a non-DequantizeLinear user, a non-constant scale', async () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(4));
      const s = g.addInput('s', f32Type());
      const w = g.addConstant('w', f32([4], [0.1, 0.2, -0.3, 0.4]));
      const wq = quantize(g, w, { scale: 0.01, zeroPoint: 0, dtype: 'int8' });
      g.addOutput(op(g, 'Cast', [wq], { to: { kind: 'int', value: 1 } }, f32Type(4)));
      g.addOutput(g.addNode({ op: 'QuantizeLinear', inputs: [w, s], outputs: ['wq_dynamic'] }).output(0));
      g.addOutput(x);
    });
    const before = printGraph(m.graph);
    expect((await run(m)).passes[0]!.changed).toBe(false);
    expect(printGraph(m.graph)).toBe(before);
  });
});

describe('fold-fake-quant properties', () => {
  const grid = fc.record({
    scale: fc.double({ min: 1e-4, max: 0.5, noNaN: true }),
    zeroPoint: fc.integer({ min: -20, max: 20 }),
    signed: fc.boolean(),
    perChannel: fc.boolean(),
    seed: fc.nat(1000),
    spread: fc.double({ min: 0.01, max: 200, noNaN: true }),
  });
  test.prop([grid], { numRuns: 60 })('weight folding is exact: bit-identical outputs for any grid and weight range', (p) => {
    const dtype = p.signed ? 'int8' : 'uint8';
    const zp = p.signed ? p.zeroPoint : p.zeroPoint + 128;
    const spec: GridSpec = p.perChannel
      ? { scale: [p.scale, p.scale * 1.7, p.scale / 3], zeroPoint: [zp, zp, zp], dtype, axis: 1 }
      : { scale: p.scale, zeroPoint: zp, dtype };
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2, 5));
      // Weights up to `spread` grid steps away from 0, so some saturate and some land on ties.
      const w = g.addConstant('w', f32([5, 3], seededFloats(15, p.seed, -p.spread * p.scale, p.spread * p.scale)));
      g.addOutput(op(g, 'MatMul', [x, dequantize(g, quantize(g, w, spec), spec)], {}, f32Type(2, 3)));
    });
    const x = { x: f32([2, 5], seededFloats(10, p.seed + 1, -3, 3)) };
    const before = interpret(m.graph, x);
    const compiler = new Compiler().use(builtinPlugin);
    return compiler.run(m, 'fold-fake-quant').then((report) => {
      expect(report.passes[0]!.stats['fold-weight-quantize']).toBe(1);
      expectBitIdentical(interpret(m.graph, x), before);
    });
  });
});
