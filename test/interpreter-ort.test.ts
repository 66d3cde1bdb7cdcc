/**
 * Property tests of the interpreter against onnxruntime-node: random small graphs of elementwise
 * ops (with numpy broadcasting), MatMul/Gemm, Conv (strides, pads, dilations, groups, auto_pad)
 * and pooling give the same outputs, elementwise |ours - ort| <= 1e-4 * max(1, |ort|).
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { encodeOnnx } from '@slimc/backends';
import { Graph, Model, interpret, makeTensor, type Attribute, type Tensor, type Value } from '@slimc/ir';
import { randomFloats } from './fixtures/models.js';
import { runOrt, worstRelativeError } from './interpreter-oracle.js';

const OPSET = 17;
const RUNS = { numRuns: 25 };

/** A graph under construction: one float32 input `x` and constants made from a seed. */
class Builder {
  readonly g = new Graph('prop');
  private seed: number;
  constructor(seed: number) {
    this.seed = seed;
  }
  input(shape: number[]): { value: Value; tensor: Tensor } {
    const tensor = this.tensor(shape);
    return { value: this.g.addInput('x', { dtype: 'float32', shape }), tensor };
  }
  tensor(shape: number[], lo = -1, hi = 1): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return makeTensor('float32', shape, randomFloats(n, this.seed++, lo, hi));
  }
  constant(shape: number[], lo = -1, hi = 1): Value {
    return this.g.addConstant('c', this.tensor(shape, lo, hi));
  }
  node(op: string, inputs: (Value | null)[], attrs: Record<string, Attribute> = {}): Value {
    return this.g.addNode({ op, inputs, attrs }).output(0);
  }
  async check(out: Value, x: Tensor): Promise<void> {
    this.g.addOutput(out);
    const model = new Model(this.g);
    model.opsetImports.set('', OPSET);
    const ours = interpret(this.g, { x }, { opset: OPSET });
    const theirs = await runOrt(encodeOnnx(model), { x });
    const want = theirs[out.name]!;
    expect(ours[out.name]!.shape).toEqual(want.shape);
    expect(worstRelativeError(ours[out.name]!, want)).toBeLessThanOrEqual(1e-4);
  }
}

const ints = (value: number[]): Attribute => ({ kind: 'ints', value });
const int = (value: number): Attribute => ({ kind: 'int', value });
const float = (value: number): Attribute => ({ kind: 'float', value });

const UNARY = ['Relu', 'Sigmoid', 'Tanh', 'Abs', 'Neg', 'Exp', 'Erf', 'Softplus', 'HardSwish', 'Floor', 'Ceil', 'Round', 'Sign', 'Softsign'] as const;
const UNARY_ATTR: [string, Record<string, Attribute>][] = [
  ['HardSigmoid', { alpha: float(0.3), beta: float(0.4) }],
  ['LeakyRelu', { alpha: float(0.07) }],
  ['Elu', { alpha: float(0.8) }],
  ['Selu', {}],
  ['Celu', { alpha: float(1.3) }],
];
const BINARY = ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'PRelu'] as const;

const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 });
/** A shape that broadcasts against `shape`: a suffix with some dims set to 1. */
const broadcastArb = (shape: number[]) =>
  fc.tuple(fc.integer({ min: 0, max: shape.length }), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length })).map(([drop, ones]) =>
    shape.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)),
  );

const elementwiseStep = (shape: number[]) =>
  fc.oneof(
    fc.constantFrom(...UNARY).map((op) => ({ op, attrs: {}, other: null as number[] | null })),
    fc.constantFrom(...UNARY_ATTR).map(([op, attrs]) => ({ op, attrs, other: null as number[] | null })),
    fc.tuple(fc.constantFrom(...BINARY), broadcastArb(shape)).map(([op, other]) => ({ op, attrs: {}, other: other as number[] | null })),
  );

