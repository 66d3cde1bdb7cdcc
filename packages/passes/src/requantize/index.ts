/**
 * requantize: brings int32 accumulators down to 8 bits (TensorFlow's Requantize /
 * QuantizeDownAndShrinkRange), so that what follows an integer MatMul/Conv can stay integer.
 *
 * Matched (the form onnxruntime's dynamic quantization emits):
 *   %acc: int32 = MatMulInteger(...) | ConvInteger(...)
 *   %f = Cast(%acc, to=float)
 *   %y = Mul(%f, s_acc) | Mul(s_acc, %f)            s_acc float32 (s_a · s_b): a constant, or computed at
 *                                                   run time as onnxruntime's quantize_dynamic does
 * or, when the accumulator carries its grid as `Value.quant` (int32, scale s_acc), the Cast alone.
 * The real value of an accumulator code is acc · s_acc.
 *
 * Static (a range [min, max] for %y from the `ranges` option, `name=min:max` with the name of %y or
 * %acc, or an 8-bit `Value.quant` on %y from calibration): the output grid (s_y, z_y) is chosen as
 * the quantizer does (quantize/params.ts: the range widened to include 0), and
 *   ONNX target:   %q = QuantizeLinear(%y, s_y, z_y);  %y' = DequantizeLinear(%q, s_y, z_y)
 *       i.e. the Cast -> Mul(s_acc) chain followed by QuantizeLinear. This is the float reference
 *       itself: q = sat(roundHalfEven(float32(acc · s_acc) / s_y) + z_y). (Folding s_acc / s_y
 *       into one Mul ratio followed by a unit-scale QuantizeLinear is equivalent up to one float
 *       rounding; keeping the original Mul keeps the graph's numerics exactly.)
 *   slimc target:  %q = slimc:Requantize(%acc) {M = s_acc / s_y as multiplier/shift, z_y};
 *                  %y' = DequantizeLinear(%q, s_y, z_y)
 *       one integer rescale (requantize/slimc-requantize.ts), within one LSB of the float reference.
 *       Needs s_acc to be a scalar constant; otherwise the ONNX form is emitted for this target too.
 *
 * Dynamic (no range known, `mode=dynamic` or `auto`): the range is measured per tensor at run time,
 * as QuantizeDownAndShrinkRange does, with standard ops:
 *   lo = Min(ReduceMin(%y), 0);  hi = Max(ReduceMax(%y), 0)           (0 stays representable)
 *   s  = Max((hi - lo) / (qmax - qmin), 2^-126)                      (an all-zero tensor gets a tiny scale, not 0/0)
 *   z  = Cast(qmin - Round(lo / s), to=int8|uint8)                    (in [qmin, qmax] since lo <= 0 <= hi)
 *   %q = QuantizeLinear(%y, s, z);  %y' = DequantizeLinear(%q, s, z)
 * For uint8 this is exactly DynamicQuantizeLinear's choice of s and z; for int8 the same grid
 * shifted by 128. Dynamic ranges stay in this ONNX form for both targets.
 *
 * Every use of %y is rewired to %y' (the value now lies on the 8-bit grid: outputs move by up to
 * s_y / 2, plus saturation outside a static range). %q and %y' carry the grid as `Value.quant`.
 * A Mul whose output already feeds a QuantizeLinear is left alone, so a second run changes nothing.
 */
import { type DType, type Node, type QuantParams, type Value, SlimcError, dtypeToOnnx, makeTensor } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { type MatchFailure, type Matcher, type Rewriter, PatternSet, definePattern, isDefaultDomain } from '../core/pattern.js';
import { type QuantDType, chooseQuantParams, quantizedRange } from '../quantize/params.js';
import { createSlimcRequantize, integerRescale } from './slimc-requantize.js';
import { createNodeAfter, rewireUsesExcept } from '../cancel-qdq/rewire.js';
import { quantizedName, scaleName, zeroPointName } from '../quantize-model/names.js';

export * from './slimc-requantize.js';

const ACCUMULATING_OPS = ['MatMulInteger', 'ConvInteger'];
const SMALLEST_NORMAL_FLOAT32 = 2 ** -126;

export interface RequantizePassOptions {
  mode: string;
  target: string;
  dtype: string;
  ranges: string[];
}

/** Parses `name=min:max` entries. */
export function parseRequantizeRanges(entries: readonly string[]): Map<string, { min: number; max: number }> {
  const out = new Map<string, { min: number; max: number }>();
  for (const e of entries) {
    const m = /^(.+)=([^:]+):([^:]+)$/.exec(e);
    const min = m ? Number(m[2]) : NaN;
    const max = m ? Number(m[3]) : NaN;
    if (!m || !Number.isFinite(min) || !Number.isFinite(max) || min > max) {
      throw new SlimcError('invalid-argument', `expected name=min:max with min <= max, got "${e}"`, { pass: 'requantize', field: 'option ranges' });
    }
    out.set(m[1]!, { min, max });
  }
  return out;
}

