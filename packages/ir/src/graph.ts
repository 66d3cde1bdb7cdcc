/**
 * The SSA graph IR.
 *
 * - A `Value` is defined exactly once: as a graph input, as a constant (initializer), or as one
 *   output of one `Node`. Every value keeps the list of its uses, so replace-all-uses, erase and
 *   insert cost O(uses), never a scan of the graph.
 * - A `Node` has ordered inputs (a missing optional input is `null`), ordered outputs (an omitted
 *   optional output is `null`), typed attributes, and nested subgraphs in graph-kind attributes
 *   (If/Loop/Scan bodies). Nodes of a graph sit in an intrusive doubly linked list kept in
 *   topological order.
 * - A subgraph may use values of the graphs that enclose it (captures); such a use is an ordinary
 *   entry in the outer value's use list.
 * - Use lists are unordered bags kept in a deterministic order: a new use goes at the end, a removed
 *   use is replaced by the last one (swap-remove). Each user records the slot of each of its uses in
 *   the value's list, so removing or moving a use costs O(1), however many uses the value has.
 * - Names are unique across a whole model (one `NameTable` shared by the root graph and every
 *   subgraph), as ONNX requires for values.
 */
import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';

/** A static dim, a symbolic dim name, or an unknown dim. */
export type Dim = number | string | null;

export interface TensorType {
  readonly dtype: DType;
  /** undefined when the rank is unknown. */
  readonly shape?: readonly Dim[];
}

/** Quantization parameters attached to a value (per-tensor when `axis` is undefined). */
export interface QuantParams {
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  readonly axis?: number;
  /** Storage type of the quantized form: int8, uint8, int16, uint16 or int32. */
  readonly dtype: DType;
  /** Bits actually used (7 with reduce-range, 8 otherwise, 32 for biases). */
  readonly bits: number;
}

export type Attribute =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: Tensor }
  | { readonly kind: 'graph'; readonly value: Graph }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'strings'; readonly value: readonly string[] }
  | { readonly kind: 'tensors'; readonly value: readonly Tensor[] }
  | { readonly kind: 'graphs'; readonly value: readonly Graph[] }
  /** Kinds slimc does not model (sparse tensors, type protos, attribute references): kept as decoded for round trip. */
  | { readonly kind: 'opaque'; readonly value: unknown };

export type AttributeKind = Attribute['kind'];

/** Where a value is used: operand `index` of a node, or graph output `index` of a graph. */
export interface Use {
  readonly user: Node | Graph;
  readonly index: number;
}

/** Where user's use at `index` sits in its value's use list (see the module comment). */
function slotsOf(user: Node | Graph): number[] {
  return user instanceof Node ? user.operandUseSlots : user.outputUseSlots;
}

/** Appends `u` to `v`'s use list, recording its slot with its user. */
function appendUse(v: Value, u: Use): void {
  const uses = v.uses;
  slotsOf(u.user)[u.index] = uses.length;
  // Most values have one to three uses: their lists are copied at exact size, since an array grown
  // by push reserves room for 17 elements (a cost per value that large graphs feel in the GC).
  if (uses.length < SMALL_USE_LIST) (v as { uses: Use[] }).uses = [...uses, u];
  else uses.push(u);
}

const SMALL_USE_LIST = 4;

const NO_GRAPHS: readonly Graph[] = Object.freeze([]);
const NO_ATTRS: ReadonlyMap<string, Attribute> = new Map();

let nextId = 1;

export class Value {
  readonly id = nextId++;
  name: string;
  type: TensorType | undefined;
  quant: QuantParams | undefined;
  docString: string | undefined;
  /** Non-tensor types (sequence, map, optional) kept as decoded TypeProto for round trip. */
  opaqueType: unknown;
  /**
   * True when the source model declared this intermediate value's type (in value_info): writers
   * then declare it again. Types that slimc inferred are not written back by default.
   */
  typeDeclared = false;
  /** The node whose output this is, or null for graph inputs and constants. */
  producer: Node | null = null;
  /** Output index in `producer`. */
  producerIndex = -1;
  /** The data of a constant (initializer). */
  constant: Tensor | undefined;
  /** The graph whose scope defines this value. */
  graph: Graph;
  readonly uses: Use[] = [];

