/**
 * Float MaxPool and AveragePool on slimc_maxpool_f32 / slimc_avgpool_f32 equal the reference
 * interpreter bit for bit (count_include_pad either way, strides, dilations, asymmetric and
 * automatic padding, NaN and -0 inputs), on NCHW input and on the NHWC data a convolution leaves;
 * nothing reaches the interpreter.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { Graph, Model, interpret, makeTensor, randomFloats, shapeSize, type Attribute } from '@slimc/ir';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { Runtime } from './runtime.js';

const arbCase = fc.record({
  op: fc.constantFrom('MaxPool', 'AveragePool'),
  countIncludePad: fc.boolean(),
  channels: fc.integer({ min: 1, max: 11 }),
  height: fc.integer({ min: 1, max: 9 }),
  width: fc.integer({ min: 1, max: 9 }),
  kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  dilations: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
  autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'),
  afterConv: fc.boolean(),
  seed: fc.integer(),
}).filter((c) => {
  // ONNX requires pads smaller than the window; the window must fit the padded input
  const fits = (size: number, k: number, d: number, lo: number, hi: number) => lo < k && hi < k && size + lo + hi >= d * (k - 1) + 1;
  const [pt, pl, pb, pr] = c.autoPad === 'NOTSET' ? c.pads : [0, 0, 0, 0];
  return fits(c.height, c.kernel[0], c.dilations[0], pt, pb) && fits(c.width, c.kernel[1], c.dilations[1], pl, pr);
});

let library: KernelLibrary;
beforeAll(async () => {
  library = await KernelLibrary.load();
});
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

test.prop([arbCase], { numRuns: 80 })('float MaxPool and AveragePool equal the interpreter bit for bit, NCHW and NHWC', async (c) => {
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 13);
  const g = model.graph;
  const shape = [2, c.channels, c.height, c.width];
  const x = g.addInput('x', { dtype: 'float32', shape });
  const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });
  let input = x;
  if (c.afterConv) {
    const identity = new Float32Array(c.channels * c.channels);
    for (let i = 0; i < c.channels; i++) identity[i * c.channels + i] = 1;
    const w = g.addConstant('identity', makeTensor('float32', [c.channels, c.channels, 1, 1], identity));
    input = g.addNode({ op: 'Conv', inputs: [x, w], attrs: {}, outputs: ['conv'] }).output(0); // leaves NHWC data
  }
  const attrs: Record<string, Attribute> = { kernel_shape: ints(...c.kernel), strides: ints(...c.strides), dilations: ints(...c.dilations),
    auto_pad: { kind: 'string', value: c.autoPad } };
  if (c.autoPad === 'NOTSET') attrs.pads = ints(...c.pads);
  if (c.op === 'AveragePool') attrs.count_include_pad = { kind: 'int', value: c.countIncludePad ? 1 : 0 };
  const y = g.addNode({ op: c.op, inputs: [input], attrs, outputs: ['y'] }).output(0);
  g.outputs.push(y);
  y.uses.push({ user: g, index: 0 });
  const data = randomFloats(shapeSize(shape), c.seed, -3, 3);
  if (!c.afterConv) {
    // (through the convolution a NaN would reach every channel)
    data[0] = NaN;
    data[1] = -0;
    data[data.length - 1] = NaN;
  }
  const inputs = { x: makeTensor('float32', shape, data) };
  const rt = await Runtime.load(model, { library });
  runtimes.push(rt);
  const got = rt.run(inputs).y!;
  expect(rt.interpretedLastRun).toEqual({});
  expect(rt.plan.steps.some((s) => s.kind === 'interp' && s.node.op === c.op)).toBe(true);
  const want = interpret(model.graph, inputs, { opset: 13 }).y!;
  expect(got.shape).toEqual(want.shape);
  // Object.is per element: NaN equals NaN, -0 differs from 0
  const same = Array.from(got.data as Float32Array).every((v, i) => Object.is(v, (want.data as Float32Array)[i]));
  expect(same, `got ${Array.from(got.data as Float32Array)}\nwant ${Array.from(want.data as Float32Array)}`).toBe(true);
});
