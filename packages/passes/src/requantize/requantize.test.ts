import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { type Model, type Tensor, interpret, makeTensor, verify } from '@slimc/ir';
import { buildModel, f32, f32Type, int, op } from '../../../../test/passes-support.js';
import { maxAbsDiff, opCounts, runBoth } from '../../../../test/qdq-support.js';
import { Compiler, builtinPlugin } from '../index.js';
import { type QuantizedArray, requantize } from '../quantize/fixed-point.js';
import { roundHalfToEven } from '../quantize/rounding.js';
import { evaluateSlimcRequantize, integerRescale, isSlimcRequantize } from './index.js';

const run = (m: Model, options: Record<string, unknown> = {}) => new Compiler().use(builtinPlugin).run(m, [{ name: 'requantize', options }]);

const S_ACC = 0.0123 * 0.0041;

/** x (uint8 [3, 8]) -> MatMulInteger with an int8 weight -> Cast -> Mul(s_acc) -> Relu -> output. */
function integerMatMul(): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', { dtype: 'uint8', shape: [3, 8] });
    const w = g.addConstant('w', makeTensor('int8', [8, 5], Array.from({ length: 40 }, (_, i) => ((i * 53) % 255) - 127)));
    const xZp = g.addConstant('x_zp', makeTensor('uint8', [], [131]));
    const acc = op(g, 'MatMulInteger', [x, w, xZp], {}, { dtype: 'int32', shape: [3, 5] });
    const f = op(g, 'Cast', [acc], { to: int(1) }, f32Type(3, 5));
    const y = g.addNode({ op: 'Mul', inputs: [f, g.addConstant('s_acc', f32([], [S_ACC]))], outputs: [{ name: 'y', type: f32Type(3, 5) }] }).output(0);
    g.addOutput(op(g, 'Relu', [y], {}, f32Type(3, 5)));
  });
}

const inputs = () => ({ x: makeTensor('uint8', [3, 8], Array.from({ length: 24 }, (_, i) => (i * 97 + 13) % 256)) });

/** The float value y (before requantization) of the original model. */
function referenceY(): Tensor {
  const m = integerMatMul();
  let y: Tensor | undefined;
  interpret(m.graph, inputs(), { observe: (v, t) => v.name === 'y' && (y = t) });
  return y!;
}

function range(t: Tensor): { min: number; max: number } {
  const d = Array.from(t.data as Float32Array);
  return { min: Math.min(...d), max: Math.max(...d) };
}