  constructor(graph: Graph, name: string, type?: TensorType) {
    this.graph = graph;
    this.name = name;
    this.type = type;
    this.quant = undefined;
    this.docString = undefined;
    this.opaqueType = undefined;
    this.constant = undefined;
  }

  get isConstant(): boolean {
    return this.constant !== undefined;
  }

  get isGraphInput(): boolean {
    return this.graph.inputs.includes(this);
  }

  get hasUses(): boolean {
    return this.uses.length > 0;
  }

  /** Users that are nodes (graph-output uses excluded), each once. */
  userNodes(): Node[] {
    const out = new Set<Node>();
    for (const u of this.uses) if (u.user instanceof Node) out.add(u.user);
    return [...out];
  }

  /** True when this value is an output of some graph (its own or an enclosing one). */
  get isGraphOutput(): boolean {
    const uses = this.uses;
    for (let k = 0; k < uses.length; k++) if (uses[k]!.user instanceof Graph) return true;
    return false;
  }

  /** Points every use of this value at `other` (graph outputs included). */
  replaceAllUsesWith(other: Value): void {
    if (other === this) return;
    const uses = this.uses.splice(0, this.uses.length);
    for (const u of uses) {
      if (u.user instanceof Node) u.user.inputs[u.index] = other;
      else u.user.outputs[u.index] = other;
      appendUse(other, u);
    }
  }

  /** Points the uses accepted by `pred` at `other`. */
  replaceUsesWhere(other: Value, pred: (u: Use) => boolean): void {
    if (other === this) return;
    const keep: Use[] = [];
    for (const u of this.uses) {
      if (!pred(u)) {
        keep.push(u);
        continue;
      }
      if (u.user instanceof Node) u.user.inputs[u.index] = other;
      else u.user.outputs[u.index] = other;
      appendUse(other, u);
    }
    this.uses.length = 0;
    for (const u of keep) appendUse(this, u);
  }

  toString(): string {
    return `%${this.name}`;
  }
}

export interface NodeInit {
  op: string;
  domain?: string;
  name?: string;
  inputs?: readonly (Value | null)[];
  /** Output names (a fresh unique name is made from each), null for an omitted optional output, or a count. */
  outputs?: readonly (string | null | { name: string; type?: TensorType })[] | number;
  attrs?: Iterable<[string, Attribute]> | Record<string, Attribute>;
  docString?: string;
}

export class Node {
  readonly id = nextId++;
  op: string;
  domain: string;
  name: string;
  readonly inputs: (Value | null)[] = [];
  readonly outputs: (Value | null)[] = [];
  /** Slot of operand i's use in its value's use list (kept by the IR, so removal is O(1)). */
  operandUseSlots: number[] = [];
  /** Created on the first attribute: many nodes (Relu, Add, ...) have none. */
  private attrMap: Map<string, Attribute> | undefined;
  docString: string | undefined;
  /** NodeProto fields slimc does not model (metadata_props, overload, ...) kept for round trip. */
  extra: Record<string, unknown> | undefined;
  graph: Graph;
  prev: Node | null = null;
  next: Node | null = null;
  /** False once erased. */
  attached = false;
  /**
   * Scratch mark of the worklist a pattern driver keeps this node on (0: on none). A field rather
   * than a set of nodes: on a million-node graph such a set outgrows the CPU caches.
   */
  worklistMark = 0;

  constructor(graph: Graph, op: string, domain = '', name = '') {
    this.graph = graph;
    this.op = op;
    this.domain = domain;
    this.name = name;
    this.docString = undefined;
    this.extra = undefined;
  }

  /** `Conv` or `com.microsoft:QGemm`. */
  get qualifiedOp(): string {
    return this.domain && this.domain !== 'ai.onnx' ? `${this.domain}:${this.op}` : this.op;
  }

  /** A name for messages: the node's name, or `Op#id` when it has none. */
  get label(): string {
    return this.name || `${this.op}#${this.id}`;
  }

  input(i: number): Value | null {
    return this.inputs[i] ?? null;
  }

