/**
 * The quantize pass on small graphs (Conv -> Relu -> Conv -> Flatten -> Gemm, and MatMul), each
 * mode run in onnxruntime and in slimc's interpreter: the quantized model stays close to the float
 * one, both executors agree, and the graph has the expected quantized ops.
 */
import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { encodeOnnx } from '@slimc/backends';
import { cloneModel, interpret, toFloat64, type Model, type Tensor } from '@slimc/ir';
import { Compiler } from '../core/compiler.js';
import { builtinPlugin } from '../builtin.js';
import { buildModel, f32, f32Type, int, ints, op, seededFloats } from '../../../../test/passes-support.js';
import { runOrt } from '../../../../test/interpreter-oracle.js';

function convNet(): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 3, 8, 8));
    const w1 = g.addConstant('w1', f32([4, 3, 3, 3], seededFloats(108, 1, -0.5, 0.5)));
    const b1 = g.addConstant('b1', f32([4], seededFloats(4, 2, -0.1, 0.1)));
    const c1 = op(g, 'Conv', [x, w1, b1], { pads: ints(1, 1, 1, 1), kernel_shape: ints(3, 3) }, f32Type(1, 4, 8, 8));
    const r = op(g, 'Relu', [c1], {}, f32Type(1, 4, 8, 8));
    const w2 = g.addConstant('w2', f32([2, 4, 1, 1], seededFloats(8, 3, -0.5, 0.5)));
    const c2 = op(g, 'Conv', [r, w2], { kernel_shape: ints(1, 1) }, f32Type(1, 2, 8, 8));
    const flat = op(g, 'Flatten', [c2], { axis: int(1) }, f32Type(1, 128));
    const w3 = g.addConstant('w3', f32([5, 128], seededFloats(640, 4, -0.2, 0.2)));
    const b3 = g.addConstant('b3', f32([5], seededFloats(5, 5, -0.1, 0.1)));
    const y = op(g, 'Gemm', [flat, w3, b3], { transB: int(1) }, f32Type(1, 5));
    g.addOutput(y);
  });
}

function matmulNet(): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 3, 8, 8));
    const flat = op(g, 'Reshape', [x, g.addConstant('shape', { dtype: 'int64', shape: [2], data: BigInt64Array.from([12n, 16n]) })], {}, f32Type(12, 16));
    const w = g.addConstant('w', f32([16, 6], seededFloats(96, 6, -0.5, 0.5)));
    const y = op(g, 'MatMul', [flat, w], {}, f32Type(12, 6));
    g.addOutput(op(g, 'Relu', [y], {}, f32Type(12, 6)));
  });
}

/**
 * Conv -> Relu -> ConvTranspose (stride 2, bias) -> Conv: a decoder head like PaddleOCR det's. With
 * `group` 2 the ConvTranspose maps 4 channels to 4 in two groups (weights [4, 2, 2, 2]).
 */
function deconvNet(group = 1): Model {
  const up = group === 1 ? 3 : 4;
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 3, 8, 8));
    const w1 = g.addConstant('w1', f32([4, 3, 3, 3], seededFloats(108, 11, -0.5, 0.5)));
    const c1 = op(g, 'Conv', [x, w1], { pads: ints(1, 1, 1, 1), kernel_shape: ints(3, 3), strides: ints(1, 1), dilations: ints(1, 1), group: int(1) }, f32Type(1, 4, 8, 8));
    const r = op(g, 'Relu', [c1], {}, f32Type(1, 4, 8, 8));
    const wt = g.addConstant('wt', f32([4, up / group, 2, 2], seededFloats((16 * up) / group, 12, -0.5, 0.5)));
    const bt = g.addConstant('bt', f32([up], seededFloats(up, 13, -0.1, 0.1)));
    const attrs = { strides: ints(2, 2), kernel_shape: ints(2, 2), pads: ints(0, 0, 0, 0), group: int(group) };
    const y = op(g, 'ConvTranspose', [r, wt, bt], attrs, f32Type(1, up, 16, 16));
    const w2 = g.addConstant('w2', f32([2, up, 1, 1], seededFloats(2 * up, 14, -0.5, 0.5)));
    g.addOutput(op(g, 'Conv', [y, w2], { kernel_shape: ints(1, 1) }, f32Type(1, 2, 16, 16)));
  });
}

const sample = (seed: number) => ({ x: f32([1, 3, 8, 8], seededFloats(192, seed, -1, 1)) });
const SAMPLES = [1, 2, 3, 4, 5, 6].map((s) => sample(100 + s));

