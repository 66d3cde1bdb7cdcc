/**
 * What passes may assume about ops: which ones can be removed when unused, folded, or merged.
 */
import type { Node } from '@slimc/ir';

/** Ops whose result differs between runs: never folded, never merged by CSE. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/** Domains whose ops are known to be pure functions of their inputs. */
const PURE_DOMAINS = new Set(['', 'ai.onnx', 'com.microsoft', 'ai.onnx.ml']);

export function isNondeterministic(n: Node): boolean {
  return (n.domain === '' || n.domain === 'ai.onnx') && NONDETERMINISTIC.has(n.op);
}

/**
 * True when erasing the node (once its outputs are unused) cannot change what the model does.
 * Ops of unknown domains are kept: slimc cannot know whether a custom op has effects.
 */
export function isRemovableWhenDead(n: Node): boolean {
  return PURE_DOMAINS.has(n.domain);
}

/** True when two nodes with the same op, attributes and operands compute the same values. */
export function isMergeable(n: Node): boolean {
  return PURE_DOMAINS.has(n.domain) && !isNondeterministic(n) && n.subgraphs().length === 0;
}
