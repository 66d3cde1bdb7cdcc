/**
 * A QDQ-quantized PaddleOCR classifier in the runtime: every Conv of the float model (upgraded to
 * opset 13 by the upgrade-opset pass) is wrapped the way static quantizers do it (uint8 activations with ranges measured by the interpreter on
 * the fixture input, per-channel symmetric int8 weights, int32 biases on the s_x * s_w grid), so
 * the runtime runs all 53 convolutions (plain, strided, grouped and depthwise, 1x1 to 5x5) on the
 * int8 kernels and the other ops as before.
 *
 * The runtime requantizes in fixed point where the interpreter and onnxruntime quantize a float
 * result (one-step differences at near-ties, see runtime-quantized.test.ts). The first layer sees
 * identical inputs and must agree within one step on all but 1% of its outputs; later layers
 * inherit their inputs' differences and amplify them (measured: up to 10 steps by the twelfth
 * convolution, as with any two int8 implementations), so the model's output probabilities are
 * compared within 0.05 (measured 0.0215 on this input) together with the predicted class.
 */
import { expect, test } from 'vitest';
import { KernelLibrary, Runtime, encodeOnnx, loadOnnx, stepOutputs } from '@slimc/backends';
import { Graph, Model, interpret, makeTensor, toFloat64, type Node, type Tensor, type Value } from '@slimc/ir';
import { upgradeOpset } from '@slimc/passes';
import { PADDLE_CLS } from './fixtures/models.js';
import { runOrt } from './interpreter-oracle.js';

function constantOf(v: Value | null): Tensor | undefined {
  if (!v) return undefined;
  if (v.constant) return v.constant;
  return v.producer?.op === 'Constant' ? v.producer.getTensor('value') : undefined;
}

/** Q then DQ of `v` before `at`, with uint8 parameters covering [min, max] (and 0). */
function fakeQuantize(g: Graph, v: Value, range: [number, number], at: { before?: Node; after?: Node }): { q: Node; dq: Value } {
  const lo = Math.min(0, range[0]);
  const hi = Math.max(0, range[1]);
  const scale = Math.fround((hi - lo) / 255 || 1);
  const zp = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  const s = g.addConstant('act_scale', makeTensor('float32', [], [scale]));
  const z = g.addConstant('act_zp', makeTensor('uint8', [], [zp]));
  const q = g.addNode({ op: 'QuantizeLinear', inputs: [v, s, z], outputs: ['q'] }, at);
  const dq = g.addNode({ op: 'DequantizeLinear', inputs: [q.output(0), s, z], outputs: ['dq'] }, { after: q });
  return { q, dq: dq.output(0) };
}

function quantizeConvs(model: Model, ranges: Map<string, [number, number]>): number {
  const g = model.graph;
  let count = 0;
  for (const conv of g.nodeList().filter((n) => n.op === 'Conv')) {
    const x = conv.input(0)!;
    const w = constantOf(conv.input(1))!;
    const b = constantOf(conv.input(2));
    const { dq: xq } = fakeQuantize(g, x, ranges.get(x.name)!, { before: conv });
    const sx = toFloat64(xq.producer!.input(1)!.constant!)[0]!;
    conv.setInput(0, xq);
    // per-channel symmetric int8 weights
    const cout = w.shape[0]!;
    const per = w.data.length / cout;
    const wf = toFloat64(w);
    const scales = Array.from({ length: cout }, (_, c) => {
      let m = 0;
      for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(wf[c * per + i]!));
      return Math.fround(m / 127 || 1);
    });
    const wq = makeTensor('int8', w.shape, Array.from(wf, (v, i) => Math.max(-127, Math.min(127, Math.round(v / scales[Math.floor(i / per)]!)))));
    const axis = { axis: { kind: 'int' as const, value: 0 } };
    const wdq = g.addNode({ op: 'DequantizeLinear', inputs: [g.addConstant('wq', wq), g.addConstant('ws', makeTensor('float32', [cout], scales)),
      g.addConstant('wz', makeTensor('int8', [cout], new Array<number>(cout).fill(0)))], attrs: axis, outputs: ['wdq'] }, { before: conv });
    conv.setInput(1, wdq.output(0));
    if (b) {
      const bScales = scales.map((s) => Math.fround(sx * s));
      const bq = makeTensor('int32', [cout], Array.from(toFloat64(b), (v, c) => Math.round(v / bScales[c]!)));
      const bdq = g.addNode({ op: 'DequantizeLinear', inputs: [g.addConstant('bq', bq), g.addConstant('bs', makeTensor('float32', [cout], bScales)),
        g.addConstant('bz', makeTensor('int32', [cout], new Array<number>(cout).fill(0)))], attrs: axis, outputs: ['bdq'] }, { before: conv });
      conv.setInput(2, bdq.output(0));
    }
    const y = conv.output(0);
    const { q, dq } = fakeQuantize(g, y, ranges.get(y.name)!, { after: conv });
    y.replaceUsesWhere(dq, (u) => u.user !== q);
    count++;
  }
  return count;
}

