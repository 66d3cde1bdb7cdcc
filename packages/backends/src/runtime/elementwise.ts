/**
 * Float32 elementwise ops on the runtime's flat buffers: the broadcast forms the kernel library's
 * slimc_binary_f32 handles (same shape, a scalar side, or one side broadcasting a contiguous
 * block of dims, e.g. a per-channel [C, 1, 1] against [N, C, H, W]). Results equal the
 * interpreter's (each element computed in float64 and rounded once to float32).
 */

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
