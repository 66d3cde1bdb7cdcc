/**
 * The IR's validity rules, as a table of small named checks. Each rule walks a prepared
 * `VerifyScope` and reports diagnostics; none mutates the IR. `verify` runs them all.
 *
 * Rules (name: what must hold):
 *   node-graph-link       a graph's node list is well linked and each node's `graph` is the graph it is linked in
 *   subgraph-parent       a graph held in a node attribute has that node as `parent` and shares the model's name table
 *   subgraph-signature    If branches, Loop and Scan bodies have the inputs and outputs their node implies
 *   single-definition     each value is defined once: as a graph input, a constant, or output k of the node whose outputs[k] it is
 *   use-list              every operand and graph output appears exactly once in its value's use list, and every use is real
 *   topological-order     operands are produced by earlier nodes; cycles (through captures too) are named
 *   dangling-value        operands are defined in the node's graph or an enclosing one, captures before the holding node
 *   graph-output-defined  graph outputs are defined in the graph or an enclosing one (captures as for dangling-value)
 *   op-arity              known ops have an allowed number of operands/results, required ones present
 *   attribute-required    required attributes are present
 *   attribute-kind        attributes have the schema's kind
 *   attribute-unknown     attributes the schema does not define
 *   type-constraint       operand/result dtypes (where known) satisfy the schema's type constraints
 *   constant-data         constant tensors' data length matches their shape, and the value's type matches the tensor
 *   unique-names          value names, and non-empty node names, are unique model-wide
 */
import { Graph as DependencyGraph, alg } from '@dagrejs/graphlib';
import type { DType } from '../dtype.js';
import { type Graph, Node, nodeOperandsDeep, type Value } from '../graph.js';
import { getSchema } from '../schema/table.js';
import type { OpSchema, PortSpec } from '../schema/types.js';
import { shapeSize, type Tensor } from '../tensor.js';

export interface Diagnostic {
  rule: string;
  message: string;
  node?: string;
  op?: string;
  value?: string;
  field?: string;
}

type Report = (d: Omit<Diagnostic, 'rule'>) => void;

export interface Rule {
  readonly name: string;
  check(scope: VerifyScope, report: Report): void;
}

/** Where a value is defined. */
interface Definition {
  graph: Graph;
  kind: 'input' | 'constant' | 'node-output';
  node?: Node;
  index: number;
}

/** What the rules share: every graph, every definition, node positions and the opsets in force. */
export class VerifyScope {
  readonly graphs: Graph[] = [];
  readonly definitions = new Map<Value, Definition[]>();
  /** Position of each node in its graph's list. */
  readonly position = new Map<Node, number>();
  readonly nodes = new Set<Node>();

  constructor(
    readonly root: Graph,
    /** Opset of a domain, or undefined when not known (schema rules are then skipped). */
    readonly opsetOf: (domain: string) => number | undefined,
  ) {
    const seen = new Set<Graph>();
    const visit = (g: Graph) => {
      // A graph held twice (or inside itself) is visited once; subgraph-parent reports the sharing.
      if (seen.has(g)) return;
      seen.add(g);
      this.graphs.push(g);
      g.inputs.forEach((v, index) => this.define(v, { graph: g, kind: 'input', index }));
      g.initializers.forEach((v, index) => this.define(v, { graph: g, kind: 'constant', index }));
      let k = 0;
      for (const n of linkedNodes(g)) {
        this.position.set(n, k++);
        this.nodes.add(n);
        n.outputs.forEach((v, index) => v && this.define(v, { graph: g, kind: 'node-output', node: n, index }));
        for (const sg of n.subgraphs()) visit(sg);
      }
    };
    visit(root);
  }

  private define(v: Value, d: Definition): void {
    const list = this.definitions.get(v);
    if (list) list.push(d);
    else this.definitions.set(v, [d]);
  }

  schemaOf(n: Node): OpSchema | undefined {
    const opset = this.opsetOf(n.domain);
    return opset === undefined ? undefined : getSchema(n.op, n.domain, opset);
  }

  *allNodes(): IterableIterator<[Graph, Node]> {
    for (const g of this.graphs) for (const n of linkedNodes(g)) yield [g, n];
  }
}

/** A graph's nodes by following `next`, stopping on a loop in the list itself. */
function linkedNodes(g: Graph): Node[] {
  const out: Node[] = [];
  const seen = new Set<Node>();
  for (let n = g.first; n && !seen.has(n); n = n.next) {
    seen.add(n);
    out.push(n);
  }
  return out;
}

