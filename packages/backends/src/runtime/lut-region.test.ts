/**
 * DequantizeLinear -> elementwise float ops -> QuantizeLinear regions run as one lookup table
 * (lut-region.ts): bit for bit the reference interpreter's result, on NCHW input and on the NHWC
 * data an int8 convolution leaves; regions that read a per-channel constant or whose values are
 * read elsewhere stay as they are.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { Graph, Model, interpret, makeTensor, randomFloats, type Tensor, type Value } from '@slimc/ir';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { serializePlan } from './format.js';
import { Runtime } from './runtime.js';

type Q8 = 'int8' | 'uint8';

/** One op of a region: its op and which operands are the running value (v), an earlier value (u) or a scalar constant (c). */
const arbOp = fc.oneof(
  fc.record({ op: fc.constantFrom('Add', 'Mul', 'Sub', 'Div'), constantLeft: fc.boolean(), value: fc.double({ min: 0.25, max: 4, noNaN: true }) }),
  fc.record({ op: fc.constantFrom('Relu', 'Sigmoid', 'HardSwish', 'Tanh', 'Neg') }),
  fc.record({ op: fc.constant('Clip'), value: fc.double({ min: -2, max: 0, noNaN: true }), high: fc.double({ min: 0.1, max: 6, noNaN: true }) }),
  fc.record({ op: fc.constant('Mul-earlier') }),
);
type RegionOp = typeof arbOp extends fc.Arbitrary<infer T> ? T : never;

const arbCase = fc.record({
  inType: fc.constantFrom<Q8>('int8', 'uint8'),
  outType: fc.constantFrom<Q8>('int8', 'uint8'),
  inScale: fc.double({ min: 0.005, max: 0.2, noNaN: true }),
  outScale: fc.double({ min: 0.005, max: 0.2, noNaN: true }),
  inZp: fc.integer({ min: -20, max: 20 }),
  outZp: fc.integer({ min: -20, max: 20 }),
  ops: fc.array(arbOp, { minLength: 1, maxLength: 6 }),
  afterConv: fc.boolean(),
  seed: fc.integer(),
});
type Case = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;

const zeroPoint = (type: Q8, zp: number) => (type === 'uint8' ? zp + 128 : zp);

/** x:q8[1,4,3,5] [-> QDQ 1x1 convolution permuting channels] -> DQ -> region [-> Q] -> y. */
function regionModel(c: Case, perChannel = false, quantized = true): { model: Model; x: Tensor } {
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 14);
  const g = model.graph;
  const shape = [1, 4, 3, 5];
  const x = g.addInput('x', { dtype: c.inType, shape });
  const constant = (t: Tensor) => g.addConstant('c', t);
  const scalar = (v: number) => constant(makeTensor('float32', [], [v]));
  const node = (op: string, inputs: (Value | null)[]) => g.addNode({ op, inputs, attrs: {}, outputs: [op.toLowerCase()] }).output(0);
  const inZp = constant(makeTensor(c.inType, [], [zeroPoint(c.inType, c.inZp)]));
  let q = x;
  if (c.afterConv) {
    const permutation = new Int8Array(16);
    [2, 0, 3, 1].forEach((from, to) => (permutation[to * 4 + from] = 1));
    const w = node('DequantizeLinear', [constant(makeTensor('int8', [4, 4, 1, 1], permutation)), scalar(1), constant(makeTensor('int8', [], [0]))]);
    const conv = node('Conv', [node('DequantizeLinear', [x, scalar(c.inScale), inZp]), w]);
    q = node('QuantizeLinear', [conv, scalar(c.inScale), inZp]);
  }
  const dq = node('DequantizeLinear', [q, scalar(c.inScale), inZp]);
  const seen: Value[] = [dq];
  let v = dq;
  for (const op of c.ops as RegionOp[]) {
    if (op.op === 'Mul-earlier') v = node('Mul', [v, seen[Math.floor(seen.length / 2)]!]);
    else if (op.op === 'Clip') v = node('Clip', [v, scalar(op.value), scalar(op.high)]);
    else if ('value' in op) {
      const k = perChannel && v === dq ? constant(makeTensor('float32', [4, 1, 1], [op.value, 1, 2, 3])) : scalar(op.value);
      v = node(op.op, 'constantLeft' in op && op.constantLeft ? [k, v] : [v, k]);
    } else v = node(op.op, [v]);
    seen.push(v);
  }
  const y = quantized ? node('QuantizeLinear', [v, scalar(c.outScale), constant(makeTensor(c.outType, [], [zeroPoint(c.outType, c.outZp)]))]) : v;
  g.outputs.push(y);
  y.uses.push({ user: g, index: 0 });
  const data = Array.from(randomFloats(60, c.seed, 0, 256), (f) => Math.floor(f) - (c.inType === 'int8' ? 128 : 0));
  return { model, x: makeTensor(c.inType, shape, data) };
}

