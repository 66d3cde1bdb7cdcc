/**
 * fold-constants: evaluates nodes whose operands are all known and replaces their outputs by
 * constants (initializers).
 *
 *   before:  %s = Shape(%x: float32[1,3,8,8]);  %n = Gather(%s, 1);  %y = Mul(%n, 2)
 *   after:   const %y = int64 6          (Shape of a static shape is known even though %x is not)
 *
 *   before:  %w = Constant {value=...};  %t = Transpose(%w) {perm=[1,0]}
 *   after:   const %t = <transposed data>
 *
 * Each node is evaluated by the reference interpreter's `runNode` at the model's opset, so folding
 * means exactly what running the model would. Constant nodes become initializers this way too.
 *
 * Shapes come from the values' types, refreshed by shape inference (`inferShapes`) before folding.
 * Gather and Slice of a Shape whose input has a known rank fold when they pick only static dims
 * (`Gather(Shape(x: [N, 3, 224]), 1)` is 3 even though N is symbolic).
 *
 * Not folded:
 * - nondeterministic ops (RandomNormal, Bernoulli, ...) and ops with subgraphs (If, Loop, Scan);
 * - ops of other domains (custom ops have no reference semantics here);
 * - nodes whose output is a graph output (an initializer cannot keep the output's name);
 * - results larger than `sizeLimit` elements that are also larger than the node's constant inputs
 *   (ConstantOfShape/Expand/Tile blowing a few numbers up into a big tensor makes the model bigger;
 *   these are estimated before evaluating so nothing huge is allocated);
 * - ops the interpreter does not implement (the miss is reported, not an error).
 * Initializers that are also graph inputs (IR < 4 defaults) are not constants: callers may feed them.
 */
import { type Model, type Node, type Tensor, type Value, SlimcError, inferShapes, runNode, shapeSize, toIntArray, makeTensor } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { type Matcher, type MatchFailure, PatternSet, definePattern, isDefaultDomain } from '../core/pattern.js';
import { isNondeterministic } from '../core/op-traits.js';

export interface FoldConstantsOptions {
  sizeLimit: number;
}

export const DEFAULT_FOLD_SIZE_LIMIT = 1 << 16;

/** Shape(x) / Size(x) from x's static shape, or undefined when a dim is unknown. */
function foldShapeOf(node: Node, m: Matcher): Tensor | undefined {
  const shape = m.staticShape(node.input(0));
  if (!shape) return undefined;
  if (node.op === 'Size') return makeTensor('int64', [], [BigInt(shapeSize(shape))]);
  const r = shape.length;
  const clamp = (k: number) => Math.min(r, Math.max(0, k < 0 ? k + r : k));
  const start = clamp(node.getInt('start', 0));
  const end = clamp(node.getInt('end', r));
  const dims = shape.slice(start, Math.max(start, end));
  return makeTensor('int64', [dims.length], dims.map((d) => BigInt(d)));
}

/** Ops that select elements of their data operand: they fold when they pick only known dims of a shape. */
const SELECTS_ELEMENTS = new Set(['Gather', 'Slice']);

/** Stands for an unknown dim in a partly known shape vector (dims are never negative). */
const UNKNOWN_DIM = -(2n ** 62n);

/**
 * The shape vector produced by Shape(x) when x has a known rank, with UNKNOWN_DIM for the dims that
 * are not static: Gather/Slice picking only static dims of it fold even if x's shape is symbolic.
 */
function partialShapeOf(v: Value, m: Matcher): Tensor | undefined {
  const shapeNode = m.producer(v, 'Shape');
  const dims = shapeNode?.input(0)?.type?.shape;
  if (!shapeNode || !dims) return undefined;
  const r = dims.length;
  const clamp = (k: number) => Math.min(r, Math.max(0, k < 0 ? k + r : k));
  const start = clamp(shapeNode.getInt('start', 0));
  const end = clamp(shapeNode.getInt('end', r));
  const picked = dims.slice(start, Math.max(start, end));
  return makeTensor('int64', [picked.length], picked.map((d) => (typeof d === 'number' && d >= 0 ? BigInt(d) : UNKNOWN_DIM)));
}

function containsUnknownDim(t: Tensor): boolean {
  return t.dtype === 'int64' && (t.data as BigInt64Array).includes(UNKNOWN_DIM);
}

/** Elements the node would produce, for ops that expand small inputs; undefined when not such an op. */
function expandedSize(node: Node, inputs: readonly (Tensor | null)[]): number | undefined {
  const ints = (i: number) => (inputs[i] ? toIntArray(inputs[i]!) : []);
  switch (node.op) {
    case 'ConstantOfShape':
      return shapeSize(ints(0));
    case 'Expand': {
      const a = inputs[0]?.shape ?? [];
      const b = ints(1);
      const r = Math.max(a.length, b.length);
      let n = 1;
      for (let k = 0; k < r; k++) n *= Math.max(a[a.length - r + k] ?? 1, b[b.length - r + k] ?? 1);
      return n;
    }
    case 'Tile':
      return shapeSize(inputs[0]?.shape ?? []) * shapeSize(ints(1));
    case 'Range': {
      const [start, limit, delta] = [0, 1, 2].map((i) => Number(inputs[i]?.data[0] ?? 0));
      return delta ? Math.max(0, Math.ceil((limit! - start!) / delta)) : 0;
    }
    default:
      return undefined;
  }
}