const at = (n: Node) => ({ node: n.label, op: n.qualifiedOp });

const nodeGraphLink: Rule = {
  name: 'node-graph-link',
  check(s, report) {
    for (const g of s.graphs) {
      const nodes = linkedNodes(g);
      const last = nodes[nodes.length - 1] ?? null;
      if (last?.next) report({ ...at(last), message: `the node list of graph ${g.name} loops back to ${last.next.label}` });
      if (g.last !== last) report({ message: `graph ${g.name}'s last node is ${g.last?.label ?? 'none'} but its list ends at ${last?.label ?? 'none'}` });
      if (g.nodeCount !== nodes.length) report({ message: `graph ${g.name} counts ${g.nodeCount} nodes but links ${nodes.length}` });
      nodes.forEach((n, k) => {
        if (n.graph !== g) report({ ...at(n), message: `node is linked in graph ${g.name} but belongs to graph ${n.graph.name}` });
        if (!n.attached) report({ ...at(n), message: `node is linked in graph ${g.name} but marked erased` });
        if (n.prev !== (nodes[k - 1] ?? null)) report({ ...at(n), message: `node's prev link does not point at the node before it` });
      });
    }
  },
};

const subgraphParent: Rule = {
  name: 'subgraph-parent',
  check(s, report) {
    for (const [, n] of s.allNodes()) {
      for (const [name, a] of n.attrs) {
        const held = a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : [];
        for (const sg of held) {
          if (sg.parent !== n) report({ ...at(n), field: `attribute ${name}`, message: `subgraph ${sg.name}'s parent is ${sg.parent?.label ?? 'none'}, not this node` });
          if (sg.names !== s.root.names) report({ ...at(n), field: `attribute ${name}`, message: `subgraph ${sg.name} does not share the model's name table` });
        }
      }
    }
  },
};

/**
 * If: each branch returns one value per node result. Loop: the body takes (iteration, cond,
 * carried...) and returns (cond, carried..., scan outputs...), so it has 2 + N inputs and 1 + R
 * outputs for N carried operands and R results. Scan: the body takes one value per operand and
 * returns one per result.
 */
const subgraphSignature: Rule = {
  name: 'subgraph-signature',
  check(s, report) {
    for (const [, n] of s.allNodes()) {
      if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
      const results = n.outputs.length;
      const expect = (attr: string, inputs: number | undefined, outputs: number) => {
        const g = n.getGraph(attr);
        if (!g) return;
        if (inputs !== undefined && g.inputs.length !== inputs) {
          report({ ...at(n), field: `attribute ${attr}`, message: `${attr} takes ${g.inputs.length} inputs, the node implies ${inputs}` });
        }
        if (g.outputs.length !== outputs) {
          report({ ...at(n), field: `attribute ${attr}`, message: `${attr} returns ${g.outputs.length} values, the node implies ${outputs}` });
        }
      };
      if (n.op === 'If') {
        expect('then_branch', 0, results);
        expect('else_branch', 0, results);
      } else if (n.op === 'Loop') {
        expect('body', 2 + Math.max(0, n.inputs.length - 2), 1 + results);
      } else if (n.op === 'Scan') {
        expect('body', n.inputs.length, results);
      }
    }
  },
};

const singleDefinition: Rule = {
  name: 'single-definition',
  check(s, report) {
    for (const [v, defs] of s.definitions) {
      if (defs.length > 1) {
        const where = defs.map((d) => (d.node ? `output ${d.index} of ${d.node.label}` : `${d.kind} of graph ${d.graph.name}`));
        report({ value: v.name, message: `value is defined ${defs.length} times: ${where.join(', ')}` });
      }
      const d = defs[0]!;
      if (v.graph !== d.graph) report({ value: v.name, message: `value is defined in graph ${d.graph.name} but records graph ${v.graph.name}` });
      if (d.kind === 'node-output') {
        const n = d.node!;
        if (v.producer !== n || v.producerIndex !== d.index) {
          report({ ...at(n), value: v.name, field: `output ${d.index}`, message: `value is output ${d.index} of this node but records producer ${v.producer?.label ?? 'none'} output ${v.producerIndex}` });
        }
        if (v.constant) report({ ...at(n), value: v.name, message: 'value is both a node output and a constant' });
      } else {
        if (v.producer) report({ value: v.name, message: `${d.kind} of graph ${d.graph.name} records producer ${v.producer.label}` });
        if (d.kind === 'constant' && !v.constant) report({ value: v.name, message: `initializer of graph ${d.graph.name} has no data` });
        if (d.kind === 'input' && v.constant) report({ value: v.name, message: `graph input of ${d.graph.name} is also a constant` });
      }
    }
  },
};

