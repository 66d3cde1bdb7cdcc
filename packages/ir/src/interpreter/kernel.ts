/**
 * The kernel interface of the reference interpreter.
 *
 * A kernel computes one node's outputs from its input tensors. It reads attributes and reports
 * errors through a `KernelContext`, which knows the node and the opset, so every error a kernel
 * raises is a `SlimcError` naming node, op and field. Kernels never mutate their inputs.
 */
import type { Graph, Node } from '../graph.js';
import { SlimcError } from '../errors.js';
import type { Tensor } from '../tensor.js';

/** A kernel: input tensors (null for an omitted optional input) in, output tensors out. */
export type Kernel = (ctx: KernelContext, inputs: readonly (Tensor | null)[]) => (Tensor | null)[];

/** Runs a subgraph on tensors bound to its inputs; captured outer values resolve in the caller's scope. */
export type SubgraphRunner = (g: Graph, inputs: readonly Tensor[]) => Tensor[];

export class KernelContext {
  constructor(
    readonly node: Node,
    readonly opset: number,
    readonly runSubgraph: SubgraphRunner,
  ) {}

  /** An invalid-model error about this node (`field` e.g. `input 1`, `attribute axis`). */
  error(detail: string, field?: string): SlimcError {
    return new SlimcError('invalid-model', detail, { node: this.node.label, op: this.node.qualifiedOp, field });
  }

  /** An unsupported-feature error about this node. */
  unsupported(detail: string, field?: string): SlimcError {
    return new SlimcError('unsupported', detail, { node: this.node.label, op: this.node.qualifiedOp, field });
  }

  /** Input `i`, which must be present. */
  input(inputs: readonly (Tensor | null)[], i: number): Tensor {
    const t = inputs[i];
    if (!t) throw this.error('missing required input', `input ${i}`);
    return t;
  }

  int(name: string, dflt: number): number {
    const a = this.node.attrs.get(name);
    if (!a) return dflt;
    if (a.kind !== 'int') throw this.error(`expected an int, got ${a.kind}`, `attribute ${name}`);
    return a.value;
  }

  /** A required int attribute. */
  requiredInt(name: string): number {
    if (!this.node.attrs.has(name)) throw this.error('missing required attribute', `attribute ${name}`);
    return this.int(name, 0);
  }

  float(name: string, dflt: number): number {
    const a = this.node.attrs.get(name);
    if (!a) return dflt;
    if (a.kind === 'float' || a.kind === 'int') return a.value;
    throw this.error(`expected a float, got ${a.kind}`, `attribute ${name}`);
  }

  string(name: string, dflt: string): string {
    const a = this.node.attrs.get(name);
    if (!a) return dflt;
    if (a.kind !== 'string') throw this.error(`expected a string, got ${a.kind}`, `attribute ${name}`);
    return a.value;
  }

  ints(name: string): readonly number[] | undefined {
    const a = this.node.attrs.get(name);
    if (!a) return undefined;
    if (a.kind === 'ints') return a.value;
    if (a.kind === 'int') return [a.value];
    throw this.error(`expected ints, got ${a.kind}`, `attribute ${name}`);
  }

  floats(name: string): readonly number[] | undefined {
    const a = this.node.attrs.get(name);
    if (!a) return undefined;
    if (a.kind === 'floats' || a.kind === 'ints') return a.value;
    if (a.kind === 'float') return [a.value];
    throw this.error(`expected floats, got ${a.kind}`, `attribute ${name}`);
  }

  strings(name: string): readonly string[] | undefined {
    const a = this.node.attrs.get(name);
    if (!a) return undefined;
    if (a.kind !== 'strings') throw this.error(`expected strings, got ${a.kind}`, `attribute ${name}`);
    return a.value;
  }

  has(name: string): boolean {
    return this.node.attrs.has(name);
  }

  graph(name: string): Graph {
    const a = this.node.attrs.get(name);
    if (!a || a.kind !== 'graph') throw this.error('missing graph attribute', `attribute ${name}`);
    return a.value;
  }

  /** Normalizes a possibly negative axis against `rank`, checking its range. */
  axis(axis: number, rank: number, field = 'attribute axis'): number {
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank || !Number.isInteger(a)) throw this.error(`axis ${axis} is out of range for rank ${rank}`, field);
    return a;
  }
}
