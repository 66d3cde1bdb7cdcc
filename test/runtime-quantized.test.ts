/**
 * Hand-built QDQ and QOperator int8 graphs in the WebAssembly runtime, against the reference
 * interpreter and onnxruntime.
 *
 * The runtime requantizes in gemmlowp fixed point (ties away from zero, multiplier rounded to 31
 * bits); the interpreter and onnxruntime compute round_half_even(float32(acc * M)) (QOperator) or
 * quantize a float32 result (QDQ: dequantize, float op, quantize). Both are correct roundings of
 * the same real number, so they may differ by one step where that number is within float32 noise
 * of a half-integer. Tests therefore assert:
 *  - integer kernels reproduce the exact int32 accumulation: with the requantization moved out of
 *    the way (output scale chosen so M = 2^-k, exactly representable, and no ties), outputs are
 *    bit-identical to the interpreter;
 *  - for arbitrary scales, every output is within 1 LSB of the interpreter and of onnxruntime, and
 *    almost all (>= 99%) are equal.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime, compileForWasm, encodeOnnx, type PlanStep } from '@slimc/backends';
import { Graph, Model, interpret, makeTensor, type Attribute, type DType, type Tensor, type Value } from '@slimc/ir';
import { runOrt } from './interpreter-oracle.js';
import { seededFloats } from './passes-support.js';

const int = (value: number): Attribute => ({ kind: 'int', value });
const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });

/** Random int8/uint8 data, in [lo, hi) when given, else the type's whole range. */
function q8(dtype: 'int8' | 'uint8', shape: number[], seed: number, range?: [number, number]): Tensor {
  const [lo, hi] = range ?? (dtype === 'int8' ? [-128, 128] : [0, 256]);
  return makeTensor(dtype, shape, Array.from(seededFloats(shape.reduce((a, b) => a * b, 1), seed, lo, hi), Math.floor));
}

class Builder {
  readonly model = new Model(new Graph('main'));
  readonly inputs: Record<string, Tensor> = {};
  private k = 0;
  constructor(opset = 19) {
    this.model.opsetImports.set('', opset);
  }
  get g(): Graph {
    return this.model.graph;
  }
  input(t: Tensor): Value {
    const v = this.g.addInput(`in${this.k++}`, { dtype: t.dtype, shape: [...t.shape] });
    this.inputs[v.name] = t;
    return v;
  }
  constant(t: Tensor): Value {
    return this.g.addConstant(`c${this.k++}`, t);
  }
  scalar(dtype: DType, v: number): Value {
    return this.constant(makeTensor(dtype, [], [v]));
  }
  node(op: string, inputs: (Value | null)[], attrs: Record<string, Attribute> = {}, outType?: DType): Value {
    return this.g.addNode({ op, inputs, attrs, outputs: [{ name: op.toLowerCase(), ...(outType ? { type: { dtype: outType } } : {}) }] }).output(0);
  }
  dq(q: Value, scale: Value, zp: Value, axis?: number): Value {
    return this.node('DequantizeLinear', [q, scale, zp], axis === undefined ? {} : { axis: int(axis) }, 'float32');
  }
  /** DQ of an activation given as a graph input. */
  qInput(t: Tensor, scale: number, zp: number): Value {
    return this.dq(this.input(t), this.scalar('float32', scale), this.scalar(t.dtype, zp));
  }
  q(x: Value, scale: number, zp: number, dtype: 'int8' | 'uint8'): Value {
    return this.node('QuantizeLinear', [x, this.scalar('float32', scale), this.scalar(dtype, zp)], {}, dtype);
  }
  /** Per-channel (or per-tensor when scales has one entry) int8 weights, dequantized. */
  weights(shape: number[], scales: number[], seed: number, axis = 0, range?: [number, number]): Value {
    const w = this.constant(q8('int8', shape, seed, range));
    const scale = this.constant(makeTensor('float32', scales.length > 1 ? [scales.length] : [], scales));
    const zp = this.constant(makeTensor('int8', scales.length > 1 ? [scales.length] : [], new Array<number>(scales.length).fill(0)));
    return this.dq(w, scale, zp, scales.length > 1 ? axis : undefined);
  }
  /** int32 bias on the accumulator grid s_x * s_w[c]. */
  bias(xScale: number, wScales: number[], channels: number, seed: number, magnitude = 2000): Value {
    const b = this.constant(makeTensor('int32', [channels], Array.from(seededFloats(channels, seed, -magnitude, magnitude), Math.round)));
    const scale = this.constant(makeTensor('float32', [channels], Array.from({ length: channels }, (_, c) => Math.fround(xScale * wScales[wScales.length > 1 ? c : 0]!))));
    const zp = this.constant(makeTensor('int32', [channels], new Array<number>(channels).fill(0)));
    return this.dq(b, scale, zp, 0);
  }
  output(v: Value): void {
    this.g.outputs.push(v);
    v.uses.push({ user: this.g, index: this.g.outputs.length - 1 });
  }
}

