/**
 * cancel-qdq: removes QuantizeLinear / DequantizeLinear pairs that do nothing, after moving
 * DequantizeLinear through data-movement ops so that pairs meet.
 *
 *   QuantizeLinear(DequantizeLinear(q, s, z), s, z)  ==>  q
 *       Pre: s and z are the same constants on both nodes (see `sameQdqParams`: same quantized
 *       type, same scale dtype, per-tensor on both or per-axis on the same axis with equal arrays,
 *       a missing zero point equal to an explicit 0 of the same type), and every code of the type
 *       survives the round trip (`dequantizeQuantizeIsIdentity`, checked exhaustively: it rules out
 *       overflowing and subnormal scales and int32 codes). Exact.
 *
 *   DequantizeLinear(QuantizeLinear(x, s, z), s, z)  ==>  x        only with `allow-lossy`
 *       This is NOT an identity: the pair rounds x to the grid and saturates it to the type's
 *       range; removing it changes outputs by up to s/2 per element (more where x saturates). It is
 *       what a float backend wants when the Q/DQ pairs of a QAT model were only simulating int8.
 *
 *   Op(DequantizeLinear(q, s, z), rest...)  ==>  DequantizeLinear(Op(q, rest...), s, z)
 *       for Op in Reshape, Transpose, Squeeze, Unsqueeze, Slice, Flatten, MaxPool, and Concat (every
 *       input a DequantizeLinear with the same parameters). Exact: these ops only move, drop or (for
 *       MaxPool) select elements, and x -> (x - z) · s is monotone increasing (s > 0), so the max
 *       commutes with it. Pre: the DequantizeLinear output has this one use (or, outside Concat,
 *       other uses too when the moved copy will cancel downstream: the original stays for the
 *       others, so the move pays off only then); a chain of single-use data-movement ops from Op's
 *       output reaches a QuantizeLinear (otherwise moving is pointless); per-tensor parameters,
 *       except Transpose (the axis is permuted along) and MaxPool (per-axis on the channel axis 1,
 *       which pooling keeps); MaxPool needs opset 12 for integer inputs and its Indices output
 *       unused. QuantizeLinear is not moved up: every DQ -> movement chain -> Q that could meet is
 *       already met by moving the DequantizeLinear down, and one direction cannot ping-pong.
 *
 * Conservative on purpose: a per-axis grid whose values are all equal does not match the
 * per-tensor grid with that value, and float16/bfloat16 scales are never cancelled (their
 * rounding is not checked).
 *
 * A DequantizeLinear -> QuantizeLinear pair with different parameters is a requantization
 * q2 = sat(round((q1 - z1) · s1 / s2) + z2). In ONNX output it stays a DQ -> Q pair (standard ops
 * only) and is counted in the stats as `requantize-pairs`. With `target=slimc` (lowering for
 * slimc's runtime) a per-tensor pair whose DequantizeLinear has no other use becomes one
 * `slimc:Requantize` integer rescale with M = s1 / s2 as a fixed-point multiplier and shift (see
 * requantize/slimc-requantize.ts); it is then within one LSB of the float pair.
 */
import { type Node, type Value } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { type MatchFailure, type Matcher, PatternSet, applyPatternsGreedily, definePattern, isDefaultDomain } from '../core/pattern.js';
import { countNodes } from '../core/compiler.js';
import { createSlimcRequantize, integerRescale } from '../requantize/slimc-requantize.js';
import { createNodeAfter, rewireUsesExcept } from './rewire.js';
import { type QdqPair, type QdqParams, dequantizeQuantizeIsIdentity, matchQdqPair, qdqParams, sameQdqParams } from './qdq-params.js';
import { QUANTIZED_SUFFIX } from '../quantize-model/names.js';

export { type QdqPair, type QdqParams, dequantizeQuantizeIsIdentity, matchQdqPair, qdqParams, sameQdqParams } from './qdq-params.js';

/** Ops DequantizeLinear moves through: each maps input elements to output elements without arithmetic. */
export const DATA_MOVEMENT_OPS: readonly string[] = Object.freeze(['Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice', 'Flatten', 'MaxPool', 'Concat']);

function paramsOrFail(n: Node, m: Matcher): QdqParams | MatchFailure {
  const p = qdqParams(n, m);
  return typeof p === 'string' ? m.fail(`${n.op}: ${p}`) : p;
}

interface PairCaptures {
  inner: Node;
  replacement: Value;
}

/**
 * outer(inner(v, s, z), s, z)  ==>  v  for a pair with equal parameters, unless `obstacle` names a
 * reason to keep it.
 */