interface AccumulatorChain {
  acc: Value;
  /** The float value acc · s_acc that gets requantized. */
  y: Value;
  /** s_acc when it is a float32 scalar constant (the slimc form needs it); undefined for a run-time or per-channel scale. */
  accScale: number | undefined;
  grid: { scale: number; zeroPoint: number } | undefined;
}

function accumulatorOf(v: Value | null, m: Matcher): Value | undefined {
  const cast = m.producer(v, 'Cast');
  if (!cast || cast.getInt('to') !== dtypeToOnnx('float32')) return undefined;
  const acc = cast.input(0);
  return acc && m.producer(acc, ACCUMULATING_OPS) ? acc : undefined;
}

function scalarConstant(v: Value | null, m: Matcher): number | undefined {
  const t = m.constant(v);
  return t && t.dtype === 'float32' && t.data.length === 1 ? (t.data as Float32Array)[0] : undefined;
}

/** The static grid of `y` from the options or its annotation. */
function staticGrid(y: Value, acc: Value, dtype: QuantDType, ranges: Map<string, { min: number; max: number }>): { scale: number; zeroPoint: number } | undefined {
  const range = ranges.get(y.name) ?? ranges.get(acc.name);
  if (range) return chooseQuantParams({ ...range, dtype });
  // A calibrated 8-bit grid recorded on the rescaled value, or on the accumulator itself.
  for (const q of [y.quant, acc.quant]) {
    if (q && q.dtype === dtype && q.axis === undefined && q.scale.length === 1) return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
  }
  return undefined;
}

function matchChain(node: Node, m: Matcher, dtype: QuantDType, ranges: Map<string, { min: number; max: number }>, mode: string): AccumulatorChain | MatchFailure {
  if (!isDefaultDomain(node)) return m.fail('op of another domain');
  let acc: Value | undefined;
  let accScale: number | undefined;
  if (node.op === 'Mul') {
    const k = accumulatorOf(node.input(0), m) ? 0 : 1;
    acc = accumulatorOf(node.input(k), m);
    const scale = node.input(1 - k);
    if (!acc || !scale || (scale.type && scale.type.dtype !== 'float32')) return m.fail('not Mul(Cast(int32 accumulator), float32 scale)');
    accScale = scalarConstant(scale, m);
  } else {
    acc = accumulatorOf(node.output(0), m);
    const q = acc?.quant;
    if (!acc || !q || q.dtype !== 'int32' || q.scale.length !== 1 || q.zeroPoint[0] !== 0) return m.fail('not a Cast of an accumulator with an int32 grid');
    accScale = q.scale[0]!;
    // The Mul form wins when the Cast feeds one.
    if (node.output(0).uses.some((u) => 'op' in u.user && (u.user as Node).op === 'Mul')) return m.fail('handled at the Mul');
  }
  if (accScale !== undefined && (!(accScale > 0) || !Number.isFinite(accScale))) return m.fail(`accumulator scale ${accScale} is not finite and > 0`);
  const y = node.output(0);
  if (y.uses.some((u) => 'op' in u.user && (u.user as Node).op === 'QuantizeLinear')) return m.fail('already brought down to 8 bits');
  if (!y.hasUses) return m.fail('unused');
  const grid = staticGrid(y, acc, dtype, ranges);
  if (!grid && mode === 'static') return m.fail('no range known');
  if (grid && mode === 'dynamic') return { acc, y, accScale, grid: undefined };
  return { acc, y, accScale, grid };
}

function annotation(dtype: QuantDType, scale: number, zeroPoint: number): QuantParams {
  return { scale: Float32Array.of(scale), zeroPoint: Int32Array.of(zeroPoint), dtype, bits: 8 };
}

function emitStatic(node: Node, c: AccumulatorChain, dtype: QuantDType, target: string, rw: Rewriter): void {
  const { scale, zeroPoint } = c.grid!;
  const g = node.graph;
  const s = rw.addConstant(g, scaleName(c.y.name), makeTensor('float32', [], [scale]));
  const z = rw.addConstant(g, zeroPointName(c.y.name), makeTensor(dtype, [], [zeroPoint]));
  const grid = annotation(dtype, scale, zeroPoint);
  let q: Value;
  let keep: Node[];
  const qType = c.y.type?.shape ? { dtype: dtype as DType, shape: c.y.type.shape } : undefined;
  if (target === 'slimc' && c.accScale !== undefined) {
    const rq = createSlimcRequantize(rw, node, c.acc, integerRescale(c.accScale / scale, 0, zeroPoint, dtype), { name: `${c.y.name}_requantized`, type: qType });
    q = rq.output(0);
    keep = [];
  } else {
    const qn = createNodeAfter(rw, node, { op: 'QuantizeLinear', inputs: [c.y, s, z], outputs: [{ name: quantizedName(c.y.name), type: qType }] });
    q = qn.output(0);
    keep = [qn];
  }
  q.quant = grid;
  const dq = createNodeAfter(rw, q.producer!, { op: 'DequantizeLinear', inputs: [q, s, z], outputs: [{ name: `${c.y.name}_requantized_float`, type: c.y.type }] });
  dq.output(0).quant = grid;
  rewireUsesExcept(rw, c.y, dq.output(0), keep, '_float');
}