function channelScales(n: number, seed: number): number[] {
  return Array.from(seededFloats(n, seed, 0.002, 0.02));
}

/** Element counts: how many differ, and by how much at most. */
function compare(got: Tensor, want: Tensor): { mismatches: number; maxDiff: number } {
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  let mismatches = 0;
  let maxDiff = 0;
  for (let i = 0; i < got.data.length; i++) {
    const d = Math.abs(Number(got.data[i]) - Number(want.data[i]));
    if (d) mismatches++;
    maxDiff = Math.max(maxDiff, d);
  }
  return { mismatches, maxDiff };
}

let library: Awaited<ReturnType<typeof import('@slimc/backends').KernelLibrary.load>>;
beforeAll(async () => {
  library = await (await import('@slimc/backends')).KernelLibrary.load();
});
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

async function runAll(b: Builder, expectKind: PlanStep['kind']) {
  const rt = await Runtime.load(b.model, { library });
  runtimes.push(rt);
  expect(rt.plan.steps.map((s) => s.kind)).toContain(expectKind);
  const ours = rt.run(b.inputs);
  const reference = interpret(b.model.graph, b.inputs, { opset: b.model.opset });
  return { rt, ours, reference };
}

/** Within 1 LSB of both oracles everywhere, equal on all but `budget` of the elements. */
async function expectCloseToOracles(b: Builder, expectKind: PlanStep['kind'], budget = 0.01) {
  const { ours, reference, rt } = await runAll(b, expectKind);
  const ort = await runOrt(encodeOnnx(b.model), b.inputs);
  for (const [name, want] of Object.entries(reference)) {
    const vsInterp = compare(ours[name]!, want);
    const vsOrt = compare(ours[name]!, ort[name]!);
    expect(vsInterp.maxDiff, `${name} vs interpreter`).toBeLessThanOrEqual(1);
    expect(vsOrt.maxDiff, `${name} vs onnxruntime`).toBeLessThanOrEqual(1);
    expect(vsInterp.mismatches, `${name} vs interpreter`).toBeLessThanOrEqual(want.data.length * budget);
    expect(vsOrt.mismatches, `${name} vs onnxruntime`).toBeLessThanOrEqual(want.data.length * budget);
  }
  return rt;
}

interface ConvCase {
  name: string;
  channels: number;
  outChannels: number;
  group: number;
  kernel: number;
  strides: number;
  pads: number[];
  act: 'int8' | 'uint8';
  perChannel: boolean;
  activation?: 'Relu' | 'Clip';
}

const CONV_CASES: ConvCase[] = [
  { name: '3x3 per-channel uint8 + relu', channels: 8, outChannels: 16, group: 1, kernel: 3, strides: 1, pads: [1, 1, 1, 1], act: 'uint8', perChannel: true, activation: 'Relu' },
  { name: '3x3 stride 2 asymmetric pads int8', channels: 5, outChannels: 7, group: 1, kernel: 3, strides: 2, pads: [0, 1, 1, 0], act: 'int8', perChannel: false },
  { name: 'grouped 2 groups + clip', channels: 8, outChannels: 12, group: 2, kernel: 3, strides: 1, pads: [1, 1, 1, 1], act: 'uint8', perChannel: true, activation: 'Clip' },
  { name: 'depthwise 3x3 stride 2', channels: 16, outChannels: 16, group: 16, kernel: 3, strides: 2, pads: [1, 1, 1, 1], act: 'int8', perChannel: true },
  { name: '1x1 pointwise', channels: 24, outChannels: 10, group: 1, kernel: 1, strides: 1, pads: [0, 0, 0, 0], act: 'uint8', perChannel: true },
];

