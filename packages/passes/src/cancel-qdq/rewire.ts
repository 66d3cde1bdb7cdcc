/**
 * Rewrite helpers shared by the Q/DQ rewrites: insert a node after another, and point the uses of a
 * value at a replacement while keeping graph output names. Both go through the `Rewriter`, so the
 * greedy driver's worklist stays exact.
 */
import type { Node, NodeInit, Value } from '@slimc/ir';
import type { Rewriter } from '../core/pattern.js';

/** Creates a node right after `ref` (before its successor, or at the end of the graph). */
export function createNodeAfter(rw: Rewriter, ref: Node, init: NodeInit): Node {
  if (ref.next) return rw.createNode(init, ref.next);
  // At the end: create before `ref`, then move behind it (its operands are all defined by then).
  const n = rw.createNode(init, ref);
  n.moveAfter(ref);
  return n;
}

/**
 * Points every use of `y` except those by the `keep` nodes at `replacement`. When `y` is a graph
 * output, `replacement` takes over its name (and `y` gets `<name><renameSuffix>`), so the model's
 * interface is unchanged.
 */
export function rewireUsesExcept(rw: Rewriter, y: Value, replacement: Value, keep: readonly Node[], renameSuffix: string): void {
  const outputUse = y.isGraphOutput;
  for (const u of [...y.uses]) {
    if ('op' in u.user && !keep.includes(u.user as Node)) rw.setInput(u.user as Node, u.index, replacement);
  }
  if (outputUse) {
    const g = y.graph;
    g.outputs.forEach((o, i) => o === y && g.setOutput(i, replacement));
    const name = y.name;
    y.name = g.names.fresh(`${name}${renameSuffix}`);
    replacement.name = name;
  }
}
