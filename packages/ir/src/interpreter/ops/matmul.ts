/**
 * Matrix products: MatMul (numpy batching and 1-D promotion) and Gemm.
 *
 * Products accumulate in float64, which is exact for integer operands (|sum| < 2^53) and at least
 * as accurate as float32 accumulation for float operands. The integer and quantized variants
 * (MatMulInteger, QLinearMatMul) reuse `matmulBatched` from quant.ts.
 */
import { shapeSize, type Tensor } from '../../tensor.js';
import { broadcastShapes, numberBuffer, numbersOf, sizeBetween, stridesOf, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';

/**
 * c[cOff + i*n + j] += sum_k a[aOff + i*k + kk] * b[bOff + kk*n + j]  (row-major).
 *
 * Four rows of C at a time share each loaded element of B, two rows of B per pass, over column
 * blocks of B small enough to stay in cache. Operands are Float64Arrays so the hot loops see one
 * array type (see `asFloat64`).
 */
export function gemmAccumulate(
  m: number,
  n: number,
  k: number,
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  bOff: number,
  c: Float64Array,
  cOff: number,
): void {
  const BLOCK = 512;
  for (let j0 = 0; j0 < n; j0 += BLOCK) {
    const j1 = Math.min(n, j0 + BLOCK);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const c0 = cOff + i * n;
      const c1 = c0 + n;
      const c2 = c1 + n;
      const c3 = c2 + n;
      const a0 = aOff + i * k;
      let kk = 0;
      // Two rows of B per pass: 8 multiply-adds per 2 loads of B and 4 of C.
      for (; kk + 2 <= k; kk += 2) {
        const x0 = a[a0 + kk]!;
        const x1 = a[a0 + k + kk]!;
        const x2 = a[a0 + 2 * k + kk]!;
        const x3 = a[a0 + 3 * k + kk]!;
        const y0 = a[a0 + kk + 1]!;
        const y1 = a[a0 + k + kk + 1]!;
        const y2 = a[a0 + 2 * k + kk + 1]!;
        const y3 = a[a0 + 3 * k + kk + 1]!;
        const br = bOff + kk * n;
        const br2 = br + n;
        for (let j = j0; j < j1; j++) {
          const bv = b[br + j]!;
          const bw = b[br2 + j]!;
          c[c0 + j] += x0 * bv + y0 * bw;
          c[c1 + j] += x1 * bv + y1 * bw;
          c[c2 + j] += x2 * bv + y2 * bw;
          c[c3 + j] += x3 * bv + y3 * bw;
        }
      }
      if (kk < k) {
        const x0 = a[a0 + kk]!;
        const x1 = a[a0 + k + kk]!;
        const x2 = a[a0 + 2 * k + kk]!;
        const x3 = a[a0 + 3 * k + kk]!;
        const br = bOff + kk * n;
        for (let j = j0; j < j1; j++) {
          const bv = b[br + j]!;
          c[c0 + j] += x0 * bv;
          c[c1 + j] += x1 * bv;
          c[c2 + j] += x2 * bv;
          c[c3 + j] += x3 * bv;
        }
      }
    }
    for (; i < m; i++) {
      const cr = cOff + i * n;
      const ar = aOff + i * k;
      for (let kk = 0; kk < k; kk++) {
        const x = a[ar + kk]!;
        if (x === 0) continue;
        const br = bOff + kk * n;
        for (let j = j0; j < j1; j++) c[cr + j] += x * b[br + j]!;
      }
    }
  }
}

/** The elements as a Float64Array (the data itself when it already is one). */
export function asFloat64(v: ArrayLike<number>): Float64Array {
  return v instanceof Float64Array ? v : Float64Array.from(v);
}

export interface MatmulResult {
  shape: number[];
  data: Float64Array;
}