/**
 * `exact`: s_x s_w / s_y = 0.5 * 0.25 / 0.125 = 1 and small operands (|x - z_x| <= 3, |w| <= 2),
 * so the requantization is the identity on an int32 accumulator that stays inside the output
 * range: no rounding at all, and any difference would be an accumulation (padding, zero point,
 * group, stride) error.
 */
function qdqConv(c: ConvCase, outScale: number, exact = false) {
  const b = new Builder();
  const xScale = exact ? 0.5 : 0.02;
  const xZp = c.act === 'uint8' ? 128 : 3;
  const x = b.qInput(q8(c.act, [1, c.channels, 9, 11], 11, exact ? [xZp - 3, xZp + 4] : undefined), xScale, xZp);
  const ws = exact ? [0.25] : c.perChannel ? channelScales(c.outChannels, 5) : [0.01];
  const w = b.weights([c.outChannels, c.channels / c.group, c.kernel, c.kernel], ws, 7, 0, exact ? [-2, 3] : undefined);
  const bias = b.bias(xScale, ws, c.outChannels, 9, exact ? 10 : 2000);
  let y = b.node('Conv', [x, w, bias], { group: int(c.group), strides: ints(c.strides, c.strides), pads: ints(...c.pads), kernel_shape: ints(c.kernel, c.kernel) }, 'float32');
  if (c.activation === 'Relu') y = b.node('Relu', [y]);
  if (c.activation === 'Clip') y = b.node('Clip', [y, b.scalar('float32', -0.5), b.scalar('float32', 1.5)]);
  b.output(b.q(y, outScale, c.act === 'uint8' ? 100 : -5, c.act));
  return b;
}

describe('QDQ convolution', () => {
  test.each(CONV_CASES.map((c) => [c.name, c] as const))('%s: within 1 LSB of interpreter and onnxruntime', async (_name, c) => {
    const rt = await expectCloseToOracles(qdqConv(c, 0.05), 'conv-q8');
    expect(rt.fallbacks).toEqual([]);
    // Relu/Clip fused into the kernel's clamp: no float activation step left
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['conv-q8']);
  });

  test.each(CONV_CASES.map((c) => [c.name, c] as const))('%s: exact accumulation (power-of-two multiplier) is bit-identical', async (_name, c) => {
    const { ours, reference } = await runAll(qdqConv(c, 0.125, true), 'conv-q8');
    for (const [name, want] of Object.entries(reference)) expect(compare(ours[name]!, want)).toEqual({ mismatches: 0, maxDiff: 0 });
  });
});

