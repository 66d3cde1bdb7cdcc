/**
 * convert-float16: stores float32 weights and computes float32 activations in float16.
 *
 *   before:  %x: float32 -> Conv(%x, W: float32[...]) -> Relu -> %y: float32
 *   after (keep-io-types=true):
 *            %x: float32 -> Cast(to=float16) -> Conv(., W: float16[...]) -> Relu -> Cast(to=float) -> %y: float32
 *   after (keep-io-types=false): %x and %y are float16 themselves, no boundary Casts.
 *
 * Which nodes run in float16: nodes of the default domain, in the main graph and in If/Loop/Scan
 * bodies, that are not on the deny-list, hold no subgraph themselves (control-flow nodes keep their
 * float32 interface: body inputs and outputs keep their dtypes, with Casts inside the body), and
 * whose schema is known and operand and result dtypes are all known (shapes are inferred first).
 * Of such a node, every float32 operand or result whose port allows float16 in the schema becomes
 * float16; ports fixed to float32 (Resize `scales`, DequantizeLinear `x_scale` before opset 19,
 * ...) keep float32. Everything else keeps its dtype, and a Cast is inserted on every edge whose
 * two ends now disagree (one Cast per value and target type, placed right after the producer, in
 * the producer's graph, so a body reading an outer value captures the Cast). Float32 constants used
 * as float16 become float16 constants (one copy per constant; the float32 original is removed when
 * nothing else uses it); values beyond the float16 range are clamped to ±65504 instead of
 * becoming infinite, counted as `values-clamped`.
 *
 * Deny-list (kept in float32), with the reason:
 *   - the output dtype comes from an attribute, so relabelling the output would lie:
 *     Cast, ConstantOfShape, EyeLike, RandomNormal, RandomUniform, RandomNormalLike,
 *     RandomUniformLike, Multinomial, Bernoulli;
 *   - quantization parameters, whose rounding must not change: QuantizeLinear, DequantizeLinear,
 *     DynamicQuantizeLinear;
 *   - coordinate or index arithmetic that float16's 11-bit mantissa breaks (a 4096-pixel image has
 *     no exact odd coordinates in float16): Resize, Upsample, RoiAlign, GridSample, Range,
 *     NonMaxSuppression, TopK, CumSum;
 *   - recurrent cells, which onnxruntime's CPU provider runs only in float32 (it would wrap each in
 *     Casts anyway, and the state accumulates float16 error over time steps): LSTM, GRU, RNN.
 * Float16 kernels in onnxruntime's CPU provider (onnxruntime-node 1.30, measured by
 * bench/ort-float16-kernels.mjs): native only for data movement (Transpose, Reshape, Concat, Slice,
 * ...), Clip, Max/Min, Round and LayerNormalization. For the arithmetic ops (Conv, MatMul, Add, Mul,
 * Relu, Sigmoid, pooling, Softmax, ReduceMean, Resize, ...) it inserts float32 Casts around the node
 * itself, so a converted model still loads and runs there, with float16 values between nodes and
 * float32 arithmetic inside them, while float16-capable providers run it natively. Keeping every
 * op without a CPU kernel in float32 would keep the Conv/MatMul weights float32 and the file size
 * unchanged, so the deny-list names ops whose float16 form is wrong or harmful, not ops that are
 * merely cast on CPU. The `deny` option adds op types to it (e.g. ops whose float16 accuracy a
 * model cannot afford).
 *
 * Cast folding, last: Cast(x) to x's own dtype is removed; Cast(Cast(x: T, to=U), to=T) with U at
 * least as wide as T (float16 -> float32 -> float16) is x. Both are exact.
 */
import {
  type DType,
  type Graph,
  type Model,
  type Node,
  type OpSchema,
  type PortSpec,
  type Tensor,
  type Value,
  dtypeToOnnx,
  floatToHalf,
  getSchema,
  inferShapes,
  toFloat64,
} from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { isDefaultDomain, removeUnusedConstants } from '../core/pattern.js';

/** Op types kept in float32 (see the module comment for why). */
export const FLOAT16_DENY_LIST: readonly string[] = Object.freeze([
  'Cast',
  'ConstantOfShape',
  'EyeLike',
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'Resize',
  'Upsample',
  'RoiAlign',
  'GridSample',
  'Range',
  'NonMaxSuppression',
  'TopK',
  'CumSum',
  'LSTM',
  'GRU',
  'RNN',
]);

const FLOAT16_MAX = 65504;

/** The port spec serving operand (or result) `index`: a variadic port takes every index from its position on. */
function portAt(ports: readonly PortSpec[], index: number): PortSpec | undefined {
  for (let k = 0; k < ports.length; k++) {
    const p = ports[k]!;
    if (p.arity === 'variadic') return p;
    if (k === index) return p;
  }
  return undefined;
}

