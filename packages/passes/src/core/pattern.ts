/**
 * Rewrite patterns as data, the rewriter every mutation goes through, and the greedy driver.
 *
 * A pattern names its root op type(s) and a benefit; `match(node, m)` inspects the graph without
 * changing it and returns captures (or `m.fail(reason)`); `rewrite(node, captures, rw)` changes the
 * graph only through the `Rewriter`, which tells the driver what changed so the worklist stays
 * valid. Re-queued is only what a rewrite can newly make matchable: created and modified nodes, the
 * users of replaced values (their operands changed), the producers of values that lost a use (they
 * may now be dead), and the last user of a value that is down to one use (single-use fusions may
 * now apply); erased nodes are dropped. A value gaining a use (a new node or operand reading it)
 * re-queues nothing else: one more use can only turn off what the patterns ask of its other users
 * and its producer ("has one use", "every user is a ..."), so the cost of a rewrite does not grow
 * with the fan-out of the values it reads.
 *
 * The driver is a worklist over every node of the model (subgraphs included), first visited last to
 * first. Like MLIR's greedy driver, it erases a visited node whose outputs are all unused (and that
 * has no effects) before trying patterns on it, so no pattern fires on dead code. Each pop costs the
 * patterns registered for the node's op, so a sweep is O(nodes + rewrites x local work); there is
 * no rescan of the graph. A guard stops a set that never converges (more than
 * `maxRewrites` rewrites, default 8 per node + 64) and throws naming the patterns that kept firing.
 *
 * Constants whose last use a rewrite removes are deleted from their graph at the end of the run, in
 * one sweep per graph.
 */
import {
  type Graph,
  type Model,
  type Node,
  type NodeInit,
  type Tensor,
  type Value,
  type Attribute,
  SlimcError,
} from '@slimc/ir';
import { isRemovableWhenDead } from './op-traits.js';

/** A reason a pattern did not match (from `m.fail`). */
export interface MatchFailure {
  readonly failed: true;
  readonly reason: string;
}

export type MatchResult<C> = C | MatchFailure;

export interface Pattern<C = unknown> {
  readonly name: string;
  /** Op types the pattern may match at the root, or '*' for any op. */
  readonly root: string | readonly string[];
  /** Higher benefit is tried first among the patterns of one op. */
  readonly benefit: number;
  readonly match: (node: Node, m: Matcher) => MatchResult<C>;
  readonly rewrite: (node: Node, captures: C, rw: Rewriter) => void;
}

export interface PatternInit<C> {
  name: string;
  root: string | readonly string[];
  benefit?: number;
  match(node: Node, m: Matcher): MatchResult<C>;
  rewrite(node: Node, captures: C, rw: Rewriter): void;
}

export function definePattern<C>(init: PatternInit<C>): Pattern<C> {
  return Object.freeze({ benefit: 1, ...init });
}

export function isMatchFailure(r: unknown): r is MatchFailure {
  return typeof r === 'object' && r !== null && (r as MatchFailure).failed === true && 'reason' in r;
}

/** An immutable, composable list of patterns. */
export class PatternSet {
  private constructor(readonly patterns: readonly Pattern<any>[]) {}

  static of(...items: (Pattern<any> | PatternSet)[]): PatternSet {
    return PatternSet.empty.concat(...items);
  }

  static readonly empty = new PatternSet([]);

  /** A new set with the given patterns (or sets) appended; a pattern already present is kept once. */
  concat(...items: (Pattern<any> | PatternSet)[]): PatternSet {
    const out = [...this.patterns];
    const seen = new Set(out);
    for (const it of items) {
      // Duck-typed: a plugin may bring its own copy of this module (dist vs sources).
      for (const p of isPatternSet(it) ? it.patterns : [it]) {
        if (!seen.has(p)) {
          seen.add(p);
          out.push(p);
        }
      }
    }
    return new PatternSet(out);
  }

  /** Same as `concat` with one pattern (reads well in a waterfall tap). */
  add(p: Pattern<any>): PatternSet {
    return this.concat(p);
  }

  without(name: string): PatternSet {
    return new PatternSet(this.patterns.filter((p) => p.name !== name));
  }

