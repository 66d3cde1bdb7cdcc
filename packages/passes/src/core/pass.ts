/**
 * Pass declarations. Two sizes of pass (as in onnxruntime's optimizer):
 *
 * - `graph`: a whole-model transform, `run(model, ctx, options) -> { changed, stats? }`.
 * - `pattern`: a set of rewrite patterns run to a fixpoint by the greedy driver; the set is built
 *   from the options, then offered to plugins through the compiler's `patterns` hook.
 *
 * Both declare their options as a schema so pipeline strings can be validated and `slimc passes`
 * can list them.
 */
import type { Model, Tensor, Graph, Value } from '@slimc/ir';
import type { OptionSchema, OptionValues } from './options.js';
import type { PatternSet } from './pattern.js';
import type { Compiler } from './compiler.js';

export interface PassResult {
  changed: boolean;
  /** Counters for the report, e.g. `{ folded: 12 }`. */
  stats?: Record<string, number>;
}

/** Element order of an observed tensor: its shape's, or NHWC for a 4-D NCHW value an executor keeps NHWC. */
export type ObservedLayout = 'logical' | 'nhwc';

export interface ExecutorRunOptions {
  opset: number;
  /** Sees node outputs as they are computed (graph inputs are the caller's own). */
  observe?: (value: Value, t: Tensor, layout: ObservedLayout) => void;
  /**
   * The values `observe` wants (default: every node output). Others are not handed out, and an
   * executor may compute them differently (fused into their producer, never stored).
   */
  observed?: ReadonlySet<Value>;
  /**
   * 'copy' (default): `observe` gets tensors it may keep, in the logical layout. 'view': it reads
   * each tensor only during the call and its statistics do not depend on element order unless it
   * consults `layout`; the executor may then hand out a view of its own memory (no copy, no
   * transpose) that is invalid once the callback returns.
   */
  data?: 'copy' | 'view';
}

/** Runs a graph on inputs: the reference interpreter by default (see `Compiler.hooks.executor`). */
export interface Executor {
  readonly name: string;
  run(graph: Graph, inputs: Record<string, Tensor>, opts: ExecutorRunOptions): Record<string, Tensor> | Promise<Record<string, Tensor>>;
}

export interface PassContext {
  readonly compiler: Compiler;
  readonly model: Model;
  /** Opset of the default domain. */
  readonly opset: number;
  /** The running pass. */
  readonly pass: string;
  /** Who runs graphs (interpreter unless a plugin tapped `executor`). */
  executor(purpose: string): Executor;
  /** The pattern set for pattern pass `passName`, after plugins had their say through the `patterns` hook. */
  gatherPatterns(passName: string, base: PatternSet): PatternSet;
  /** A note for the report (not an error). */
  warn(message: string): void;
}

interface PassBase<S extends OptionSchema> {
  readonly name: string;
  readonly description: string;
  readonly options: S;
}

export interface GraphPass<S extends OptionSchema = OptionSchema> extends PassBase<S> {
  readonly kind: 'graph';
  run(model: Model, ctx: PassContext, options: OptionValues<S>): PassResult | Promise<PassResult>;
}

export interface PatternPass<S extends OptionSchema = OptionSchema> extends PassBase<S> {
  readonly kind: 'pattern';
  patterns(options: OptionValues<S>, ctx: PassContext): PatternSet;
  /** Runs once before the driver (e.g. to refresh shape information the patterns read). */
  prepare?(model: Model, ctx: PassContext, options: OptionValues<S>): void;
  /** Rewrite budget per node (default 8). */
  readonly maxRewritesPerNode?: number;
}

export type Pass<S extends OptionSchema = OptionSchema> = GraphPass<S> | PatternPass<S>;

/** Type-checks a pass declaration and freezes it. */
export function definePass<S extends OptionSchema>(pass: Pass<S>): Pass<S> {
  if (!/^[a-z][a-z0-9-]*$/.test(pass.name)) throw new Error(`pass name "${pass.name}" must be kebab-case`);
  return Object.freeze(pass);
}

/** A plugin: everything it does, it does in `apply` by tapping hooks and registering passes. */
export interface Plugin {
  readonly name: string;
  apply(compiler: Compiler): void;
}

export function definePlugin(plugin: Plugin): Plugin {
  if (!plugin.name) throw new Error('a plugin needs a name');
  return Object.freeze(plugin);
}
