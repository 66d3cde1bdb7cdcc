/**
 * Elementwise float regions after a DequantizeLinear as one lookup table.
 *
 *   x:q8 -> DequantizeLinear -> f(.) -> QuantizeLinear -> y:q8     ==>   y = table[x]   (lut-q8)
 *   x:q8 -> DequantizeLinear -> f(.) -> y:float32 (read by others)  ==>   y = table[x]   (lut-f32)
 *
 * where f is any graph of float elementwise ops (Add, Sub, Mul, Div, Clip, Relu, HardSwish,
 * Sigmoid, ...) whose only non-constant source is that one DequantizeLinear and whose other
 * operands are one-element constants, e.g. the decomposed HardSwish plus affine of PP-OCRv4
 *   x * Clip(x + 3, 0, 6) / 6 * a + b
 * which the runtime would otherwise run as 8 float steps over the whole activation. x takes at
 * most 256 values, so f is evaluated once, at lowering, on all of them by the reference
 * interpreter itself: the table reproduces the interpreter bit for bit, whatever the ops.
 *
 * Preconditions: the DequantizeLinear (and the QuantizeLinear) are per-tensor with constant scale
 * and zero point and 8-bit codes; every op of the region is in ELEMENTWISE_OPS, reads only region
 * values, the DequantizeLinear's output or one-element constants (of rank <= 1, so shapes do not
 * grow), and every value it produces but the last is read only inside the region (the last one,
 * with a QuantizeLinear, only by it); the region holds at least one op. The DequantizeLinear
 * itself stays if something outside the region reads it.
 */
import { makeTensor, runNode, shapeSize, type Node, type Tensor, type Value } from '@slimc/ir';

/** Float ops computed elementwise, each output element from the same-position input elements only. */
const ELEMENTWISE_OPS = new Set([
  'Abs', 'Add', 'Ceil', 'Clip', 'Cos', 'Div', 'Elu', 'Erf', 'Exp', 'Floor', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Log',
  'Max', 'Min', 'Mul', 'Neg', 'Pow', 'Reciprocal', 'Relu', 'Round', 'Selu', 'Sigmoid', 'Sin', 'Softplus', 'Softsign', 'Sqrt',
  'Sub', 'Tanh',
]);

/** What the matcher needs from the lowering (plan.ts). */
export interface RegionContext {
  readonly opset: number;
  constantOf(v: Value | null): Tensor | undefined;
  isAbsorbed(n: Node): boolean;
}

export interface TableRegion {
  /** The DequantizeLinear node (the region's source) and the region's ops, each after those it reads. */
  dequantize: Node;
  ops: Node[];
  /**
   * out[i] = the region's result for the input code whose byte is i (int8 codes as two's
   * complement): the QuantizeLinear's codes, or float32 values for a region without one.
   */
  table: Tensor;
  /** The most dims of a constant operand: the output has at least this rank. */
  constantRank: number;
}

const isDefaultDomain = (n: Node) => !n.domain || n.domain === 'ai.onnx';

/** The region ending in QuantizeLinear `q`, with its table; undefined when `q` does not end one. */
export function matchTableRegion(q: Node, ctx: RegionContext): TableRegion | undefined {
  if (q.op !== 'QuantizeLinear' || !isDefaultDomain(q) || !q.input(0) || !perTensorParams(q, ctx)) return undefined;
  const last = q.input(0)!;
  if (last.isGraphOutput || last.uses.length !== 1) return undefined;
  const region = collectRegion(last, ctx);
  return region && withTable(region, q, ctx);
}

/**
 * The region ending in elementwise op `last` whose float result others read (no QuantizeLinear
 * after it), with a table of 256 float32 results; undefined when `last` does not end one.
 */
export function matchFloatTableRegion(last: Node, ctx: RegionContext): TableRegion | undefined {
  if (!ELEMENTWISE_OPS.has(last.op) || last.outputs.length !== 1 || ctx.isAbsorbed(last)) return undefined;
  const region = collectRegion(last.output(0), ctx);
  const table = region && withTable(region, undefined, ctx);
  return table && table.table.dtype === 'float32' ? table : undefined;
}

type Region = Omit<TableRegion, 'table'>;