describe('interpreter vs onnxruntime', () => {
  test.prop(
    [shapeArb.chain((shape) => fc.tuple(fc.constant(shape), fc.array(elementwiseStep(shape), { minLength: 1, maxLength: 5 }))), fc.nat(1000)],
    RUNS,
  )('elementwise chains with broadcasting', async ([shape, steps], seed) => {
    const b = new Builder(seed);
    const { value, tensor } = b.input(shape);
    let cur = value;
    for (const s of steps) {
      // PRelu's slope broadcasts onto x; Div divides by constants kept away from zero.
      const other = s.other ? (s.op === 'Div' ? b.constant(s.other, 0.5, 2) : b.constant(s.other)) : null;
      cur = b.node(s.op, other ? [cur, other] : [cur], s.attrs);
      if (s.op === 'Exp') cur = b.node('Tanh', [cur]); // keep magnitudes bounded for later steps
    }
    await b.check(cur, tensor);
  });

  test.prop(
    [
      fc.record({
        m: fc.integer({ min: 1, max: 6 }),
        k: fc.integer({ min: 1, max: 6 }),
        n: fc.integer({ min: 1, max: 6 }),
        batchA: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        bBroadcast: fc.boolean(),
        vecA: fc.boolean(),
      }),
      fc.nat(1000),
    ],
    RUNS,
  )('MatMul with batch broadcasting and 1-D operands', async (p, seed) => {
    const b = new Builder(seed);
    const aShape = p.vecA ? [p.k] : [...p.batchA, p.m, p.k];
    const bShape = p.bBroadcast ? [p.k, p.n] : [...p.batchA.map((d, i) => (i % 2 ? 1 : d)), p.k, p.n];
    const { value, tensor } = b.input(aShape);
    await b.check(b.node('MatMul', [value, b.constant(bShape)]), tensor);
  });

  test.prop(
    [
      fc.record({
        m: fc.integer({ min: 1, max: 6 }),
        k: fc.integer({ min: 1, max: 6 }),
        n: fc.integer({ min: 1, max: 6 }),
        transA: fc.boolean(),
        transB: fc.boolean(),
        alpha: fc.constantFrom(1, 0.5, -2),
        beta: fc.constantFrom(1, 0.25),
        c: fc.constantFrom('none', 'full', 'row', 'col', 'scalar'),
      }),
      fc.nat(1000),
    ],
    RUNS,
  )('Gemm with transposes, alpha, beta and broadcast C', async (p, seed) => {
    const b = new Builder(seed);
    const { value, tensor } = b.input(p.transA ? [p.k, p.m] : [p.m, p.k]);
    const w = b.constant(p.transB ? [p.n, p.k] : [p.k, p.n]);
    const cShape = { none: null, full: [p.m, p.n], row: [p.n], col: [p.m, 1], scalar: [1] }[p.c];
    const c = cShape ? b.constant(cShape) : null;
    const out = b.node('Gemm', c ? [value, w, c] : [value, w], {
      transA: int(p.transA ? 1 : 0),
      transB: int(p.transB ? 1 : 0),
      alpha: float(p.alpha),
      beta: float(p.beta),
    });
    await b.check(out, tensor);
  });

  const convArb = fc
    .record({
      rank: fc.constantFrom(1, 2),
      batch: fc.integer({ min: 1, max: 2 }),
      group: fc.integer({ min: 1, max: 3 }),
      cg: fc.integer({ min: 1, max: 3 }),
      mg: fc.integer({ min: 1, max: 3 }),
      size: fc.array(fc.integer({ min: 3, max: 9 }), { minLength: 2, maxLength: 2 }),
      kernel: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
      strides: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
      dilations: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 2, maxLength: 2 }),
      pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
      autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'),
      bias: fc.boolean(),
    })
    // The dilated kernel must fit the input; onnxruntime rejects dilations with SAME_* padding.
    .filter((p) => p.size.slice(0, p.rank).every((s, i) => s >= (p.kernel[i]! - 1) * p.dilations[i]! + 1))
    .filter((p) => !p.autoPad.startsWith('SAME') || p.dilations.every((d) => d === 1));

  test.prop([convArb, fc.nat(1000)], RUNS)('Conv with strides, pads, dilations, groups and auto_pad', async (p, seed) => {
    const b = new Builder(seed);
    const r = p.rank;
    const spatial = p.size.slice(0, r);
    const kernel = p.kernel.slice(0, r);
    const { value, tensor } = b.input([p.batch, p.group * p.cg, ...spatial]);
    const w = b.constant([p.group * p.mg, p.cg, ...kernel]);
    const bias = p.bias ? b.constant([p.group * p.mg]) : null;
    const attrs: Record<string, Attribute> = {
      group: int(p.group),
      strides: ints(p.strides.slice(0, r)),
      dilations: ints(p.dilations.slice(0, r)),
      auto_pad: { kind: 'string', value: p.autoPad },
    };
    if (p.autoPad === 'NOTSET') attrs.pads = ints([...p.pads.slice(0, r), ...p.pads.slice(2, 2 + r)]);
    await b.check(b.node('Conv', bias ? [value, w, bias] : [value, w], attrs), tensor);
  });

  const poolArb = fc
    .record({
    op: fc.constantFrom('MaxPool', 'AveragePool'),
    size: fc.array(fc.integer({ min: 3, max: 8 }), { minLength: 2, maxLength: 2 }),
    kernel: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
    strides: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
    pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
    ceil: fc.boolean(),
    includePad: fc.boolean(),
    dilated: fc.boolean(),
  })
    // MaxPool's dilations [2, 1] must keep the window inside the input.
    .filter((p) => !(p.op === 'MaxPool' && p.dilated) || p.size[0]! >= 2 * p.kernel[0]! - 1);

  test.prop([poolArb, fc.nat(1000)], RUNS)('MaxPool and AveragePool with pads, strides and ceil_mode', async (p, seed) => {
    const b = new Builder(seed);
    const { value, tensor } = b.input([1, 2, ...p.size]);
    // Pads must be smaller than the kernel.
    const pads = p.pads.map((v, i) => Math.min(v, p.kernel[i % 2]! - 1));
    const attrs: Record<string, Attribute> = {
      kernel_shape: ints(p.kernel),
      strides: ints(p.strides),
      pads: ints(pads),
      ceil_mode: int(p.ceil ? 1 : 0),
    };
    if (p.op === 'AveragePool') attrs.count_include_pad = int(p.includePad ? 1 : 0);
    else if (p.dilated) attrs.dilations = ints([2, 1]);
    await b.check(b.node(p.op, [value], attrs), tensor);
  });

  test.prop([fc.constantFrom('GlobalAveragePool', 'GlobalMaxPool'), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 3, maxLength: 4 }), fc.nat(1000)], RUNS)(
    'global pooling',
    async (op, shape, seed) => {
      const b = new Builder(seed);
      const { value, tensor } = b.input(shape);
      await b.check(b.node(op, [value]), tensor);
    },
  );
});