  output(i: number): Value {
    const v = this.outputs[i];
    if (!v) throw new Error(`node ${this.label} (${this.op}) has no output ${i}`);
    return v;
  }

  /** Sets operand i (extending with nulls if needed), keeping use lists exact. */
  setInput(i: number, v: Value | null): void {
    while (this.inputs.length <= i) this.inputs.push(null);
    const old = this.inputs[i];
    if (old === v) return;
    if (old) removeUse(old, this, i);
    this.inputs[i] = v;
    if (v) appendUse(v, { user: this, index: i });
  }

  /** Replaces all operands. */
  setInputs(vs: readonly (Value | null)[]): void {
    this.inputs.forEach((v, i) => v && removeUse(v, this, i));
    // Sized up front: an array grown from empty reserves room for 17 elements, a cost per node.
    (this as { inputs: (Value | null)[] }).inputs = vs.slice();
    this.operandUseSlots = new Array<number>(vs.length);
    vs.forEach((v, i) => v && appendUse(v, { user: this, index: i }));
  }

  /** Drops trailing null operands (omitted optional inputs). */
  trimInputs(): void {
    while (this.inputs.length && this.inputs[this.inputs.length - 1] === null) this.inputs.pop();
  }

  /** Adds an output value with a fresh unique name based on `name`. */
  addOutput(name: string, type?: TensorType): Value {
    const v = new Value(this.graph, this.graph.names.fresh(name), type);
    v.producer = this;
    v.producerIndex = this.outputs.length;
    this.appendOutput(v);
    return v;
  }

  /** Appends to `outputs`; the usual single output gets an exact-size array (see `setInputs`). */
  appendOutput(v: Value | null): void {
    if (this.outputs.length === 0) (this as { outputs: (Value | null)[] }).outputs = [v];
    else this.outputs.push(v);
  }

  attr(name: string): Attribute | undefined {
    return this.attrs.get(name);
  }

  getInt(name: string, dflt: number): number;
  getInt(name: string): number | undefined;
  getInt(name: string, dflt?: number): number | undefined {
    const a = this.attrs.get(name);
    return a && a.kind === 'int' ? a.value : dflt;
  }

  getFloat(name: string, dflt: number): number;
  getFloat(name: string): number | undefined;
  getFloat(name: string, dflt?: number): number | undefined {
    const a = this.attrs.get(name);
    return a && a.kind === 'float' ? a.value : dflt;
  }

  getString(name: string, dflt: string): string;
  getString(name: string): string | undefined;
  getString(name: string, dflt?: string): string | undefined {
    const a = this.attrs.get(name);
    return a && a.kind === 'string' ? a.value : dflt;
  }

  getInts(name: string): readonly number[] | undefined {
    const a = this.attrs.get(name);
    return a && a.kind === 'ints' ? a.value : undefined;
  }

  getFloats(name: string): readonly number[] | undefined {
    const a = this.attrs.get(name);
    return a && a.kind === 'floats' ? a.value : undefined;
  }

  getTensor(name: string): Tensor | undefined {
    const a = this.attrs.get(name);
    return a && a.kind === 'tensor' ? a.value : undefined;
  }

  getGraph(name: string): Graph | undefined {
    const a = this.attrs.get(name);
    return a && a.kind === 'graph' ? a.value : undefined;
  }

  /** Typed attributes, read-only: they change through `setAttr` and `deleteAttr`. */
  get attrs(): ReadonlyMap<string, Attribute> {
    return this.attrMap ?? NO_ATTRS;
  }

  /** Removes attribute `name`; true if it was there. */
  deleteAttr(name: string): boolean {
    return this.attrMap?.delete(name) ?? false;
  }

  setAttr(name: string, a: Attribute): void {
    (this.attrMap ??= new Map()).set(name, a);
    if (a.kind === 'graph') adoptSubgraph(this, a.value);
    if (a.kind === 'graphs') for (const g of a.value) adoptSubgraph(this, g);
  }