function emitDynamic(node: Node, c: AccumulatorChain, dtype: QuantDType, rw: Rewriter): void {
  const g = node.graph;
  const [qmin, qmax] = quantizedRange({ dtype });
  const k = (name: string, v: number, dt: DType = 'float32') => rw.addConstant(g, `${c.y.name}_${name}`, makeTensor(dt, [], [v]));
  let last = node;
  const add = (op: string, inputs: (Value | null)[], attrs: Record<string, { kind: 'int'; value: number }> = {}, type?: { dtype: DType; shape?: readonly (number | string | null)[] }) => {
    last = createNodeAfter(rw, last, { op, inputs, attrs, outputs: [{ name: `${c.y.name}_${op.toLowerCase()}`, type }] });
    return last.output(0);
  };
  const scalar = { dtype: 'float32' as DType, shape: [] };
  // keepdims=0 without axes reduces every axis to a scalar (axes is an input from opset 18 on, an attribute before; omitted either way).
  const lo = add('Min', [add('ReduceMin', [c.y], { keepdims: { kind: 'int', value: 0 } }, scalar), k('zero', 0)], {}, scalar);
  const hi = add('Max', [add('ReduceMax', [c.y], { keepdims: { kind: 'int', value: 0 } }, scalar), k('zero_', 0)], {}, scalar);
  const scale = add('Max', [add('Div', [add('Sub', [hi, lo], {}, scalar), k('steps', qmax - qmin)], {}, scalar), k('tiny', SMALLEST_NORMAL_FLOAT32)], {}, scalar);
  const zpFloat = add('Sub', [k('qmin', qmin), add('Round', [add('Div', [lo, scale], {}, scalar)], {}, scalar)], {}, scalar);
  const zp = add('Cast', [zpFloat], { to: { kind: 'int', value: dtypeToOnnx(dtype) } }, { dtype, shape: [] });
  const qType = c.y.type?.shape ? { dtype: dtype as DType, shape: c.y.type.shape } : undefined;
  const q = add('QuantizeLinear', [c.y, scale, zp], {}, qType);
  const dq = add('DequantizeLinear', [q, scale, zp], {}, c.y.type);
  const users = new Set<Node>();
  for (const v of [lo, hi, q]) {
    const p = v.producer!;
    users.add(p);
    for (const i of p.inputs) if (i?.producer) users.add(i.producer);
  }
  rewireUsesExcept(rw, c.y, dq, [...users], '_float');
}

export function requantizePatterns(options: RequantizePassOptions): PatternSet {
  const dtype = options.dtype as QuantDType;
  const ranges = parseRequantizeRanges(options.ranges);
  const pattern = definePattern<AccumulatorChain>({
    name: 'requantize-accumulator',
    root: ['Mul', 'Cast'],
    benefit: 1,
    match: (node, m) => matchChain(node, m, dtype, ranges, options.mode),
    rewrite(node, c, rw) {
      if (c.grid) emitStatic(node, c, dtype, options.target, rw);
      else emitDynamic(node, c, dtype, rw);
    },
  });
  return PatternSet.of(pattern);
}

export const requantizePass = definePass({
  name: 'requantize',
  description: 'Bring int32 accumulators (MatMulInteger/ConvInteger -> Cast -> Mul) down to 8 bits with a calibrated or measured range',
  kind: 'pattern',
  options: {
    mode: { type: 'enum', values: ['auto', 'static', 'dynamic'], default: 'auto', description: 'static: only where a range is known; dynamic: always measure at run time; auto: static where known, else dynamic' },
    target: { type: 'enum', values: ['onnx', 'slimc'], default: 'onnx', description: 'onnx: standard ops only; slimc: static rescales become slimc:Requantize (fixed-point multiplier and shift)' },
    dtype: { type: 'enum', values: ['int8', 'uint8'], default: 'int8', description: 'the 8-bit type to bring accumulators down to' },
    ranges: { type: 'list', default: [], description: 'calibrated ranges as name=min:max (name of the accumulator or of its rescaled float value)' },
  },
  patterns: (options) => requantizePatterns(options),
});
