/**
 * QDQ emission: QuantizeLinear / DequantizeLinear pairs around the quantized operands.
 *
 *   before:  %y = Conv(%x, %w, %b)                                  (w, b float constants)
 *   after:   %x_q = QuantizeLinear(%x_float, %x_scale, %x_zp)
 *            %x   = DequantizeLinear(%x_q, %x_scale, %x_zp)
 *            %w   = DequantizeLinear(%w_q: int8, %w_scale, %w_zp) {axis=0}
 *            %b   = DequantizeLinear(%b_q: int32, %b_scale = x_scale * w_scale, 0) {axis=0}
 *            %y_float = Conv(%x, %w, %b);  %y_q = QuantizeLinear(%y_float, ...);  %y = DequantizeLinear(%y_q, ...)
 *
 * Names: a dequantized value takes the float value's name and the float value becomes
 * `<name>_float`, so the quantized model's `x` is the float model's `x` brought onto the grid
 * (what `compareModels` matches for per-layer SQNR). Graph inputs and outputs keep their names
 * and stay float: their dequantized twin is `<name>_dequantized`, and a graph output is the float
 * value itself (its consumers inside the graph read the dequantized one).
 *
 * Every value on a grid carries `Value.quant`: the integer value and its dequantized twin.
 */
import { makeTensor, Node, type Graph, type QuantParams as IrQuantParams, type Value } from '@slimc/ir';
import { quantizeBias, quantizeTensor, chooseQuantParamsForValues, chooseQuantParamsPerChannel, type PerChannelQuantParams, type QuantDType, type QuantParams } from '../quantize/params.js';
import { quantizedName, scaleName, zeroPointName } from './names.js';

export type AnyQuantParams = QuantParams | PerChannelQuantParams;

/** Where a node that defines from `v` can go: right after v's producer, or at the top of v's graph. */
function insertAfterDefinition(v: Value, g: Graph): { before?: Node | null; after?: Node | null } {
  if (v.producer && v.producer.graph === g) return { after: v.producer };
  return { before: g.first };
}

export function irQuantParams(p: AnyQuantParams, bits: number): IrQuantParams {
  if ('scale' in p) return { scale: Float32Array.of(p.scale), zeroPoint: Int32Array.of(p.zeroPoint), dtype: p.dtype, bits };
  return { scale: Float32Array.from(p.scales), zeroPoint: Int32Array.from(p.zeroPoints), axis: p.axis, dtype: p.dtype, bits };
}

/** Scale and zero-point constants for `p` (scalars per tensor, 1-D per channel); no zero point with `omitZeroPoint`. */
export function paramConstants(g: Graph, base: string, p: AnyQuantParams): { scale: Value; zeroPoint: Value };
export function paramConstants(g: Graph, base: string, p: AnyQuantParams, o: { omitZeroPoint: boolean }): { scale: Value; zeroPoint?: Value };
export function paramConstants(g: Graph, base: string, p: AnyQuantParams, o = { omitZeroPoint: false }): { scale: Value; zeroPoint?: Value } {
  const root = g.root;
  const shape = 'scale' in p ? [] : [p.scales.length];
  const scale = root.addConstant(scaleName(base), makeTensor('float32', shape, 'scale' in p ? [p.scale] : p.scales));
  if (o.omitZeroPoint) return { scale };
  return { scale, zeroPoint: root.addConstant(zeroPointName(base), makeTensor(p.dtype, shape, 'scale' in p ? [p.zeroPoint] : p.zeroPoints)) };
}

function axisAttr(p: AnyQuantParams) {
  return 'axis' in p ? { axis: { kind: 'int' as const, value: p.axis } } : undefined;
}

/** Gives `twin` the name of `original` (which becomes `<name>_float`), unless original is a graph input/output. */
function takeName(original: Value, twin: Value): void {
  if (original.isGraphInput || original.isGraphOutput) {
    twin.name = original.graph.names.fresh(`${original.name}_dequantized`);
    return;
  }
  const name = original.name;
  original.name = original.graph.names.fresh(`${name}_float`);
  twin.name = name;
}

