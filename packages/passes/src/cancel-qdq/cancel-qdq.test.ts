import { afterAll, describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { type Graph, type Model, type Tensor, type Value, cloneModel, interpret, makeTensor, printGraph, verify } from '@slimc/ir';
import { buildModel, f32, f32Type, i64, int, ints, op, seededFloats } from '../../../../test/passes-support.js';
import { type GridSpec, dequantize, maxAbsDiff, opCounts, quantize, runBoth } from '../../../../test/qdq-support.js';
import { Compiler, builtinPlugin } from '../index.js';
import { evaluateSlimcRequantize, isSlimcRequantize } from '../requantize/slimc-requantize.js';

const run = (m: Model, options: Record<string, unknown> = {}) => new Compiler().use(builtinPlugin).run(m, [{ name: 'cancel-qdq', options }]);

/** Codes 0..n-1 wrapped into the type's range. */
function codes(dtype: 'uint8' | 'int8', shape: number[], seed = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return makeTensor(dtype, shape, Array.from({ length: n }, (_, i) => ((i * 37 + seed) % 256) + (dtype === 'int8' ? -128 : 0)));
}

/** x -> Q(inner) -> DQ(inner) -> Q(outer) -> DQ(outer) -> output: the middle DQ -> Q pair is under test. */
function pairModel(inner: GridSpec, outer: GridSpec): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(2, 3, 4));
    const q = quantize(g, x, inner);
    g.addOutput(dequantize(g, quantize(g, dequantize(g, q, inner), outer), outer, 'y'));
  });
}

const pairInputs = () => ({ x: f32([2, 3, 4], seededFloats(24, 9, -20, 20)) });

describe('cancel-qdq: DequantizeLinear -> QuantizeLinear', () => {
  test.each([
    ['uint8, explicit zero point', { scale: 0.05, zeroPoint: 128 }, { scale: 0.05, zeroPoint: 128 }],
    ['int8', { scale: 0.3, zeroPoint: -3, dtype: 'int8' }, { scale: 0.3, zeroPoint: -3, dtype: 'int8' }],
    ['missing zero point on one side equals uint8 0', { scale: 0.25, zeroPoint: 0 }, { scale: 0.25 }],
    ['per-axis, same axis and arrays', { scale: [0.1, 0.2, 0.3], zeroPoint: [1, 2, 3], axis: 1 }, { scale: [0.1, 0.2, 0.3], zeroPoint: [1, 2, 3], axis: -2 }],
  ] as const)('%s: the pair cancels and outputs are unchanged', async (_, inner, outer) => {
    const m = pairModel(inner as GridSpec, outer as GridSpec);
    const inputs = pairInputs();
    const before = await runBoth(m, inputs);
    const report = await run(m);
    expect(report.passes[0]!.stats['cancel-dequantize-quantize']).toBe(1);
    expect(opCounts(m)).toEqual({ QuantizeLinear: 1, DequantizeLinear: 1 });
    expect(verify(m)).toEqual([]);
    const after = await runBoth(m, inputs);
    expect(maxAbsDiff(after.ort, before.ort)).toBe(0);
    expect(maxAbsDiff(after.interpreter, before.interpreter)).toBe(0);
  });

  test.each([
    ['different scales', { scale: 0.05, zeroPoint: 128 }, { scale: 0.1, zeroPoint: 128 }],
    ['different zero points', { scale: 0.05, zeroPoint: 128 }, { scale: 0.05, zeroPoint: 127 }],
    ['int8 explicit 0 vs missing (uint8)', { scale: 0.05, zeroPoint: 0, dtype: 'int8' }, { scale: 0.05 }],
    ['per-axis on different axes', { scale: [0.1, 0.2], zeroPoint: [0, 0], axis: 0 }, { scale: [0.1, 0.2], zeroPoint: [0, 0], axis: 2 }],
    ['a scale so large that (q - z) * s overflows float32', { scale: 3e37, zeroPoint: 0 }, { scale: 3e37, zeroPoint: 0 }],
  ] as const)('kept: %s (a requantization, counted in the stats)', async (_, inner, outer) => {
    const m = pairModel(inner as GridSpec, outer as GridSpec);
    const before = printGraph(m.graph);
    const report = await run(m);
    expect(report.passes[0]!.changed).toBe(false);
    expect(report.passes[0]!.stats['requantize-pairs']).toBe(1);
    expect(printGraph(m.graph)).toBe(before);
  });

  test('target=slimc lowers a requantizing pair to one integer rescale within 1 LSB of the float pair', async () => {
    const inner = { scale: 0.0371, zeroPoint: 131 };
    const outer = { scale: 0.0913, zeroPoint: 7 };
    const m = pairModel(inner, outer);
    const all = makeTensor('uint8', [256], Array.from({ length: 256 }, (_, i) => i));
    const mAll = buildModel(13, (g) => {
      const q = g.addInput('q', { dtype: 'uint8', shape: [256] });
      g.addOutput(quantize(g, dequantize(g, q, inner), outer, 'y'));
    });
    const want = interpret(mAll.graph, { q: all }).y!;
    const report = await run(mAll, { target: 'slimc' });
    expect(report.passes[0]!.stats['lower-requantize-pair']).toBe(1);
    const node = [...mAll.graph.nodes()].find(isSlimcRequantize)!;
    expect(node).toBeDefined();
    expect(mAll.opsetImports.get('slimc')).toBe(1);
    const got = evaluateSlimcRequantize(node, all);
    expect(maxAbsDiff({ y: got }, { y: want })).toBeLessThanOrEqual(1);
    // The ONNX target keeps the standard pair.
    await run(m, { target: 'onnx' });
    expect(opCounts(m)).toEqual({ DequantizeLinear: 2, QuantizeLinear: 2 });
  });
});