let library: KernelLibrary;
beforeAll(async () => {
  library = await KernelLibrary.load();
});
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

async function runBoth(model: Model, x: Tensor): Promise<{ rt: Runtime; got: Tensor; want: Tensor }> {
  const want = Object.values(interpret(model.graph, { x }, { opset: 14 }))[0]!;
  const rt = await Runtime.load(model, { library });
  runtimes.push(rt);
  return { rt, got: Object.values(rt.run({ x }))[0]!, want };
}

test.prop([arbCase], { numRuns: 40 })('a DQ -> elementwise ops -> Q region is one table step, equal to the interpreter bit for bit', async (c) => {
  const { model, x } = regionModel(c);
  const { rt, got, want } = await runBoth(model, x);
  expect(rt.plan.steps.map((s) => (s.kind === 'lut-q8' ? `lut-q8 ${s.fn}` : s.kind))).toEqual([...(c.afterConv ? ['conv-q8'] : []), 'lut-q8 table']);
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
  // the table is a constant of the .slimc file
  const fromFile = await Runtime.load(serializePlan(rt.plan), { library });
  runtimes.push(fromFile);
  expect(Array.from(Object.values(fromFile.run({ x }))[0]!.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
});

test.prop([arbCase], { numRuns: 30 })('a DQ -> elementwise ops region with a float result is one float table step, equal to the interpreter bit for bit', async (c) => {
  const { model, x } = regionModel(c, false, false);
  const { rt, got, want } = await runBoth(model, x);
  expect(rt.plan.steps.map((s) => s.kind)).toEqual([...(c.afterConv ? ['conv-q8'] : []), 'lut-f32']);
  expect(got.shape).toEqual(want.shape);
  const same = Array.from(got.data as Float32Array).every((v, i) => Object.is(v, (want.data as Float32Array)[i]));
  expect(same, `got ${Array.from(got.data as Float32Array)}\nwant ${Array.from(want.data as Float32Array)}`).toBe(true);
});

test('a region reading a per-channel constant, or whose value is read elsewhere, is not a table', async () => {
  const c: Case = { inType: 'uint8', outType: 'uint8', inScale: 0.02, outScale: 0.03, inZp: 0, outZp: 0, afterConv: false, seed: 1,
    ops: [{ op: 'Add', constantLeft: false, value: 3 }, { op: 'Relu' }] };
  const perChannel = regionModel(c, true);
  const { rt, got, want } = await runBoth(perChannel.model, perChannel.x);
  expect(rt.plan.steps.some((s) => s.kind === 'lut-q8')).toBe(false);
  expect(Array.from(got.data as Uint8Array)).toEqual(Array.from(want.data as Uint8Array));

  const observed = regionModel(c);
  const g = observed.model.graph;
  const add = [...g.nodes()].find((n) => n.op === 'Add')!.output(0);
  g.outputs.push(add);
  add.uses.push({ user: g, index: 1 });
  const second = await Runtime.load(observed.model, { library });
  runtimes.push(second);
  expect(second.plan.steps.some((s) => s.kind === 'lut-q8')).toBe(false);
});