  /** Nested graphs held by this node's attributes. */
  subgraphs(): readonly Graph[] {
    if (this.attrs.size === 0) return NO_GRAPHS;
    let out: Graph[] | undefined;
    for (const a of this.attrs.values()) {
      if (a.kind === 'graph') (out ??= []).push(a.value);
      else if (a.kind === 'graphs') (out ??= []).push(...a.value);
    }
    // Called on every node by every walk of a graph: nodes without subgraphs allocate nothing.
    return out ?? NO_GRAPHS;
  }

  /** True when every output is unused (graph outputs count as uses). */
  get isDead(): boolean {
    return this.outputs.every((o) => !o || o.uses.length === 0);
  }

  /** Removes the node. Its outputs must be unused unless `force`. Subgraph nodes drop their captures. */
  erase(force = false): void {
    if (!this.attached) return;
    if (!force) {
      for (const o of this.outputs) {
        if (o && o.uses.length) {
          throw new Error(`erase: output ${o.name} of node ${this.label} (${this.op}) still has ${o.uses.length} use(s)`);
        }
      }
    }
    this.inputs.forEach((v, i) => v && removeUse(v, this, i));
    for (const g of this.subgraphs()) g.dropAllUses();
    this.graph.unlink(this);
  }

  /** Moves this node right before `other` (same graph). */
  moveBefore(other: Node): void {
    if (other === this) return;
    this.graph.unlink(this);
    other.graph.linkBefore(this, other);
  }

  moveAfter(other: Node): void {
    if (other === this) return;
    this.graph.unlink(this);
    other.graph.linkAfter(this, other);
  }

  toString(): string {
    return `${this.label}(${this.qualifiedOp})`;
  }
}

/**
 * Attaches `g` under `owner`. A graph built with its own NameTable joins the model's: its names are
 * claimed there, and a name the model already uses is replaced by a fresh one (values only; uses
 * point at Value objects, so nothing else changes).
 */
function adoptSubgraph(owner: Node, g: Graph): void {
  g.parent = owner;
  const names = owner.graph.names;
  if (g.names === names) return;
  const rename = (h: Graph) => {
    h.names = names;
    const defined: Value[] = [...h.inputs, ...h.initializers];
    for (const n of h.nodes()) for (const o of n.outputs) if (o) defined.push(o);
    for (const v of new Set(defined)) v.name = names.has(v.name) ? names.fresh(v.name) : (names.claim(v.name), v.name);
    for (const n of h.nodes()) for (const sg of n.subgraphs()) rename(sg);
  };
  rename(g);
}

/**
 * Removes the use of `v` by `user` at `index`; the last use takes its slot. O(1) through the slot
 * the user recorded; a use list edited by hand (slots not recorded) falls back to a scan from the
 * end, which removes the same use and moves the same last use.
 */
function removeUse(v: Value, user: Node | Graph, index: number): void {
  const uses = v.uses;
  let k = slotsOf(user)[index] ?? -1;
  const u = uses[k];
  if (!u || u.user !== user || u.index !== index) {
    for (k = uses.length - 1; k >= 0; k--) if (uses[k]!.user === user && uses[k]!.index === index) break;
    if (k < 0) throw new Error(`use list of ${v.name} is missing a use at index ${index}`);
  }
  const last = uses.pop()!;
  if (k < uses.length) {
    uses[k] = last;
    slotsOf(last.user)[last.index] = k;
  }
}

/**
 * The iterator of `Graph.nodes()` (and, descending into subgraphs, `allNodes()`): it reads the next
 * node before handing out the current one, so the current node may be erased. Walks run over every
 * node many times per pass, so the walk reuses one result object instead of allocating per node
 * (the iterator protocol allows it: a result is read before `next` is called again).
 */
class NodeWalk implements IterableIterator<Node> {
  private readonly result: { done: boolean; value: Node } = { done: false, value: undefined as unknown as Node };
  /** Where to resume in each enclosing graph when `nested` walks descend into subgraphs. */
  private readonly pending: (Node | null)[] = [];
  /** The node handed out last: a nested walk descends into its subgraphs (as they are by then). */
  private last: Node | null = null;

  constructor(
    private following: Node | null,
    private readonly nested: boolean,
  ) {}