/** Walks back from `last` through region ops to the one DequantizeLinear; checks the preconditions. */
function collectRegion(last: Value, ctx: RegionContext): Region | undefined {
  const ops = new Set<Node>();
  let dequantize: Node | undefined;
  let constantRank = 0;
  const pending: Value[] = [last];
  while (pending.length) {
    const v = pending.pop()!;
    const p = v.producer;
    if (!p) return undefined;
    if (p.op === 'DequantizeLinear' && isDefaultDomain(p)) {
      if (dequantize && dequantize !== p) return undefined;
      dequantize = p;
      continue;
    }
    if (ops.has(p)) continue;
    if (!ELEMENTWISE_OPS.has(p.op) || !isDefaultDomain(p) || p.outputs.length !== 1 || ctx.isAbsorbed(p)) return undefined;
    ops.add(p);
    for (const input of p.inputs) {
      if (!input) continue;
      const c = ctx.constantOf(input);
      if (c) {
        if (shapeSize(c.shape) !== 1 || c.shape.length > 1 || c.dtype !== 'float32') return undefined;
        constantRank = Math.max(constantRank, c.shape.length);
      } else pending.push(input);
    }
  }
  if (!dequantize || ops.size === 0 || !perTensorParams(dequantize, ctx)) return undefined;
  // nothing outside reads a region value but the last one
  for (const n of ops) {
    const out = n.output(0);
    if (out === last) continue;
    if (out.isGraphOutput || out.uses.some((u) => !('op' in u.user) || !ops.has(u.user))) return undefined;
  }
  return { dequantize, ops: topological([...ops]), constantRank };
}

/** The region with its table: the codes through DequantizeLinear, the ops and `q` (if any). */
function withTable(region: Region, q: Node | undefined, ctx: RegionContext): TableRegion | undefined {
  const codeType = region.dequantize.input(0)!.type?.dtype ?? ctx.constantOf(region.dequantize.input(2))?.dtype;
  if (codeType !== 'int8' && codeType !== 'uint8') return undefined;
  const table = evaluate(region.dequantize, q ? [...region.ops, q] : region.ops, codeType, ctx);
  return table && { ...region, table };
}

/** Scale and zero point (if given) are one-element constants and the op works per tensor. */
function perTensorParams(n: Node, ctx: RegionContext): boolean {
  const scale = ctx.constantOf(n.input(1));
  const zp = n.input(2) ? ctx.constantOf(n.input(2)) : undefined;
  if (!scale || shapeSize(scale.shape) !== 1 || (n.input(2) && (!zp || shapeSize(zp.shape) !== 1))) return false;
  return n.getInt('block_size', 0) === 0;
}

/** Runs DequantizeLinear and the nodes (in order) on all 256 codes: the last node's result. */
function evaluate(dequantize: Node, nodes: readonly Node[], codeType: 'int8' | 'uint8', ctx: RegionContext): Tensor | undefined {
  const codes = makeTensor(codeType, [256], Array.from({ length: 256 }, (_, i) => (codeType === 'int8' ? (i << 24) >> 24 : i)));
  const values = new Map<Value, Tensor>([[dequantize.input(0)!, codes]]);
  const valueOf = (v: Value | null) => (v ? (values.get(v) ?? ctx.constantOf(v) ?? null) : null);
  for (const n of [dequantize, ...nodes]) {
    const [out] = runNode(n, n.inputs.map(valueOf), ctx.opset);
    if (!out) return undefined;
    values.set(n.output(0), out);
  }
  const table = values.get(nodes[nodes.length - 1]!.output(0))!;
  if ((table.dtype !== 'int8' && table.dtype !== 'uint8' && table.dtype !== 'float32') || table.data.length !== 256) return undefined;
  return { dtype: table.dtype, shape: [256], data: table.data };
}

/** The ops ordered so each comes after the region ops it reads. */
function topological(ops: readonly Node[]): Node[] {
  const inRegion = new Set(ops);
  const done = new Set<Node>();
  const out: Node[] = [];
  const visit = (n: Node) => {
    if (done.has(n)) return;
    done.add(n);
    for (const v of n.inputs) if (v?.producer && inRegion.has(v.producer)) visit(v.producer);
    out.push(n);
  };
  ops.forEach(visit);
  return out;
}
