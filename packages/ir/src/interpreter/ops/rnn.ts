/**
 * Recurrent layers: LSTM, GRU and RNN, all directions, both layouts, custom activations,
 * sequence_lens, initial states, LSTM peepholes, clip, input_forget and linear_before_reset.
 *
 * Per step t and direction (gates in ONNX order: LSTM i,o,f,c; GRU z,r,h):
 *   LSTM  i = f(Xt Wi + H Ri + Wbi + Rbi + Pi*C)   f = f(... + Pf*C)   c~ = g(Xt Wc + H Rc + b)
 *         C' = f*C + i*c~    o = f(... + Po*C')    H' = o*h(C')
 *   GRU   z = f(..), r = f(..), h~ = g(Xt Wh + (r*H) Rh + b) or, linear_before_reset,
 *         g(Xt Wh + r*(H Rh + Rbh) + Wbh);  H' = (1-z)*h~ + z*H
 *   RNN   H' = f(Xt Wi + H Ri + Wbi + Rbi)
 * A batch entry with sequence length L runs steps 0..L-1 (reverse: L-1..0); its Y rows past L
 * are zero and its final state is the state after step L.
 */
import type { Tensor } from '../../tensor.js';
import { intsOf, numbersOf, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { erf } from './elementwise.js';
import { gemmAccumulate } from './matmul.js';

type Activation = (x: number) => number;

const sigmoid: Activation = (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** Activation by ONNX name; alpha/beta come from the node's lists, in order of use. */
function activation(ctx: KernelContext, name: string, take: (kind: 'alpha' | 'beta', dflt: number) => number): Activation {
  switch (name.toLowerCase()) {
    case 'sigmoid':
      return sigmoid;
    case 'tanh':
      return Math.tanh;
    case 'relu':
      return (x) => (x > 0 ? x : 0);
    case 'affine': {
      const a = take('alpha', 1);
      const b = take('beta', 0);
      return (x) => a * x + b;
    }
    case 'leakyrelu': {
      const a = take('alpha', 0.01);
      return (x) => (x >= 0 ? x : a * x);
    }
    case 'thresholdedrelu': {
      const a = take('alpha', 1);
      return (x) => (x > a ? x : 0);
    }
    case 'scaledtanh': {
      const a = take('alpha', 1);
      const b = take('beta', 1);
      return (x) => a * Math.tanh(b * x);
    }
    case 'hardsigmoid': {
      const a = take('alpha', 0.2);
      const b = take('beta', 0.5);
      return (x) => Math.max(0, Math.min(1, a * x + b));
    }
    case 'elu': {
      const a = take('alpha', 1);
      return (x) => (x >= 0 ? x : a * (Math.exp(x) - 1));
    }
    case 'softsign':
      return (x) => x / (1 + Math.abs(x));
    case 'softplus':
      return (x) => Math.log1p(Math.exp(x));
    case 'gelu':
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    default:
      throw ctx.unsupported(`activation ${name} is not supported`, 'attribute activations');
  }
}

interface RecurrentSetup {
  seq: number;
  batch: number;
  inputSize: number;
  hidden: number;
  dirs: number;
  reverseOnly: boolean;
  layout: number;
  /** X as [seq, batch, input]. */
  x: Float64Array;
  lengths: number[];
  /** Activations per direction. */
  acts: Activation[][];
  clip: number;
}

function setup(ctx: KernelContext, inputs: readonly (Tensor | null)[], gates: number, defaults: string[]): RecurrentSetup {
  const xt = ctx.input(inputs, 0);
  const w = ctx.input(inputs, 1);
  if (xt.shape.length !== 3) throw ctx.error(`X must be 3-D, got rank ${xt.shape.length}`, 'input 0');
  const layout = ctx.int('layout', 0);
  const [seq, batch] = layout === 0 ? [xt.shape[0]!, xt.shape[1]!] : [xt.shape[1]!, xt.shape[0]!];
  const inputSize = xt.shape[2]!;
  const direction = ctx.string('direction', 'forward');
  const dirs = direction === 'bidirectional' ? 2 : 1;
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) throw ctx.error(`unknown direction ${direction}`, 'attribute direction');
  const hidden = ctx.int('hidden_size', w.shape[1]! / gates);
  if (w.shape[0] !== dirs || w.shape[1] !== gates * hidden || w.shape[2] !== inputSize) {
    throw ctx.error(`W of shape [${w.shape.join(',')}] does not match ${dirs} direction(s) x ${gates}*${hidden} x ${inputSize}`, 'input 1');
  }
  const xv = numbersOf(xt);
  const x = new Float64Array(seq * batch * inputSize);
  for (let t = 0; t < seq; t++) {
    for (let b = 0; b < batch; b++) {
      const src = (layout === 0 ? t * batch + b : b * seq + t) * inputSize;
      for (let i = 0; i < inputSize; i++) x[(t * batch + b) * inputSize + i] = xv[src + i]!;
    }
  }
  const lengths = inputs[4] ? intsOf(inputs[4]) : new Array<number>(batch).fill(seq);
  const names = ctx.strings('activations') ?? [...defaults, ...(dirs === 2 ? defaults : [])];
  if (names.length !== defaults.length * dirs) throw ctx.error(`expected ${defaults.length * dirs} activations, got ${names.length}`, 'attribute activations');
  const alphas = [...(ctx.floats('activation_alpha') ?? [])];
  const betas = [...(ctx.floats('activation_beta') ?? [])];
  const take = (kind: 'alpha' | 'beta', dflt: number) => (kind === 'alpha' ? alphas : betas).shift() ?? dflt;
  const all = names.map((n) => activation(ctx, n, take));
  const acts = Array.from({ length: dirs }, (_, d) => all.slice(d * defaults.length, (d + 1) * defaults.length));
  return { seq, batch, inputSize, hidden, dirs, reverseOnly: direction === 'reverse', layout, x, lengths, acts, clip: ctx.float('clip', Infinity) };
}

/** Rows [d] of a [dirs, rows, cols] weight, transposed to [cols, rows] for gemmAccumulate. */
function transposedSlice(t: Tensor, d: number): Float64Array {
  const [, rows, cols] = t.shape as [number, number, number];
  const src = numbersOf(t);
  const out = new Float64Array(rows * cols);
  const base = d * rows * cols;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + r * cols + c]!;
  return out;
}

