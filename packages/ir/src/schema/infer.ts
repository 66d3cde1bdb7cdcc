/**
 * `inferShapes`: fills `Value.type` of node outputs from the op schemas' inference functions.
 *
 * Walks each graph in node order (the IR keeps nodes topologically sorted), recursing into
 * subgraphs through the control-flow ops' inference. Inferred types are merged with the types a
 * value already has (from the model's value_info): a static dim refines a symbolic or unknown one,
 * and a definite contradiction (different dtype, rank or static dim) raises a SlimcError naming
 * the node, op and value. Ops without a schema are skipped, their outputs left as they are.
 */
import { type DType, isIntegerDType } from '../dtype.js';
import { SlimcError } from '../errors.js';
import type { Dim, Graph, Model, Node, TensorType, Value } from '../graph.js';
import { toIntArray, type Tensor } from '../tensor.js';
import { constantNodeTensor } from './infer-ops.js';
import { getSchema } from './table.js';
import type { InferContext } from './types.js';

/** Integer tensors up to this many elements are evaluated for shape computations. */
const MAX_TRACKED_ELEMENTS = 64;

export function inferShapes(model: Model): void {
  new ShapeInference(model).inferGraph(model.graph);
}

/** The tensor of a value that is an initializer or the output of a Constant node. */
export function constantTensorOf(v: Value | null | undefined): Tensor | undefined {
  if (!v) return undefined;
  if (v.constant) return v.constant;
  if (v.producer?.op === 'Constant' && (v.producer.domain === '' || v.producer.domain === 'ai.onnx')) return constantNodeTensor(v.producer.attrs);
  return undefined;
}

class ShapeInference {
  /** Known elements of small integer tensors (shape arithmetic). */
  private readonly elements = new Map<Value, readonly Dim[]>();

  constructor(private readonly model: Model) {}

  private opsetOf(domain: string): number {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.model.opsetImports.get(d) ?? (d === '' ? this.model.opset : 1);
  }

  inferGraph(g: Graph): void {
    for (const n of g.nodes()) this.inferNode(n);
  }

  private knownElements(v: Value | null): readonly Dim[] | undefined {
    if (!v) return undefined;
    const tracked = this.elements.get(v);
    if (tracked) return tracked;
    const t = constantTensorOf(v);
    if (!t || !(isIntegerDType(t.dtype) || t.dtype === 'bool') || t.data.length > MAX_TRACKED_ELEMENTS) return undefined;
    return toIntArray(t);
  }

  /** Types `g`'s inputs from `inputTypes` (where given) and infers its nodes; returns its output types. */
  private inferSubgraph(
    n: Node,
    attr: string,
    inputTypes: readonly (TensorType | undefined)[] | undefined,
    fail: (detail: string, field?: string) => never,
  ): (TensorType | undefined)[] | undefined {
    const g = n.getGraph(attr);
    if (!g) return undefined;
    g.inputs.forEach((v, k) => {
      const t = inputTypes?.[k];
      if (t) v.type = mergeTypes(v.type, t, (detail) => fail(detail, `${attr} input ${k} (${v.name})`));
    });
    this.inferGraph(g);
    return g.outputs.map((v) => v.type);
  }

  /** Records the types of every value `g` (and its subgraphs) defines; the result restores them. */
  private snapshot(g: Graph): () => void {
    const saved: [Value, TensorType | undefined][] = [];
    for (const h of g.allGraphs()) {
      for (const v of h.inputs) saved.push([v, v.type]);
      for (const node of h.nodes()) for (const o of node.outputs) if (o) saved.push([o, o.type]);
    }
    return () => {
      for (const [v, t] of saved) {
        v.type = t;
        this.elements.delete(v);
      }
    };
  }

  private inferNode(n: Node): void {
    const schema = getSchema(n.op, n.domain, this.opsetOf(n.domain));
    if (!schema?.infer) {
      for (const sg of n.subgraphs()) this.inferGraph(sg);
      return;
    }
    const ctx = new NodeInferContext(this, n, this.opsetOf(n.domain));
    let inferred: readonly (TensorType | undefined)[];
    try {
      inferred = schema.infer(ctx);
    } catch (e) {
      if (e instanceof SlimcError) throw e;
      // A crash in an inference function is a bug in slimc, reported with the node it happened on.
      throw new SlimcError('internal', `shape inference failed: ${e instanceof Error ? e.message : String(e)}`, { model: this.model.source, node: n.label, op: n.qualifiedOp }, { cause: e });
    }
    const outputs = n.outputs;
    for (let k = 0; k < outputs.length; k++) {
      const v = outputs[k];
      const t = inferred[k];
      if (!v || !t) continue;
      v.type = mergeTypes(v.type, t, (detail) => ctx.fail(`inferred ${typeText(t)} but the value is declared ${typeText(v.type!)}: ${detail}`, `output ${k}`));
    }
  }

  /** Raises the invalid-model error of node `n`. */
  fail(n: Node, detail: string, field?: string): never {
    throw new SlimcError('invalid-model', detail, { model: this.model.source, node: n.label, op: n.qualifiedOp, field });
  }

  elementsOf(v: Value | null): readonly Dim[] | undefined {
    return this.knownElements(v);
  }

  recordElements(v: Value, dims: readonly Dim[]): void {
    if (dims.length <= MAX_TRACKED_ELEMENTS) this.elements.set(v, dims);
  }

  subgraphTypes(n: Node, attr: string, inputTypes: readonly (TensorType | undefined)[] | undefined): (TensorType | undefined)[] | undefined {
    return this.inferSubgraph(n, attr, inputTypes, (detail, field) => this.fail(n, detail, field));
  }