/**
 * Puts activation `v` on the grid of `p`: one QuantizeLinear/DequantizeLinear pair whose output
 * replaces `v` for every node user (graph-output uses keep the float value). Returns the pair.
 */
export function quantizeActivation(v: Value, p: QuantParams, bits: number): { q: Node; dq: Node } {
  const g = v.graph;
  const { scale, zeroPoint } = paramConstants(g, v.name, p);
  const q = g.addNode({ op: 'QuantizeLinear', inputs: [v, scale, zeroPoint], outputs: [{ name: quantizedName(v.name), type: { dtype: p.dtype, shape: v.type?.shape } }] }, insertAfterDefinition(v, g));
  const dq = g.addNode({ op: 'DequantizeLinear', inputs: [q.output(0), scale, zeroPoint], outputs: [{ name: `${v.name}_dq`, type: v.type }] }, { after: q });
  v.replaceUsesWhere(dq.output(0), (u) => u.user instanceof Node && u.user !== q);
  // Nodes of subgraphs that capture v keep their place: the pair sits in v's own graph, before any of them.
  takeName(v, dq.output(0));
  const quant = irQuantParams(p, bits);
  q.output(0).quant = quant;
  dq.output(0).quant = quant;
  return { q, dq };
}

export interface WeightQuantOptions {
  dtype: QuantDType;
  symmetric: boolean;
  reduceRange: boolean;
  perChannel: boolean;
}

/** The parameters of a constant weight: per channel along `axis` when allowed, else per tensor. */
export function weightParams(w: Value, axis: number | undefined, o: WeightQuantOptions): AnyQuantParams {
  const t = w.constant!;
  const range = { dtype: o.dtype, symmetric: o.symmetric, reduceRange: o.reduceRange };
  if (o.perChannel && axis !== undefined) return chooseQuantParamsPerChannel(t.data as Float32Array, t.shape, axis, range);
  return chooseQuantParamsForValues(t.data as Float32Array, range);
}

/** Every zero point of `p` is 0 (symmetric weights, int32 biases). */
function zeroPointsAllZero(p: AnyQuantParams): boolean {
  return 'scale' in p ? p.zeroPoint === 0 : p.zeroPoints.every((z) => z === 0);
}

/**
 * Replaces operand `index` of `node` (a float constant) with DequantizeLinear(quantized constant).
 * The float constant goes away once nothing else reads it. A zero point that is all 0 (symmetric
 * weights, biases) is left out: DequantizeLinear's default, and a vector of C zeros less per layer.
 */
export function quantizeConstantOperand(node: Node, index: number, p: AnyQuantParams, bits: number, data?: ArrayLike<number>): Node {
  const w = node.input(index)!;
  const t = w.constant!;
  const g = node.graph;
  const q = w.graph.addConstant(quantizedName(w.name), makeTensor(p.dtype, t.shape, data ?? quantizeTensor(t.data as Float32Array, t.shape, p)));
  const { scale, zeroPoint } = paramConstants(g, w.name, p, { omitZeroPoint: zeroPointsAllZero(p) });
  const inputs = zeroPoint ? [q, scale, zeroPoint] : [q, scale];
  const dq = g.addNode({ op: 'DequantizeLinear', inputs, attrs: axisAttr(p), outputs: [{ name: `${w.name}_dq`, type: w.type }] }, { before: node });
  node.setInput(index, dq.output(0));
  if (!w.hasUses && !w.isGraphInput) {
    w.graph.removeConstant(w);
    dq.output(0).name = w.name;
  }
  const quant = irQuantParams(p, bits);
  q.quant = quant;
  dq.output(0).quant = quant;
  return dq;
}