describe('QDQ chains', () => {
  test('a table after a convolution (HardSwish after a 3x3, Sigmoid after a depthwise) is applied by the convolution: outputs as with the table step', async () => {
    const b = new Builder();
    const x = b.qInput(q8('uint8', [1, 8, 9, 11], 50), 0.02, 128);
    const conv = (input: Value, inputScale: number, group: number, seed: number) => b.dq(b.q(b.node('Conv', [input,
      b.weights([8, 8 / group, 3, 3], channelScales(8, seed), seed + 1), b.bias(inputScale, channelScales(8, seed), 8, seed + 2)],
    { group: int(group), pads: ints(1, 1, 1, 1) }, 'float32'), 0.05, 120, 'uint8'), b.scalar('float32', 0.05), b.scalar('uint8', 120));
    const y = b.q(b.node('HardSwish', [conv(x, 0.02, 1, 51)]), 0.035, 10, 'uint8');
    b.output(b.q(b.node('Sigmoid', [conv(b.dq(y, b.scalar('float32', 0.035), b.scalar('uint8', 10)), 0.035, 8, 55)]), 1 / 255, 0, 'uint8'));
    // the first run (online, recording the memory plan) runs the table steps on their own
    const rt = await expectCloseToOracles(b, 'lut-q8', 0.02);
    const fused = rt.run(b.inputs);
    const [name] = Object.keys(fused);
    // so does a run with an observer, which sees every value
    const observed = rt.run(b.inputs, () => {});
    expect(compare(fused[name!]!, observed[name!]!)).toEqual({ mismatches: 0, maxDiff: 0 });
    const profiled = await Runtime.load(b.model, { library, profile: true });
    runtimes.push(profiled);
    profiled.run(b.inputs);
    expect(profiled.profile['lut-q8 (in conv-q8)']).toBeUndefined();
    profiled.run(b.inputs);
    expect(profiled.plan.steps.map((s) => s.kind)).toEqual(['conv-q8', 'lut-q8', 'conv-q8', 'lut-q8']);
    expect(profiled.profile['lut-q8 (in conv-q8)']?.steps).toBe(2);
  });

  test('untyped intermediate values: the int8 type comes from the QuantizeLinear zero point', async () => {
    const b = new Builder();
    let x = b.qInput(q8('int8', [1, 8, 10, 10], 40), 0.05, 0);
    for (let i = 0; i < 3; i++) {
      const y = b.node('Relu', [b.node('Conv', [x, b.weights([8, 8, 3, 3], channelScales(8, 41 + i), 42 + i), null], { pads: ints(1, 1, 1, 1) })]);
      const q = b.g.addNode({ op: 'QuantizeLinear', inputs: [y, b.scalar('float32', 0.05), b.scalar('int8', -128)], outputs: ['q'] }).output(0);
      expect(q.type).toBeUndefined();
      x = i < 2 ? b.dq(q, b.scalar('float32', 0.05), b.scalar('int8', -128)) : q;
    }
    b.output(x);
    // a one-step difference in one layer moves the next layer's sums: the budget grows with depth
    const rt = await expectCloseToOracles(b, 'conv-q8', 0.03);
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['conv-q8', 'conv-q8', 'conv-q8']);
  });
});

describe('NHWC chains', () => {
  test('conv -> max pool -> average pool -> conv stays NHWC in between and matches the oracles', async () => {
    const b = new Builder();
    const requant = (v: Value) => b.dq(b.q(v, 0.05, 128, 'uint8'), b.scalar('float32', 0.05), b.scalar('uint8', 128));
    const x = b.qInput(q8('uint8', [1, 4, 12, 10], 60), 0.03, 128);
    let y = requant(b.node('Conv', [x, b.weights([8, 4, 3, 3], channelScales(8, 61), 62), null], { pads: ints(1, 1, 1, 1) }));
    y = requant(b.node('MaxPool', [y], { kernel_shape: ints(2, 2), strides: ints(2, 2) }));
    y = requant(b.node('AveragePool', [y], { kernel_shape: ints(3, 3), pads: ints(1, 1, 1, 1) }));
    b.output(b.q(b.node('Conv', [y, b.weights([6, 8, 1, 1], channelScales(6, 63), 64), null]), 0.1, 128, 'uint8'));
    // a layout mistake would move values across channels (differences of many steps); the
    // average pool's double rounding (see below) makes ~1 in 10 of its outputs one step off, and
    // the 1x1 convolution sums 8 of them, hence the wide equality budget
    const rt = await expectCloseToOracles(b, 'conv-q8', 0.25);
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['conv-q8', 'pool-q8', 'pool-q8', 'conv-q8']);
  });
});

describe('.slimc', () => {
  test('a quantized plan (conv, a constant concat operand, table) runs the same from its file', async () => {
    const b = new Builder();
    const x = b.qInput(q8('uint8', [1, 4, 6, 6], 50), 0.03, 128);
    const conv = b.q(b.node('Conv', [x, b.weights([6, 4, 3, 3], channelScales(6, 51), 52), null], { pads: ints(1, 1, 1, 1) }), 0.05, 128, 'uint8');
    const constant = b.dq(b.constant(q8('uint8', [1, 2, 6, 6], 53)), b.scalar('float32', 0.02), b.scalar('uint8', 90));
    const cat = b.q(b.node('Concat', [b.dq(conv, b.scalar('float32', 0.05), b.scalar('uint8', 128)), constant], { axis: int(1) }), 0.05, 128, 'uint8');
    b.output(b.q(b.node('Sigmoid', [b.dq(cat, b.scalar('float32', 0.05), b.scalar('uint8', 128))]), 1 / 256, 0, 'uint8'));
    const direct = await Runtime.load(b.model, { library });
    const fromFile = await Runtime.load(compileForWasm(b.model), { library });
    runtimes.push(direct, fromFile);
    expect(fromFile.plan.steps.map((s) => s.kind)).toEqual(['conv-q8', 'concat-q8', 'lut-q8']);
    expect(fromFile.plan.steps.map((s) => s.kind)).toEqual(direct.plan.steps.map((s) => s.kind));
    const [a, c] = [direct.run(b.inputs), fromFile.run(b.inputs)];
    for (const name of Object.keys(a)) expect(compare(c[name]!, a[name]!)).toEqual({ mismatches: 0, maxDiff: 0 });
  });
});