  /** Infers subgraph `attr` of `n`; a contradiction inside rolls its types back and is returned. */
  tryInferSubgraph(n: Node, attr: string): { types: (TensorType | undefined)[] | undefined; error?: SlimcError } {
    const g = n.getGraph(attr);
    if (!g) return { types: undefined };
    const rollBack = this.snapshot(g);
    try {
      return { types: this.subgraphTypes(n, attr, undefined) };
    } catch (e) {
      if (!(e instanceof SlimcError) || e.kind !== 'invalid-model') throw e;
      rollBack();
      return { types: undefined, error: e };
    }
  }

  /** See `InferContext.inferLoopBody`. */
  inferLoopBody(
    n: Node,
    attr: string,
    inputTypes: readonly (TensorType | undefined)[],
    carried: readonly (readonly [input: number, output: number])[],
  ): (TensorType | undefined)[] | undefined {
    const g = n.getGraph(attr);
    if (!g) return undefined;
    const rollBack = this.snapshot(g);
    let types = [...inputTypes];
    for (let round = 0; ; round++) {
      const outs = this.subgraphTypes(n, attr, types)!;
      const widened = [...types];
      let stable = true;
      for (const [input, output] of carried) {
        const w = widenCarried(types[input], outs[output], round >= LOOP_ROUNDS);
        if (!sameType(w, types[input])) {
          widened[input] = w;
          stable = false;
        }
      }
      if (stable) return outs;
      rollBack();
      types = widened;
    }
  }
}

/**
 * The view of one node that an inference function gets. A class rather than an object of
 * closures: shape inference runs on every node of every round, and this allocates one object.
 */
class NodeInferContext implements InferContext {
  constructor(
    private readonly inference: ShapeInference,
    readonly node: Node,
    readonly opset: number,
  ) {}

  get inputCount(): number {
    return this.node.inputs.length;
  }
  type(i: number): TensorType | undefined {
    return this.node.input(i)?.type;
  }
  dtype(i: number): DType | undefined {
    return this.node.input(i)?.type?.dtype;
  }
  shape(i: number): readonly Dim[] | undefined {
    return this.node.input(i)?.type?.shape;
  }
  constant(i: number): Tensor | undefined {
    return constantTensorOf(this.node.input(i));
  }
  elements(i: number): readonly Dim[] | undefined {
    return this.inference.elementsOf(this.node.input(i));
  }
  setElements(i: number, dims: readonly Dim[]): void {
    const v = this.node.outputs[i];
    if (v) this.inference.recordElements(v, dims);
  }
  fail(detail: string, field?: string): never {
    return this.inference.fail(this.node, detail, field);
  }
  inferSubgraph(attr: string, inputTypes?: readonly (TensorType | undefined)[]): (TensorType | undefined)[] | undefined {
    return this.inference.subgraphTypes(this.node, attr, inputTypes);
  }
  tryInferSubgraph(attr: string): { types: (TensorType | undefined)[] | undefined; error?: SlimcError } {
    return this.inference.tryInferSubgraph(this.node, attr);
  }
  inferLoopBody(
    attr: string,
    inputTypes: readonly (TensorType | undefined)[],
    carried: readonly (readonly [input: number, output: number])[],
  ): (TensorType | undefined)[] | undefined {
    return this.inference.inferLoopBody(this.node, attr, inputTypes, carried);
  }
}

/** Rounds of widening loop-carried types before falling back to dtype and rank only. */
const LOOP_ROUNDS = 3;

/**
 * The type a loop-carried value can have on every iteration, given its type entering an iteration
 * and the body's output for it: dims that stay the same are kept, others become unknown.
 */
function widenCarried(entering: TensorType | undefined, leaving: TensorType | undefined, giveUp: boolean): TensorType | undefined {
  if (!entering) return undefined;
  if (!entering.shape) return entering;
  if (!leaving?.shape || leaving.shape.length !== entering.shape.length || giveUp) return { dtype: entering.dtype, shape: entering.shape.map(() => null) };
  return { dtype: entering.dtype, shape: entering.shape.map((d, k) => (d !== null && d === leaving.shape![k] ? d : null)) };
}

function sameType(a: TensorType | undefined, b: TensorType | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.dtype !== b.dtype || !a.shape !== !b.shape) return false;
  return !a.shape || (a.shape.length === b.shape!.length && a.shape.every((d, k) => d === b.shape![k]));
}

function typeText(t: TensorType): string {
  return t.shape ? `${t.dtype}[${t.shape.map((d) => d ?? '?').join(',')}]` : `${t.dtype}[...]`;
}

/**
 * Combines a declared type with an inferred one. A static dim wins over a symbol, a symbol over
 * unknown; the declared symbol name wins over an inferred one (it is the model author's name).
 */
export function mergeTypes(declared: TensorType | undefined, inferred: TensorType, fail: (detail: string) => never): TensorType {
  if (!declared) return inferred;
  if (declared.dtype !== inferred.dtype) fail(`dtype ${declared.dtype} vs ${inferred.dtype}`);
  if (!inferred.shape) return declared;
  if (!declared.shape) return inferred;
  if (declared.shape.length !== inferred.shape.length) fail(`rank ${declared.shape.length} vs ${inferred.shape.length}`);
  let shape: Dim[] | undefined;
  for (let k = 0; k < declared.shape.length; k++) {
    const d = declared.shape[k]!;
    const e = inferred.shape[k]!;
    if (typeof d === 'number' && typeof e === 'number' && d !== e) fail(`dim ${k} is ${d} vs ${e}`);
    const merged = typeof d === 'number' ? d : typeof e === 'number' ? e : (d ?? e);
    if (merged !== d) (shape ??= declared.shape.slice())[k] = merged;
  }
  // Unchanged types keep their object: a round of inference over a large graph then allocates nothing per value.
  return shape ? { dtype: declared.dtype, shape } : declared;
}