/** Evaluates `node` when all its operands are constants, within the size rule; else a failure. */
export function evaluateConstantNode(node: Node, m: Matcher, sizeLimit: number): Tensor[] | MatchFailure {
  if (!isDefaultDomain(node)) return m.fail('op of another domain');
  if (isNondeterministic(node)) return m.fail('nondeterministic op');
  if (node.subgraphs().length) return m.fail('op with subgraphs');
  // The usual rejection first, before anything is allocated: an operand that is not constant
  // (Shape and Size read only their operand's type; Gather and Slice may select static dims).
  const readsShape = node.op === 'Shape' || node.op === 'Size';
  const selectsElements = SELECTS_ELEMENTS.has(node.op);
  for (let i = 0; i < node.inputs.length && !readsShape; i++) {
    const v = node.inputs[i];
    if (v && !(i === 0 && selectsElements) && !m.constant(v)) return m.fail(`operand ${v.name} is not constant`);
  }
  let used = false;
  for (const o of node.outputs) {
    if (o && (o.isGraphOutput || o.opaqueType !== undefined)) return m.fail('an output is a graph output or not a tensor');
    used ||= o !== null && o.hasUses;
  }
  if (!used) return m.fail('outputs unused');
  if (readsShape) {
    const t = foldShapeOf(node, m);
    return t ? [t] : m.fail('input shape not static');
  }
  const inputs: (Tensor | null)[] = [];
  let inputElements = 0;
  let partial = false;
  for (const v of node.inputs) {
    if (!v) {
      inputs.push(null);
      continue;
    }
    let t = m.constant(v);
    if (!t && inputs.length === 0 && SELECTS_ELEMENTS.has(node.op)) {
      t = partialShapeOf(v, m);
      partial = t !== undefined;
    }
    if (!t) return m.fail(`operand ${v.name} is not constant`);
    inputs.push(t);
    inputElements += t.data.length;
  }
  const allowed = Math.max(sizeLimit, inputElements);
  const estimate = expandedSize(node, inputs);
  if (estimate !== undefined && estimate > allowed) return m.fail(`result of ${estimate} elements exceeds the size limit`);
  let outs: (Tensor | null)[];
  try {
    outs = runNode(node, inputs, m.opset);
  } catch (e) {
    if (e instanceof SlimcError && e.kind === 'unsupported') return m.fail(`interpreter: ${e.detail}`);
    throw e;
  }
  const result: Tensor[] = [];
  let produced = 0;
  for (let i = 0; i < node.outputs.length; i++) {
    const t = outs[i];
    if (node.outputs[i] && !t) return m.fail(`interpreter gave no value for output ${i}`);
    if (t) {
      if (partial && containsUnknownDim(t)) return m.fail('selects a dim that is not static');
      result.push(t);
      produced += t.data.length;
    }
  }
  // Constant nodes only move their data into an initializer: never a growth.
  if (node.op !== 'Constant' && produced > allowed) return m.fail(`result of ${produced} elements exceeds the size limit`);
  return result;
}

/** Replaces a node whose operands are all known by constants. */
export function foldConstantPattern(sizeLimit = DEFAULT_FOLD_SIZE_LIMIT) {
  return definePattern({
    name: 'fold-constant',
    root: '*',
    benefit: 1,
    match: (node, m) => {
      const r = evaluateConstantNode(node, m, sizeLimit);
      return Array.isArray(r) ? { values: r } : r;
    },
    rewrite(node, { values }, rw) {
      let k = 0;
      for (const o of node.outputs) {
        if (!o) continue;
        const t = values[k++]!;
        if (o.hasUses) rw.replaceWithConstant(o, t);
      }
      rw.eraseNode(node);
    },
  });
}

export const foldConstantsPass = definePass({
  name: 'fold-constants',
  description: 'Evaluate nodes whose operands are constants (or static shapes) and turn Constant nodes into initializers',
  kind: 'pattern',
  options: {
    sizeLimit: {
      type: 'integer',
      default: DEFAULT_FOLD_SIZE_LIMIT,
      description: 'largest result (elements) folded when it is larger than the constant inputs',
    },
    inferShapes: { type: 'boolean', default: true, description: 'refresh value types by shape inference before folding' },
  },
  prepare: (model, ctx, { inferShapes }) => inferShapes && refreshShapes(model, ctx.warn),
  patterns: ({ sizeLimit }) => PatternSet.of(foldConstantPattern(sizeLimit)),
});

/**
 * Refreshes value types by shape inference so Shape-based folds see every static dim. A model the
 * inference cannot handle is folded with the types it has (the miss is reported, not an error).
 */
export function refreshShapes(model: Model, warn: (message: string) => void): void {
  try {
    inferShapes(model);
  } catch (e) {
    warn(`shape inference stopped: ${e instanceof Error ? e.message : String(e)}`);
  }
}
