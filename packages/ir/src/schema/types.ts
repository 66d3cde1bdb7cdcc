/**
 * The shape of an op schema: operand and result ports, attributes, type constraints and a shape
 * inference function. Schemas are data (see `table.ts`), written in a compact text form and parsed
 * once by `defineOp`.
 */
import type { DType } from '../dtype.js';
import type { AttributeKind, Dim, Node, TensorType } from '../graph.js';
import type { Tensor } from '../tensor.js';
import type { SlimcError } from '../errors.js';

/** How many operands a port takes: exactly one, zero or one, or a run of one or more (zero or more when `min` is 0). */
export type PortArity = 'single' | 'optional' | 'variadic';

export interface PortSpec {
  readonly name: string;
  readonly arity: PortArity;
  /** Fewest operands a variadic port takes (ONNX `min_arity`). */
  readonly min: number;
  /**
   * A type variable of `OpSchema.types` (ports naming the same variable share one dtype), or a
   * fixed dtype set, or undefined for "any type, not shared" (heterogeneous control-flow ports).
   */
  readonly typeVar?: string;
  readonly dtypes?: readonly DType[];
}

export interface AttributeSpec {
  readonly kind: AttributeKind;
  readonly required: boolean;
}

export interface OpSchema {
  readonly op: string;
  /** '' for the default ONNX domain. */
  readonly domain: string;
  /** First opset version this signature applies to. */
  readonly since: number;
  readonly inputs: readonly PortSpec[];
  readonly outputs: readonly PortSpec[];
  readonly minInputs: number;
  readonly maxInputs: number;
  readonly minOutputs: number;
  readonly maxOutputs: number;
  readonly attributes: Readonly<Record<string, AttributeSpec>>;
  /** Type variable -> allowed dtypes. */
  readonly types: Readonly<Record<string, readonly DType[]>>;
  readonly infer?: InferFn;
}

/** What an inference function sees of one node. */
export interface InferContext {
  readonly node: Node;
  /** Opset of the node's domain. */
  readonly opset: number;
  readonly inputCount: number;
  type(i: number): TensorType | undefined;
  dtype(i: number): DType | undefined;
  shape(i: number): readonly Dim[] | undefined;
  /** The data of operand i when it is an initializer or a Constant-node output. */
  constant(i: number): Tensor | undefined;
  /**
   * The elements of a small integer operand when they are known: from a constant, or propagated
   * from Shape/Gather/Concat/... arithmetic on shapes (elements may then be symbolic or unknown).
   */
  elements(i: number): readonly Dim[] | undefined;
  /** Records the known elements of output i (for shape computations downstream). */
  setElements(i: number, elements: readonly Dim[]): void;
  /** Raises a SlimcError naming this node and `field` (a definite contradiction in the model). */
  fail(detail: string, field?: string): never;
  /** Infers the types inside a subgraph, whose inputs are refined by `inputTypes`; returns its output types. */
  inferSubgraph(attr: string, inputTypes?: readonly (TensorType | undefined)[]): (TensorType | undefined)[] | undefined;
  /** Like `inferSubgraph`, but a contradiction inside rolls the subgraph's types back and is returned instead of thrown. */
  tryInferSubgraph(attr: string): { types: (TensorType | undefined)[] | undefined; error?: SlimcError };
  /**
   * Infers a loop body whose `carried` [body input, body output] pairs feed each other across
   * iterations: the carried input types are widened (dims that change become unknown) until the
   * body maps them to themselves, so every type inside holds on every iteration.
   */
  inferLoopBody(
    attr: string,
    inputTypes: readonly (TensorType | undefined)[],
    carried: readonly (readonly [input: number, output: number])[],
  ): (TensorType | undefined)[] | undefined;
}

/** Output types (undefined where not inferable), by output index. */
export type InferFn = (ctx: InferContext) => readonly (TensorType | undefined)[];