/** The classifier at opset 13 (per-axis DequantizeLinear needs it; the model is opset 9), convolutions quantized. */
function quantizedClassifier(): { model: Model; inputs: Record<string, Tensor>; convs: number } {
  const model = loadOnnx(PADDLE_CLS.path);
  upgradeOpset(model, 13);
  const inputs = PADDLE_CLS.inputs();
  const ranges = new Map<string, [number, number]>();
  interpret(model.graph, inputs, {
    opset: model.opset,
    observe: (v, t) => {
      if (t.dtype !== 'float32') return;
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of t.data as Float32Array) (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
      ranges.set(v.name, [lo, hi]);
    },
  });
  for (const v of model.graph.inputs) {
    const data = inputs[v.name]!.data as Float32Array;
    ranges.set(v.name, [Math.min(...data), Math.max(...data)]);
  }
  return { model, inputs, convs: quantizeConvs(model, ranges) };
}

test('QDQ PaddleOCR classifier: all convolutions on int8 kernels, output close to interpreter and onnxruntime', async () => {
  const { model, inputs, convs } = quantizedClassifier();
  expect(convs).toBe(53);

  const rt = await Runtime.load(model);
  try {
    expect(rt.stepCounts['conv-q8']).toBe(convs);
    expect(rt.fallbacks).not.toContain('Conv');
    const observed = new Map<string, Tensor>();
    const ours = rt.run(inputs, (name, t) => observed.set(name, t));
    const reference = new Map<string, Tensor>();
    interpret(model.graph, inputs, { opset: model.opset, observe: (v, t) => reference.set(v.name, t) });
    // the first convolution sees identical inputs: within one step, almost always equal
    const first = rt.plan.steps.find((s) => s.kind === 'conv-q8')!;
    const [a, b] = [observed.get(stepOutputs(first)[0]!)!, reference.get(stepOutputs(first)[0]!)!];
    let mismatches = 0;
    for (let i = 0; i < a.data.length; i++) {
      const d = Math.abs(Number(a.data[i]) - Number(b.data[i]));
      expect(d).toBeLessThanOrEqual(1);
      if (d) mismatches++;
    }
    expect(mismatches).toBeLessThanOrEqual(a.data.length / 100);
    const ort = await runOrt(encodeOnnx(model), inputs);
    for (const [name, want] of Object.entries(interpret(model.graph, inputs, { opset: model.opset }))) {
      const got = ours[name]!.data as Float32Array;
      for (const other of [want, ort[name]!]) {
        const w = other.data as Float32Array;
        expect(ours[name]!.shape).toEqual(other.shape);
        for (let i = 0; i < w.length; i++) expect(Math.abs(got[i]! - w[i]!)).toBeLessThanOrEqual(0.05);
        const argmax = (a: Float32Array) => a.indexOf(Math.max(...a));
        expect(argmax(got)).toBe(argmax(w));
      }
    }
  } finally {
    rt.dispose();
  }
});

/** One quantized convolution of the model rebuilt alone, reading `x` (its recorded uint8 input). */
function singleConv(conv: Node, opset: number): Model {
  const m = new Model(new Graph('layer'));
  m.opsetImports.set('', opset);
  const g = m.graph;
  const copyConst = (v: Value | null) => (v ? g.addConstant(v.name, constantOf(v)!) : null);
  const copyDq = (v: Value, input: Value) => {
    const dq = v.producer!;
    return g.addNode({ op: 'DequantizeLinear', inputs: [input, copyConst(dq.input(1)), copyConst(dq.input(2))], attrs: dq.attrs, outputs: ['dq'] }).output(0);
  };
  const x = g.addInput('x', { dtype: 'uint8' });
  const w = conv.input(1)!;
  const b = conv.input(2);
  const y = g.addNode({
    op: 'Conv', attrs: conv.attrs, outputs: ['y'],
    inputs: [copyDq(conv.input(0)!, x), copyDq(w, copyConst(w.producer!.input(0))!), b ? copyDq(b, copyConst(b.producer!.input(0))!) : null],
  }).output(0);
  const q = conv.output(0).uses[0]!.user as Node;
  const out = g.addNode({ op: 'QuantizeLinear', inputs: [y, copyConst(q.input(1)), copyConst(q.input(2))], outputs: ['q'] }).output(0);
  g.addOutput(out);
  return m;
}

// The same convolutions one at a time on the interpreter's own recorded inputs: no inherited
// differences, so every output is within one step and almost all are equal.
test('each quantized convolution of the classifier alone: within one step of the interpreter', async () => {
  const { model, inputs } = quantizedClassifier();
  const recorded = new Map<string, Tensor>();
  interpret(model.graph, inputs, { opset: model.opset, observe: (v, t) => recorded.set(v.name, t) });
  const library = await KernelLibrary.load();
  let mismatchTotal = 0;
  let total = 0;
  for (const conv of model.graph.nodeList().filter((n) => n.op === 'Conv')) {
    const layer = singleConv(conv, model.opset);
    const x = { x: recorded.get(conv.input(0)!.producer!.input(0)!.name)! };
    const rt = await Runtime.load(layer, { library });
    try {
      expect(rt.plan.steps.map((s) => s.kind), conv.label).toEqual(['conv-q8']);
      const got = rt.run(x).q!;
      const want = interpret(layer.graph, x, { opset: model.opset }).q!;
      let mismatches = 0;
      for (let i = 0; i < want.data.length; i++) {
        const d = Math.abs(Number(got.data[i]) - Number(want.data[i]));
        expect(d, conv.label).toBeLessThanOrEqual(1);
        if (d) mismatches++;
      }
      mismatchTotal += mismatches;
      total += want.data.length;
    } finally {
      rt.dispose();
    }
  }
  // one-step differences only at near-ties of the two roundings
  expect(mismatchTotal / total).toBeLessThanOrEqual(0.01);
});