const useList: Rule = {
  name: 'use-list',
  check(s, report) {
    const countUses = (v: Value, user: Node | Graph, index: number) => v.uses.filter((u) => u.user === user && u.index === index).length;
    const seen = new Set<Value>();
    for (const [, n] of s.allNodes()) {
      n.inputs.forEach((v, i) => {
        if (!v) return;
        seen.add(v);
        const c = countUses(v, n, i);
        if (c !== 1) report({ ...at(n), value: v.name, field: `input ${i}`, message: `operand appears ${c} times in the value's use list` });
      });
    }
    for (const g of s.graphs) {
      g.outputs.forEach((v, i) => {
        seen.add(v);
        const c = countUses(v, g, i);
        if (c !== 1) report({ value: v.name, field: `output ${i} of graph ${g.name}`, message: `graph output appears ${c} times in the value's use list` });
      });
    }
    const graphs = new Set(s.graphs);
    for (const v of new Set([...s.definitions.keys(), ...seen])) {
      for (const u of v.uses) {
        if (u.user instanceof Node) {
          const n = u.user;
          if (!s.nodes.has(n)) report({ ...at(n), value: v.name, message: `use list names node ${n.label}, which is not in the model` });
          else if (n.inputs[u.index] !== v) report({ ...at(n), value: v.name, field: `input ${u.index}`, message: `use list names input ${u.index}, which holds ${n.inputs[u.index]?.name ?? 'nothing'}` });
        } else if (!graphs.has(u.user)) {
          report({ value: v.name, message: `use list names graph ${u.user.name}, which is not in the model` });
        } else if (u.user.outputs[u.index] !== v) {
          report({ value: v.name, field: `output ${u.index} of graph ${u.user.name}`, message: `use list names a graph output that holds ${u.user.outputs[u.index]?.name ?? 'nothing'}` });
        }
      }
    }
  },
};

/**
 * Direct operands must come from earlier nodes. A capture defined too late is dangling-value's
 * report, but it can close a cycle, so it also triggers the cycle search.
 */
const topologicalOrder: Rule = {
  name: 'topological-order',
  check(s, report) {
    for (const g of s.graphs) {
      const late: [Node, Value][] = [];
      let lateCapture = false;
      const isLate = (n: Node, v: Value) => {
        const p = v.producer;
        return p !== null && p.graph === g && s.position.has(p) && s.position.get(p)! >= s.position.get(n)!;
      };
      for (const n of linkedNodes(g)) {
        for (const v of n.inputs) if (v && isLate(n, v)) late.push([n, v]);
        if (!lateCapture && n.subgraphs().length) lateCapture = nodeOperandsDeep(n).some((v) => isLate(n, v));
      }
      if (!late.length && !lateCapture) continue;
      const cycles = findNodeCycles(g);
      for (const cycle of cycles) {
        report({ ...at(cycle[0]!), message: `cycle through ${cycle.map((n) => `${n.label} (${n.qualifiedOp})`).join(' -> ')}` });
      }
      const inCycle = new Set(cycles.flat());
      for (const [n, v] of late) {
        if (inCycle.has(n)) continue;
        report({ ...at(n), value: v.name, message: `uses ${v.name} before its producer ${v.producer!.label} in node order` });
      }
    }
  },
};

/** Cycles among a graph's nodes (an edge from each operand's producer, captures included). */
function findNodeCycles(g: Graph): Node[][] {
  const deps = new DependencyGraph();
  const byId = new Map<string, Node>();
  for (const n of linkedNodes(g)) {
    byId.set(String(n.id), n);
    deps.setNode(String(n.id));
  }
  for (const n of linkedNodes(g)) {
    for (const v of nodeOperandsDeep(n)) {
      const p = v.producer;
      if (p && byId.has(String(p.id))) deps.setEdge(String(p.id), String(n.id));
    }
  }
  const cycles = alg.findCycles(deps).map((ids) => ids.map((id) => byId.get(id)!));
  // Self-loops are not reported by findCycles.
  for (const n of byId.values()) if (nodeOperandsDeep(n).some((v) => v.producer === n)) cycles.push([n]);
  return cycles;
}