/** Initial state [dirs, batch, hidden] (layout 0) or [batch, dirs, hidden] (layout 1) for direction d. */
function initialState(s: RecurrentSetup, t: Tensor | null, d: number): Float64Array {
  const out = new Float64Array(s.batch * s.hidden);
  if (!t) return out;
  const v = numbersOf(t);
  for (let b = 0; b < s.batch; b++) {
    const src = (s.layout === 0 ? d * s.batch + b : b * s.dirs + d) * s.hidden;
    for (let h = 0; h < s.hidden; h++) out[b * s.hidden + h] = v[src + h]!;
  }
  return out;
}

/** Output tensors Y and the final states in the node's layout. */
class RecurrentOutputs {
  readonly y: Float64Array;
  readonly finals: Float64Array[];
  constructor(
    readonly s: RecurrentSetup,
    states: number,
  ) {
    this.y = new Float64Array(s.seq * s.dirs * s.batch * s.hidden);
    this.finals = Array.from({ length: states }, () => new Float64Array(s.dirs * s.batch * s.hidden));
  }

  writeY(t: number, d: number, b: number, h: Float64Array): void {
    const { s } = this;
    const off = s.layout === 0 ? ((t * s.dirs + d) * s.batch + b) * s.hidden : ((b * s.seq + t) * s.dirs + d) * s.hidden;
    for (let k = 0; k < s.hidden; k++) this.y[off + k] = h[b * s.hidden + k]!;
  }

  writeFinal(k: number, d: number, state: Float64Array): void {
    const { s } = this;
    for (let b = 0; b < s.batch; b++) {
      const off = s.layout === 0 ? (d * s.batch + b) * s.hidden : (b * s.dirs + d) * s.hidden;
      for (let h = 0; h < s.hidden; h++) this.finals[k]![off + h] = state[b * s.hidden + h]!;
    }
  }

