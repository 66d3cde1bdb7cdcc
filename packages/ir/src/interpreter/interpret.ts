/**
 * The reference interpreter: runs a graph on tensors, node by node in list (topological) order.
 *
 * Values resolve through a chain of scopes: a constant's own data, then the values computed in
 * the current graph, then those of the enclosing graphs, which is how If/Loop/Scan bodies see the
 * outer values they capture. Every error is a SlimcError naming the node and op.
 */
import { Graph, nodeOperandsDeep, type Attribute, type Node, type Value } from '../graph.js';
import { SlimcError, isSlimcError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { KernelContext } from './kernel.js';
import { kernelFor } from './registry.js';

/** Opset assumed when the caller does not say (the newest the kernels implement). */
export const DEFAULT_OPSET = 21;

export interface InterpretOptions {
  /** Opset of the default ONNX domain (`model.opset`). */
  opset?: number;
  /** Called with every value a node computes (subgraph values included), e.g. for calibration. */
  observe?: (value: Value, t: Tensor) => void;
}

class Scope {
  readonly values = new Map<Value, Tensor>();
  constructor(
    readonly parent: Scope | null,
    /** Last resort for values defined outside every scope (runNode's outer values). */
    readonly outer?: (v: Value) => Tensor | undefined,
  ) {}

  get(v: Value): Tensor | undefined {
    if (v.constant) return v.constant;
    for (let s: Scope | null = this; s; s = s.parent) {
      const t = s.values.get(v);
      if (t) return t;
      if (!s.parent && s.outer) return s.outer(v);
    }
    return undefined;
  }
}

/** Runs `graph` on `inputs` (by graph-input name) and returns its outputs by name. */
export function interpret(graph: Graph, inputs: Record<string, Tensor>, opts: InterpretOptions = {}): Record<string, Tensor> {
  const scope = new Scope(null);
  for (const v of graph.inputs) {
    const t = inputs[v.name] ?? v.constant;
    if (!t) throw new SlimcError('invalid-argument', 'no tensor given for graph input', { value: v.name });
    checkInput(v, t);
    scope.values.set(v, t);
  }
  const outs = runGraph(graph, scope, opts.opset ?? DEFAULT_OPSET, opts.observe);
  const result: Record<string, Tensor> = {};
  graph.outputs.forEach((v, i) => (result[v.name] = outs[i]!));
  return result;
}

/** Checks a bound input against the declared type (dtype, rank, static dims). */
function checkInput(v: Value, t: Tensor): void {
  const ty = v.type;
  if (!ty) return;
  if (ty.dtype !== t.dtype) throw new SlimcError('invalid-argument', `expected ${ty.dtype}, got ${t.dtype}`, { value: v.name });
  if (!ty.shape) return;
  const bad =
    ty.shape.length !== t.shape.length || ty.shape.some((d, i) => typeof d === 'number' && d !== t.shape[i]);
  if (bad) throw new SlimcError('invalid-argument', `expected shape [${ty.shape.map((d) => d ?? '?').join(',')}], got [${t.shape.join(',')}]`, { value: v.name });
}

/**
 * For each node, the values of this graph's scope whose last use it is (operands and subgraph
 * captures), so their tensors can be dropped once it has run: peak memory then follows the live
 * values, not the whole model. Graph outputs are never dropped.
 */
function lastUses(graph: Graph): Map<Node, Value[]> {
  const last = new Map<Value, Node>();
  for (const node of graph.nodes()) for (const v of nodeOperandsDeep(node)) if (!v.constant) last.set(v, node);
  const outputs = new Set(graph.outputs);
  const byNode = new Map<Node, Value[]>();
  for (const [v, node] of last) {
    if (outputs.has(v) || v.graph !== graph) continue;
    const list = byNode.get(node);
    if (list) list.push(v);
    else byNode.set(node, [v]);
  }
  return byNode;
}

function runGraph(graph: Graph, scope: Scope, opset: number, observe: InterpretOptions['observe']): Tensor[] {
  const dead = lastUses(graph);
  for (const node of graph.nodes()) {
    const ins = node.inputs.map((v, i) => {
      if (!v) return null;
      const t = scope.get(v);
      if (!t) throw new SlimcError('invalid-model', `value "${v.name}" has no tensor (not computed before its use)`, { node: node.label, op: node.qualifiedOp, field: `input ${i}` });
      return t;
    });
    const outs = execute(node, ins, opset, (g, bound) => runSubgraph(g, bound, scope, opset, observe));
    node.outputs.forEach((v, i) => {
      if (!v) return;
      const t = outs[i];
      if (!t) throw new SlimcError('internal', `kernel produced no output ${i}`, { node: node.label, op: node.qualifiedOp });
      if (v.uses.length) scope.values.set(v, t);
      observe?.(v, t);
    });
    for (const v of dead.get(node) ?? []) scope.values.delete(v);
  }
  return graph.outputs.map((v) => {
    const t = scope.get(v);
    if (!t) throw new SlimcError('invalid-model', 'graph output is never computed', { value: v.name });
    return t;
  });
}

function runSubgraph(g: Graph, bound: readonly Tensor[], parent: Scope, opset: number, observe: InterpretOptions['observe']): Tensor[] {
  const scope = new Scope(parent);
  if (bound.length > g.inputs.length) {
    throw new SlimcError('invalid-model', `subgraph takes ${g.inputs.length} inputs, got ${bound.length}`, { node: g.parent?.label, op: g.parent?.op, field: `graph ${g.name}` });
  }
  g.inputs.forEach((v, i) => {
    const t = bound[i];
    if (t) scope.values.set(v, t);
  });
  return runGraph(g, scope, opset, observe);
}

/** Runs one node's kernel, turning every failure into a SlimcError about the node. */
function execute(node: Node, ins: readonly (Tensor | null)[], opset: number, sub: (g: Graph, bound: readonly Tensor[]) => Tensor[]): (Tensor | null)[] {
  const kernel = kernelFor(node.op, node.domain);
  const where = { node: node.label, op: node.qualifiedOp };
  if (!kernel) throw new SlimcError('unsupported', 'the interpreter has no kernel for this op', where);
  try {
    return kernel(new KernelContext(node, opset, sub), ins);
  } catch (e) {
    if (isSlimcError(e)) throw e.withContext(where);
    throw new SlimcError('internal', `kernel failed: ${(e as Error).message}`, where, { cause: e });
  }
}

/**
 * Runs one node on given input tensors (constant folding). Subgraph bodies may capture outer
 * values: they resolve through `outer` when given, else to the values' constants.
 */
export function runNode(node: Node, inputs: readonly (Tensor | null)[], opset: number, outer?: (v: Value) => Tensor | undefined): (Tensor | null)[] {
  const root = new Scope(null, outer);
  return execute(node, inputs, opset, (g, bound) => runSubgraph(g, bound, root, opset, undefined));
}

export interface RunOpOptions {
  opset?: number;
  domain?: string;
  /** Number of outputs the node declares (default 1). */
  outputs?: number;
}

/** Runs a single op on tensors, building a throwaway one-node graph (tests, quick evaluation). */
export function runOp(op: string, inputs: readonly (Tensor | null)[], attrs: Record<string, Attribute> = {}, opts: RunOpOptions = {}): (Tensor | null)[] {
  const g = new Graph('op');
  const vals = inputs.map((t, i) => (t ? g.addConstant(`in${i}`, t) : null));
  const node = g.addNode({ op, domain: opts.domain, inputs: vals, outputs: opts.outputs ?? 1, attrs });
  return runNode(node, inputs, opts.opset ?? DEFAULT_OPSET);
}
