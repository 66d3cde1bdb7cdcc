/**
 * Per-tensor overrides of the quantize pass: the option's text and object forms, the grids they
 * put into the emitted QuantizeLinear (QDQ) or fused QLinearConv (QOperator), tensors kept float,
 * errors naming the tensor, and the quantized model running in onnxruntime.
 */
import { describe, expect, test } from 'vitest';
import { encodeOnnx } from '@slimc/backends';
import { cloneModel, interpret, toFloat64, type Model, type Tensor } from '@slimc/ir';
import { Compiler } from '../core/compiler.js';
import { builtinPlugin } from '../builtin.js';
import { chooseQuantParams } from '../quantize/params.js';
import { normalizeOverrides, parseOverride, parseOverrides } from './overrides.js';
import { buildModel, f32, f32Type, int, ints, op, seededFloats } from '../../../../test/passes-support.js';
import { runOrt } from '../../../../test/interpreter-oracle.js';

/** x -> Conv(+bias) -> Relu -> 1x1 Conv -> Flatten -> Gemm; activations x, conv, relu, conv_*, flatten, gemm. */
function convNet(): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 3, 6, 6));
    const w1 = g.addConstant('w1', f32([4, 3, 3, 3], seededFloats(108, 11, -0.5, 0.5)));
    const b1 = g.addConstant('b1', f32([4], seededFloats(4, 12, -0.1, 0.1)));
    const c1 = op(g, 'Conv', [x, w1, b1], { pads: ints(1, 1, 1, 1), kernel_shape: ints(3, 3) }, f32Type(1, 4, 6, 6));
    const r = op(g, 'Relu', [c1], {}, f32Type(1, 4, 6, 6));
    const w2 = g.addConstant('w2', f32([2, 4, 1, 1], seededFloats(8, 13, -0.5, 0.5)));
    const c2 = op(g, 'Conv', [r, w2], { kernel_shape: ints(1, 1) }, f32Type(1, 2, 6, 6));
    const flat = op(g, 'Flatten', [c2], { axis: int(1) }, f32Type(1, 72));
    const w3 = g.addConstant('w3', f32([3, 72], seededFloats(216, 14, -0.2, 0.2)));
    g.addOutput(op(g, 'Gemm', [flat, w3], { transB: int(1) }, f32Type(1, 3)));
  });
}

const SAMPLES = [1, 2, 3, 4].map((seed) => ({ x: f32([1, 3, 6, 6], seededFloats(108, 200 + seed, -1, 1)) }));

async function quantize(model: Model, pipeline: string | { name: string; options: Record<string, unknown> }[]) {
  const m = cloneModel(model);
  const compiler = new Compiler().use(builtinPlugin);
  compiler.hooks.calibrationData.tapPromise('test-samples', async () => SAMPLES);
  const report = await compiler.run(m, pipeline);
  return { model: m, report };
}

const scalar = (t: Tensor | undefined) => Number(t!.data[0]);

/**
 * The grid the quantized model puts float tensor `name` on: read from the node that produces
 * `<name>_q` (QuantizeLinear inputs 1, 2; QLinearConv / QLinearMatMul y_scale, y_zero_point).
 */
function gridOf(model: Model, name: string): { scale: number; zeroPoint: number; dtype: string; op: string } {
  const node = [...model.graph.allNodes()].find((n) => n.outputs.some((v) => v?.name === `${name}_q`));
  if (!node) throw new Error(`no quantizer of ${name}`);
  const [s, z] = node.op === 'QuantizeLinear' ? [1, 2] : [6, 7];
  const zp = node.input(z)!.constant!;
  return { scale: scalar(node.input(s)!.constant), zeroPoint: scalar(zp), dtype: zp.dtype, op: node.op };
}

const outputOf = (o: Record<string, Tensor>) => toFloat64(Object.values(o)[0]!);

/** Runs `quantized` in onnxruntime and the interpreter; returns the worst error vs the float model relative to its largest output. */
async function worstErrorInOrt(float: Model, quantized: Model): Promise<number> {
  const bytes = encodeOnnx(quantized);
  let worst = 0;
  for (const s of SAMPLES) {
    const want = outputOf(interpret(float.graph, s, { opset: float.opset }));
    const peak = Math.max(...want.map(Math.abs));
    for (const got of [outputOf(await runOrt(bytes, s)), outputOf(interpret(quantized.graph, s, { opset: quantized.opset }))]) {
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / peak);
    }
  }
  return worst;
}