/**
 * Why `v`, used in graph `g`, is not available there: not defined at all, defined in a graph that
 * does not enclose `g`, or captured from an enclosing graph but produced after the node there that
 * holds `g`. Undefined when it is available.
 */
function unavailableReason(s: VerifyScope, v: Value, g: Graph): string | undefined {
  const d = s.definitions.get(v)?.[0];
  if (!d) return 'not defined in the model (no producer, input or constant defines it)';
  if (!g.isWithin(d.graph)) return `defined in graph ${d.graph.name}, which does not enclose graph ${g.name}`;
  if (!d.node || d.graph === g) return undefined;
  let holder: Node | null = g.parent;
  while (holder && holder.graph !== d.graph) holder = holder.graph.parent;
  if (holder && s.position.get(d.node)! >= s.position.get(holder)!) {
    return `captured, but produced by ${d.node.label} after ${holder.label} (${holder.qualifiedOp}), which holds this subgraph`;
  }
  return undefined;
}

const danglingValue: Rule = {
  name: 'dangling-value',
  check(s, report) {
    for (const [g, n] of s.allNodes()) {
      n.inputs.forEach((v, i) => {
        const reason = v && unavailableReason(s, v, g);
        if (reason) report({ ...at(n), value: v!.name, field: `input ${i}`, message: `operand is ${reason}` });
      });
    }
  },
};

const graphOutputDefined: Rule = {
  name: 'graph-output-defined',
  check(s, report) {
    for (const g of s.graphs) {
      g.outputs.forEach((v, i) => {
        const reason = unavailableReason(s, v, g);
        if (reason) report({ value: v.name, field: `output ${i} of graph ${g.name}`, message: `graph output is ${reason}` });
      });
    }
  },
};

/** Trailing nulls are omitted optional operands, not operands. */
function presentCount(xs: readonly (Value | null)[]): number {
  let k = xs.length;
  while (k > 0 && xs[k - 1] === null) k--;
  return k;
}

/** The port each operand position binds to (a variadic port takes the rest). */
function portAt(ports: readonly PortSpec[], i: number): PortSpec | undefined {
  for (let k = 0; k < ports.length; k++) {
    if (ports[k]!.arity === 'variadic') return ports[k];
    if (k === i) return ports[k];
  }
  return undefined;
}

const opArity: Rule = {
  name: 'op-arity',
  check(s, report) {
    for (const [, n] of s.allNodes()) {
      const schema = s.schemaOf(n);
      if (!schema) continue;
      const sides = [
        ['input', n.inputs, schema.inputs, schema.minInputs, schema.maxInputs],
        ['output', n.outputs, schema.outputs, schema.minOutputs, schema.maxOutputs],
      ] as const;
      for (const [side, values, ports, min, max] of sides) {
        const count = presentCount(values);
        if (count < min || count > max) {
          const allowed = max === Infinity ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
          report({ ...at(n), field: `${side}s`, message: `${n.op}-${schema.since} takes ${allowed} ${side}s, got ${count}` });
        }
        for (let i = 0; i < count; i++) {
          const p = portAt(ports, i);
          if (p && p.arity !== 'optional' && values[i] === null) report({ ...at(n), field: `${side} ${i}`, message: `required ${side} ${p.name} is missing` });
        }
      }
    }
  },
};

const attributeRequired: Rule = {
  name: 'attribute-required',
  check(s, report) {
    for (const [, n] of s.allNodes()) {
      const schema = s.schemaOf(n);
      if (!schema) continue;
      for (const [name, spec] of Object.entries(schema.attributes)) {
        if (spec.required && !n.attrs.has(name)) report({ ...at(n), field: `attribute ${name}`, message: `required attribute ${name} (${spec.kind}) is missing` });
      }
    }
  },
};

const attributeKind: Rule = {
  name: 'attribute-kind',
  check(s, report) {
    for (const [, n] of s.allNodes()) {
      const schema = s.schemaOf(n);
      if (!schema) continue;
      for (const [name, a] of n.attrs) {
        const spec = schema.attributes[name];
        if (spec && spec.kind !== a.kind && a.kind !== 'opaque') {
          report({ ...at(n), field: `attribute ${name}`, message: `attribute ${name} is ${a.kind}, expected ${spec.kind}` });
        }
      }
    }
  },
};