  get names(): string[] {
    return this.patterns.map((p) => p.name);
  }

  get size(): number {
    return this.patterns.length;
  }
}

function isPatternSet(x: Pattern<any> | PatternSet): x is PatternSet {
  return x instanceof PatternSet || Array.isArray((x as { patterns?: unknown }).patterns);
}

/** Read-only queries for `match`. */
export class Matcher {
  constructor(readonly opset: number) {}

  fail(reason: string): MatchFailure {
    return { failed: true, reason };
  }

  /** The node producing `v` when its op is `op` (any op when omitted). */
  producer(v: Value | null | undefined, op?: string | readonly string[]): Node | null {
    const p = v?.producer;
    if (!p || !p.attached) return null;
    if (op === undefined) return p;
    return (typeof op === 'string' ? p.op === op : op.includes(p.op)) && isDefaultDomain(p) ? p : null;
  }

  /** The data of `v` when it is a true constant (an initializer that is not an overridable graph input). */
  constant(v: Value | null | undefined): Tensor | undefined {
    return v ? constantOf(v) : undefined;
  }

  /** True when `v` feeds exactly one operand and is no graph output. */
  hasOneUse(v: Value): boolean {
    return v.uses.length === 1 && !isGraphUse(v.uses[0]!);
  }

  /** The static shape of `v` when every dim is known. */
  staticShape(v: Value | null | undefined): number[] | undefined {
    return v ? staticShapeOf(v) : undefined;
  }

  /** True when `rw.replaceValue(from, to)` keeps every graph output name (see there). */
  canReplaceValue(from: Value, to: Value): boolean {
    return canReplaceValue(from, to);
  }
}

export function isDefaultDomain(n: Node): boolean {
  return n.domain === '' || n.domain === 'ai.onnx';
}

function isGraphUse(u: { user: unknown }): boolean {
  return !(u.user && typeof u.user === 'object' && 'op' in u.user);
}

export function constantOf(v: Value): Tensor | undefined {
  if (v.constant === undefined) return undefined;
  // An initializer that is also a graph input (IR < 4) is only a default: callers may override it.
  if (v.graph.inputs.includes(v)) return undefined;
  return v.constant;
}

export function staticShapeOf(v: Value): number[] | undefined {
  if (v.constant) return [...v.constant.shape];
  const s = v.type?.shape;
  if (!s) return undefined;
  for (const d of s) if (typeof d !== 'number' || d < 0) return undefined;
  return s as number[];
}

/**
 * Replacing `from` by `to` must not change the names of graph outputs. When `from` is an output of
 * its graph, `to` takes over its name, which is allowed only when `to` is a node output of the
 * same graph that is not itself a graph output (graph inputs, constants and outer values keep
 * their names, so the caller keeps the node that defines `from` instead).
 */
export function canReplaceValue(from: Value, to: Value): boolean {
  if (from === to) return false;
  if (!from.isGraphOutput) return true;
  return to.graph === from.graph && to.producer !== null && !to.isGraphOutput;
}

/** Replaces `from` by `to` everywhere, `to` taking `from`'s name when `from` is a graph output (see `canReplaceValue`). */
export function replaceValue(from: Value, to: Value): void {
  if (!canReplaceValue(from, to)) {
    throw new SlimcError('internal', `cannot replace graph output ${from.name} by ${to.name}`, { value: from.name });
  }
  const renamed = from.isGraphOutput;
  from.replaceAllUsesWith(to);
  if (renamed) {
    const name = from.name;
    from.name = from.graph.names.fresh(`${name}_replaced`);
    to.name = name;
    if (!to.type && from.type) to.type = from.type;
  }
}

/** Every mutation a rewrite makes goes through this, so the driver can keep its worklist exact. */
export interface RewriteListener {
  nodeCreated(n: Node): void;
  nodeChanged(n: Node): void;
  nodeErased(n: Node): void;
  /** `v` lost a use (its producer may be dead now, or its constant unused). */
  valueReleased(v: Value): void;
}

export class Rewriter {
  constructor(
    readonly model: Model,
    private readonly listener: RewriteListener,
  ) {}

