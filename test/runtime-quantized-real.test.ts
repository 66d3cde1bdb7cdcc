/**
 * A QDQ-quantized PaddleOCR classifier in the runtime: every Conv of the float model (upgraded to
 * opset 13 by the upgrade-opset pass) is wrapped
 * the way static quantizers do it (uint8 activations with ranges measured by the interpreter on
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
import { Runtime, encodeOnnx, loadOnnx, stepOutputs } from '@slimc/backends';
import { interpret, makeTensor, toFloat64, type Graph, type Model, type Node, type Tensor, type Value } from '@slimc/ir';
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

test('QDQ PaddleOCR classifier: all convolutions on int8 kernels, output close to interpreter and onnxruntime', async () => {
  // per-axis DequantizeLinear needs opset 13; the model is opset 9
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
  const convs = quantizeConvs(model, ranges);
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