/** Bias operand `index` of `node` as int32 with scale inputScale * weightScale[c], zero point 0. */
export function quantizeBiasOperand(node: Node, index: number, inputScale: number, weight: AnyQuantParams): Node {
  const b = node.input(index)!.constant!;
  const n = b.data.length;
  const weightScales = 'scale' in weight ? new Float32Array(n).fill(weight.scale) : weight.scales;
  const { data, params } = quantizeBias(b.data as Float32Array, inputScale, weightScales);
  return quantizeConstantOperand(node, index, params, 32, data);
}

/** UTF-8 bytes of a name as the ONNX file spells it. */
const spelledBytes = (name: string): number => new TextEncoder().encode(name).length;

/**
 * The scale of an int32 bias written as the product it is: DequantizeLinear(%b_q, Mul(sx, sw)),
 * reading the two scale constants the input's and the weight's DequantizeLinear already hold,
 * instead of a third vector of C floats.
 *
 *   before:  %b = DequantizeLinear(%b_q, %b_scale = [sx·sw[0], ..., sx·sw[C-1]]) {axis=0}
 *   after:   %b = DequantizeLinear(%b_q, Mul(%x_scale, %w_scale)) {axis=0}
 *
 * Exact: a float32 product of two float32 numbers is their real product rounded once, which is
 * what quantizeBias stored (Math.fround(sx * sw[c])); the rewrite happens only when every stored
 * element equals it bit for bit. onnxruntime folds the Mul at load (constant folding runs before
 * its QDQ fusion, which reads the int32 bias alone) and so does slimc's runtime. Done only where
 * the vector's bytes exceed the node's (op type, the two extra name spellings, framing): a bias of
 * a few channels keeps its constant. Returns whether `node`'s bias was rewritten.
 */
export function computeBiasScale(node: Node, biasIndex: number): boolean {
  const [x, w, b] = [node.input(0), node.input(1), node.input(biasIndex)].map((v) => v?.producer);
  if (!x || !w || !b || [x, w, b].some((dq) => dq.op !== 'DequantizeLinear' || dq.domain !== '')) return false;
  const [xScale, wScale, bScale] = [x.input(1), w.input(1), b.input(1)];
  const [sx, sw, sb] = [xScale?.constant, wScale?.constant, bScale?.constant];
  if (!xScale || !wScale || !bScale || !sx || !sw || !sb || sx.data.length !== 1 || bScale.uses.length !== 1) return false;
  if (sw.data.length !== 1 && sw.data.length !== sb.data.length) return false;
  const at = (c: number) => Math.fround(Number(sx.data[0]) * Number(sw.data[sw.data.length === 1 ? 0 : c]));
  if (!Array.from(sb.data as Float32Array).every((v, c) => Object.is(v, at(c)))) return false;
  // Mul node: op type (3 + 2), two input and one output field (2 each), node framing (about 3)
  const nodeBytes = 14 + spelledBytes(xScale.name) + spelledBytes(wScale.name);
  // constant: raw data, dims (2 + 1), data type (2), raw_data field (about 3)
  const vectorBytes = 4 * sb.data.length + 8;
  if (vectorBytes <= nodeBytes) return false;
  const g = b.graph;
  const mul = g.addNode({ op: 'Mul', inputs: [xScale, wScale], outputs: [{ name: `${bScale.name}_product`, type: { dtype: 'float32', shape: sw.data.length === 1 ? [] : [...sw.shape] } }] }, { before: b });
  b.setInput(1, mul.output(0));
  const name = bScale.name;
  bScale.graph.removeConstant(bScale);
  mul.output(0).name = name;
  return true;
}

/** The per-tensor parameters of a value quantized by `quantizeActivation` (read back from its DequantizeLinear). */
export function activationParamsOf(dqOutput: Value): QuantParams | undefined {
  const q = dqOutput.quant;
  if (!q || q.axis !== undefined || q.dtype === 'int32') return undefined;
  return { dtype: q.dtype as QuantDType, scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
}
