/**
 * canonicalize: the default cleanup pipeline, run to a fixpoint.
 *
 * One round is: shape inference (so Shape-based folds see every static dim); the greedy driver,
 * which erases dead nodes as it goes, over one pattern set (constant folding, identity elimination,
 * BatchNormalization and per-channel Mul/Add folding, plus whatever plugins add through the
 * `patterns` hook for pass `canonicalize`); then constant and node deduplication. Merging
 * nodes can expose new pattern matches (two users of one value, a newly single-use Conv), so rounds
 * repeat until deduplication finds nothing, at most `maxRounds` times. A final dead-code sweep
 * removes constants nothing uses.
 *
 *   before:  %w = Constant;  %i = Identity(%x);  %c = Conv(%i, %w);  %b = BatchNormalization(%c, ...)
 *            %s = Shape(%b);  %d = Gather(%s, 0);  ...  (duplicated subtrees)
 *   after:   %c = Conv(%x, %w, %c_bias);  const %d = 1;  ...  (folded weights keep their names)
 *
 * Preconditions and math: those of each pattern (see their modules).
 */
import type { Model } from '@slimc/ir';
import { definePass, type PassContext } from '../core/pass.js';
import { PatternSet, applyPatternsGreedily } from '../core/pattern.js';
import { DEFAULT_FOLD_SIZE_LIMIT, foldConstantPattern, refreshShapes } from '../fold-constants/index.js';
import { eliminateDeadCode } from '../eliminate-dead-code/index.js';
import { eliminateIdentityPattern } from '../eliminate-identity/index.js';
import { foldBatchNormIntoConv, foldBatchNormIntoGemm, foldScaleShiftIntoConv } from '../fold-batchnorm/index.js';
import { deduplicate } from '../deduplicate/index.js';

/** The pattern set of one canonicalize round, before plugins add theirs. */
export function canonicalizePatterns(sizeLimit = DEFAULT_FOLD_SIZE_LIMIT): PatternSet {
  return PatternSet.of(
    foldConstantPattern(sizeLimit),
    eliminateIdentityPattern,
    foldBatchNormIntoConv,
    foldBatchNormIntoGemm,
    foldScaleShiftIntoConv,
  );
}

export function runCanonicalize(model: Model, ctx: PassContext, options: { sizeLimit: number; maxRounds: number; inferShapes: boolean }) {
  const set = ctx.gatherPatterns('canonicalize', canonicalizePatterns(options.sizeLimit));
  const stats: Record<string, number> = {};
  const add = (k: string, n: number) => n && (stats[k] = (stats[k] ?? 0) + n);
  let changed = false;
  let rounds = 0;
  for (;;) {
    rounds++;
    if (options.inferShapes) refreshShapes(model, ctx.warn);
    const r = applyPatternsGreedily(model, set, { pass: ctx.pass, opset: ctx.opset });
    for (const [k, n] of Object.entries(r.fired)) add(k, n);
    add('dead-nodes-erased', r.deadErased);
    const d = deduplicate(model);
    add('constants-merged', d.constants);
    add('nodes-merged', d.nodes);
    changed ||= r.changed || d.constants + d.nodes > 0;
    if (d.nodes === 0 && d.constants === 0) break;
    if (rounds >= options.maxRounds) {
      ctx.warn(`stopped after ${rounds} rounds with deduplication still finding work`);
      break;
    }
  }
  const dead = eliminateDeadCode(model);
  add('nodes-removed', dead.nodes);
  add('constants-removed', dead.constants);
  stats.rounds = rounds;
  return { changed: changed || dead.nodes + dead.constants > 0, stats };
}

export const canonicalizePass = definePass({
  name: 'canonicalize',
  description: 'Fold constants and BatchNorm, drop identities and dead code, merge duplicates, to a fixpoint',
  kind: 'graph',
  options: {
    sizeLimit: { type: 'integer', default: DEFAULT_FOLD_SIZE_LIMIT, description: 'fold-constants size limit (elements)' },
    maxRounds: { type: 'integer', default: 8, description: 'pattern + deduplication rounds before giving up' },
    inferShapes: { type: 'boolean', default: true, description: 'refresh value types by shape inference at the start of each round' },
  },
  run: (model, ctx, options) => runCanonicalize(model, ctx, options),
});