describe('requantize', () => {
  test('static range (ranges option): QuantizeLinear/DequantizeLinear after the Mul; within half a step of the float model', async () => {
    const { min, max } = range(referenceY());
    const m = integerMatMul();
    const before = await runBoth(m, inputs());
    const report = await run(m, { ranges: [`y=${min}:${max}`] });
    expect(report.passes[0]!.stats['requantize-accumulator']).toBe(1);
    expect(opCounts(m)).toEqual({ MatMulInteger: 1, Cast: 1, Mul: 1, QuantizeLinear: 1, DequantizeLinear: 1, Relu: 1 });
    expect(verify(m)).toEqual([]);
    const after = await runBoth(m, inputs());
    const step = (Math.max(max, 0) - Math.min(min, 0)) / 255;
    expect(maxAbsDiff(after.interpreter, before.interpreter)).toBeLessThanOrEqual(step / 2 + 1e-6);
    expect(maxAbsDiff(after.interpreter, before.interpreter)).toBeGreaterThan(0);
    expect(maxAbsDiff(after.ort, after.interpreter)).toBe(0);
    expect((await run(m, { ranges: [`y=${min}:${max}`] })).passes[0]!.changed).toBe(false);
  });

  test('target=slimc: one slimc:Requantize on the accumulator, within 1 LSB of the ONNX form', async () => {
    const { min, max } = range(referenceY());
    const onnx = integerMatMul();
    await run(onnx, { ranges: [`y=${min}:${max}`] });
    let qOnnx: Tensor | undefined;
    interpret(onnx.graph, inputs(), { observe: (v, t) => v.producer?.op === 'QuantizeLinear' && (qOnnx = t) });

    const slimc = integerMatMul();
    let acc: Tensor | undefined;
    interpret(slimc.graph, inputs(), { observe: (v, t) => v.producer?.op === 'MatMulInteger' && (acc = t) });
    await run(slimc, { ranges: [`y=${min}:${max}`], target: 'slimc' });
    expect(opCounts(slimc)).toEqual({ MatMulInteger: 1, 'slimc:Requantize': 1, DequantizeLinear: 1, Relu: 1 });
    const node = [...slimc.graph.nodes()].find(isSlimcRequantize)!;
    const got = evaluateSlimcRequantize(node, acc!);
    expect(maxAbsDiff({ q: got }, { q: qOnnx! })).toBeLessThanOrEqual(1);
  });

  test('a calibrated Value.quant on the rescaled value is used as the grid', async () => {
    const m = integerMatMul();
    const y = [...m.graph.nodes()].find((n) => n.op === 'Mul')!.output(0);
    y.quant = { scale: Float32Array.of(0.01), zeroPoint: Int32Array.of(-5), dtype: 'int8', bits: 8 };
    await run(m, { mode: 'static' });
    const q = [...m.graph.nodes()].find((n) => n.op === 'QuantizeLinear')!;
    expect((q.input(1)!.constant!.data as Float32Array)[0]).toBeCloseTo(0.01, 8);
    expect(Array.from(q.input(2)!.constant!.data as Int8Array)).toEqual([-5]);
  });

  test('mode=static without a range changes nothing', async () => {
    const m = integerMatMul();
    expect((await run(m, { mode: 'static' })).passes[0]!.changed).toBe(false);
  });

  test('dynamic: the range is measured at run time (ReduceMin/ReduceMax); onnxruntime agrees; within half a measured step', async () => {
    for (const dtype of ['int8', 'uint8']) {
      const m = integerMatMul();
      const before = await runBoth(m, inputs());
      await run(m, { dtype });
      const ops = opCounts(m);
      expect(ops.ReduceMin).toBe(1);
      expect(ops.ReduceMax).toBe(1);
      expect(verify(m)).toEqual([]);
      const after = await runBoth(m, inputs());
      const { min, max } = range(referenceY());
      const step = (Math.max(max, 0) - Math.min(min, 0)) / 255;
      expect(maxAbsDiff(after.interpreter, before.interpreter)).toBeLessThanOrEqual(step / 2 + 1e-6);
      expect(maxAbsDiff(after.ort, after.interpreter)).toBeLessThanOrEqual(1e-6);
      expect((await run(m, { dtype })).passes[0]!.changed).toBe(false);
    }
  });

  test('bad ranges are rejected naming the option', async () => {
    await expect(run(integerMatMul(), { ranges: ['y=3:1'] })).rejects.toThrow(/option ranges.*name=min:max/);
  });
});

describe('requantize properties', () => {
  const INT32 = fc.integer({ min: -2147483648, max: 2147483647 });
  test.prop([fc.array(INT32, { minLength: 1, maxLength: 64 }), fc.double({ min: 2 ** -40, max: 2 ** 16, noNaN: true }), fc.integer({ min: -128, max: 127 })], {
    numRuns: 300,
  })('the integer rescale equals the float reference round(acc · M) + z within 1 LSB for every int32 and ratio', (values, ratio, zeroPoint) => {
    const acc = Int32Array.from(values);
    const r = integerRescale(ratio, 0, zeroPoint, 'int8');
    const got = requantize(acc, new Int8Array(acc.length) as QuantizedArray, { multiplier: r.multiplier, shift: r.shift, zeroPoint });
    for (let i = 0; i < acc.length; i++) {
      const want = Math.min(127, Math.max(-128, roundHalfToEven(acc[i]! * ratio) + zeroPoint));
      expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(1);
    }
  });
});