  /** Points every use of `from` at `to`. Use `replaceValue` when `from` may be a graph output. */
  replaceAllUsesWith(from: Value, to: Value): void {
    if (from === to) return;
    const moved = from.uses.length;
    from.replaceAllUsesWith(to);
    this.usesMoved(from, to, moved);
  }

  /**
   * Replaces `from` by `to` everywhere; if `from` is a graph output, `to` is renamed to `from`'s
   * name so the model's interface is unchanged. Throws when `canReplaceValue(from, to)` is false.
   */
  replaceValue(from: Value, to: Value): void {
    const moved = from.uses.length;
    replaceValue(from, to);
    this.usesMoved(from, to, moved);
  }

  /**
   * After the last `moved` uses of `to` came from `from` (a move appends them, in order): `from`
   * is released and the nodes using them have a new operand. Users `to` had before are unchanged.
   */
  private usesMoved(from: Value, to: Value, moved: number): void {
    this.listener.valueReleased(from);
    for (let k = to.uses.length - moved; k < to.uses.length; k++) {
      const user = to.uses[k]!.user;
      if ('op' in user) this.listener.nodeChanged(user);
    }
  }

  /** Replaces each output of `node` by the matching value (null: the output must be unused) and erases it. */
  replaceOp(node: Node, values: readonly (Value | null)[]): void {
    node.outputs.forEach((o, i) => {
      const v = values[i];
      if (o && v) this.replaceValue(o, v);
    });
    this.eraseNode(node);
  }

  /**
   * Replaces `node` by a new single-output node `op(inputs)` {attrs} created right before it: the
   * new output takes over `node`'s output 0 (its uses, and its name if it is a graph output).
   */
  replaceOpWithNew(node: Node, init: { op: string; inputs: readonly (Value | null)[]; attrs?: NodeInit['attrs']; domain?: string }): Node {
    const y = node.output(0);
    const created = this.createNode({ ...init, outputs: [{ name: `${y.name}_${init.op.toLowerCase()}`, type: y.type }] }, node);
    this.replaceValue(y, created.output(0));
    this.eraseNode(node);
    return created;
  }

  /** Creates a node in `before`'s graph right before it (only the new node is queued; see the module comment). */
  createNode(init: NodeInit, before: Node): Node {
    const n = before.graph.addNode(init, { before });
    this.listener.nodeCreated(n);
    return n;
  }

  /** Erases a node whose outputs are unused. */
  eraseNode(node: Node): void {
    const operands = node.inputs.filter((v): v is Value => v !== null);
    node.erase();
    this.listener.nodeErased(node);
    for (const v of operands) this.listener.valueReleased(v);
  }

  setInput(node: Node, index: number, v: Value | null): void {
    const old = node.inputs[index] ?? null;
    if (old === v) return;
    node.setInput(index, v);
    if (old) this.listener.valueReleased(old);
    this.listener.nodeChanged(node);
  }

  setAttr(node: Node, name: string, a: Attribute): void {
    node.setAttr(name, a);
    this.listener.nodeChanged(node);
  }

  removeAttr(node: Node, name: string): void {
    if (node.deleteAttr(name)) this.listener.nodeChanged(node);
  }

  /** Adds a constant to `graph` (the graph of the node that will use it). */
  addConstant(graph: Graph, name: string, tensor: Tensor): Value {
    return graph.addConstant(name, tensor);
  }

  /**
   * Points `node`'s operand `index` at a new constant holding `t` (a folded weight or bias). When the
   * operand was a constant that `node` alone used, the new constant takes over its name and the old
   * one, now unused, is left to dead-code elimination: a weight keeps the model's name however many
   * folds rewrite it. Otherwise the new constant is `<operand>_folded`, or `name` when there was no
   * operand.
   */
  replaceConstantOperand(node: Node, index: number, t: Tensor, name?: string): Value {
    const old = node.input(index);
    const c = this.addConstant(node.graph, old ? `${old.name}_folded` : (name ?? `${node.output(0).name}_${index}`), t);
    const sole = !!old && old.isConstant && old.uses.length === 1 && !old.isGraphInput && old.graph === node.graph;
    this.setInput(node, index, c);
    if (sole) {
      const kept = old.name;
      old.name = c.name;
      c.name = kept;
    }
    return c;
  }

