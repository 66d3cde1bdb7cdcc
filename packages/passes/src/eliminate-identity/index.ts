/**
 * eliminate-identity: removes nodes whose output is provably equal to their first input.
 *
 *   Identity(x)                                    ==>  x
 *   Dropout(x, ratio?, training_mode=false|absent) ==>  x   (inference; the mask output unused)
 *   Reshape(x, s)      with s resolving to x's own shape            ==>  x
 *   Transpose(x)       with perm = [0, 1, ..., r-1] (or r <= 1)     ==>  x
 *   Cast(x) {to=T}, CastLike(x, y)  with x already of type T        ==>  x
 *   Expand(x, s)       with s broadcasting to x's own shape         ==>  x
 *   Slice(x, ...)      with every sliced axis taken whole, step 1   ==>  x
 *   Concat(x)          with a single operand                        ==>  x
 *
 * Graph outputs keep their names. When the removed output is a graph output, x is renamed to that
 * name, which is possible only when x is a node output of the same graph and not itself a graph
 * output. Otherwise (x is a graph input, a constant, an outer value, or another output) the node
 * is kept: an Identity is the cheapest way to give a second name to a value, and the model's
 * interface must not change.
 *
 * Preconditions use only what is known statically: constant shape/axes operands and the value
 * types' static dims; symbolic dims count as equal only to themselves through the "copy" forms
 * (Reshape dim 0, Expand dim 1).
 */
import { type Node, type Value, dtypeFromOnnx, toIntArray } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { type MatchFailure, type Matcher, PatternSet, definePattern } from '../core/pattern.js';

/** Slice ends at or beyond this take the rest of the axis whatever its length (INT32_MAX and larger). */
const END_OF_AXIS = 2 ** 31 - 1;

function intsOf(m: Matcher, v: Value | null): number[] | undefined {
  const t = m.constant(v);
  return t ? toIntArray(t) : undefined;
}

/** Reshape target `target` applied to `shape` leaves it unchanged. */
function reshapeKeepsShape(shape: readonly (number | string | null)[], target: readonly number[], allowZero: boolean): boolean {
  if (shape.length !== target.length) return false;
  let inferred = 0;
  for (let i = 0; i < target.length; i++) {
    const t = target[i]!;
    const d = shape[i];
    if (t === 0 && !allowZero) continue; // copies the input dim
    if (t === -1) {
      // Every other dim is the input's own, so the element count forces this one to be too.
      if (++inferred > 1) return false;
      continue;
    }
    if (t !== d) return false;
  }
  return true;
}

function isIdentityPerm(perm: readonly number[] | undefined, rank: number | undefined): boolean {
  if (!perm) return rank !== undefined && rank <= 1; // default perm reverses the axes
  return perm.every((p, i) => p === i);
}

function sliceIsWhole(node: Node, m: Matcher, shape: readonly (number | string | null)[]): boolean {
  const rank = shape.length;
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (m.opset < 10) {
    starts = node.getInts('starts') as number[] | undefined;
    ends = node.getInts('ends') as number[] | undefined;
    axes = node.getInts('axes') as number[] | undefined;
  } else {
    starts = intsOf(m, node.input(1));
    ends = intsOf(m, node.input(2));
    axes = node.input(3) ? intsOf(m, node.input(3)) : undefined;
    if (node.input(3) && !axes) return false;
    steps = node.input(4) ? intsOf(m, node.input(4)) : undefined;
    if (node.input(4) && !steps) return false;
  }
  if (!starts || !ends || starts.length !== ends.length) return false;
  for (let i = 0; i < starts.length; i++) {
    const axis = axes ? (axes[i]! < 0 ? axes[i]! + rank : axes[i]!) : i;
    const d = shape[axis];
    if (axis < 0 || axis >= rank) return false;
    if ((steps?.[i] ?? 1) !== 1) return false;
    const s = starts[i]!;
    const e = ends[i]!;
    const startsAtZero = s === 0 || (typeof d === 'number' && s <= -d);
    const endsAtEnd = e >= END_OF_AXIS || (typeof d === 'number' && e >= d);
    if (!startsAtZero || !endsAtEnd) return false;
  }
  return true;
}

/** Why `node`'s output 0 is not provably its input 0, or undefined when it is. */
function identityFailure(node: Node, m: Matcher): string | undefined {
  const x = node.input(0);
  if (!x) return 'no data operand';
  const shape = x.type?.shape;
  switch (node.op) {
    case 'Identity':
      return undefined;
    case 'Dropout': {
      if (node.outputs[1]?.hasUses) return 'mask output is used';
      const training = node.input(2);
      if (training) {
        const t = m.constant(training);
        if (!t || Number(t.data[0]) !== 0) return 'training_mode may be true';
      }
      if (m.opset < 7 && node.getInt('is_test', 0) === 0) return 'is_test=0 (training) before opset 7';
      return undefined;
    }
    case 'Reshape': {
      const target = intsOf(m, node.input(1));
      if (!target || !shape) return 'shape operand or input rank unknown';
      return reshapeKeepsShape(shape, target, node.getInt('allowzero', 0) === 1) ? undefined : 'shape changes';
    }
    case 'Transpose':
      return isIdentityPerm(node.getInts('perm'), shape?.length) ? undefined : 'perm is not the identity';
    case 'Cast': {
      const to = dtypeFromOnnx(node.getInt('to', -1));
      return to && x.type && x.type.dtype === to ? undefined : 'changes or unknown dtype';
    }
    case 'CastLike': {
      const like = node.input(1);
      return like?.type && x.type && like.type.dtype === x.type.dtype ? undefined : 'changes or unknown dtype';
    }
    case 'Expand': {
      const target = intsOf(m, node.input(1));
      if (!target || !shape || target.length > shape.length) return 'shape operand unknown or raises the rank';
      const off = shape.length - target.length;
      return target.every((t, k) => t === 1 || t === shape[off + k]) ? undefined : 'broadcast changes the shape';
    }
    case 'Slice':
      return shape && sliceIsWhole(node, m, shape) ? undefined : 'slice may drop elements';
    case 'Concat':
      return node.inputs.length === 1 ? undefined : 'more than one operand';
    default:
      return 'not an identity op';
  }
}

/** Replaces the output of an identity-like node by its data input. */
export const eliminateIdentityPattern = definePattern<{ x: Value }>({
  name: 'eliminate-identity',
  root: ['Identity', 'Dropout', 'Reshape', 'Transpose', 'Cast', 'CastLike', 'Expand', 'Slice', 'Concat'],
  benefit: 2,
  match(node, m): { x: Value } | MatchFailure {
    if (node.domain !== '' && node.domain !== 'ai.onnx') return m.fail('op of another domain');
    const why = identityFailure(node, m);
    if (why) return m.fail(why);
    const x = node.input(0)!;
    const y = node.outputs[0];
    if (!y) return m.fail('no output');
    if (!m.canReplaceValue(y, x)) return m.fail('output is a graph output whose name the input cannot take');
    return { x };
  },
  rewrite(node, { x }, rw) {
    rw.replaceValue(node.output(0), x);
    if (node.isDead) rw.eraseNode(node);
  },
});

export const eliminateIdentityPass = definePass({
  name: 'eliminate-identity',
  description: 'Remove Identity, inference Dropout and Reshape/Transpose/Cast/Expand/Slice/Concat that provably change nothing',
  kind: 'pattern',
  options: {},
  patterns: () => PatternSet.of(eliminateIdentityPattern),
});