describe('cancel-qdq: QuantizeLinear -> DequantizeLinear', () => {
  const model = () =>
    buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(8));
      const grid = { scale: 0.1, zeroPoint: 10 };
      g.addOutput(op(g, 'Relu', [dequantize(g, quantize(g, x, grid), grid)], {}, f32Type(8)));
    });

  test('kept by default: the pair rounds to the grid', async () => {
    const m = model();
    expect((await run(m)).passes[0]!.changed).toBe(false);
    expect(opCounts(m)).toEqual({ QuantizeLinear: 1, DequantizeLinear: 1, Relu: 1 });
  });

  test('allow-lossy removes it; outputs move by at most half a step inside the range', async () => {
    const m = model();
    const x = f32([8], seededFloats(8, 5, -1, 10));
    const before = interpret(m.graph, { x });
    await run(m, { 'allow-lossy': true });
    expect(opCounts(m)).toEqual({ Relu: 1 });
    const diff = maxAbsDiff(interpret(m.graph, { x }), before);
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThanOrEqual(0.05 + 1e-6);
  });
});

describe('cancel-qdq: moving DequantizeLinear through data movement', () => {
  test('Reshape, Transpose, Slice, Squeeze, Unsqueeze, Flatten, MaxPool and Concat: pairs meet and cancel', async () => {
    const grid = { scale: 0.02, zeroPoint: 100 };
    const m = buildModel(13, (g) => {
      const q = g.addInput('q', { dtype: 'uint8', shape: [1, 2, 4, 4] });
      const p = g.addInput('p', { dtype: 'uint8', shape: [1, 2, 4, 4] });
      let v = dequantize(g, q, grid);
      v = op(g, 'MaxPool', [v], { kernel_shape: ints(2, 2), pads: ints(0, 0, 1, 1) }, f32Type(1, 2, 4, 4));
      v = op(g, 'Concat', [v, dequantize(g, p, grid)], { axis: int(1) }, f32Type(1, 4, 4, 4));
      v = op(g, 'Transpose', [v], { perm: ints(0, 2, 3, 1) }, f32Type(1, 4, 4, 4));
      v = op(g, 'Reshape', [v, g.addConstant('shape', i64([3], [1, 16, 4]))], {}, f32Type(1, 16, 4));
      v = op(g, 'Slice', [v, g.addConstant('starts', i64([1], [1])), g.addConstant('ends', i64([1], [3])), g.addConstant('axes', i64([1], [2]))], {}, f32Type(1, 16, 2));
      v = op(g, 'Unsqueeze', [v, g.addConstant('axes', i64([1], [0]))], {}, f32Type(1, 1, 16, 2));
      v = op(g, 'Squeeze', [v, g.addConstant('axes', i64([1], [0]))], {}, f32Type(1, 16, 2));
      v = op(g, 'Flatten', [v], { axis: int(1) }, f32Type(1, 32));
      g.addOutput(quantize(g, v, grid, 'y'));
    });
    const inputs = { q: codes('uint8', [1, 2, 4, 4], 1), p: codes('uint8', [1, 2, 4, 4], 2) };
    const before = await runBoth(m, inputs);
    const report = await run(m);
    expect(report.passes[0]!.stats['cancel-dequantize-quantize']).toBe(1);
    expect(opCounts(m)).toEqual({ MaxPool: 1, Concat: 1, Transpose: 1, Reshape: 1, Slice: 1, Unsqueeze: 1, Squeeze: 1, Flatten: 1 });
    expect(verify(m)).toEqual([]);
    const after = await runBoth(m, inputs);
    expect(maxAbsDiff(after.ort, before.ort)).toBe(0);
    expect(maxAbsDiff(after.interpreter, before.interpreter)).toBe(0);
  });

  test('per-axis parameters follow a Transpose but do not cross a Reshape', async () => {
    const grid = (axis: number) => ({ scale: [0.1, 0.2, 0.4], zeroPoint: [1, 2, 3], axis });
    const m = buildModel(13, (g) => {
      const q = g.addInput('q', { dtype: 'uint8', shape: [2, 3] });
      const t = op(g, 'Transpose', [dequantize(g, q, grid(1))], { perm: ints(1, 0) }, f32Type(3, 2));
      g.addOutput(quantize(g, t, grid(0), 'y'));
      const r = op(g, 'Reshape', [dequantize(g, q, grid(1)), g.addConstant('shape', i64([2], [3, 2]))], {}, f32Type(3, 2));
      g.addOutput(quantize(g, r, grid(0), 'z'));
    });
    const inputs = { q: codes('uint8', [2, 3]) };
    const before = await runBoth(m, inputs);
    await run(m);
    expect(opCounts(m)).toEqual({ Transpose: 1, Reshape: 1, DequantizeLinear: 1, QuantizeLinear: 1 });
    expect(maxAbsDiff((await runBoth(m, inputs)).ort, before.ort)).toBe(0);
  });

  test('a DequantizeLinear with other users moves a copy only when the copy cancels', async () => {
    const grid = { scale: 0.1, zeroPoint: 3 };
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2, 3));
      const q = quantize(g, x, grid);
      const dq = dequantize(g, q, grid);
      g.addOutput(op(g, 'Relu', [dq], {}, f32Type(2, 3)));
      const t = op(g, 'Transpose', [dq], { perm: ints(1, 0) }, f32Type(3, 2));
      g.addOutput(dequantize(g, quantize(g, t, grid), grid, 'same'));
      const r = op(g, 'Reshape', [dq, g.addConstant('shape', i64([2], [3, 2]))], {}, f32Type(3, 2));
      g.addOutput(dequantize(g, quantize(g, r, { scale: 0.2, zeroPoint: 3 }), { scale: 0.2, zeroPoint: 3 }, 'other'));
    });
    const x = { x: f32([2, 3], seededFloats(6, 4, -1, 1)) };
    const before = await runBoth(m, x);
    const report = await run(m);
    expect(report.passes[0]!.stats['move-dequantize-down']).toBe(1);
    expect(report.passes[0]!.stats['cancel-dequantize-quantize']).toBe(1);
    // The Reshape path requantizes (0.1 -> 0.2): the shared DequantizeLinear stays put there.
    expect(report.passes[0]!.stats['requantize-pairs']).toBe(0);
    // Q(x) feeds the kept DQ (for Relu and Reshape) and now the Transpose, whose output DQ is the only
    // one left on that path; the Reshape path keeps its requantizing Q/DQ.
    expect(opCounts(m)).toEqual({ QuantizeLinear: 2, DequantizeLinear: 3, Relu: 1, Transpose: 1, Reshape: 1 });
    const after = await runBoth(m, x);
    expect(maxAbsDiff(after.ort, before.ort)).toBe(0);
    expect(maxAbsDiff(after.interpreter, before.interpreter)).toBe(0);
  });

  test('nothing moves when no QuantizeLinear waits downstream', async () => {
    const m = buildModel(13, (g) => {
      const q = g.addInput('q', { dtype: 'uint8', shape: [2, 3] });
      g.addOutput(op(g, 'Transpose', [dequantize(g, q, { scale: 0.1, zeroPoint: 3 })], { perm: ints(1, 0) }, f32Type(3, 2)));
    });
    expect((await run(m)).passes[0]!.changed).toBe(false);
  });
});

