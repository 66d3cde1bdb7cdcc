/**
 * Shared helpers for the pass tests: small graph builders, attribute shorthands, output comparison.
 */
import { type Attribute, Graph, Model, type Tensor, type TensorType, type Value, makeTensor } from '@slimc/ir';
import { worstRelativeError } from './interpreter-oracle.js';

export const int = (value: number): Attribute => ({ kind: 'int', value });
export const float = (value: number): Attribute => ({ kind: 'float', value });
export const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });
export const tensorAttr = (value: Tensor): Attribute => ({ kind: 'tensor', value });

export const f32 = (shape: number[], data?: ArrayLike<number>): Tensor => makeTensor('float32', shape, data);
export const i64 = (shape: number[], data: ArrayLike<number>): Tensor => makeTensor('int64', shape, Array.from(data, BigInt));

export function f32Type(...shape: (number | string)[]): TensorType {
  return { dtype: 'float32', shape };
}

/** A model of `opset` whose graph `build` fills. */
export function buildModel(opset: number, build: (g: Graph) => void): Model {
  const m = new Model(new Graph('main'));
  m.opsetImports.set('', opset);
  m.irVersion = 8;
  build(m.graph);
  return m;
}

/** Adds `op(inputs)` with one output and returns the output. */
export function op(g: Graph, opType: string, inputs: (Value | null)[], attrs: Record<string, Attribute> = {}, type?: TensorType): Value {
  const n = g.addNode({ op: opType, inputs, attrs, outputs: [{ name: opType.toLowerCase(), type }] });
  return n.output(0);
}

/** Largest |a - b| / max(1, |b|) over every output of `b` (Infinity when one is missing or differs in shape). */
export function maxRelativeDiff(a: Record<string, Tensor>, b: Record<string, Tensor>): number {
  let worst = 0;
  for (const [name, want] of Object.entries(b)) {
    const got = a[name];
    worst = Math.max(worst, got ? worstRelativeError(got, want) : Infinity);
  }
  return worst;
}

/** Deterministic floats in [lo, hi). */
export function seededFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a * 1664525 + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * a) / 2 ** 32;
  }
  return out;
}