  /**
   * Replaces every use of `v` (not a graph output) by a new constant holding `t`; the constant takes
   * `v`'s name, so folded values keep readable, stable names.
   */
  replaceWithConstant(v: Value, t: Tensor): Value {
    if (v.isGraphOutput) throw new SlimcError('internal', `cannot turn graph output ${v.name} into a constant`, { value: v.name });
    const c = this.addConstant(v.graph, `${v.name}_folded`, t);
    c.quant = v.quant;
    this.replaceAllUsesWith(v, c);
    const name = v.name;
    v.name = c.name;
    c.name = name;
    return c;
  }

  /** Tells the driver a node changed in a way the rewriter did not see. */
  notifyChanged(node: Node): void {
    this.listener.nodeChanged(node);
  }
}

export interface DriverOptions {
  /** Opset of the default domain (defaults to the model's). */
  opset?: number;
  /** Rewrite budget; default 8 per node + 64. */
  maxRewrites?: number;
  /** Called for each `m.fail` (debugging why a pattern did not fire). */
  onMatchFailure?: (pattern: string, node: Node, reason: string) => void;
  /** Pass name for error messages. */
  pass?: string;
  /** Erase nodes whose outputs are unused (and that have no effects) when they are visited; default true. */
  eraseDeadNodes?: boolean;
}

export interface DriverResult {
  changed: boolean;
  rewrites: number;
  /** Rewrites per pattern name. */
  fired: Record<string, number>;
  /** Constants removed because rewrites left them unused. */
  constantsRemoved: number;
  /** Dead nodes erased on the way. */
  deadErased: number;
}

/** Indexes a pattern set by root op, highest benefit first (stable among equals). */
function indexPatterns(set: PatternSet): { byOp: Map<string, Pattern<any>[]>; any: Pattern<any>[] } {
  const byOp = new Map<string, Pattern<any>[]>();
  const any: Pattern<any>[] = [];
  for (const p of set.patterns) {
    for (const r of typeof p.root === 'string' ? [p.root] : p.root) {
      if (r === '*') any.push(p);
      else {
        let list = byOp.get(r);
        if (!list) byOp.set(r, (list = []));
        list.push(p);
      }
    }
  }
  const order = (a: Pattern<any>, b: Pattern<any>) => b.benefit - a.benefit;
  for (const [op, list] of byOp) byOp.set(op, [...list, ...any].sort(order));
  any.sort(order);
  return { byOp, any };
}

/** Marks distinguish driver runs, so a run never mistakes a mark left by another for its own. */
let nextWorklistMark = 1;

/**
 * Applies `set` to every node of `model` (subgraphs included) until no pattern matches.
 * Nodes are first visited in reverse graph order, then as the rewriter re-queues them.
 */