function allowsFloat16(schema: OpSchema, port: PortSpec | undefined): boolean {
  if (!port) return false;
  const allowed = port.typeVar ? schema.types[port.typeVar] : port.dtypes;
  return !!allowed && allowed.includes('float16');
}

function dtypeOf(v: Value): DType | undefined {
  return v.constant?.dtype ?? v.type?.dtype;
}

interface HalfNode {
  schema: OpSchema;
}

/** The schema under which `n` can run in float16, or undefined when it stays in float32. */
function float16Schema(n: Node, opset: number, deny: ReadonlySet<string>): HalfNode | undefined {
  if (!isDefaultDomain(n) || deny.has(n.op) || n.subgraphs().length) return undefined;
  // value_float / value_floats make a float32 output whatever the output's type says.
  if (n.op === 'Constant' && !n.getTensor('value')) return undefined;
  const schema = getSchema(n.op, '', opset);
  if (!schema) return undefined;
  const values = [...n.inputs, ...n.outputs].filter((v): v is Value => v !== null);
  if (values.some((v) => dtypeOf(v) === undefined)) return undefined;
  const touchesFloat32 = values.some((v) => dtypeOf(v) === 'float32');
  return touchesFloat32 ? { schema } : undefined;
}

/** float32 data as float16 bits, clamping finite values beyond the float16 range; returns the clamp count. */
export function toFloat16Tensor(t: Tensor): { tensor: Tensor; clamped: number } {
  const src = toFloat64(t);
  const bits = new Uint16Array(src.length);
  let clamped = 0;
  for (let i = 0; i < src.length; i++) {
    let x = src[i]!;
    if (Number.isFinite(x) && Math.abs(x) > FLOAT16_MAX) {
      x = Math.sign(x) * FLOAT16_MAX;
      clamped++;
    }
    bits[i] = floatToHalf(x);
  }
  // makeTensor converts numbers; build directly from the bit patterns instead.
  return { tensor: { dtype: 'float16', shape: [...t.shape], data: bits }, clamped };
}

interface ConvertStats {
  'nodes-converted': number;
  'casts-inserted': number;
  'constants-converted': number;
  'values-clamped': number;
  'casts-folded': number;
}

class Float16Converter {
  readonly stats: ConvertStats = { 'nodes-converted': 0, 'casts-inserted': 0, 'constants-converted': 0, 'values-clamped': 0, 'casts-folded': 0 };
  private readonly half = new Map<Node, HalfNode>();
  /** Float values of the main graph and their dtype before the pass. */
  private readonly original = new Map<Value, DType>();
  /** value -> target dtype -> the value converted to it. */
  private readonly converted = new Map<Value, Map<DType, Value>>();

  constructor(
    private readonly model: Model,
    private readonly keepIoTypes: boolean,
    private readonly deny: ReadonlySet<string>,
  ) {}

  run(): void {
    const main = this.model.graph;
    const graphs = [...main.allGraphs()];
    const floats = new Set<Value>();
    for (const g of graphs) {
      for (const n of g.nodes()) {
        const h = float16Schema(n, this.model.opset, this.deny);
        if (h) this.half.set(n, h);
      }
      // Every float value with its dtype before the pass (captured outer values included).
      for (const v of [...g.inputs, ...g.initializers]) floats.add(v);
      for (const n of g.nodes()) for (const v of [...n.inputs, ...n.outputs]) if (v) floats.add(v);
    }
    for (const v of floats) {
      const d = dtypeOf(v);
      if (d === 'float32' || d === 'float16') this.original.set(v, d);
      else floats.delete(v);
    }
    // Producers first: node outputs, then (with keep-io-types=false) main graph inputs change dtype.
    // Subgraph inputs and outputs keep their dtypes, so If/Loop/Scan keep their interface.
    for (const [n, { schema }] of this.half) {
      this.stats['nodes-converted']++;
      n.outputs.forEach((v, i) => {
        if (v && dtypeOf(v) === 'float32' && allowsFloat16(schema, portAt(schema.outputs, i))) {
          v.type = { ...v.type!, dtype: 'float16' };
        }
      });
      if (n.op === 'Constant') this.convertConstantNode(n);
    }
    if (!this.keepIoTypes) {
      for (const v of main.inputs) {
        if (!v.constant && v.type?.dtype === 'float32') v.type = { ...v.type, dtype: 'float16' };
      }
    }
    // Then every use of a float value reads the dtype it wants.
    for (const v of floats) this.fixUses(v);
    for (const g of graphs) for (let i = 0; i < g.outputs.length; i++) this.fixGraphOutput(g, i);
    for (const g of graphs) this.foldCasts(g);
    // The float32 originals of constants that now only feed float16 users (other unused constants stay).
    removeUnusedConstants([...this.converted.keys()].filter((v) => v.constant));
  }