async function quantized(model: Model, options: Record<string, unknown>): Promise<{ model: Model; stats: Record<string, number> }> {
  const m = cloneModel(model);
  const compiler = new Compiler().use(builtinPlugin);
  compiler.hooks.calibrationData.tapPromise('test-samples', async () => SAMPLES);
  const report = await compiler.run(m, [{ name: 'quantize', options }]);
  return { model: m, stats: report.passes[0]!.stats };
}

function only(outputs: Record<string, Tensor>): Float64Array {
  return toFloat64(Object.values(outputs)[0]!);
}

/** max |a - b| relative to the largest |b|. */
function relError(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return worst / scale;
}

const opCounts = (m: Model) => {
  const c: Record<string, number> = {};
  for (const n of m.graph.allNodes()) c[n.op] = (c[n.op] ?? 0) + 1;
  return c;
};

describe('quantize', () => {
  const cases: [string, () => Model, Record<string, unknown>, (ops: Record<string, number>) => void][] = [
    ['static qdq', convNet, {}, (ops) => expect(ops).toMatchObject({ Conv: 2, Gemm: 1 }) && expect(ops.QuantizeLinear).toBeGreaterThanOrEqual(4)],
    ['static qdq int8 activations, minmax', convNet, { activations: 'int8', 'reduce-range': 'off' }, (ops) => expect(ops.DequantizeLinear).toBeGreaterThanOrEqual(7)],
    ['static qoperator', convNet, { format: 'qoperator' }, (ops) => expect(ops).toMatchObject({ QLinearConv: 2 })],
    ['static qoperator matmul', matmulNet, { format: 'qoperator', calibration: 'entropy' }, (ops) => expect(ops).toMatchObject({ QLinearMatMul: 1 })],
    ['dynamic matmul', matmulNet, { mode: 'dynamic' }, (ops) => expect(ops).toMatchObject({ DynamicQuantizeLinear: 1, MatMulInteger: 1 })],
    ['dynamic gemm', convNet, { mode: 'dynamic', 'op-types': ['Gemm'] }, (ops) => expect(ops).toMatchObject({ MatMulInteger: 1, Conv: 2 })],
    ['dynamic conv', convNet, { mode: 'dynamic' }, (ops) => expect(ops).toMatchObject({ MatMulInteger: 1, ConvInteger: 2 })],
    ['weight-only int8', convNet, { mode: 'weight-only' }, (ops) => expect(ops).toMatchObject({ DequantizeLinear: 3, Conv: 2 })],
    ['static qdq convtranspose', deconvNet, {}, (ops) => expect(ops).toMatchObject({ ConvTranspose: 1, Conv: 2, QuantizeLinear: 4 })],
    ['static qoperator convtranspose (weight-only)', deconvNet, { format: 'qoperator' }, (ops) => expect(ops).toMatchObject({ QLinearConv: 1, ConvTranspose: 1 })],
    ['dynamic convtranspose (weight-only)', deconvNet, { mode: 'dynamic' }, (ops) => expect(ops).toMatchObject({ ConvInteger: 2, ConvTranspose: 1 })],
    ['static qdq grouped convtranspose (per-tensor weights)', () => deconvNet(2), {}, (ops) => expect(ops).toMatchObject({ ConvTranspose: 1, QuantizeLinear: 4 })],
    ['weight-only int16', convNet, { mode: 'weight-only', 'weight-bits': 16, 'per-channel': false }, (ops) => expect(ops).toMatchObject({ DequantizeLinear: 3 })],
  ];

  test.each(cases)('%s: close to float in onnxruntime and the interpreter', async (_name, build, options, checkOps) => {
    const float = build();
    const { model, stats } = await quantized(float, options);
    expect(stats.quantized).toBeGreaterThan(0);
    checkOps(opCounts(model));
    const bytes = encodeOnnx(model);
    for (const s of SAMPLES.slice(0, 3)) {
      const want = only(interpret(float.graph, s, { opset: float.opset }));
      const mine = only(interpret(model.graph, s, { opset: model.opset }));
      const theirs = only(await runOrt(bytes, s));
      expect(relError(mine, want)).toBeLessThan(options['weight-bits'] === 16 ? 1e-3 : 0.08);
      expect(relError(theirs, want)).toBeLessThan(options['weight-bits'] === 16 ? 1e-3 : 0.08);
      // the two executors round the same way, up to an output step or two
      expect(relError(theirs, mine)).toBeLessThan(0.03);
    }
  });

  test('ConvTranspose: per-channel weights on axis 1 (its output channels); QDQ wraps its activations, QOperator keeps them float', async () => {
    const { model: qdq } = await quantized(deconvNet(), {});
    const up = [...qdq.graph.nodes()].find((n) => n.op === 'ConvTranspose')!;
    const [x, w, b] = [0, 1, 2].map((i) => up.input(i)!.producer!);
    expect([x.op, w.op, b.op]).toEqual(['DequantizeLinear', 'DequantizeLinear', 'DequantizeLinear']);
    expect(w.getInt('axis', 1)).toBe(1);
    expect(w.input(1)!.constant!.shape).toEqual([3]);
    expect(w.input(0)!.constant!.dtype).toBe('int8');
    expect(b.input(0)!.constant!.dtype).toBe('int32');
    expect(up.output(0).userNodes().map((n) => n.op)).toEqual(['QuantizeLinear']);

    const { model: qop } = await quantized(deconvNet(), { format: 'qoperator' });
    const weightOnly = [...qop.graph.nodes()].find((n) => n.op === 'ConvTranspose')!;
    const wq = weightOnly.input(1)!.producer!;
    expect(wq.op).toBe('DequantizeLinear');
    expect(wq.getInt('axis', 1)).toBe(1);
    // float activations and bias; 8-bit weights (float compute needs no reduced range)
    expect(weightOnly.input(0)!.producer?.op).not.toBe('DequantizeLinear');
    expect(weightOnly.input(2)!.constant?.dtype).toBe('float32');
    expect(Math.max(...Array.from(wq.input(0)!.constant!.data as Int8Array, Math.abs))).toBe(127);
    expect([...qop.graph.nodes()].every((n) => n.domain === '')).toBe(true);
  });

  test('QDQ: a wide bias reads its scale as Mul(s_x, s_w), bit-identical to the stored vector in onnxruntime', async () => {
    const wide = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(1, 3, 8, 8));
      const w = g.addConstant('w', f32([32, 3, 3, 3], seededFloats(864, 21, -0.5, 0.5)));
      const b = g.addConstant('b', f32([32], seededFloats(32, 22, -0.2, 0.2)));
      g.addOutput(op(g, 'Relu', [op(g, 'Conv', [x, w, b], { pads: ints(1, 1, 1, 1) }, f32Type(1, 32, 8, 8))], {}, f32Type(1, 32, 8, 8)));
    });
    const { model } = await quantized(wide, {});
    const conv = [...model.graph.nodes()].find((n) => n.op === 'Conv')!;
    const [x, w, b] = [0, 1, 2].map((i) => conv.input(i)!.producer!);
    const mul = b.input(1)!.producer!;
    expect(mul.op).toBe('Mul');
    expect(mul.inputs).toEqual([x.input(1), w.input(1)]);
    // the int32 bias is on the grid of the computed scale: quant params kept in memory match it bit for bit
    const sx = x.input(1)!.constant!.data[0] as number;
    const sw = w.input(1)!.constant!.data as Float32Array;
    expect(Array.from(conv.input(2)!.quant!.scale)).toEqual(Array.from(sw, (s) => Math.fround(sx * s)));
    // the same model with the product stored: onnxruntime gives the same bits
    const stored = cloneModel(model);
    const storedMul = [...stored.graph.nodes()].find((n) => n.op === 'Mul')!;
    const product = stored.graph.addConstant('b_scale_stored', f32([32], Array.from(conv.input(2)!.quant!.scale)));
    storedMul.output(0).replaceAllUsesWith(product);
    storedMul.erase();
    for (const s of SAMPLES.slice(0, 2)) {
      expect(Array.from(only(await runOrt(encodeOnnx(model), s)))).toEqual(Array.from(only(await runOrt(encodeOnnx(stored), s))));
    }
    // a narrow bias (convNet's 4 channels) keeps its stored scale: the vector is smaller than the node
    const { model: narrow } = await quantized(convNet(), {});
    const narrowConv = [...narrow.graph.nodes()].find((n) => n.op === 'Conv' && n.input(2))!;
    expect(narrowConv.input(2)!.producer!.input(1)!.isConstant).toBe(true);
  });

  test('a grouped ConvTranspose gets one weight scale: axis 1 holds C_out/group channels of every group', async () => {
    const { model } = await quantized(deconvNet(2), {});
    const w = [...model.graph.nodes()].find((n) => n.op === 'ConvTranspose')!.input(1)!.producer!;
    expect(w.op).toBe('DequantizeLinear');
    expect(w.input(1)!.constant!.shape).toEqual([]);
  });

  test('op-types without ConvTranspose leaves it float', async () => {
    const { model } = await quantized(deconvNet(), { 'op-types': ['Conv'] });
    const up = [...model.graph.nodes()].find((n) => n.op === 'ConvTranspose')!;
    expect(up.input(1)!.constant?.dtype).toBe('float32');
  });

  test('quantized values keep the float names and carry Value.quant', async () => {
    const { model } = await quantized(convNet(), {});
    const relu = [...model.graph.nodes()].find((n) => n.op === 'Relu')!;
    const input = relu.input(0)!;
    expect(input.producer?.op).toBe('DequantizeLinear');
    expect(input.name).toBe('conv');
    expect(input.quant?.dtype).toBe('uint8');
    const conv = [...model.graph.nodes()].find((n) => n.op === 'Conv')!;
    expect(conv.input(1)!.quant).toMatchObject({ dtype: 'int8', axis: 0, bits: 7 });
    expect(conv.input(2)!.quant?.dtype).toBe('int32');
  });

  test('symmetric weights and int32 biases leave out their zero points in QDQ; QLinearConv gets one scalar zero', async () => {
    const { model: qdq } = await quantized(convNet(), {});
    const conv = [...qdq.graph.nodes()].find((n) => n.op === 'Conv')!;
    for (const i of [1, 2]) {
      const dq = conv.input(i)!.producer!;
      expect(dq.op).toBe('DequantizeLinear');
      expect(dq.input(2), `operand ${i}`).toBeNull();
    }
    // activations keep theirs (uint8, asymmetric)
    expect(conv.input(0)!.producer!.input(2)).not.toBeNull();
    const { model: qop } = await quantized(convNet(), { format: 'qoperator' });
    const fused = [...qop.graph.nodes()].filter((n) => n.op === 'QLinearConv');
    expect(fused).toHaveLength(2);
    // one scalar int8 zero for every QLinearConv's per-channel weights
    expect(fused[0]!.input(5)).toBe(fused[1]!.input(5));
    expect(fused[0]!.input(5)!.constant).toMatchObject({ dtype: 'int8', shape: [] });
    expect(Number(fused[0]!.input(5)!.constant!.data[0])).toBe(0);
  });

  test.each(['qdq', 'qoperator'] as const)('%s: one zero-point constant per distinct (type, value), named after it', async (format) => {
    const { model } = await quantized(convNet(), { format });
    const zeroPoints = new Set(
      [...model.graph.nodes()].flatMap((n) => (n.op === 'QuantizeLinear' || n.op === 'DequantizeLinear' ? [n.input(2)] : n.op === 'QLinearConv' ? [n.input(2), n.input(5), n.input(7)] : [])).filter((z) => z !== null),
    );
    expect(zeroPoints.size).toBeGreaterThan(1);
    const byValue = new Map<string, string>();
    for (const z of zeroPoints) {
      const t = z.constant!;
      const key = `zp_${t.dtype}_${Number(t.data[0])}`;
      expect(z.name).toBe(key);
      byValue.set(key, z.name);
    }
    expect(byValue.size).toBe(zeroPoints.size);
  });

  test.each([
    ['minmax', 1],
    ['entropy', 2],
    ['mse', 2],
  ] as const)('calibration=%s asks for the samples %i time(s): histograms span the first pass\'s extremes', async (calibration, times) => {
    const compiler = new Compiler().use(builtinPlugin);
    let asked = 0;
    compiler.hooks.calibrationData.tapPromise('counting', async () => {
      asked++;
      return SAMPLES;
    });
    const report = await compiler.run(cloneModel(convNet()), [{ name: 'quantize', options: { calibration } }]);
    expect(asked).toBe(times);
    expect(report.passes[0]!.stats['calibration-samples']).toBe(SAMPLES.length);
  });

  test('exclude keeps named nodes float; no samples is an error naming the option', async () => {
    const float = convNet();
    const gemm = [...float.graph.nodes()].find((n) => n.op === 'Gemm')!;
    gemm.name = 'classifier';
    const { model } = await quantized(float, { exclude: ['/^class/'] });
    const kept = [...model.graph.nodes()].find((n) => n.op === 'Gemm')!;
    expect(kept.input(1)!.isConstant).toBe(true);
    const compiler = new Compiler().use(builtinPlugin);
    await expect(compiler.run(cloneModel(float), ['quantize'])).rejects.toThrow(/option samples/);
  });

  test('target-sqnr keeps the most sensitive layers float until the output SQNR is reached', async () => {
    const compiler = new Compiler().use(builtinPlugin);
    compiler.hooks.calibrationData.tapPromise('test-samples', async () => SAMPLES);
    const m = convNet();
    const base = await quantized(m, {});
    const report = await compiler.run(m, [{ name: 'quantize', options: { 'target-sqnr': 45 } }]);
    const { stats, warnings } = report.passes[0]!;
    expect(stats['kept-float']).toBeGreaterThan(0);
    expect(stats.quantized).toBe(base.stats.quantized! - stats['kept-float']!);
    expect(warnings.join('\n')).toMatch(/keeping the layer of \S+ float/);
    const want = only(interpret(convNet().graph, SAMPLES[0]!, { opset: 13 }));
    const loose = relError(only(interpret(base.model.graph, SAMPLES[0]!, { opset: 13 })), want);
    const tight = relError(only(interpret(m.graph, SAMPLES[0]!, { opset: 13 })), want);
    expect(tight).toBeLessThanOrEqual(loose);
  });
});