export function applyPatternsGreedily(model: Model, set: PatternSet, opts: DriverOptions = {}): DriverResult {
  const { byOp, any } = indexPatterns(set);
  const fired: Record<string, number> = {};
  const result: DriverResult = { changed: false, rewrites: 0, fired, constantsRemoved: 0, deadErased: 0 };
  if (set.size === 0) return result;

  // Stack of nodes to visit; a node marked with this run's mark is on it (at most once).
  const stack: Node[] = [];
  const mark = nextWorklistMark++;
  const push = (n: Node | null) => {
    if (n && n.attached && n.worklistMark !== mark) {
      n.worklistMark = mark;
      stack.push(n);
    }
  };
  const releasedConstants = new Set<Value>();
  const listener: RewriteListener = {
    nodeCreated: push,
    nodeChanged: push,
    nodeErased: (n) => {
      n.worklistMark = 0;
    },
    valueReleased: (v) => {
      if (v.producer) push(v.producer);
      else if (v.constant && v.uses.length === 0) releasedConstants.add(v);
      // A value down to one use enables single-use patterns (fusions) at that user.
      if (v.uses.length === 1 && 'op' in v.uses[0]!.user) push(v.uses[0]!.user as Node);
    },
  };
  const rw = new Rewriter(model, listener);
  const m = new Matcher(opts.opset ?? model.opset);

  // Pushed in graph order, so the last node is visited first: dead code goes users-first, and a
  // value's uses are dropped from the end of its use list (O(1) each, even for a value with 100k
  // dead users). A node that does not match yet because its operands are not folded yet is
  // re-queued when they are (the rewriter reports the users of replaced values).
  const all = [...model.graph.allNodes()];
  for (const n of all) push(n);
  const budget = opts.maxRewrites ?? 8 * all.length + 64;
  const eraseDead = opts.eraseDeadNodes ?? true;
  // Firings in the second half of the budget name the patterns that keep firing.
  const late: Record<string, number> = {};

  while (stack.length) {
    const node = stack.pop()!;
    node.worklistMark = 0;
    if (!node.attached) continue;
    // Trivially dead nodes go before any pattern sees them (no pattern should fire on dead code).
    if (eraseDead && node.isDead && isRemovableWhenDead(node)) {
      rw.eraseNode(node);
      result.deadErased++;
      continue;
    }
    const candidates = byOp.get(node.op) ?? any;
    for (const p of candidates) {
      let captures: unknown;
      try {
        captures = p.match(node, m);
      } catch (e) {
        throw wrapPatternError(e, p, node, 'match', opts.pass);
      }
      if (isMatchFailure(captures)) {
        opts.onMatchFailure?.(p.name, node, captures.reason);
        continue;
      }
      try {
        p.rewrite(node, captures, rw);
      } catch (e) {
        throw wrapPatternError(e, p, node, 'rewrite', opts.pass);
      }
      result.rewrites++;
      fired[p.name] = (fired[p.name] ?? 0) + 1;
      if (result.rewrites > budget / 2) late[p.name] = (late[p.name] ?? 0) + 1;
      if (result.rewrites > budget) {
        const culprits = Object.entries(late)
          .sort((a, b) => b[1] - a[1])
          .map(([name, k]) => `${name} (${k}x)`)
          .join(', ');
        throw new SlimcError(
          'internal',
          `pattern rewriting did not converge after ${budget} rewrites; still firing: ${culprits}`,
          { pass: opts.pass, model: model.source },
        );
      }
      // The node may have been replaced; anything that changed was re-queued by the rewriter.
      push(node);
      break;
    }
  }

  result.changed = result.rewrites + result.deadErased > 0;
  result.constantsRemoved = removeUnusedConstants(releasedConstants);
  return result;
}

function wrapPatternError(e: unknown, p: Pattern<any>, node: Node, phase: string, pass?: string): SlimcError {
  const ctx = { pass, node: node.label, op: node.qualifiedOp };
  if (e instanceof SlimcError) return e.withContext(ctx);
  const msg = e instanceof Error ? e.message : String(e);
  return new SlimcError('internal', `pattern ${p.name} failed in ${phase}: ${msg}`, ctx, { cause: e });
}

/** Removes the given constants that are still unused, one sweep per graph. Returns how many. */
export function removeUnusedConstants(candidates: Iterable<Value>): number {
  const byGraph = new Map<Graph, Set<Value>>();
  for (const v of candidates) {
    if (v.uses.length || v.constant === undefined) continue;
    let s = byGraph.get(v.graph);
    if (!s) byGraph.set(v.graph, (s = new Set()));
    s.add(v);
  }
  let removed = 0;
  for (const [g, dead] of byGraph) {
    const inputs = new Set(g.inputs);
    removed += filterInPlace(g.initializers, (c) => !dead.has(c) || inputs.has(c));
  }
  return removed;
}

/** Keeps the elements accepted by `keep`, in order, without reallocating. Returns how many were dropped. */
export function filterInPlace<T>(list: T[], keep: (x: T) => boolean): number {
  let w = 0;
  for (let r = 0; r < list.length; r++) {
    const x = list[r]!;
    if (keep(x)) list[w++] = x;
  }
  const dropped = list.length - w;
  list.length = w;
  return dropped;
}