  /** Rewrites a float32 `value` attribute of a Constant node in float16. */
  private convertConstantNode(n: Node): void {
    const t = n.getTensor('value');
    if (!t || t.dtype !== 'float32') return;
    const { tensor, clamped } = toFloat16Tensor(t);
    this.stats['values-clamped'] += clamped;
    n.setAttr('value', { kind: 'tensor', value: tensor });
  }

  /** The dtype operand `index` of `user` wants: float16 where a converted node's port allows it, else the value's original dtype. */
  private wanted(v: Value, user: Node, index: number): DType {
    const original = this.original.get(v)!;
    const h = this.half.get(user);
    return h && original === 'float32' && allowsFloat16(h.schema, portAt(h.schema.inputs, index)) ? 'float16' : original;
  }

  private fixUses(v: Value): void {
    const have = dtypeOf(v)!;
    for (const u of [...v.uses]) {
      if (!('op' in u.user)) continue; // graph outputs: fixGraphOutput
      const want = this.wanted(v, u.user as Node, u.index);
      if (want !== have) (u.user as Node).setInput(u.index, this.as(v, want));
    }
  }

  private fixGraphOutput(g: Graph, i: number): void {
    const v = g.outputs[i]!;
    const have = dtypeOf(v);
    const original = this.original.get(v);
    if (!have || !original) return;
    const want: DType = g === this.model.graph && !this.keepIoTypes && original === 'float32' ? 'float16' : original;
    if (want === have) return;
    const c = this.as(v, want);
    g.setOutput(i, c);
    // The graph output keeps its name: the converted value takes it over.
    const name = v.name;
    v.name = g.names.fresh(`${name}_${have}`);
    c.name = name;
  }

  /** `v` converted to `dtype`: a float16/float32 copy of a constant, or a Cast right after the producer. */
  private as(v: Value, dtype: DType): Value {
    let byType = this.converted.get(v);
    if (!byType) this.converted.set(v, (byType = new Map()));
    const done = byType.get(dtype);
    if (done) return done;
    const g = v.graph;
    let out: Value;
    if (v.constant && !v.isGraphInput && v.constant.dtype === 'float32' && dtype === 'float16') {
      const { tensor, clamped } = toFloat16Tensor(v.constant);
      this.stats['values-clamped'] += clamped;
      this.stats['constants-converted']++;
      out = g.addConstant(`${v.name}_fp16`, tensor);
    } else {
      const at = v.producer ? { after: v.producer } : { before: g.first };
      const cast = g.addNode({ op: 'Cast', inputs: [v], attrs: { to: { kind: 'int', value: dtypeToOnnx(dtype) } }, outputs: [{ name: `${v.name}_${dtype === 'float16' ? 'fp16' : 'fp32'}`, type: v.type ? { ...v.type, dtype } : { dtype } }] }, at);
      this.stats['casts-inserted']++;
      out = cast.output(0);
    }
    byType.set(dtype, out);
    return out;
  }

  /** Cast to the input's own dtype, and Cast(Cast(x: T, wider), T), are x. */
  private foldCasts(g: Graph): void {
    const widths: Partial<Record<DType, number>> = { float16: 16, float32: 32, float64: 64 };
    for (const n of g.nodes()) {
      if (n.op !== 'Cast' || !isDefaultDomain(n)) continue;
      const y = n.output(0);
      const to = y.type?.dtype;
      const x = n.input(0);
      if (!x || !to) continue;
      let source: Value | undefined;
      if (dtypeOf(x) === to) source = x;
      else {
        const inner = x.producer;
        const origin = inner?.op === 'Cast' && isDefaultDomain(inner) ? inner.input(0) : null;
        const t = origin ? dtypeOf(origin) : undefined;
        const mid = dtypeOf(x);
        if (origin && t === to && widths[t] !== undefined && mid && (widths[mid] ?? 0) >= widths[t]!) source = origin;
      }
      if (!source || y.isGraphOutput) continue;
      y.replaceAllUsesWith(source);
      n.erase();
      this.stats['casts-folded']++;
      const inner = x.producer;
      if (inner && inner.op === 'Cast' && inner.isDead) inner.erase();
    }
  }
}

export const convertFloat16Pass = definePass({
  name: 'convert-float16',
  description: 'Store float32 weights and compute float32 values in float16, with Casts where float32 is kept (graph boundaries, deny-listed ops)',
  kind: 'graph',
  options: {
    'keep-io-types': { type: 'boolean', default: true, description: 'keep float32 graph inputs and outputs, with Casts at the boundary' },
    deny: { type: 'list', default: [], description: 'more op types to keep in float32 (added to the built-in deny-list)' },
  },
  run(model, _ctx, options) {
    inferShapes(model);
    const converter = new Float16Converter(model, options['keep-io-types'], new Set([...FLOAT16_DENY_LIST, ...options.deny]));
    converter.run();
    const stats = { ...converter.stats } as Record<string, number>;
    return { changed: stats['nodes-converted']! > 0 || stats['casts-inserted']! > 0, stats };
  },
});
