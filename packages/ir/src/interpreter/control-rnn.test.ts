import { describe, expect, it } from 'vitest';
import { Graph, type Attribute } from '../graph.js';
import { SlimcError } from '../errors.js';
import { makeTensor, type Tensor } from '../tensor.js';
import { interpret, runNode, runOp } from './interpret.js';

const f32 = (shape: number[], data: number[]) => makeTensor('float32', shape, data);
const values = (x: Tensor) => Array.from(x.data as ArrayLike<number | bigint>, Number);
const str = (value: string): Attribute => ({ kind: 'string', value });
const int = (value: number): Attribute => ({ kind: 'int', value });

describe('If and Loop', () => {
  /** main(x, c): If(c) then x * w else x + w, with w a constant of the main graph captured by both branches. */
  function ifGraph() {
    const g = new Graph('main');
    const x = g.addInput('x', { dtype: 'float32', shape: [2] });
    const c = g.addInput('c', { dtype: 'bool', shape: [] });
    const w = g.addConstant('w', f32([2], [10, 20]));
    const node = g.addNode({ op: 'If', inputs: [c], outputs: ['y'] });
    const branch = (op: string) => {
      const b = new Graph(op);
      node.setAttr(op === 'Mul' ? 'then_branch' : 'else_branch', { kind: 'graph', value: b });
      const n = b.addNode({ op, inputs: [x, w] });
      b.addOutput(n.output(0));
    };
    branch('Mul');
    branch('Add');
    g.addOutput(node.output(0));
    return { g, node };
  }

  it('If runs the chosen branch with captured outer values', () => {
    const { g } = ifGraph();
    const x = f32([2], [1, 2]);
    expect(values(interpret(g, { x, c: makeTensor('bool', [], [1]) }).y!)).toEqual([10, 40]);
    expect(values(interpret(g, { x, c: makeTensor('bool', [], [0]) }).y!)).toEqual([11, 22]);
  });

  it('runNode resolves captures through the given lookup and fails clearly without it', () => {
    const { g, node } = ifGraph();
    const x = g.inputs[0]!;
    const lookup = (v: typeof x) => (v === x ? f32([2], [3, 4]) : undefined);
    expect(values(runNode(node, [makeTensor('bool', [], [1])], 17, lookup)[0]!)).toEqual([30, 80]);
    expect(() => runNode(node, [makeTensor('bool', [], [1])], 17)).toThrow(SlimcError);
  });

  it('Loop carries values, stacks scan outputs and stops on the body condition', () => {
    // body(i, cond, acc) -> (acc' < 10, acc' = acc + i, scan = acc')
    const g = new Graph('main');
    const m = g.addConstant('M', makeTensor('int64', [], [100n]));
    const acc0 = g.addConstant('acc0', makeTensor('int64', [], [0n]));
    const loop = g.addNode({ op: 'Loop', inputs: [m, null, acc0], outputs: ['acc', 'trace'] });
    const body = new Graph('body');
    loop.setAttr('body', { kind: 'graph', value: body });
    const i = body.addInput('i', { dtype: 'int64', shape: [] });
    body.addInput('cond_in', { dtype: 'bool', shape: [] });
    const acc = body.addInput('acc_in', { dtype: 'int64', shape: [] });
    const next = body.addNode({ op: 'Add', inputs: [acc, i] });
    const limit = body.addConstant('limit', makeTensor('int64', [], [10n]));
    const more = body.addNode({ op: 'Less', inputs: [next.output(0), limit] });
    const copy = body.addNode({ op: 'Identity', inputs: [next.output(0)] });
    body.addOutput(more.output(0));
    body.addOutput(next.output(0));
    body.addOutput(copy.output(0));
    g.addOutput(loop.output(0));
    g.addOutput(loop.output(1));
    const out = interpret(g, {});
    // acc: 0, 1, 3, 6, 10 -> stops after producing 10.
    expect(values(out.acc!)).toEqual([10]);
    expect(out.trace!.shape).toEqual([5]);
    expect(values(out.trace!)).toEqual([0, 1, 3, 6, 10]);
  });
});

/** Scalar LSTM (hidden 1, input 1) from the equations, default activations, no peepholes. */
function scalarLstm(xs: number[], w: number[], r: number[], b: number[]): { ys: number[]; h: number; c: number } {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  let h = 0;
  let c = 0;
  const ys: number[] = [];
  for (const x of xs) {
    const gate = (k: number) => x * w[k]! + h * r[k]! + b[k]! + b[4 + k]!;
    const i = sig(gate(0));
    const o = sig(gate(1));
    const f = sig(gate(2));
    c = f * c + i * Math.tanh(gate(3));
    h = o * Math.tanh(c);
    ys.push(h);
  }
  return { ys, h, c };
}

describe('LSTM', () => {
  const w = [0.5, -0.3, 0.8, 0.2];
  const r = [0.1, 0.4, -0.2, 0.3];
  const b = [0.05, -0.1, 0.2, 0, 0.01, 0.02, -0.03, 0.04];
  const W = f32([1, 4, 1], w);
  const R = f32([1, 4, 1], r);
  const B = f32([1, 8], b);

  it('follows the LSTM equations and honours sequence_lens per batch entry', () => {
    // seq 3, batch 2: entry 0 runs 3 steps, entry 1 only 2.
    const xs = [
      [0.5, -1, 2],
      [1, 0.25, 9],
    ];
    const X = f32([3, 2, 1], [xs[0]![0]!, xs[1]![0]!, xs[0]![1]!, xs[1]![1]!, xs[0]![2]!, xs[1]![2]!]);
    const lens = makeTensor('int32', [2], [3, 2]);
    const [y, yh, yc] = runOp('LSTM', [X, W, R, B, lens], { hidden_size: int(1) }, { outputs: 3 });
    const e0 = scalarLstm(xs[0]!, w, r, b);
    const e1 = scalarLstm(xs[1]!.slice(0, 2), w, r, b);
    expect(y!.shape).toEqual([3, 1, 2, 1]);
    const yv = values(y!);
    [e0.ys[0]!, e1.ys[0]!, e0.ys[1]!, e1.ys[1]!, e0.ys[2]!, 0].forEach((v, k) => expect(yv[k]).toBeCloseTo(v, 6));
    expect(values(yh!)[0]).toBeCloseTo(e0.h, 6);
    expect(values(yh!)[1]).toBeCloseTo(e1.h, 6);
    expect(values(yc!)[1]).toBeCloseTo(e1.c, 6);
  });

  it('runs the reverse direction from the last valid step, in batch-major layout', () => {
    const seq = [0.3, -0.7, 1.1];
    const [y, yh] = runOp('LSTM', [f32([1, 3, 1], seq), W, R, B], { hidden_size: int(1), direction: str('reverse'), layout: int(1) }, { outputs: 2 });
    const e = scalarLstm([...seq].reverse(), w, r, b);
    expect(y!.shape).toEqual([1, 3, 1, 1]);
    // Y is indexed by time: the reverse pass's last state lands at t = 0.
    expect(values(y!)[0]).toBeCloseTo(e.ys[2]!, 6);
    expect(values(y!)[2]).toBeCloseTo(e.ys[0]!, 6);
    expect(values(yh!)[0]).toBeCloseTo(e.h, 6);
  });

  it('rejects weights that do not match the declared directions', () => {
    expect(() => runOp('LSTM', [f32([1, 1, 1], [0]), W, R, B], { hidden_size: int(1), direction: str('bidirectional') })).toThrow(/W of shape/);
  });
});
