/**
 * deduplicate: merges identical constants and common subexpressions, per graph.
 *
 *   before:  const %a = [1, 2, 3];  const %b = [1, 2, 3]
 *            %p = Mul(%x, %a);  %q = Mul(%x, %b);  %r = Add(%p, %q)
 *   after:   const %a = [1, 2, 3]
 *            %p = Mul(%x, %a);  %r = Add(%p, %p)
 *
 * Constants: bucketed by dtype, shape and an FNV-1a hash of their bytes, then compared byte for
 * byte, so a hash collision never merges different data. Initializers that are graph inputs (IR < 4
 * defaults), graph outputs, or carry quantization parameters are left alone.
 *
 * Nodes: two nodes with the same domain, op, attributes and operands (the same Values) compute the
 * same outputs, so the later one's outputs are replaced by the earlier one's. One walk in
 * topological order catches whole duplicated chains, since the operands of a later node have
 * already been merged when it is keyed. Not merged: nondeterministic ops, ops with subgraphs, ops
 * of unknown domains, and a node whose graph-output result cannot keep its name (see
 * `canReplaceValue`).
 */
import { type Attribute, type Graph, type Model, type Node, type Value, hashTensor, tensorsEqual } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { canReplaceValue, filterInPlace, replaceValue } from '../core/pattern.js';
import { isMergeable } from '../core/op-traits.js';

export interface DeduplicateStats {
  constants: number;
  nodes: number;
}

function numberText(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** A text key of an attribute's value, or undefined when it cannot be compared (graphs, opaque). */
function attributeKey(a: Attribute): string | undefined {
  switch (a.kind) {
    case 'float':
    case 'int':
      return `${a.kind}:${numberText(a.value)}`;
    case 'string':
      return `s:${JSON.stringify(a.value)}`;
    case 'floats':
    case 'ints':
      return `${a.kind}:${a.value.map(numberText).join(',')}`;
    case 'strings':
      return `ss:${JSON.stringify(a.value)}`;
    case 'tensor':
      return `t:${a.value.dtype}[${a.value.shape.join(',')}]#${hashTensor(a.value)}`;
    case 'tensors':
      return `ts:${a.value.map((t) => `${t.dtype}[${t.shape.join(',')}]#${hashTensor(t)}`).join(';')}`;
    default:
      return undefined;
  }
}

function nodeKey(n: Node): string | undefined {
  // Built by concatenation: one key per node per round, on graphs of a million nodes.
  let key = `${n.domain}|${n.op}|${n.outputs.length}`;
  if (n.attrs.size) {
    const attrs = n.attrs.size > 1 ? [...n.attrs].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)) : n.attrs;
    for (const [name, a] of attrs) {
      const k = attributeKey(a);
      if (k === undefined) return undefined;
      key += `|${name}=${k}`;
    }
  }
  key += '|';
  const inputs = n.inputs;
  for (let i = 0; i < inputs.length; i++) key += (i ? ',' : '') + (inputs[i] ? inputs[i]!.id : '_');
  return key;
}

/** Attribute tensors compared by hash in the key are compared by bytes here. */
function sameAttributeTensors(a: Node, b: Node): boolean {
  for (const [name, x] of a.attrs) {
    const y = b.attrs.get(name);
    if (x.kind === 'tensor' && (y?.kind !== 'tensor' || !tensorsEqual(x.value, y.value))) return false;
    if (x.kind === 'tensors') {
      if (y?.kind !== 'tensors' || y.value.length !== x.value.length) return false;
      if (x.value.some((t, i) => !tensorsEqual(t, y.value[i]!))) return false;
    }
  }
  return true;
}

/** Merges byte-identical constants of `g`. */
export function deduplicateConstants(g: Graph): number {
  const inputs = new Set(g.inputs);
  const buckets = new Map<string, Value[]>();
  const merged = new Set<Value>();
  for (const c of g.initializers) {
    if (inputs.has(c) || c.quant || c.isGraphOutput) continue;
    const t = c.constant!;
    const key = `${t.dtype}[${t.shape.join(',')}]#${hashTensor(t)}`;
    let bucket = buckets.get(key);
    if (!bucket) buckets.set(key, (bucket = []));
    const same = bucket.find((k) => tensorsEqual(k.constant!, t));
    if (same) {
      c.replaceAllUsesWith(same);
      merged.add(c);
    } else bucket.push(c);
  }
  if (merged.size) filterInPlace(g.initializers, (c) => !merged.has(c));
  return merged.size;
}

/** Merges nodes of `g` that compute the same thing (not its subgraphs). */
export function eliminateCommonSubexpressions(g: Graph): number {
  const seen = new Map<string, Node>();
  const merged: Node[] = [];
  for (const n of g.nodes()) {
    if (!isMergeable(n)) continue;
    const key = nodeKey(n);
    if (key === undefined) continue;
    const first = seen.get(key);
    if (!first || !sameAttributeTensors(n, first)) {
      if (!first) seen.set(key, n);
      continue;
    }
    const pairs = n.outputs.map((o, i) => [o, first.outputs[i] ?? null] as const);
    if (pairs.some(([o, f]) => o && o.hasUses && (!f || !canReplaceValue(o, f)))) continue;
    for (const [o, f] of pairs) if (o && f && o.hasUses) replaceValue(o, f);
    merged.push(n);
  }
  // Erased last to first: each drops its uses from the end of its operands' use lists (O(1) each,
  // where erasing in graph order would rescan a widely used operand's whole list every time).
  for (let i = merged.length - 1; i >= 0; i--) merged[i]!.erase();
  return merged.length;
}

export function deduplicate(model: Model): DeduplicateStats {
  const stats: DeduplicateStats = { constants: 0, nodes: 0 };
  for (const g of [...model.graph.allGraphs()]) {
    stats.constants += deduplicateConstants(g);
    stats.nodes += eliminateCommonSubexpressions(g);
  }
  return stats;
}

export const deduplicatePass = definePass({
  name: 'deduplicate',
  description: 'Merge byte-identical constants and nodes computing the same thing (common subexpressions)',
  kind: 'graph',
  options: {},
  run(model) {
    const stats = deduplicate(model);
    return { changed: stats.constants + stats.nodes > 0, stats: { 'constants-merged': stats.constants, 'nodes-merged': stats.nodes } };
  },
});