  tensors(dtype: Tensor['dtype']): Tensor[] {
    const { s } = this;
    const yShape = s.layout === 0 ? [s.seq, s.dirs, s.batch, s.hidden] : [s.batch, s.seq, s.dirs, s.hidden];
    const hShape = s.layout === 0 ? [s.dirs, s.batch, s.hidden] : [s.batch, s.dirs, s.hidden];
    return [tensorFrom(dtype, yShape, this.y), ...this.finals.map((f) => tensorFrom(dtype, hShape, f))];
  }
}

/**
 * Runs one direction: per step, `cell(b, xw, hr)` updates batch entry b from the precomputed
 * input projection row xw (X_t W^T + Wb) and recurrent projection row hr (H R^T + Rb).
 */
function runDirection(
  s: RecurrentSetup,
  reverse: boolean,
  gates: number,
  wT: Float64Array,
  rT: Float64Array,
  wb: Float64Array,
  rb: Float64Array,
  h: Float64Array,
  cell: (b: number, xw: Float64Array, xOff: number, hr: Float64Array, hOff: number) => void,
  emit: (t: number, b: number) => void,
): void {
  const g = gates * s.hidden;
  const xw = new Float64Array(s.seq * s.batch * g);
  for (let r = 0; r < s.seq * s.batch; r++) xw.set(wb, r * g);
  gemmAccumulate(s.seq * s.batch, g, s.inputSize, s.x, 0, wT, 0, xw, 0);
  const hr = new Float64Array(s.batch * g);
  for (let step = 0; step < s.seq; step++) {
    for (let b = 0; b < s.batch; b++) hr.set(rb, b * g);
    gemmAccumulate(s.batch, g, s.hidden, h, 0, rT, 0, hr, 0);
    for (let b = 0; b < s.batch; b++) {
      const len = s.lengths[b]!;
      if (step >= len) continue;
      const t = reverse ? len - 1 - step : step;
      cell(b, xw, (t * s.batch + b) * g, hr, b * g);
      emit(t, b);
    }
  }
}

function biases(inputs: readonly (Tensor | null)[], d: number, g: number): [Float64Array, Float64Array] {
  const wb = new Float64Array(g);
  const rb = new Float64Array(g);
  const bt = inputs[3];
  if (bt) {
    const v = numbersOf(bt);
    for (let k = 0; k < g; k++) {
      wb[k] = v[d * 2 * g + k]!;
      rb[k] = v[d * 2 * g + g + k]!;
    }
  }
  return [wb, rb];
}

const clipTo = (x: number, c: number) => (x < -c ? -c : x > c ? c : x);

const lstm: Kernel = (ctx, inputs) => {
  const s = setup(ctx, inputs, 4, ['Sigmoid', 'Tanh', 'Tanh']);
  const H = s.hidden;
  const inputForget = ctx.int('input_forget', 0) === 1;
  const out = new RecurrentOutputs(s, 2);
  const p = inputs[7] ? numbersOf(inputs[7]) : null;
  for (let d = 0; d < s.dirs; d++) {
    const reverse = s.reverseOnly || d === 1;
    const [f, g, hAct] = s.acts[d]! as [Activation, Activation, Activation];
    const [wb, rb] = biases(inputs, d, 4 * H);
    const h = initialState(s, inputs[5] ?? null, d);
    const c = initialState(s, inputs[6] ?? null, d);
    const pi = (k: number) => (p ? p[d * 3 * H + k]! : 0);
    const po = (k: number) => (p ? p[d * 3 * H + H + k]! : 0);
    const pf = (k: number) => (p ? p[d * 3 * H + 2 * H + k]! : 0);
    runDirection(
      s,
      reverse,
      4,
      transposedSlice(ctx.input(inputs, 1), d),
      transposedSlice(ctx.input(inputs, 2), d),
      wb,
      rb,
      h,
      (b, xw, xo, hr, ho) => {
        for (let k = 0; k < H; k++) {
          const cPrev = c[b * H + k]!;
          const gate = (q: number) => clipTo(xw[xo + q * H + k]! + hr[ho + q * H + k]!, s.clip);
          const ig = f(gate(0) + pi(k) * cPrev);
          const fg = inputForget ? 1 - ig : f(gate(2) + pf(k) * cPrev);
          const cNew = fg * cPrev + ig * g(gate(3));
          const og = f(gate(1) + po(k) * cNew);
          c[b * H + k] = cNew;
          // The recurrent projection of this step is already computed, so H updates in place.
          h[b * H + k] = og * hAct(cNew);
        }
      },
      (t, b) => out.writeY(t, d, b, h),
    );
    out.writeFinal(0, d, h);
    out.writeFinal(1, d, c);
  }
  return out.tensors(ctx.input(inputs, 0).dtype);
};

