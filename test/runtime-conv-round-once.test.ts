/**
 * QLinearConv in the runtime's int8 kernels with round-once requantization (the default: float32
 * accumulator x scale, rounded half to even, as ONNX and the interpreter compute it) against the
 * reference interpreter, bit for bit, over random geometries.
 *
 * The kernels requantize four accumulators at a time in float32, which equals the interpreter's
 * double product rounded to float32 only while |acc| <= 2^24; when a convolution's bias and its
 * count of products cannot reach that (products * 255^2 + max |bias| <= 2^24) they run a build
 * without the range check, else one that checks and falls back to double per value. The cases
 * here take both: small or 2^25-sized biases, 1x1 and 3x3 windows, depthwise, grouped, and
 * channels per group a multiple of 8 (A packed from the input) or not (im2col).
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { KernelLibrary, Runtime } from '@slimc/backends';
import { Graph, Model, interpret, makeTensor, type Attribute, type Tensor } from '@slimc/ir';
import { seededFloats } from './passes-support.js';

const int = (value: number): Attribute => ({ kind: 'int', value });
const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });

let library: KernelLibrary;
beforeAll(async () => {
  library = await KernelLibrary.load();
});
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

const arbCase = fc.record({
  layout: fc.constantFrom('dense', 'grouped', 'depthwise'),
  channelsPerGroup: fc.constantFrom(3, 8, 16, 20),
  outPerGroup: fc.integer({ min: 1, max: 12 }),
  kernel: fc.constantFrom(1, 3),
  stride: fc.constantFrom(1, 2),
  pad: fc.nat(1),
  height: fc.integer({ min: 3, max: 9 }),
  width: fc.integer({ min: 3, max: 9 }),
  xType: fc.constantFrom('int8', 'uint8'),
  xZeroPoint: fc.integer({ min: 0, max: 255 }),
  yZeroPoint: fc.integer({ min: 0, max: 255 }),
  biasMagnitude: fc.constantFrom(0, 3000, 2 ** 25),
  // log2 of s_x * s_w / s_y: outputs from mostly saturated to finely resolved
  log2Multiplier: fc.double({ min: -22, max: -6, noNaN: true }),
  seed: fc.nat(1000),
});

type Case = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;

function qlinearConv(c: Case): { model: Model; inputs: Record<string, Tensor> } {
  const groups = c.layout === 'dense' ? 1 : c.layout === 'grouped' ? 2 : c.channelsPerGroup;
  const channels = c.layout === 'depthwise' ? c.channelsPerGroup : groups * c.channelsPerGroup;
  const cg = channels / groups;
  const outChannels = c.layout === 'depthwise' ? channels : groups * c.outPerGroup;
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 19);
  const g = model.graph;
  let k = 0;
  const constant = (t: Tensor) => g.addConstant(`c${k++}`, t);
  const signedX = c.xType === 'int8';
  const shift = signedX ? 128 : 0; // zero points drawn in [0, 256), moved to the type's range
  const xData = Array.from(seededFloats(channels * c.height * c.width, c.seed, -shift, 256 - shift), Math.floor);
  const x = g.addInput('x', { dtype: c.xType, shape: [1, channels, c.height, c.width] });
  const wScales = Array.from(seededFloats(outChannels, c.seed + 1, 0.5, 1));
  const w = makeTensor('int8', [outChannels, cg, c.kernel, c.kernel],
    Array.from(seededFloats(outChannels * cg * c.kernel * c.kernel, c.seed + 2, -128, 128), Math.floor));
  const wZeroPoints = Array.from(seededFloats(outChannels, c.seed + 3, -128, 128), Math.floor);
  const yScale = 2 ** -c.log2Multiplier; // s_x = 1
  const bias = Array.from(seededFloats(outChannels, c.seed + 4, -c.biasMagnitude, c.biasMagnitude + 1), Math.floor);
  const yType = c.xType;
  const inputs = [x, constant(makeTensor('float32', [], [1])), constant(makeTensor(c.xType, [], [c.xZeroPoint - shift])),
    constant(w), constant(makeTensor('float32', [outChannels], wScales)), constant(makeTensor('int8', [outChannels], wZeroPoints)),
    constant(makeTensor('float32', [], [yScale])), constant(makeTensor(yType, [], [c.yZeroPoint - shift])),
    constant(makeTensor('int32', [outChannels], bias))];
  const y = g.addNode({
    op: 'QLinearConv', inputs,
    attrs: { group: int(groups), strides: ints(c.stride, c.stride), pads: ints(c.pad, c.pad, c.pad, c.pad), kernel_shape: ints(c.kernel, c.kernel) },
    outputs: [{ name: 'y', type: { dtype: yType } }],
  }).output(0);
  g.outputs.push(y);
  y.uses.push({ user: g, index: 0 });
  return { model, inputs: { x: makeTensor(c.xType, [1, channels, c.height, c.width], xData) } };
}

describe('QLinearConv with round-once requantization', () => {
  test.prop([arbCase], { numRuns: 60 })('equals the interpreter bit for bit, with and without the 2^24 range check', async (c) => {
    const { model, inputs } = qlinearConv(c);
    const rt = await Runtime.load(model, { library });
    runtimes.push(rt);
    expect(rt.plan.steps.map((s) => s.kind)).toEqual(['conv-q8']);
    const ours = rt.run(inputs).y!;
    const want = interpret(model.graph, inputs, { opset: model.opset }).y!;
    expect(ours.shape).toEqual(want.shape);
    expect(Array.from(ours.data, Number)).toEqual(Array.from(want.data, Number));
  });
});