/** Random Conv (+Relu) -> 1x1 Conv nets, statically quantized to QOperator form. */
const arbConvNet = fc.record({
  cin: fc.integer({ min: 1, max: 4 }),
  cout: fc.integer({ min: 1, max: 6 }),
  k: fc.constantFrom(1, 3),
  size: fc.integer({ min: 3, max: 7 }),
  relu: fc.boolean(),
  seed: fc.integer({ min: 1, max: 10_000 }),
  activations: fc.constantFrom('uint8', 'int8'),
});

describe('quantize properties', () => {
  propTest.prop([arbConvNet], { numRuns: 12 })('QOperator nets: onnxruntime and the interpreter give the same integers (within 1 LSB)', async (p) => {
    const float = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(1, p.cin, p.size, p.size));
      const w = g.addConstant('w', f32([p.cout, p.cin, p.k, p.k], seededFloats(p.cout * p.cin * p.k * p.k, p.seed, -1, 1)));
      const b = g.addConstant('b', f32([p.cout], seededFloats(p.cout, p.seed + 1, -0.2, 0.2)));
      const pad = (p.k - 1) / 2;
      let y = op(g, 'Conv', [x, w, b], { pads: ints(pad, pad, pad, pad) }, f32Type(1, p.cout, p.size, p.size));
      if (p.relu) y = op(g, 'Relu', [y], {}, f32Type(1, p.cout, p.size, p.size));
      const w2 = g.addConstant('w2', f32([2, p.cout, 1, 1], seededFloats(2 * p.cout, p.seed + 2, -1, 1)));
      y = op(g, 'Conv', [y, w2], {}, f32Type(1, 2, p.size, p.size));
      g.addOutput(op(g, 'Sigmoid', [y], {}, f32Type(1, 2, p.size, p.size)));
    });
    const samples = [0, 1, 2].map((i) => ({ x: f32([1, p.cin, p.size, p.size], seededFloats(p.cin * p.size * p.size, p.seed * 7 + i, -1, 1)) }));
    const m = cloneModel(float);
    const compiler = new Compiler().use(builtinPlugin);
    compiler.hooks.calibrationData.tapPromise('test-samples', async () => samples);
    // 7-bit weights: onnxruntime's x86 kernels without VNNI are exact only then
    await compiler.run(m, [{ name: 'quantize', options: { format: 'qoperator', activations: p.activations, 'reduce-range': 'on' } }]);
    const last = [...m.graph.nodes()].filter((n) => n.op === 'QLinearConv').pop();
    expect(last).toBeDefined();
    const step = last!.output(0).quant!.scale[0]!;
    // compare the last integer layer's dequantized output (the Sigmoid input) in both executors
    const sigmoid = [...m.graph.nodes()].find((n) => n.op === 'Sigmoid')!;
    const probe = sigmoid.input(0)!;
    m.graph.addOutput(probe);
    const bytes = encodeOnnx(m);
    for (const s of samples) {
      const mine = toFloat64(interpret(m.graph, s, { opset: m.opset })[probe.name]!);
      const theirs = toFloat64((await runOrt(bytes, s))[probe.name]!);
      let worst = 0;
      for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i]! - theirs[i]!));
      expect(worst).toBeLessThanOrEqual(step * 1.0001);
    }
  });
});
