/**
 * eliminate-dead-code: removes nodes none of whose outputs is used, and constants nobody uses, in
 * the main graph and every subgraph.
 *
 *   before:  %a = Relu(%x);  %b = Sigmoid(%x);  const %w (unused);  return %a
 *   after:   %a = Relu(%x);  return %a
 *
 * Kept: graph outputs (they are uses), graph inputs of any graph (they are the interface; subgraph
 * inputs are fixed by If/Loop/Scan), initializers that are also graph inputs (IR < 4 defaults), and
 * nodes of unknown domains (a custom op may have effects).
 *
 * (The greedy pattern driver erases dead nodes as it meets them too; this pass is the whole-model
 * sweep that also removes unused constants.)
 *
 * One reverse sweep per graph suffices: nodes are in topological order, so every user of a value is
 * visited before its producer; a node holding subgraphs is cleaned inside first, which may release
 * outer values whose producers come earlier and are visited later.
 */
import type { Graph, Model } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { filterInPlace } from '../core/pattern.js';
import { isRemovableWhenDead } from '../core/op-traits.js';

export interface DeadCodeStats {
  nodes: number;
  constants: number;
}

export function eliminateDeadCodeIn(g: Graph, stats: DeadCodeStats = { nodes: 0, constants: 0 }): DeadCodeStats {
  for (let n = g.last; n; ) {
    const prev = n.prev;
    if (n.isDead && isRemovableWhenDead(n)) {
      n.erase();
      stats.nodes++;
    } else {
      for (const sg of n.subgraphs()) eliminateDeadCodeIn(sg, stats);
    }
    n = prev;
  }
  const inputs = new Set(g.inputs);
  stats.constants += filterInPlace(g.initializers, (c) => c.uses.length > 0 || inputs.has(c));
  return stats;
}

export function eliminateDeadCode(model: Model): DeadCodeStats {
  return eliminateDeadCodeIn(model.graph);
}

export const eliminateDeadCodePass = definePass({
  name: 'eliminate-dead-code',
  description: 'Remove unused nodes and constants (graph outputs, inputs and custom-domain ops are kept)',
  kind: 'graph',
  options: {},
  run(model) {
    const stats = eliminateDeadCode(model);
    return { changed: stats.nodes + stats.constants > 0, stats: { 'nodes-removed': stats.nodes, 'constants-removed': stats.constants } };
  },
});