  next(): IteratorResult<Node> {
    if (this.nested && this.last) {
      const subgraphs = this.last.subgraphs();
      if (subgraphs.length) {
        // Walk the subgraphs (in order) before the node's successors.
        this.pending.push(this.following);
        for (let k = subgraphs.length - 1; k > 0; k--) this.pending.push(subgraphs[k]!.first);
        this.following = subgraphs[0]!.first;
      }
    }
    let n = this.following;
    while (!n && this.pending.length) n = this.pending.pop()!;
    this.last = n;
    if (!n) {
      this.result.done = true;
      this.result.value = undefined as unknown as Node;
      return this.result;
    }
    this.following = n.next;
    this.result.value = n;
    return this.result;
  }

  [Symbol.iterator](): IterableIterator<Node> {
    return this;
  }
}

/** Model-wide set of value and node names, with fresh-name generation. */
export class NameTable {
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();

  has(name: string): boolean {
    return this.used.has(name);
  }

  /** Records `name` as taken (import keeps the model's own names). */
  claim(name: string): void {
    this.used.add(name);
  }

  /** A name not yet used, `base` itself if free, else `base_1`, `base_2`, ... */
  fresh(base: string): string {
    const b = base || 'v';
    if (!this.used.has(b)) {
      this.used.add(b);
      return b;
    }
    let k = this.counters.get(b) ?? 0;
    let name: string;
    do name = `${b}_${++k}`;
    while (this.used.has(name));
    this.counters.set(b, k);
    this.used.add(name);
    return name;
  }
}

export interface InsertPoint {
  before?: Node | null;
  after?: Node | null;
}

export class Graph {
  name: string;
  docString: string | undefined;
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  /** Constants (initializers) defined in this graph, in order. */
  readonly initializers: Value[] = [];
  /** GraphProto fields slimc does not model (sparse_initializer, quantization_annotation, ...), kept for round trip. */
  extra: Record<string, unknown> | undefined;
  /** Slot of output i's use in its value's use list (kept by the IR, so removal is O(1)). */
  readonly outputUseSlots: number[] = [];
  /** The node holding this graph in an attribute, or null for the main graph. */
  parent: Node | null = null;
  names: NameTable;
  first: Node | null = null;
  last: Node | null = null;
  private count = 0;

  constructor(name = 'main', names = new NameTable()) {
    this.name = name;
    this.names = names;
    this.docString = undefined;
    this.extra = undefined;
  }

  get nodeCount(): number {
    return this.count;
  }

  /** Nodes in order. Safe against erasing the current node while iterating. */
  nodes(): IterableIterator<Node> {
    return new NodeWalk(this.first, false);
  }

  nodeList(): Node[] {
    const out = new Array<Node>(this.count);
    let k = 0;
    for (let n = this.first; n; n = n.next) out[k++] = n;
    out.length = k;
    return out;
  }

  /** This graph and every nested subgraph, outer first. */
  allGraphs(): Graph[] {
    const out: Graph[] = [this];
    for (let k = 0; k < out.length; k++) {
      // Depth first, outer first: each graph's subgraphs follow it, in node order.
      const nested: Graph[] = [];
      for (let n = out[k]!.first; n; n = n.next) {
        const subgraphs = n.subgraphs();
        for (let i = 0; i < subgraphs.length; i++) nested.push(subgraphs[i]!);
      }
      if (nested.length) out.splice(k + 1, 0, ...nested);
    }
    return out;
  }

  /** Every node of this graph and its subgraphs (a node before the nodes of its subgraphs). */
  allNodes(): IterableIterator<Node> {
    return new NodeWalk(this.first, true);
  }

  /** The outermost graph. */
  get root(): Graph {
    let g: Graph = this;
    while (g.parent) g = g.parent.graph;
    return g;
  }

  /** True if `g` is this graph or encloses it. */
  isWithin(g: Graph): boolean {
    for (let c: Graph | undefined = this; c; c = c.parent?.graph) if (c === g) return true;
    return false;
  }

  addInput(name: string, type?: TensorType): Value {
    const v = new Value(this, this.names.fresh(name), type);
    this.inputs.push(v);
    return v;
  }