describe('override entries', () => {
  test('text entries parse from the right, so names may hold ":"', () => {
    expect(parseOverride('conv1:0:min:0:max:6')).toEqual(['conv1:0', { min: 0, max: 6 }]);
    expect(parseOverride('a/b.c:scale:0.5:zp:3:dtype:int8')).toEqual(['a/b.c', { scale: 0.5, zeroPoint: 3, dtype: 'int8' }]);
    expect(parseOverride('y:float')).toEqual(['y', { float: true }]);
    expect(parseOverride('y:max:-0.25')).toEqual(['y', { max: -0.25 }]);
  });

  test('text and object forms normalize to the same canonical text', () => {
    const text = normalizeOverrides(['x:max:1:min:-1', 'y:zp:128:scale:0.02', 'z:float', 'w:dtype:int8']);
    const object = normalizeOverrides({ x: { min: -1, max: 1 }, y: { scale: 0.02, zeroPoint: 128 }, z: { float: true }, w: { dtype: 'int8' } });
    expect(object).toEqual(text);
    expect(normalizeOverrides(text)).toEqual(text);
    expect(parseOverrides(text).get('y')).toEqual({ scale: 0.02, zeroPoint: 128 });
    expect(normalizeOverrides('x:float')).toEqual(['x:float']);
  });

  test.each([
    ['x', /expected NAME:field:value/],
    ['x:min', /expected NAME:field:value/],
    [':min:1', /expected NAME:field:value/],
    ['x:min:a', /min: expected a number, got "a"/],
    ['x:min:1:min:2', /"min" given twice/],
    ['x:scale:0.1', /scale and zp go together/],
    ['x:scale:0.1:zp:1:min:0', /min\/max or scale\/zp/],
    ['x:scale:0:zp:1', /scale must be positive/],
    ['x:scale:1:zp:2.5', /zp must be an integer/],
    ['x:scale:1:zp:300', /zp must be an integer/],
    ['x:min:2:max:1', /min 2 is above max 1/],
    ['x:dtype:int16', /dtype must be int8 or uint8/],
    ['x:float:min:0', /float excludes every other field/],
  ])('"%s" is rejected', (entry, message) => {
    expect(() => normalizeOverrides([entry])).toThrow(message);
  });

  test('object form: unknown fields, non-objects and a name given twice are rejected', () => {
    expect(() => normalizeOverrides({ x: { zp: 3, scale: 1 } })).toThrow(/unknown field "zp"/);
    expect(() => normalizeOverrides({ x: 1 })).toThrow(/expected an object/);
    expect(() => normalizeOverrides(7)).toThrow(/object keyed by tensor name/);
    expect(() => normalizeOverrides({ x: { float: false } })).toThrow(/no field given/);
    expect(normalizeOverrides({ x: { float: false, min: 0 } })).toEqual(['x:min:0']);
    expect(() => parseOverrides(['x:min:0', 'x:max:1'])).toThrow(/value "x": tensor overridden twice/);
  });
});