describe('QDQ matmul, gemm, add and pooling', () => {
  test('MatMul with per-column weights on a 3-D input', async () => {
    const b = new Builder();
    const x = b.qInput(q8('uint8', [2, 5, 32], 3), 0.03, 120);
    const w = b.weights([32, 20], channelScales(20, 4), 6, 1);
    b.output(b.q(b.node('MatMul', [x, w]), 0.08, 128, 'uint8'));
    await expectCloseToOracles(b, 'gemm-q8');
  });

  test('Gemm transB with an int32 bias and Relu', async () => {
    const b = new Builder();
    const x = b.qInput(q8('int8', [4, 48], 8), 0.05, -2);
    const ws = channelScales(24, 9);
    const w = b.weights([24, 48], ws, 10, 0);
    const y = b.node('Relu', [b.node('Gemm', [x, w, b.bias(0.05, ws, 24, 12)], { transB: int(1) })]);
    b.output(b.q(y, 0.1, -128, 'int8'));
    const rt = await expectCloseToOracles(b, 'gemm-q8');
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['gemm-q8']);
  });

  test('Add of two activations and of a scalar constant', async () => {
    for (const scalar of [false, true]) {
      const b = new Builder();
      const a = b.qInput(q8('uint8', [1, 3, 8, 8], 13), 0.04, 128);
      const other = scalar
        ? b.dq(b.constant(makeTensor('uint8', [], [200])), b.scalar('float32', 0.01), b.scalar('uint8', 0))
        : b.qInput(q8('uint8', [1, 3, 8, 8], 14), 0.07, 110);
      b.output(b.q(b.node('Add', [a, other]), 0.09, 120, 'uint8'));
      await expectCloseToOracles(b, 'add-q8');
    }
  });

  // Products of two 8-bit operands are small (|acc| < 2^15) and M = 0.031 encodes with shift -5: the
  // fixed-point high-mul rounds acc * M * 2^5 to an integer before the shift rounds again, so about
  // 1 element in 2^6 lands one step off (the double rounding of the pooling test below).
  test('Mul of two activations and of a scalar constant', async () => {
    for (const scalar of [false, true]) {
      const b = new Builder();
      const a = b.qInput(q8('int8', [2, 4, 6, 5], 30), 0.04, 3);
      const other = scalar
        ? b.dq(b.constant(makeTensor('int8', [], [-77])), b.scalar('float32', 0.013), b.scalar('int8', 0))
        : b.qInput(q8('int8', [2, 4, 6, 5], 31), 0.07, -10);
      b.output(b.q(b.node('Mul', [a, other]), 0.09, 4, 'int8'));
      const rt = await expectCloseToOracles(b, 'mul-q8', 0.04);
      expect(rt.fallbacks).toEqual([]);
    }
  });

  test.each(['Sigmoid', 'HardSigmoid', 'HardSwish'])('%s as a 256-entry table', async (op) => {
    const b = new Builder();
    const x = b.qInput(q8('uint8', [1, 8, 7, 7], 32), 0.06, 128);
    b.output(b.q(b.node(op, [x], op === 'HardSigmoid' ? { alpha: { kind: 'float', value: 1 / 6 } } : {}), op === 'HardSwish' ? 0.035 : 1 / 255, op === 'HardSwish' ? 10 : 0, 'uint8'));
    const rt = await expectCloseToOracles(b, 'lut-q8');
    expect(rt.fallbacks).toEqual([]);
  });

  test.each([1, 3, -1])('Concat on axis %i of inputs on different grids', async (axis) => {
    const b = new Builder();
    const shape = (k: number) => [2, axis === 1 ? k : 3, 4, axis === 1 ? 5 : k];
    const a = b.qInput(q8('uint8', shape(2), 33), 0.04, 128);
    const c = b.qInput(q8('uint8', shape(3), 34), 0.07, 100);
    const same = b.qInput(q8('uint8', shape(1), 35), 0.05, 120);
    b.output(b.q(b.node('Concat', [a, c, same], { axis: int(axis) }), 0.05, 120, 'uint8'));
    await expectCloseToOracles(b, 'concat-q8');
  });

  test('Concat of inputs already on the output grid is an exact copy', async () => {
    const b = new Builder();
    const parts = [2, 5].map((k, i) => b.qInput(q8('int8', [1, k, 3, 3], 36 + i), 0.05, -4));
    b.output(b.q(b.node('Concat', parts, { axis: int(1) }), 0.05, -4, 'int8'));
    const { ours, reference } = await runAll(b, 'concat-q8');
    for (const [name, want] of Object.entries(reference)) expect(compare(ours[name]!, want)).toEqual({ mismatches: 0, maxDiff: 0 });
  });

  test('MaxPool on the input grid is exact', async () => {
    const b = new Builder();
    const x = b.qInput(q8('int8', [1, 4, 10, 9], 15), 0.05, 1);
    const y = b.node('MaxPool', [x], { kernel_shape: ints(3, 3), strides: ints(2, 2), pads: ints(1, 1, 1, 1) });
    b.output(b.q(y, 0.05, 1, 'int8'));
    const { ours, reference } = await runAll(b, 'pool-q8');
    for (const [name, want] of Object.entries(reference)) expect(compare(ours[name]!, want)).toEqual({ mismatches: 0, maxDiff: 0 });
  });

  // Average pooling rounds twice in gemmlowp fixed point (the high-mul rounds sum * multiplier to
  // an integer, then the right shift rounds again, as TFLite does). Window sums are small (a few
  // hundred), so the first rounding already loses a fraction of a step: e.g. sum -24, count 6,
  // M = 1.35 / 6 gives -21.62 -> -22 -> -22 / 4 = -5.5 -> -6, where round(-5.405) = -5. About 1
  // output in 10 is then one step off the float result; never more than one. GlobalAveragePool
  // follows the interpreter's float steps and equals it bit for bit.
  test.each([0, 1])('AveragePool 3x3 stride 2 (count_include_pad %i) and GlobalAveragePool', async (includePad) => {
    const b = new Builder();
    const x = b.qInput(q8('uint8', [1, 6, 11, 10], 16), 0.05, 128);
    const avg = b.node('AveragePool', [x], { kernel_shape: ints(3, 3), strides: ints(2, 2), pads: ints(1, 1, 1, 1), count_include_pad: int(includePad) });
    b.output(b.q(avg, 0.037, 120, 'uint8'));
    const x2 = b.qInput(q8('uint8', [1, 40, 7, 5], 17), 0.05, 128);
    b.output(b.q(b.node('GlobalAveragePool', [x2]), 0.0031, 125, 'uint8'));
    const { ours, reference, rt } = await runAll(b, 'pool-q8');
    const ort = await runOrt(encodeOnnx(b.model), b.inputs);
    const [avgName, gapName] = b.g.outputs.map((v) => v.name) as [string, string];
    for (const other of [reference[avgName]!, ort[avgName]!]) {
      const r = compare(ours[avgName]!, other);
      expect(r.maxDiff).toBeLessThanOrEqual(1);
      expect(r.mismatches).toBeLessThanOrEqual(other.data.length * 0.2);
    }
    expect(compare(ours[gapName]!, reference[gapName]!)).toEqual({ mismatches: 0, maxDiff: 0 });
    expect(compare(ours[gapName]!, ort[gapName]!).maxDiff).toBeLessThanOrEqual(1);
    expect(rt.plan.steps.filter((s) => s.kind === 'pool-q8')).toHaveLength(2);
  });
});