  /** Adds a constant (initializer). */
  addConstant(name: string, tensor: Tensor): Value {
    const v = new Value(this, this.names.fresh(name), { dtype: tensor.dtype, shape: [...tensor.shape] });
    v.constant = tensor;
    this.initializers.push(v);
    return v;
  }

  /** Removes an unused constant. */
  removeConstant(v: Value): void {
    if (v.uses.length) throw new Error(`removeConstant: ${v.name} still has ${v.uses.length} use(s)`);
    const i = this.initializers.indexOf(v);
    if (i < 0) throw new Error(`removeConstant: ${v.name} is not a constant of graph ${this.name}`);
    this.initializers.splice(i, 1);
  }

  addOutput(v: Value): void {
    this.outputs.push(v);
    appendUse(v, { user: this, index: this.outputs.length - 1 });
  }

  setOutput(i: number, v: Value): void {
    const old = this.outputs[i];
    if (old === v) return;
    if (old) removeUse(old, this, i);
    this.outputs[i] = v;
    appendUse(v, { user: this, index: i });
  }

  /**
   * Creates a node with fresh outputs and links it at `at` (default: the end of the graph).
   * Keep topological order: insert before the first user of its outputs.
   */
  addNode(init: NodeInit, at: InsertPoint = {}): Node {
    const n = new Node(this, init.op, init.domain ?? '', init.name ?? '');
    if (n.name) n.name = this.names.has(n.name) ? this.names.fresh(n.name) : (this.names.claim(n.name), n.name);
    n.setInputs(init.inputs ?? []);
    const outs = init.outputs ?? 1;
    if (typeof outs === 'number') {
      const base = (init.name || init.op).replace(/[^A-Za-z0-9_.:/-]/g, '_');
      for (let i = 0; i < outs; i++) n.addOutput(outs === 1 ? base : `${base}_out${i}`);
    } else {
      for (const o of outs) {
        if (o === null) {
          n.appendOutput(null);
        } else if (typeof o === 'string') {
          n.addOutput(o);
        } else {
          n.addOutput(o.name, o.type);
        }
      }
    }
    if (init.attrs) {
      const entries = Symbol.iterator in Object(init.attrs) ? (init.attrs as Iterable<[string, Attribute]>) : Object.entries(init.attrs);
      for (const [k, a] of entries) n.setAttr(k, a);
    }
    n.docString = init.docString;
    if (at.before) this.linkBefore(n, at.before);
    else if (at.after) this.linkAfter(n, at.after);
    else this.linkBefore(n, null);
    return n;
  }

  /** Links a detached node before `ref` (null: at the end). */
  linkBefore(n: Node, ref: Node | null): void {
    if (n.attached) throw new Error(`node ${n.label} is already linked`);
    if (ref && ref.graph !== this) throw new Error(`insert point ${ref.label} is not in graph ${this.name}`);
    n.graph = this;
    n.attached = true;
    if (!ref) {
      n.prev = this.last;
      n.next = null;
      if (this.last) this.last.next = n;
      else this.first = n;
      this.last = n;
    } else {
      n.next = ref;
      n.prev = ref.prev;
      if (ref.prev) ref.prev.next = n;
      else this.first = n;
      ref.prev = n;
    }
    this.count++;
  }

  linkAfter(n: Node, ref: Node): void {
    this.linkBefore(n, ref.next);
  }

  /** Detaches a node from the list (no use-list changes; see Node.erase). */
  unlink(n: Node): void {
    if (!n.attached) return;
    if (n.prev) n.prev.next = n.next;
    else this.first = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.last = n.prev;
    n.prev = n.next = null;
    n.attached = false;
    this.count--;
  }

  /** Drops every use made by this graph's nodes and outputs (used when the graph is discarded). */
  dropAllUses(): void {
    for (const n of this.nodes()) {
      n.inputs.forEach((v, i) => v && removeUse(v, n, i));
      n.inputs.fill(null);
      for (const g of n.subgraphs()) g.dropAllUses();
    }
    this.outputs.forEach((v, i) => removeUse(v, this, i));
    this.outputs.length = 0;
    this.outputUseSlots.length = 0;
  }