function pairRemoval(name: string, outerOp: 'QuantizeLinear' | 'DequantizeLinear', obstacle: (pair: QdqPair, v: Value) => string | undefined) {
  const innerOp = outerOp === 'QuantizeLinear' ? 'DequantizeLinear' : 'QuantizeLinear';
  return definePattern<PairCaptures>({
    name,
    root: outerOp,
    benefit: 3,
    match(outer, m) {
      const pair = matchQdqPair(outer, innerOp, m);
      if ('failed' in pair) return pair;
      if (!sameQdqParams(pair.innerParams, pair.outerParams)) return m.fail('scale or zero point differ');
      const replacement = pair.inner.input(0)!;
      const why = obstacle(pair, replacement);
      if (why) return m.fail(why);
      if (!m.canReplaceValue(outer.output(0), replacement)) return m.fail('graph output name cannot be kept');
      return { inner: pair.inner, replacement };
    },
    rewrite: (outer, { replacement }, rw) => rw.replaceOp(outer, [replacement]),
  });
}

/** QuantizeLinear(DequantizeLinear(q, s, z), s, z)  ==>  q. */
export const cancelDequantizeQuantize = pairRemoval('cancel-dequantize-quantize', 'QuantizeLinear', (pair) =>
  dequantizeQuantizeIsIdentity(pair.innerParams) ? undefined : 'some code does not survive the round trip',
);

/** DequantizeLinear(QuantizeLinear(x, s, z), s, z)  ==>  x  (lossy: drops the rounding). */
export const dropQuantizeDequantize = pairRemoval('drop-quantize-dequantize', 'DequantizeLinear', (pair, x) => {
  // The float input must have the DequantizeLinear's output type (the scale's float type).
  const xType = x.type?.dtype;
  const outType = pair.outerParams.scale.dtype;
  return xType !== undefined && xType !== outType ? `input is ${xType}, output ${outType}` : undefined;
});

/** The QuantizeLinear that a chain of single-use data-movement ops starting at `v` ends in (as its input 0), if any. */
function quantizeDownstream(v: Value, m: Matcher): Node | null {
  for (let cur = v, steps = 0; steps < 64; steps++) {
    if (!m.hasOneUse(cur)) return null;
    const { user, index } = cur.uses[0]! as { user: Node; index: number };
    if (!isDefaultDomain(user)) return null;
    if (user.op === 'QuantizeLinear') return index === 0 ? user : null;
    if (!DATA_MOVEMENT_OPS.includes(user.op) || (user.op !== 'Concat' && index !== 0)) return null;
    cur = user.output(0);
  }
  return null;
}

interface MoveCaptures {
  dqs: Node[];
  params: QdqParams;
  /** The DequantizeLinear axis after the move (undefined: keep the attributes as they are). */
  axis: number | undefined;
}

/** Where the per-axis axis goes through `op`, or undefined when `op` cannot keep per-axis parameters. */
function axisAfter(op: Node, axis: number): number | undefined {
  if (op.op === 'MaxPool') return axis === 1 ? 1 : undefined;
  if (op.op === 'Transpose') {
    const perm = op.getInts('perm');
    const rank = op.input(0)?.type?.shape?.length;
    const order = perm ?? (rank !== undefined ? Array.from({ length: rank }, (_, i) => rank - 1 - i) : undefined);
    const k = order?.indexOf(axis);
    return k === undefined || k < 0 ? undefined : k;
  }
  return undefined;
}

/** Op(DequantizeLinear(q), ...)  ==>  DequantizeLinear(Op(q, ...)) for data-movement ops. */
export const moveDequantizeDown = definePattern<MoveCaptures>({
  name: 'move-dequantize-down',
  root: DATA_MOVEMENT_OPS,
  benefit: 2,
  match(op, m) {
    if (!isDefaultDomain(op)) return m.fail('op of another domain');
    if (op.outputs.slice(1).some((o) => o?.hasUses)) return m.fail('a second output is used');
    if (op.op === 'MaxPool' && m.opset < 12) return m.fail('integer MaxPool needs opset 12');
    const dataInputs = op.op === 'Concat' ? op.inputs : op.inputs.slice(0, 1);
    const dqs: Node[] = [];
    let shared = false;
    for (const v of dataInputs) {
      const dq = m.producer(v, 'DequantizeLinear');
      if (!dq) return m.fail('a data input is not a DequantizeLinear');
      if (!m.hasOneUse(v!)) {
        if (op.op === 'Concat') return m.fail('a Concat input DequantizeLinear has other uses');
        shared = true;
      }
      dqs.push(dq);
    }
    if (!dqs.length) return m.fail('no data input');
    const params = paramsOrFail(dqs[0]!, m);
    if ('failed' in params) return params;
    for (const dq of dqs.slice(1)) {
      const p = paramsOrFail(dq, m);
      if ('failed' in p) return p;
      if (!sameQdqParams(params, p)) return m.fail('Concat inputs have different parameters');
    }
    let axis: number | undefined;
    if (params.axis !== undefined) {
      if (params.axis < 0) return m.fail('per-axis axis with unknown rank');
      axis = axisAfter(op, params.axis);
      if (axis === undefined) return m.fail(`${op.op} does not keep per-axis parameters`);
    }
    const q = quantizeDownstream(op.output(0), m);
    if (!q) return m.fail('no QuantizeLinear downstream to meet');
    if (shared) {
      // The DequantizeLinear stays for its other users and a copy moves down: worth it only when the
      // copy is sure to cancel with the QuantizeLinear it meets.
      const outer = qdqParams(q, m);
      if (typeof outer === 'string' || !sameQdqParams({ ...params, axis: axis ?? params.axis }, outer) || !dequantizeQuantizeIsIdentity(params)) {
        return m.fail('the DequantizeLinear has other uses and would not cancel downstream');
      }
    }
    return { dqs, params, axis };
  },
  rewrite(op, { dqs, params, axis }, rw) {
    // The op is rewired in place rather than recreated: a new node would re-notify every user of
    // its other operands, and a Reshape target shared by thousands of Reshapes would make each
    // move cost as much as the whole model.
    const y = op.output(0);
    const floatType = y.type;
    dqs.forEach((dq, i) => rw.setInput(op, i, dq.input(0)));
    y.type = floatType ? { ...floatType, dtype: params.dtype } : undefined;
    const first = dqs[0]!;
    const attrs = new Map(first.attrs);
    if (axis !== undefined) attrs.set('axis', { kind: 'int', value: axis });
    const dq = createNodeAfter(rw, op, {
      op: 'DequantizeLinear',
      inputs: [y, first.input(1), first.input(2)],
      attrs,
      outputs: [{ name: `${y.name}_dequantized`, type: floatType }],
    });
    dq.trimInputs();
    rewireUsesExcept(rw, y, dq.output(0), [dq], QUANTIZED_SUFFIX);
  },
});