describe('QOperator', () => {
  // Weights are 7-bit, as quantizers emit them for uint8 x int8 on x86: onnxruntime's U8S8
  // convolution sums pairs of products in saturating int16 (pmaddubsw), so full-range weights make
  // it differ from the exact result by up to 100 steps (checked separately against the interpreter).
  test.each([[7, true], [8, false]] as const)('QLinearConv with per-channel %i-bit int8 weights and a bias', async (bits, withOrt) => {
    const b = new Builder();
    const x = b.input(q8('uint8', [1, 6, 9, 9], 20));
    const ws = channelScales(8, 21);
    const w = b.constant(q8('int8', [8, 3, 3, 3], 22, [-(2 ** (bits - 1)), 2 ** (bits - 1)]));
    const bias = b.constant(makeTensor('int32', [8], Array.from(seededFloats(8, 23, -500, 500), Math.round)));
    const y = b.node('QLinearConv', [x, b.scalar('float32', 0.02), b.scalar('uint8', 128), w, b.constant(makeTensor('float32', [8], ws)),
      b.constant(makeTensor('int8', [8], new Array<number>(8).fill(0))), b.scalar('float32', 0.06), b.scalar('uint8', 127), bias],
    { group: int(2), pads: ints(1, 1, 1, 1), strides: ints(2, 1) });
    b.output(y);
    // round-once requantization (the default) is ONNX's rule: bit-identical to the interpreter
    const { ours, reference } = await runAll(b, 'conv-q8');
    for (const [name, want] of Object.entries(reference)) expect(compare(ours[name]!, want)).toEqual({ mismatches: 0, maxDiff: 0 });
    if (withOrt) {
      const rt = await expectCloseToOracles(b, 'conv-q8');
      expect(rt.plan.steps.map((s) => s.kind)).toEqual(['conv-q8']);
    }
    // gemmlowp fixed point rounds twice (ties away from zero): within one step
    const fixed = await Runtime.load(b.model, { library, requantize: 'fixed-point' });
    runtimes.push(fixed);
    const fixedOut = fixed.run(b.inputs);
    for (const [name, want] of Object.entries(reference)) {
      const r = compare(fixedOut[name]!, want);
      expect(r.maxDiff).toBeLessThanOrEqual(1);
      expect(r.mismatches).toBeLessThanOrEqual(want.data.length / 100);
    }
  });

  test.each([['uint8', 'uint8', [-128, 128]], ['int8', 'int8', [-64, 64]]] as const)(
    'MatMulInteger %s x %s with per-column weight zero points is exact', async (xType, wType, wRange) => {
      const b = new Builder();
      const x = b.input(q8(xType, [2, 3, 40], 26));
      const w = b.constant(q8(wType, [40, 12], 27, wType === 'uint8' ? [0, 256] : [wRange[0], wRange[1]]));
      const wZp = b.constant(makeTensor(wType, [12], Array.from({ length: 12 }, (_, i) => (wType === 'uint8' ? 120 + i : i - 6))));
      b.output(b.node('MatMulInteger', [x, w, b.scalar(xType, xType === 'uint8' ? 131 : -3), wZp]));
      const { ours, reference, rt } = await runAll(b, 'matmul-i32');
      expect(rt.fallbacks).toEqual([]);
      const ort = await runOrt(encodeOnnx(b.model), b.inputs);
      for (const [name, want] of Object.entries(reference)) {
        expect(compare(ours[name]!, want)).toEqual({ mismatches: 0, maxDiff: 0 });
        expect(compare(ours[name]!, ort[name]!)).toEqual({ mismatches: 0, maxDiff: 0 });
      }
    });

  test('QLinearMatMul with uint8 weights and zero points', async () => {
    const b = new Builder();
    const x = b.input(q8('uint8', [3, 40], 24));
    const w = b.constant(q8('uint8', [40, 16], 25));
    b.output(b.node('QLinearMatMul', [x, b.scalar('float32', 0.03), b.scalar('uint8', 130), w, b.scalar('float32', 0.004),
      b.scalar('uint8', 120), b.scalar('float32', 0.05), b.scalar('uint8', 128)]));
    await expectCloseToOracles(b, 'gemm-q8');
    const { ours, reference } = await runAll(b, 'gemm-q8');
    for (const [name, want] of Object.entries(reference)) expect(compare(ours[name]!, want)).toEqual({ mismatches: 0, maxDiff: 0 });
  });
});