// ---- property: random Q/DQ chains through data-movement ops ----

interface ChainStep {
  kind: number;
  grid: number;
}

const GRIDS: GridSpec[] = [
  { scale: 0.05, zeroPoint: 128 },
  { scale: 0.05, zeroPoint: 128 },
  { scale: 0.07, zeroPoint: 120 },
  { scale: 0.05 },
  { scale: 0.05, zeroPoint: 0 },
];

/**
 * x (float [1, 2, 4, 4]) through steps that each add Q, DQ or a data-movement op (Q and DQ only
 * where the value has the right kind), ending in a float output. Shapes stay [1, 2, 4, 4] or are
 * restored, so any op may follow any other.
 */
function chainModel(steps: ChainStep[]): Model {
  return buildModel(13, (g: Graph) => {
    const shape = [1, 2, 4, 4];
    let v: Value = g.addInput('x', f32Type(...shape));
    let quantized: GridSpec | undefined;
    const move = (opType: string, inputs: (Value | null)[], attrs = {}) => {
      const dtype = v.type!.dtype;
      return op(g, opType, inputs, attrs, { dtype, shape });
    };
    for (const s of steps) {
      const grid = GRIDS[s.grid % GRIDS.length]!;
      // Q and DQ twice as likely as each data-movement op, so DQ -> ... -> Q chains are common.
      switch (s.kind % 9) {
        case 0:
        case 7:
          if (!quantized) v = quantize(g, v, grid);
          quantized = quantized ?? grid;
          break;
        case 1:
        case 8:
          if (quantized) v = dequantize(g, v, quantized);
          quantized = undefined;
          break;
        case 2:
          v = move('Transpose', [v], { perm: ints(0, 1, 3, 2) });
          break;
        case 3:
          v = move('Reshape', [v, g.addConstant('shape', i64([4], shape))]);
          break;
        case 4:
          v = move('MaxPool', [v], { kernel_shape: ints(3, 3), pads: ints(1, 1, 1, 1) });
          break;
        case 5:
          v = move('Slice', [v, g.addConstant('starts', i64([1], [0])), g.addConstant('ends', i64([1], [4])), g.addConstant('axes', i64([1], [3]))]);
          break;
        case 6:
          v = move('Concat', [v], { axis: int(1) });
          break;
      }
    }
    if (quantized) v = dequantize(g, v, quantized);
    g.addOutput(op(g, 'Identity', [v], {}, f32Type(...shape)));
  });
}