/** QuantizeLinear(DequantizeLinear(q, s1, z1), s2, z2)  ==>  slimc:Requantize(q)  (target=slimc). */
export const lowerRequantizePair = definePattern<{ dq: Node; inner: QdqParams; outer: QdqParams }>({
  name: 'lower-requantize-pair',
  root: 'QuantizeLinear',
  benefit: 1,
  match(q, m) {
    const pair = matchQdqPair(q, 'DequantizeLinear', m);
    if ('failed' in pair) return pair;
    if (!m.hasOneUse(q.input(0)!)) return m.fail('the dequantized value has other uses');
    const { inner: dq, innerParams: inner, outerParams: outer } = pair;
    if (inner.axis !== undefined || outer.axis !== undefined) return m.fail('per-axis requantization');
    if (inner.dtype === 'int32' || outer.dtype === 'int32') return m.fail('int32 codes');
    return { dq, inner, outer };
  },
  rewrite(q, { dq, inner, outer }, rw) {
    const ratio = inner.scales[0]! / outer.scales[0]!;
    const rescale = integerRescale(ratio, inner.zeroPoints[0]!, outer.zeroPoints[0]!, outer.dtype);
    const y = q.output(0);
    const node = createSlimcRequantize(rw, q, dq.input(0)!, rescale, { name: `${y.name}_requantized`, type: y.type });
    rw.replaceOp(q, [node.output(0)]);
  },
});

/** Counts QuantizeLinear nodes fed by a DequantizeLinear (requantizations left in the graph). */
function countRequantizePairs(nodes: Iterable<Node>): number {
  let n = 0;
  for (const q of nodes) {
    if (q.op === 'QuantizeLinear' && isDefaultDomain(q) && q.input(0)?.producer?.op === 'DequantizeLinear') n++;
  }
  return n;
}

export function cancelQdqPatterns(options: { 'allow-lossy': boolean; target: string }): PatternSet {
  let set = PatternSet.of(cancelDequantizeQuantize, moveDequantizeDown);
  if (options['allow-lossy']) set = set.add(dropQuantizeDequantize);
  if (options.target === 'slimc') set = set.add(lowerRequantizePair);
  return set;
}

export const cancelQdqPass = definePass({
  name: 'cancel-qdq',
  description: 'Cancel DequantizeLinear -> QuantizeLinear pairs with equal parameters, moving DequantizeLinear through data-movement ops so pairs meet',
  kind: 'graph',
  options: {
    'allow-lossy': {
      type: 'boolean',
      default: false,
      description: 'also remove QuantizeLinear -> DequantizeLinear pairs (changes numerics: drops the rounding to the grid)',
    },
    target: {
      type: 'enum',
      values: ['onnx', 'slimc'],
      default: 'onnx',
      description: "onnx keeps requantizing DQ -> Q pairs as standard ops; slimc lowers them to one slimc:Requantize integer rescale",
    },
  },
  run(model, ctx, options) {
    const set = ctx.gatherPatterns('cancel-qdq', cancelQdqPatterns(options));
    const r = applyPatternsGreedily(model, set, { pass: 'cancel-qdq', maxRewrites: 8 * countNodes(model) + 64 });
    const stats: Record<string, number> = { ...r.fired };
    if (r.deadErased) stats['dead-nodes-erased'] = r.deadErased;
    if (r.constantsRemoved) stats['constants-removed'] = r.constantsRemoved;
    stats['requantize-pairs'] = countRequantizePairs(model.graph.allNodes());
    return { changed: r.changed, stats };
  },
});
