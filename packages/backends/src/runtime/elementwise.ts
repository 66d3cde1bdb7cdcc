/**
 * Float32 elementwise ops on the runtime's flat buffers, for the shapes the models of interest
 * use: same shape, a scalar side, or one side broadcasting a contiguous block of dims (a per-
 * channel [C, 1, 1] against [N, C, H, W]). Anything else returns false and the step runs in the
 * reference interpreter; results equal the interpreter's (each element computed in float64 and
 * rounded once to float32, as the interpreter does).
 *
 * Also per-tensor QuantizeLinear / DequantizeLinear between float32 and int8/uint8, with the
 * interpreter's exact rules: q = saturate(round_half_even(float32(x / s)) + z), x = (q - z) * s.
 */
import type { Node } from '@slimc/ir';

export const BINARY_OPS: ReadonlySet<string> = new Set(['Add', 'Sub', 'Mul', 'Div']);

/**
 * How `small` broadcasts against `big` (ONNX multidirectional, right-aligned): the element of
 * small for flat index i of big is floor(i / inner) % period; null if not of that form.
 */
export function blockBroadcast(big: readonly number[], small: readonly number[]): { inner: number; period: number } | null {
  if (small.length > big.length) return null;
  const offset = big.length - small.length;
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < small.length; i++) {
    const d = small[i]!;
    if (d === 1) continue;
    if (d !== big[i + offset]) return null;
    if (lo < 0) lo = i + offset;
    else if (hi !== i + offset) return null; // a gap of 1s between broadcast dims
    hi = i + offset + 1;
  }
  if (lo < 0) return { inner: 1, period: 1 };
  let inner = 1;
  for (let i = hi; i < big.length; i++) inner *= big[i]!;
  let period = 1;
  for (let i = lo; i < hi; i++) period *= big[i]!;
  return { inner, period };
}

/**
 * out = a (op) b over a's shape, b broadcast as `layout` says; `swapped`: b is the left operand.
 * One loop per op (a shared loop calling an op closure runs ~5x slower).
 */
export function binaryF32(op: string, a: Float32Array, b: Float32Array, layout: { inner: number; period: number }, swapped: boolean,
  out: Float32Array): void {
  const n = a.length;
  // a scalar is one run over everything; short runs (b varying along the last dims) are cheaper
  // expanded once than dispatched per run
  const inner = layout.period === 1 ? n : layout.inner;
  const period = layout.period;
  if (b.length !== n && inner < 32) {
    const full = new Float32Array(n);
    for (let i = 0; i < n; i++) full[i] = b[Math.floor(i / inner) % period]!;
    b = full;
  }
  const same = b.length === n;
  const code = swapped && (op === 'Sub' || op === 'Div') ? `${op}-swapped` : op;
  for (let i = 0, j = 0; i < n; j = j + 1 === period ? 0 : j + 1) {
    const end = same ? n : i + inner;
    const v = b[j]!;
    switch (code) {
      case 'Add':
        if (same) for (; i < end; i++) out[i] = a[i]! + b[i]!;
        else for (; i < end; i++) out[i] = a[i]! + v;
        break;
      case 'Mul':
        if (same) for (; i < end; i++) out[i] = a[i]! * b[i]!;
        else for (; i < end; i++) out[i] = a[i]! * v;
        break;
      case 'Sub':
        if (same) for (; i < end; i++) out[i] = a[i]! - b[i]!;
        else for (; i < end; i++) out[i] = a[i]! - v;
        break;
      case 'Sub-swapped':
        if (same) for (; i < end; i++) out[i] = b[i]! - a[i]!;
        else for (; i < end; i++) out[i] = v - a[i]!;
        break;
      case 'Div':
        if (same) for (; i < end; i++) out[i] = a[i]! / b[i]!;
        else for (; i < end; i++) out[i] = a[i]! / v;
        break;
      case 'Div-swapped':
        if (same) for (; i < end; i++) out[i] = b[i]! / a[i]!;
        else for (; i < end; i++) out[i] = v / a[i]!;
        break;
      default:
        throw new Error(`binaryF32: unknown op ${op}`);
    }
  }
}

/** A float unary op over a whole buffer (attributes bound), or undefined for other ops. */
export function unaryF32(node: Node, bounds?: [number, number]): ((x: Float32Array, out: Float32Array) => void) | undefined {
  switch (node.op) {
    case 'Relu':
      return (x, out) => {
        for (let i = 0; i < x.length; i++) out[i] = x[i]! < 0 ? 0 : x[i]!;
      };
    case 'Sigmoid':
      return (x, out) => {
        for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!));
      };
    case 'HardSigmoid': {
      const alpha = node.getFloat('alpha', 0.2);
      const beta = node.getFloat('beta', 0.5);
      return (x, out) => {
        for (let i = 0; i < x.length; i++) out[i] = Math.max(0, Math.min(1, alpha * x[i]! + beta));
      };
    }
    case 'Clip': {
      if (!bounds) return undefined;
      const [lo, hi] = bounds;
      return (x, out) => {
        for (let i = 0; i < x.length; i++) {
          const v = x[i]!;
          out[i] = v < lo ? lo : v > hi ? hi : v;
        }
      };
    }
    default:
      return undefined;
  }
}

/** q = saturate(round_half_even(float32(x / scale)) + zeroPoint) into [lo, hi]. */
export function quantizeF32(x: Float32Array, scale: number, zeroPoint: number, lo: number, hi: number, out: Int8Array | Uint8Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = Math.fround(x[i]! / scale);
    let r = Math.round(v);
    if (r - v === 0.5 && (r & 1) !== 0) r -= 1; // Math.round sends ties up; ONNX sends them to even
    r += zeroPoint;
    out[i] = r < lo ? lo : r > hi ? hi : r;
  }
}

/** x = (q - zeroPoint) * scale, rounded once to float32. */
export function dequantizeQ8(q: Int8Array | Uint8Array, scale: number, zeroPoint: number, out: Float32Array): void {
  for (let i = 0; i < q.length; i++) out[i] = (q[i]! - zeroPoint) * scale;
}
