/**
 * upgrade-opset: rewrites a model from its default-domain opset to opset `to` (13..21), so that
 * later passes can rely on the newer forms (per-channel DequantizeLinear needs 13).
 *
 *   before (opset 9):   %y = Unsqueeze(%x) {axes=[0]};   %s = Softmax(%z) {axis=1}    (z: rank 3)
 *   after  (opset 13):  %y = Unsqueeze(%x, %axes0);      %s = Reshape(Softmax(Flatten(%z, 1)) {axis=1}, Shape(%z))
 *
 * For every default-domain node (subgraph bodies included) the op's version at the old opset is
 * looked up in `versions.ts`; each later version of the op up to `to` is one step, and a step
 * whose form or meaning changed has an adapter (`adapters.ts`) that rewrites the node into the new
 * form with the same results. Nodes an adapter creates are upgraded from that step onwards.
 * Then the opset import becomes `to` and the IR version at least the one that opset needs.
 *
 * Preconditions: an inference graph (training-mode BatchNormalization/Dropout outputs are
 * rejected). Other domains are left alone. Anything that cannot be upgraded exactly raises
 * SlimcError('unsupported') naming node and op, and leaves the model untouched.
 */
import { type Model, type Node, SlimcError, cloneModel } from '@slimc/ir';
import { definePass } from '../core/pass.js';
import { ADAPTERS, UpgradeContext, fail } from './adapters.js';
import { OP_VERSIONS, REMOVED_AT, irVersionFor, opVersionAt } from './versions.js';

export { OP_VERSIONS, opVersionAt, irVersionFor } from './versions.js';

export const MIN_TARGET_OPSET = 13;
export const MAX_TARGET_OPSET = 21;

export interface UpgradeResult {
  changed: boolean;
  /** Original op -> number of its nodes that were rewritten. */
  rewritten: Record<string, number>;
}

export function upgradeOpset(model: Model, to: number): UpgradeResult {
  const from = model.opset;
  if (!Number.isInteger(to) || to < MIN_TARGET_OPSET || to > MAX_TARGET_OPSET) {
    throw new SlimcError('invalid-argument', `target opset ${to} is outside ${MIN_TARGET_OPSET}..${MAX_TARGET_OPSET}`, {
      model: model.source,
      field: 'opset',
    });
  }
  if (from > to) {
    throw new SlimcError('unsupported', `the model is at opset ${from}; downgrading to ${to} is not supported`, {
      model: model.source,
      field: 'opset',
    });
  }
  if (from === to) return { changed: false, rewritten: {} };
  // Model-local functions keep their own opset imports and bodies, which this pass does not rewrite.
  const functions = model.extra?.['functions'];
  if (Array.isArray(functions) && functions.length) {
    throw new SlimcError('unsupported', `the model defines ${functions.length} local function(s), whose bodies are not upgraded`, {
      model: model.source,
      pass: 'upgrade-opset',
      field: 'functions',
    });
  }

  // All or nothing: a rehearsal on a copy finds any node that cannot be upgraded before the
  // model itself is touched (the rewrite is deterministic, so the real run then succeeds).
  try {
    upgradeNodes(cloneModel(model), from, to);
  } catch (e) {
    throw e instanceof SlimcError ? e.withContext({ model: model.source, pass: 'upgrade-opset' }) : e;
  }
  const rewritten = upgradeNodes(model, from, to);
  model.opsetImports.delete('ai.onnx');
  model.opsetImports.set('', to);
  model.irVersion = Math.max(model.irVersion, irVersionFor(to));
  return { changed: true, rewritten };
}

/** Upgrades every default-domain node of `model` (subgraphs included); returns op -> nodes rewritten. */
function upgradeNodes(model: Model, from: number, to: number): Record<string, number> {
  const cx = new UpgradeContext();
  const rewritten: Record<string, number> = {};
  for (const n of [...model.graph.allNodes()].filter(isDefaultDomain)) {
    const op = n.op;
    if (upgradeNode(n, from, to, cx)) rewritten[op] = (rewritten[op] ?? 0) + 1;
  }
  return rewritten;
}

function isDefaultDomain(n: Node): boolean {
  return n.domain === '' || n.domain === 'ai.onnx';
}

/** Takes `n` (in the form of opset `from`) through every step up to `to`; true if it was rewritten. */
function upgradeNode(n: Node, from: number, to: number, cx: UpgradeContext): boolean {
  const op = n.op;
  const versions = OP_VERSIONS[op];
  if (!versions) throw fail(n, `unknown op "${op}" in the default domain (experimental or misspelled), cannot upgrade`);
  // A deprecated op still present at or after its removal has the form of its last live version.
  const removed = REMOVED_AT[op];
  if (removed !== undefined && from >= removed) from = removed - 1;
  if (opVersionAt(op, from) === undefined) throw fail(n, `${op} does not exist at opset ${from}`);
  // Legacy in-place-update hints from before opset 6; they never affected results.
  let changed = n.deleteAttr('consumed_inputs');
  for (const v of versions) {
    if (v <= from || v > to) continue;
    const adapter = ADAPTERS[op]?.[v];
    if (!adapter) continue;
    const result = adapter(n, cx);
    if (result === false) continue;
    changed = true;
    if (Array.isArray(result)) for (const created of result) upgradeNode(created, v, to, cx);
    // A renamed op (Upsample -> Resize, Scatter -> ScatterElements) continues along its new history.
    if (n.op !== op) {
      upgradeNode(n, v, to, cx);
      return true;
    }
  }
  return changed;
}

export const upgradeOpsetPass = definePass({
  name: 'upgrade-opset',
  description: `Rewrite the model to a newer default-domain opset (${MIN_TARGET_OPSET}..${MAX_TARGET_OPSET})`,
  kind: 'graph',
  options: {
    to: { type: 'integer', description: 'target opset', default: 13 },
  },
  run(model, _ctx, options) {
    const r = upgradeOpset(model, options.to);
    return { changed: r.changed, stats: r.rewritten };
  },
});