/** numpy matmul of row-major number arrays; null when the shapes do not match. */
export function matmulBatched(a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[]): MatmulResult | null {
  const aVec = aShape.length === 1;
  const bVec = bShape.length === 1;
  const as = aVec ? [1, aShape[0]!] : aShape;
  const bs = bVec ? [bShape[0]!, 1] : bShape;
  if (as.length < 2 || bs.length < 2) return null;
  const m = as[as.length - 2]!;
  const k = as[as.length - 1]!;
  const n = bs[bs.length - 1]!;
  if (bs[bs.length - 2] !== k) return null;
  const aBatch = as.slice(0, -2);
  const bBatch = bs.slice(0, -2);
  const batch = broadcastShapes([aBatch, bBatch]);
  if (!batch) return null;
  const count = shapeSize(batch);
  const c = new Float64Array(count * m * n);
  const a64 = asFloat64(a);
  const b64 = asFloat64(b);
  // Offsets of each broadcast batch in a and b.
  const aStr = stridesOf(aBatch);
  const bStr = stridesOf(bBatch);
  const bst = stridesOf(batch);
  for (let t = 0; t < count; t++) {
    let aIdx = 0;
    let bIdx = 0;
    let r = t;
    for (let d = 0; d < batch.length; d++) {
      const coord = Math.floor(r / bst[d]!);
      r -= coord * bst[d]!;
      const ad = d - (batch.length - aBatch.length);
      const bd = d - (batch.length - bBatch.length);
      if (ad >= 0 && aBatch[ad] !== 1) aIdx += coord * aStr[ad]!;
      if (bd >= 0 && bBatch[bd] !== 1) bIdx += coord * bStr[bd]!;
    }
    gemmAccumulate(m, n, k, a64, aIdx * m * k, b64, bIdx * k * n, c, t * m * n);
  }
  const shape = [...batch];
  if (!aVec) shape.push(m);
  if (!bVec) shape.push(n);
  return { shape, data: c };
}

export function matmulOrFail(ctx: KernelContext, a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[]): MatmulResult {
  if (aShape.length === 0 || bShape.length === 0) throw ctx.error('MatMul operands must have rank >= 1', 'input 0');
  const r = matmulBatched(a, aShape, b, bShape);
  if (!r) throw ctx.error(`shapes [${aShape.join(',')}] and [${bShape.join(',')}] do not multiply`, 'input 1');
  return r;
}

const matmul: Kernel = (ctx, inputs) => {
  const a = ctx.input(inputs, 0);
  const b = ctx.input(inputs, 1);
  if (a.dtype !== b.dtype) throw ctx.error(`input dtypes differ: ${a.dtype} and ${b.dtype}`, 'input 1');
  const r = matmulOrFail(ctx, numbersOf(a), a.shape, numbersOf(b), b.shape);
  return [tensorFrom(a.dtype, r.shape, r.data)];
};

/** A 2-D matrix, transposed when asked. */
function matrix(t: Tensor, trans: boolean): { rows: number; cols: number; data: Float64Array } {
  const [r, c] = [t.shape[0]!, sizeBetween(t.shape, 1)];
  const src = numbersOf(t);
  if (!trans) return { rows: r, cols: c, data: asFloat64(src) };
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
  return { rows: c, cols: r, data: out };
}

const gemm: Kernel = (ctx, inputs) => {
  const at = ctx.input(inputs, 0);
  const bt = ctx.input(inputs, 1);
  if (at.shape.length !== 2 || bt.shape.length !== 2) throw ctx.error('A and B must be 2-D', at.shape.length !== 2 ? 'input 0' : 'input 1');
  const alpha = ctx.float('alpha', 1);
  const beta = ctx.float('beta', 1);
  const a = matrix(at, ctx.int('transA', 0) === 1);
  const b = matrix(bt, ctx.int('transB', 0) === 1);
  if (a.cols !== b.rows) throw ctx.error(`shapes [${at.shape.join(',')}] and [${bt.shape.join(',')}] do not multiply`, 'input 1');
  const m = a.rows;
  const n = b.cols;
  const acc = new Float64Array(m * n);
  gemmAccumulate(m, n, a.cols, a.data, 0, b.data, 0, acc, 0);
  const out = numberBuffer(at.dtype, m * n);
  const c = inputs[2];
  if (c && beta !== 0) {
    const cs = c.shape;
    const cv = numbersOf(c);
    // C broadcasts unidirectionally to [M, N].
    const rowStride = cs.length === 2 && cs[0] === m ? (cs[1] === 1 ? 1 : n) : 0;
    const colStride = cs.length >= 1 && cs[cs.length - 1] === n && n !== 1 ? 1 : 0;
    if (cs.length > 2 || (cs.length >= 1 && cs[cs.length - 1] !== n && cs[cs.length - 1] !== 1) || (cs.length === 2 && cs[0] !== m && cs[0] !== 1)) {
      throw ctx.error(`C of shape [${cs.join(',')}] does not broadcast to [${m},${n}]`, 'input 2');
    }
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] = alpha * acc[i * n + j]! + beta * cv[i * rowStride + j * colStride]!;
  } else {
    for (let i = 0; i < m * n; i++) out[i] = alpha * acc[i]!;
  }
  return [tensorFrom(at.dtype, [m, n], out)];
};

export const matmulKernels: Record<string, Kernel> = {
  MatMul: matmul,
  Gemm: gemm,
};