describe('quantize with overrides', () => {
  test.each(['qdq', 'qoperator'])('format=%s: the overridden grids are the emitted ones, and the model runs in onnxruntime', async (format) => {
    const float = convNet();
    const { model } = await quantize(float, `quantize(format=${format},overrides=[x:min:-1.5:max:1.5,conv:scale:0.03:zp:100])`);
    const x = gridOf(model, 'x');
    const want = chooseQuantParams({ dtype: 'uint8', min: -1.5, max: 1.5 });
    expect(x).toMatchObject({ op: 'QuantizeLinear', scale: want.scale, zeroPoint: want.zeroPoint, dtype: 'uint8' });
    const conv = gridOf(model, 'conv');
    expect(conv).toMatchObject({ scale: Math.fround(0.03), zeroPoint: 100, dtype: 'uint8' });
    expect(conv.op).toBe(format === 'qdq' ? 'QuantizeLinear' : 'QLinearConv');
    // the tensors without an override keep their calibrated grids
    const { model: plain } = await quantize(float, [{ name: 'quantize', options: { format } }]);
    expect(gridOf(model, 'relu')).toEqual(gridOf(plain, 'relu'));
    expect(gridOf(plain, 'conv').scale).not.toBe(conv.scale);
    expect(await worstErrorInOrt(float, model)).toBeLessThan(0.1);
  });

  test.each(['qdq', 'qoperator'])('format=%s, API object form: a dtype override and a tensor kept float', async (format) => {
    const float = convNet();
    const overrides = { relu: { dtype: 'int8', min: -0.5 }, flatten: { float: true } };
    const steps = [{ name: 'quantize', options: { format, overrides } }];
    expect(new Compiler().use(builtinPlugin).resolvePipeline(steps)[0]!.options.overrides).toEqual(['relu:min:-0.5:dtype:int8', 'flatten:float']);
    const { model } = await quantize(float, steps);
    const relu = gridOf(model, 'relu');
    expect(relu.dtype).toBe('int8');
    expect(gridOf(model, 'conv').dtype).toBe('uint8');
    expect(() => gridOf(model, 'flatten')).toThrow(/no quantizer/);
    const gemm = [...model.graph.allNodes()].find((n) => n.op === 'Gemm')!;
    expect(gemm.input(0)!.producer?.op).toBe('Flatten');
    expect(gemm.input(1)!.producer?.op).toBe('DequantizeLinear');
    expect(await worstErrorInOrt(float, model)).toBeLessThan(0.1);
  });

  test('an override of a missing or unquantized tensor is an error naming it and nearby quantized tensors', async () => {
    const float = convNet();
    await expect(quantize(float, 'quantize(overrides=[cnv:min:0])')).rejects.toThrow(/option overrides, value "cnv": no such tensor .*; quantized tensors near it: "conv"/);
    await expect(quantize(float, 'quantize(overrides=[w1:float])')).rejects.toThrow(/pass quantize, option overrides, value "w1": not an activation/);
    await expect(quantize(float, 'quantize(op-types=[Conv],overrides=[gemm:float])')).rejects.toThrow(/value "gemm": not an activation/);
    await expect(quantize(float, 'quantize(overrides=[x:scale:1:zp:200],activations=int8)')).rejects.toThrow(/pass quantize, option overrides, value "x": zp 200 is outside int8 \[-128, 127\]/);
    await expect(quantize(float, 'quantize(overrides=[x:scale:1])')).rejects.toThrow(/pass quantize, option overrides.*scale and zp go together/);
  });

  test('grids fixed for every activation need no calibration samples', async () => {
    const float = convNet();
    const m = cloneModel(float);
    const everyGrid = 'x:min:-1:max:1,conv:scale:0.02:zp:100,relu:min:0:max:2,conv_1:min:-2:max:2,flatten:min:-2:max:2,gemm:float';
    // no calibrationData tap and no samples folder
    const report = await new Compiler().use(builtinPlugin).run(m, `quantize(overrides=[${everyGrid}])`);
    expect(report.passes[0]!.stats['calibration-samples']).toBe(0);
    expect(gridOf(m, 'conv')).toMatchObject({ scale: Math.fround(0.02), zeroPoint: 100 });
    expect(gridOf(m, 'relu')).toMatchObject({ scale: chooseQuantParams({ dtype: 'uint8', min: 0, max: 2 }).scale });
    expect(await worstErrorInOrt(float, m)).toBeLessThan(0.1);
    // one activation left to calibrate: samples are needed again
    const partial = everyGrid.replace(',gemm:float', '');
    await expect(new Compiler().use(builtinPlugin).run(convNet(), `quantize(overrides=[${partial}])`)).rejects.toThrow(/option samples/);
  });

  test('overrides outside static mode are ignored with a warning', async () => {
    const { report } = await quantize(convNet(), 'quantize(mode=dynamic,overrides=[x:float])');
    expect(report.passes[0]!.warnings.join('\n')).toMatch(/overrides apply to static quantization only/);
  });
});