  /** Reorders nodes into a topological order (stable: keeps the current order where it is already valid). */
  sortTopologically(): void {
    const order = topologicalOrder(this);
    this.first = this.last = null;
    this.count = 0;
    for (const n of order) {
      n.attached = false;
      this.linkBefore(n, null);
    }
  }

  toString(): string {
    return `graph ${this.name} (${this.count} nodes)`;
  }
}

/**
 * Kahn's algorithm over this graph's nodes, treating a node as depending on the producers of its
 * inputs and of the values its subgraphs capture. Throws naming a node on a cycle.
 */
export function topologicalOrder(g: Graph): Node[] {
  const nodes = g.nodeList();
  const index = new Map<Node, number>();
  nodes.forEach((n, i) => index.set(n, i));
  const indeg = new Int32Array(nodes.length);
  const succ: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const deps = new Set<number>();
    for (const v of nodeOperandsDeep(n)) {
      const p = v.producer;
      if (!p) continue;
      // A capture from a subgraph points at an outer producer; map it to the node of `g` that holds it.
      const j = index.get(p);
      if (j !== undefined && j !== i) deps.add(j);
    }
    for (const j of deps) {
      succ[j]!.push(i);
      indeg[i]!++;
    }
  });
  // Min-heap on original index keeps the order stable.
  const heap: number[] = [];
  const push = (x: number) => {
    heap.push(x);
    let k = heap.length - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (heap[p]! <= x) break;
      heap[k] = heap[p]!;
      k = p;
    }
    heap[k] = x;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && heap[r]! < heap[l]! ? r : l;
        if (heap[c]! >= last) break;
        heap[k] = heap[c]!;
        k = c;
      }
      heap[k] = last;
    }
    return top;
  };
  indeg.forEach((d, i) => d === 0 && push(i));
  const out: Node[] = [];
  while (heap.length) {
    const i = pop();
    out.push(nodes[i]!);
    for (const j of succ[i]!) if (--indeg[j]! === 0) push(j);
  }
  if (out.length !== nodes.length) {
    const stuck = nodes.find((_, i) => indeg[i]! > 0)!;
    throw new CycleError(g, stuck);
  }
  return out;
}

export class CycleError extends Error {
  constructor(
    readonly graph: Graph,
    readonly node: Node,
  ) {
    super(`graph ${graph.name} has a cycle through node "${node.label}" (${node.op})`);
    this.name = 'CycleError';
  }
}

/** Inputs of `n` plus the outer values its subgraphs (recursively) capture. */
export function nodeOperandsDeep(n: Node): Value[] {
  const out: Value[] = [];
  for (const v of n.inputs) if (v) out.push(v);
  for (const sg of n.subgraphs()) out.push(...capturedValues(sg));
  return out;
}

/** Values used inside `g` (or its subgraphs) but defined outside `g`. */
export function capturedValues(g: Graph): Value[] {
  const out = new Set<Value>();
  const visit = (h: Graph) => {
    for (const n of h.nodes()) {
      for (const v of n.inputs) if (v && !v.graph.isWithin(g)) out.add(v);
      for (const sg of n.subgraphs()) visit(sg);
    }
    for (const v of h.outputs) if (!v.graph.isWithin(g)) out.add(v);
  };
  visit(g);
  return [...out];
}

/** ONNX model-level container around the main graph. */
export class Model {
  irVersion = 8;
  /** Domain ('' is the default ONNX domain) -> opset version. */
  readonly opsetImports = new Map<string, number>();
  producerName = 'slimc';
  producerVersion = '';
  domain = '';
  modelVersion = 0;
  docString: string | undefined = undefined;
  readonly metadata: { key: string; value: string }[] = [];
  /** ModelProto fields kept opaque (functions, training_info, ...). */
  extra: Record<string, unknown> | undefined = undefined;
  /** Where the model came from, for messages. */
  source: string | undefined = undefined;

  constructor(public graph: Graph = new Graph()) {}

  /** Opset version of the default ONNX domain. */
  get opset(): number {
    return this.opsetImports.get('') ?? this.opsetImports.get('ai.onnx') ?? 1;
  }
}