const gru: Kernel = (ctx, inputs) => {
  const s = setup(ctx, inputs, 3, ['Sigmoid', 'Tanh']);
  const H = s.hidden;
  const linearBeforeReset = ctx.int('linear_before_reset', 0) === 1;
  const out = new RecurrentOutputs(s, 1);
  for (let d = 0; d < s.dirs; d++) {
    const reverse = s.reverseOnly || d === 1;
    const [f, g] = s.acts[d]! as [Activation, Activation];
    const [wb, rb] = biases(inputs, d, 3 * H);
    const rT = transposedSlice(ctx.input(inputs, 2), d);
    const h = initialState(s, inputs[5] ?? null, d);
    const rh = new Float64Array(H);
    runDirection(
      s,
      reverse,
      3,
      transposedSlice(ctx.input(inputs, 1), d),
      rT,
      wb,
      rb,
      h,
      (b, xw, xo, hr, ho) => {
        const z = new Float64Array(H);
        const r = new Float64Array(H);
        for (let k = 0; k < H; k++) {
          z[k] = f(clipTo(xw[xo + k]! + hr[ho + k]!, s.clip));
          r[k] = f(clipTo(xw[xo + H + k]! + hr[ho + H + k]!, s.clip));
        }
        if (!linearBeforeReset) {
          // (r * H) Rh + Rbh needs its own product: the shared projection used H, not r*H.
          for (let k = 0; k < H; k++) rh[k] = rb[2 * H + k]!;
          for (let j = 0; j < H; j++) {
            const v = r[j]! * h[b * H + j]!;
            if (v === 0) continue;
            for (let k = 0; k < H; k++) rh[k] += v * rT[j * 3 * H + 2 * H + k]!;
          }
        }
        for (let k = 0; k < H; k++) {
          const rec = linearBeforeReset ? r[k]! * hr[ho + 2 * H + k]! : rh[k]!;
          const cand = g(clipTo(xw[xo + 2 * H + k]! + rec, s.clip));
          h[b * H + k] = (1 - z[k]!) * cand + z[k]! * h[b * H + k]!;
        }
      },
      (t, b) => out.writeY(t, d, b, h),
    );
    out.writeFinal(0, d, h);
  }
  return out.tensors(ctx.input(inputs, 0).dtype);
};

const rnn: Kernel = (ctx, inputs) => {
  const s = setup(ctx, inputs, 1, ['Tanh']);
  const H = s.hidden;
  const out = new RecurrentOutputs(s, 1);
  for (let d = 0; d < s.dirs; d++) {
    const [f] = s.acts[d]! as [Activation];
    const [wb, rb] = biases(inputs, d, H);
    const h = initialState(s, inputs[5] ?? null, d);
    runDirection(
      s,
      s.reverseOnly || d === 1,
      1,
      transposedSlice(ctx.input(inputs, 1), d),
      transposedSlice(ctx.input(inputs, 2), d),
      wb,
      rb,
      h,
      (b, xw, xo, hr, ho) => {
        for (let k = 0; k < H; k++) h[b * H + k] = f(clipTo(xw[xo + k]! + hr[ho + k]!, s.clip));
      },
      (t, b) => out.writeY(t, d, b, h),
    );
    out.writeFinal(0, d, h);
  }
  return out.tensors(ctx.input(inputs, 0).dtype);
};

export const rnnKernels: Record<string, Kernel> = {
  LSTM: lstm,
  GRU: gru,
  RNN: rnn,
};

