/**
 * Linear algebra beyond MatMul: Einsum (any equation, with ellipsis broadcasting and repeated
 * letters for diagonals) and Det (LU with partial pivoting, batched).
 *
 * Einsum evaluates the sum directly: for every assignment of the output letters it sums, over
 * every assignment of the remaining letters, the product of the input elements those letters
 * index. That is O(product of all letter sizes): a reference, not a fast path.
 */
import { shapeSize, type Tensor } from '../../tensor.js';
import { numbersOf, stridesOf, tensorFrom } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';

/** Letters standing for the dims an ellipsis covers (outside the a-zA-Z range of the equation). */
const ellipsisLetter = (i: number) => String.fromCharCode(0x100 + i);

function parseEinsum(ctx: KernelContext, equation: string, ranks: readonly number[]): { terms: string[][]; output: string[] } {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const rawTerms = lhs.split(',');
  if (rawTerms.length !== ranks.length) throw ctx.error(`equation has ${rawTerms.length} operands, node has ${ranks.length}`, 'attribute equation');
  let ellipsisRank = 0;
  const terms = rawTerms.map((term, k) => {
    const letters = term.replace('...', '');
    if (!term.includes('...')) {
      if (letters.length !== ranks[k]) throw ctx.error(`term "${term}" does not match rank ${ranks[k]}`, 'attribute equation');
      return [...letters];
    }
    const e = ranks[k]! - letters.length;
    ellipsisRank = Math.max(ellipsisRank, e);
    const [before, after] = term.split('...') as [string, string];
    return [...before, ...Array.from({ length: e }, (_, i) => `E${e - i}`), ...after];
  });
  // Ellipsis dims align from the right: `E1` is the last dim an ellipsis covers.
  const named = (l: string) => (l.startsWith('E') && l.length > 1 ? ellipsisLetter(ellipsisRank - Number(l.slice(1))) : l);
  const resolved = terms.map((t) => t.map(named));
  const ellipsis = Array.from({ length: ellipsisRank }, (_, i) => ellipsisLetter(i));
  let output: string[];
  if (rhs !== undefined) {
    const [before, after] = rhs.includes('...') ? (rhs.split('...') as [string, string]) : [rhs, null];
    output = after === null ? [...before] : [...before, ...ellipsis, ...after];
  } else {
    const counts = new Map<string, number>();
    for (const t of rawTerms) for (const l of t.replace('...', '')) counts.set(l, (counts.get(l) ?? 0) + 1);
    output = [...ellipsis, ...[...counts].filter(([, n]) => n === 1).map(([l]) => l).sort()];
  }
  return { terms: resolved, output };
}

const einsum: Kernel = (ctx, inputs) => {
  const ts = inputs.filter((t): t is Tensor => t !== null);
  const { terms, output } = parseEinsum(ctx, ctx.string('equation', ''), ts.map((t) => t.shape.length));
  const sizes = new Map<string, number>();
  terms.forEach((term, k) =>
    term.forEach((l, a) => {
      const d = ts[k]!.shape[a]!;
      const prev = sizes.get(l);
      if (prev === undefined || prev === 1) sizes.set(l, d);
      else if (d !== 1 && d !== prev) throw ctx.error(`letter "${l}" has sizes ${prev} and ${d}`, `input ${k}`);
    }),
  );
  const summed = [...sizes.keys()].filter((l) => !output.includes(l));
  const letters = [...output, ...summed];
  const dims = letters.map((l) => sizes.get(l)!);
  // strides[k][i]: how far input k moves when letter i advances (0 where broadcast).
  const strides = terms.map((term, k) => {
    const s = stridesOf(ts[k]!.shape);
    return letters.map((l) => term.reduce((acc, tl, a) => (tl === l && ts[k]!.shape[a] !== 1 ? acc + s[a]! : acc), 0));
  });
  const data = ts.map((t) => numbersOf(t));
  const outShape = output.map((l) => sizes.get(l)!);
  const out = new Float64Array(shapeSize(outShape));
  const inner = shapeSize(dims.slice(output.length));
  const idx = new Array<number>(letters.length).fill(0);
  const offsets = new Array<number>(ts.length).fill(0);
  const total = shapeSize(dims);
  for (let step = 0; step < total; step++) {
    let p = 1;
    for (let k = 0; k < ts.length; k++) p *= data[k]![offsets[k]!]!;
    out[Math.floor(step / inner)] += p;
    // Advance the odometer over all letters, keeping each input's offset in step.
    for (let i = letters.length - 1; i >= 0; i--) {
      for (let k = 0; k < ts.length; k++) offsets[k] += strides[k]![i]!;
      if (++idx[i]! < dims[i]!) break;
      for (let k = 0; k < ts.length; k++) offsets[k] -= strides[k]![i]! * dims[i]!;
      idx[i] = 0;
    }
  }
  return [tensorFrom(ts[0]!.dtype, outShape, out)];
};

/** Determinant of the n x n matrix at `off` (LU with partial pivoting on a copy). */
function determinant(v: ArrayLike<number>, off: number, n: number): number {
  const a = Float64Array.from({ length: n * n }, (_, i) => v[off + i]!);
  let det = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]!) > Math.abs(a[pivot * n + col]!)) pivot = r;
    if (a[pivot * n + col] === 0) return 0;
    if (pivot !== col) {
      for (let j = 0; j < n; j++) [a[col * n + j], a[pivot * n + j]] = [a[pivot * n + j]!, a[col * n + j]!];
      det = -det;
    }
    const d = a[col * n + col]!;
    det *= d;
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col]! / d;
      for (let j = col; j < n; j++) a[r * n + j] -= f * a[col * n + j]!;
    }
  }
  return det;
}

const det: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  const r = x.shape.length;
  const n = x.shape[r - 1]!;
  if (r < 2 || x.shape[r - 2] !== n) throw ctx.error(`input [${x.shape.join(',')}] is not a batch of square matrices`, 'input 0');
  const batch = shapeSize(x.shape.slice(0, -2));
  const v = numbersOf(x);
  const out = Float64Array.from({ length: batch }, (_, b) => determinant(v, b * n * n, n));
  return [tensorFrom(x.dtype, x.shape.slice(0, -2), out)];
};

export const linalgKernels: Record<string, Kernel> = {
  Einsum: einsum,
  Det: det,
};