describe('cancel-qdq properties', () => {
  // The random chains must actually exercise the rewrites, not only the no-match paths.
  const fired: Record<string, number> = {};
  afterAll(() => {
    expect(fired['cancel-dequantize-quantize']).toBeGreaterThan(0);
    expect(fired['move-dequantize-down']).toBeGreaterThan(0);
  });
  test.prop([fc.array(fc.record({ kind: fc.nat(17), grid: fc.nat(9) }), { minLength: 1, maxLength: 14 })], { numRuns: 80 })(
    'keeps the interpreter outputs exactly, verifies clean, and a second run changes nothing',
    async (steps) => {
      const m = chainModel(steps);
      const x = f32([1, 2, 4, 4], seededFloats(32, steps.length, -8, 8));
      const before = interpret(m.graph, { x });
      const original = cloneModel(m);
      const report = await run(m);
      for (const [k, n] of Object.entries(report.passes[0]!.stats)) fired[k] = (fired[k] ?? 0) + n;
      expect(verify(m)).toEqual([]);
      expect(maxAbsDiff(interpret(m.graph, { x }), before)).toBe(0);
      expect(m.graph.nodeCount).toBeLessThanOrEqual(original.graph.nodeCount);
      expect((await run(m)).passes[0]!.changed).toBe(false);
    },
  );
});