const attributeUnknown: Rule = {
  name: 'attribute-unknown',
  check(s, report) {
    for (const [, n] of s.allNodes()) {
      const schema = s.schemaOf(n);
      if (!schema) continue;
      for (const name of n.attrs.keys()) {
        if (!Object.prototype.hasOwnProperty.call(schema.attributes, name)) {
          report({ ...at(n), field: `attribute ${name}`, message: `${n.op}-${schema.since} has no attribute ${name}` });
        }
      }
    }
  },
};

const typeConstraint: Rule = {
  name: 'type-constraint',
  check(s, report) {
    for (const [, n] of s.allNodes()) {
      const schema = s.schemaOf(n);
      if (!schema) continue;
      const bound = new Map<string, { dtype: DType; where: string }>();
      const sides = [
        ['input', n.inputs, schema.inputs],
        ['output', n.outputs, schema.outputs],
      ] as const;
      for (const [side, values, ports] of sides) {
        values.forEach((v, i) => {
          const dtype = v?.type?.dtype;
          const p = portAt(ports, i);
          if (!v || !dtype || !p) return;
          const allowed = p.dtypes ?? (p.typeVar ? schema.types[p.typeVar] : undefined);
          const where = `${side} ${i}`;
          if (allowed && !allowed.includes(dtype)) {
            report({ ...at(n), value: v.name, field: where, message: `${p.name} is ${dtype}, allowed: ${allowed.join(', ')}` });
            return;
          }
          if (!p.typeVar) return;
          const first = bound.get(p.typeVar);
          if (!first) bound.set(p.typeVar, { dtype, where });
          else if (first.dtype !== dtype) {
            report({ ...at(n), value: v.name, field: where, message: `${p.name} is ${dtype} but ${first.where} is ${first.dtype} (both type ${p.typeVar})` });
          }
        });
      }
    }
  },
};

function tensorProblem(t: Tensor): string | undefined {
  if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) return `shape [${t.shape.join(',')}] has an invalid dim`;
  const n = shapeSize(t.shape);
  if (t.data.length !== n) return `shape [${t.shape.join(',')}] needs ${n} elements, data has ${t.data.length}`;
  return undefined;
}

const constantData: Rule = {
  name: 'constant-data',
  check(s, report) {
    for (const g of s.graphs) {
      for (const v of g.initializers) {
        const t = v.constant;
        if (!t) continue;
        const problem = tensorProblem(t);
        if (problem) report({ value: v.name, message: problem });
        const ty = v.type;
        if (ty && ty.dtype !== t.dtype) report({ value: v.name, message: `value type is ${ty.dtype} but the constant is ${t.dtype}` });
        if (ty?.shape && (ty.shape.length !== t.shape.length || ty.shape.some((d, k) => typeof d === 'number' && d !== t.shape[k]))) {
          report({ value: v.name, message: `value shape [${ty.shape.join(',')}] differs from the constant's [${t.shape.join(',')}]` });
        }
      }
    }
    for (const [, n] of s.allNodes()) {
      for (const [name, a] of n.attrs) {
        const tensors = a.kind === 'tensor' ? [a.value] : a.kind === 'tensors' ? a.value : [];
        for (const t of tensors) {
          const problem = tensorProblem(t);
          if (problem) report({ ...at(n), field: `attribute ${name}`, message: problem });
        }
      }
    }
  },
};

const uniqueNames: Rule = {
  name: 'unique-names',
  check(s, report) {
    const values = new Map<string, Value>();
    for (const v of s.definitions.keys()) {
      const other = values.get(v.name);
      if (other && other !== v) report({ value: v.name, message: `two values are named ${v.name} (in graphs ${other.graph.name} and ${v.graph.name})` });
      else values.set(v.name, v);
    }
    const nodes = new Map<string, Node>();
    for (const [, n] of s.allNodes()) {
      if (!n.name) continue;
      const other = nodes.get(n.name);
      if (other && other !== n) report({ ...at(n), message: `two nodes are named ${n.name} (${other.qualifiedOp} and ${n.qualifiedOp})` });
      else nodes.set(n.name, n);
    }
  },
};

/** Every rule, in the order they run: structure first, so later rules can lean on it. */
export const RULES: readonly Rule[] = Object.freeze([
  nodeGraphLink,
  subgraphParent,
  subgraphSignature,
  singleDefinition,
  useList,
  topologicalOrder,
  danglingValue,
  graphOutputDefined,
  opArity,
  attributeRequired,
  attributeKind,
  attributeUnknown,
  typeConstraint,
  constantData,
  uniqueNames,
]);
