/**
 * Shape and type inference of each op in the schema table.
 *
 * Dims are numbers (static), strings (symbolic) or null (unknown). Functions return what they can
 * prove: an unknown rank leaves the output shape undefined, an unknown dim becomes null, and a
 * definite contradiction (static dims that cannot broadcast, a Reshape that changes the element
 * count...) is raised through `ctx.fail`. Small integer tensors (shapes, axes, indices) are also
 * evaluated when their inputs are known, so Shape -> Gather -> Concat -> Reshape chains resolve.
 */
import { dtypeFromOnnx, type DType } from '../dtype.js';
import type { Attribute, Dim, TensorType } from '../graph.js';
import { toFloat64, toIntArray, type Tensor } from '../tensor.js';
import { stridesOf } from '../interpreter/arrays.js';
import type { InferContext, InferFn } from './types.js';

type Shape = readonly Dim[];

function typed(dtype: DType | undefined, shape: Shape | undefined): TensorType | undefined {
  if (!dtype) return undefined;
  // Shapes are read-only once in a type, so an operand's shape can be shared, not copied.
  return shape ? { dtype, shape } : { dtype };
}

/** Normalizes a possibly negative axis against `rank`, failing when out of range. */
function normalizeAxis(ctx: InferContext, axis: number, rank: number, field: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`, field);
  return a;
}

/** The integer elements of operand i as numbers, when all are known statically. */
function staticInts(ctx: InferContext, i: number): readonly number[] | undefined {
  const e = ctx.elements(i);
  if (!e || !e.every((d): d is number => typeof d === 'number')) return undefined;
  return e;
}

/** An int list from an attribute (older opsets) or from constant operand i (newer opsets). */
function intsFromAttrOrInput(ctx: InferContext, attr: string, input: number): readonly number[] | undefined {
  const a = ctx.node.getInts(attr);
  if (a) return a;
  if (ctx.node.input(input)) return staticInts(ctx, input);
  return undefined;
}

function product(dims: Shape): Dim {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

function sameDim(a: Dim, b: Dim): boolean {
  return a === b && a !== null;
}

/** The more informative of two dims that must be equal (a static dim wins over a symbol). */
function unifyDim(ctx: InferContext, a: Dim, b: Dim, field: string): Dim {
  if (typeof a === 'number' && typeof b === 'number' && a !== b) ctx.fail(`dims ${a} and ${b} must be equal`, field);
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a ?? b;
}

/** Numpy-style multidirectional broadcasting of several shapes. */
export function broadcastShapes(ctx: InferContext, shapes: readonly (Shape | undefined)[]): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const known = shapes as Shape[];
  if (known.every((s) => sameKnownDims(s, known[0]!))) return known[0];
  const rank = Math.max(0, ...known.map((s) => s.length));
  const out: Dim[] = [];
  for (let k = 0; k < rank; k++) {
    let dim: Dim = 1;
    let unknownMayBeOne = false;
    for (const s of known) {
      const d = k - (rank - s.length) >= 0 ? s[k - (rank - s.length)]! : 1;
      if (d === 1) continue;
      if (dim === 1) {
        if (d === null) unknownMayBeOne = true;
        dim = d;
      } else if (typeof dim === 'number' && typeof d === 'number') {
        if (dim !== d) ctx.fail(`shapes ${known.map(shapeText).join(' and ')} do not broadcast (axis ${k}: ${dim} vs ${d})`);
      } else if (typeof d === 'number') {
        // A symbolic or unknown dim broadcast against a static dim > 1 must be 1 or equal to it.
        dim = d;
      } else if (dim !== d || d === null) {
        unknownMayBeOne = true;
        if (typeof dim !== 'number') dim = null;
      }
    }
    out.push(unknownMayBeOne && typeof dim !== 'number' ? null : dim);
  }
  return out;
}

/** Equal shapes without unknown dims (the common elementwise case), which broadcast to themselves. */
function sameKnownDims(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k] || a[k] === null) return false;
  return true;
}

function shapeText(s: Shape): string {
  return `[${s.map((d) => (d === null ? '?' : d)).join(',')}]`;
}

export const sameAsInput: InferFn = (ctx) => [ctx.type(0)];

export const identity: InferFn = (ctx) => {
  const values = ctx.elements(0);
  if (values) ctx.setElements(0, values);
  return [ctx.type(0)];
};

export const broadcastBinary: InferFn = (ctx) => {
  propagateElementwise(ctx);
  return [typed(ctx.dtype(0), broadcastShapes(ctx, [ctx.shape(0), ctx.shape(1)]))];
};

type ElementOp = (x: Dim, y: Dim) => Dim;

const num = (f: (x: number, y: number) => number): ElementOp => (x, y) => (typeof x === 'number' && typeof y === 'number' ? f(x, y) : null);

/** Integer (and 0/1 boolean) evaluation of elementwise ops, for shape arithmetic and If conditions. */
const ELEMENT_OPS: Record<string, ElementOp> = {
  Add: num((x, y) => x + y),
  Sub: num((x, y) => x - y),
  // x * 1 keeps a symbolic x.
  Mul: (x, y) => (x === 1 ? y : y === 1 ? x : num((a, b) => a * b)(x, y)),
  // Integer Div truncates toward zero.
  Div: num((x, y) => (y === 0 ? NaN : Math.trunc(x / y))),
  // A symbol equals itself; two different symbols may or may not be equal.
  Equal: (x, y) => (x !== null && x === y ? 1 : num((a, b) => Number(a === b))(x, y)),
  Less: num((x, y) => Number(x < y)),
  Greater: num((x, y) => Number(x > y)),
  And: num((x, y) => Number(x !== 0 && y !== 0)),
  Or: num((x, y) => Number(x !== 0 || y !== 0)),
};

const TRACKED_DTYPES = new Set(['int64', 'int32', 'bool']);

/** Evaluates a binary elementwise op on known small tensors (same length, or one of length 1). */
function propagateElementwise(ctx: InferContext): void {
  const f = ELEMENT_OPS[ctx.node.op];
  const a = ctx.elements(0);
  const b = ctx.elements(1);
  if (!f || !a || !b || !TRACKED_DTYPES.has(ctx.dtype(0) ?? '')) return;
  if (a.length !== b.length && a.length !== 1 && b.length !== 1) return;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let k = 0; k < n; k++) {
    const v = f(a[a.length === 1 ? 0 : k]!, b[b.length === 1 ? 0 : k]!);
    out.push(typeof v === 'number' && !Number.isFinite(v) ? null : v);
  }
  ctx.setElements(0, out);
}

export const not: InferFn = (ctx) => {
  const values = ctx.elements(0);
  if (values) ctx.setElements(0, values.map((v) => (typeof v === 'number' ? Number(v === 0) : null)));
  return [ctx.type(0)];
};

/** Max/Min/Sum/Mean: every operand broadcast together. */
export const broadcastAll: InferFn = (ctx) => {
  const shapes = Array.from({ length: ctx.inputCount }, (_, i) => ctx.shape(i));
  return [typed(ctx.dtype(0), broadcastShapes(ctx, shapes))];
};

export const broadcastCompare: InferFn = (ctx) => {
  propagateElementwise(ctx);
  return [typed('bool', broadcastShapes(ctx, [ctx.shape(0), ctx.shape(1)]))];
};

export const where: InferFn = (ctx) => [typed(ctx.dtype(1) ?? ctx.dtype(2), broadcastShapes(ctx, [ctx.shape(0), ctx.shape(1), ctx.shape(2)]))];

export const batchNormalization: InferFn = (ctx) => {
  const x = ctx.shape(0);
  const channels = ctx.shape(1)?.[0] ?? (x && x.length > 1 ? x[1]! : null);
  const stat = typed(ctx.dtype(3) ?? ctx.dtype(0), [channels]);
  return [ctx.type(0), stat, stat, stat, stat];
};

export const layerNormalization: InferFn = (ctx) => {
  const x = ctx.shape(0);
  const stashDType = dtypeFromOnnx(ctx.node.getInt('stash_type', 1)) ?? 'float32';
  if (!x) return [ctx.type(0), typed(stashDType, undefined), typed(stashDType, undefined)];
  const axis = normalizeAxis(ctx, ctx.node.getInt('axis', -1), x.length, 'attribute axis');
  const stat = typed(stashDType, x.map((d, k) => (k < axis ? d : 1)));
  return [ctx.type(0), stat, stat];
};

// ---- convolution and pooling ----

interface Window {
  kernel: readonly Dim[];
  strides: readonly number[];
  dilations: readonly number[];
  pads: readonly number[];
  autoPad: string;
}

function windowOf(ctx: InferContext, spatial: number, kernel: readonly Dim[] | undefined): Window | undefined {
  const n = ctx.node;
  const k = n.getInts('kernel_shape') ?? kernel;
  if (!k) return undefined;
  if (k.length !== spatial) ctx.fail(`kernel has ${k.length} dims but the input has ${spatial} spatial dims`, 'attribute kernel_shape');
  const strides = n.getInts('strides') ?? new Array<number>(spatial).fill(1);
  const dilations = n.getInts('dilations') ?? new Array<number>(spatial).fill(1);
  const pads = n.getInts('pads') ?? new Array<number>(2 * spatial).fill(0);
  if (strides.length !== spatial) ctx.fail(`expected ${spatial} strides, got ${strides.length}`, 'attribute strides');
  if (dilations.length !== spatial) ctx.fail(`expected ${spatial} dilations, got ${dilations.length}`, 'attribute dilations');
  if (pads.length !== 2 * spatial) ctx.fail(`expected ${2 * spatial} pads, got ${pads.length}`, 'attribute pads');
  return { kernel: k, strides, dilations, pads, autoPad: n.getString('auto_pad', 'NOTSET') };
}

/** Output spatial dims of a convolution or pooling window: floor (or ceil) of (in + pads - dilated kernel) / stride, + 1. */
function windowOutput(ctx: InferContext, input: Shape, w: Window, ceilMode: boolean): Dim[] {
  return input.map((size, k) => {
    const stride = w.strides[k]!;
    if (typeof size !== 'number') return null;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return Math.ceil(size / stride);
    const kernel = w.kernel[k];
    if (typeof kernel !== 'number') return null;
    const span = (kernel - 1) * w.dilations[k]! + 1;
    const padded = w.autoPad === 'VALID' ? size : size + w.pads[k]! + w.pads[k + input.length]!;
    if (padded < span) ctx.fail(`window of ${span} does not fit the padded input of ${padded} on spatial axis ${k}`, 'attribute kernel_shape');
    const round = ceilMode ? Math.ceil : Math.floor;
    let out = round((padded - span) / stride) + 1;
    // With ceil_mode the last window must still start inside the input or its leading padding.
    if (ceilMode && (out - 1) * stride >= size + (w.autoPad === 'VALID' ? 0 : w.pads[k]!)) out--;
    return out;
  });
}

function convShape(ctx: InferContext, x: number, weight: number): Shape | undefined {
  const xs = ctx.shape(x);
  const ws = ctx.shape(weight);
  if (!xs) return undefined;
  if (xs.length < 3) ctx.fail(`input has rank ${xs.length}, expected at least 3`, `input ${x}`);
  if (ws && ws.length !== xs.length) ctx.fail(`weight has rank ${ws.length} but the input has rank ${xs.length}`, `input ${weight}`);
  const group = ctx.node.getInt('group', 1);
  if (ws && typeof ws[1] === 'number' && typeof xs[1] === 'number' && ws[1] * group !== xs[1]) {
    ctx.fail(`input has ${xs[1]} channels but weight expects ${ws[1]} x group ${group}`, `input ${weight}`);
  }
  const w = windowOf(ctx, xs.length - 2, ws?.slice(2));
  const spatial = w ? windowOutput(ctx, xs.slice(2), w, false) : xs.slice(2).map(() => null);
  return [xs[0]!, ws ? ws[0]! : null, ...spatial];
}

export const conv: InferFn = (ctx) => [typed(ctx.dtype(0), convShape(ctx, 0, 1))];
export const convInteger: InferFn = (ctx) => [typed('int32', convShape(ctx, 0, 1))];
export const qlinearConv: InferFn = (ctx) => [typed(ctx.dtype(7), convShape(ctx, 0, 3))];

export const convTranspose: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const ws = ctx.shape(1);
  if (!xs) return [typed(ctx.dtype(0), undefined)];
  const group = ctx.node.getInt('group', 1);
  const channels = ws && typeof ws[1] === 'number' ? ws[1] * group : null;
  const spatialRank = xs.length - 2;
  const outputShape = ctx.node.getInts('output_shape');
  if (outputShape) return [typed(ctx.dtype(0), [xs[0]!, channels, ...outputShape.slice(-spatialRank)])];
  const w = windowOf(ctx, spatialRank, ws?.slice(2));
  const outputPadding = ctx.node.getInts('output_padding') ?? new Array<number>(spatialRank).fill(0);
  const spatial = xs.slice(2).map((size, k) => {
    if (!w || typeof size !== 'number') return null;
    const stride = w.strides[k]!;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return size * stride;
    const kernel = w.kernel[k];
    if (typeof kernel !== 'number') return null;
    const pads = w.autoPad === 'VALID' ? 0 : w.pads[k]! + w.pads[k + spatialRank]!;
    // out = stride * (in - 1) + output_padding + dilated kernel - pads
    return stride * (size - 1) + outputPadding[k]! + (kernel - 1) * w.dilations[k]! + 1 - pads;
  });
  return [typed(ctx.dtype(0), [xs[0]!, channels, ...spatial])];
};

export const pool: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [ctx.type(0) && { dtype: ctx.type(0)!.dtype }, typed('int64', undefined)];
  if (xs.length < 3) ctx.fail(`input has rank ${xs.length}, expected at least 3`, 'input 0');
  const w = windowOf(ctx, xs.length - 2, undefined);
  const spatial = w ? windowOutput(ctx, xs.slice(2), w, ctx.node.getInt('ceil_mode', 0) === 1) : xs.slice(2).map(() => null);
  const shape = [xs[0]!, xs[1]!, ...spatial];
  return [typed(ctx.dtype(0), shape), typed('int64', shape)];
};

export const globalPool: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  return [typed(ctx.dtype(0), xs && xs.map((d, k) => (k < 2 ? d : 1)))];
};

// ---- resampling and padding ----

export const resize: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const dtype = ctx.dtype(0);
  if (!xs) return [typed(dtype, undefined)];
  const n = ctx.node;
  const axes = n.getInts('axes')?.map((a) => normalizeAxis(ctx, a, xs.length, 'attribute axes')) ?? xs.map((_, k) => k);
  const resizeV11 = n.op === 'Resize' && ctx.opset >= 11;
  const sizesInput = resizeV11 ? 3 : -1;
  const sizes = sizesInput > 0 && n.input(sizesInput) ? staticInts(ctx, sizesInput) : undefined;
  if (sizes) {
    if (sizes.length !== axes.length) ctx.fail(`sizes has ${sizes.length} elements for ${axes.length} axes`, 'input sizes');
    if (n.getString('keep_aspect_ratio_policy', 'stretch') !== 'stretch') return [typed(dtype, xs.map(() => null))];
    const out = [...xs];
    axes.forEach((a, k) => (out[a] = sizes[k]!));
    return [typed(dtype, out)];
  }
  const scalesInput = n.op === 'Upsample' && ctx.opset < 9 ? -1 : resizeV11 ? 2 : 1;
  const scalesTensor = scalesInput < 0 ? undefined : ctx.constant(scalesInput);
  const scales = scalesInput < 0 ? n.getFloats('scales') : scalesTensor && scalesTensor.data.length && scalesTensor.dtype !== 'string' ? Array.from(toFloat64(scalesTensor)) : undefined;
  if (!scales) return [typed(dtype, xs.map(() => null))];
  if (scales.length !== axes.length) ctx.fail(`scales has ${scales.length} elements for ${axes.length} axes`, 'input scales');
  const out = [...xs];
  axes.forEach((a, k) => {
    const d = xs[a]!;
    out[a] = scales[k] === 1 ? d : typeof d === 'number' ? Math.floor(d * scales[k]!) : null;
  });
  return [typed(dtype, out)];
};

export const pad: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [typed(ctx.dtype(0), undefined)];
  const pads = intsFromAttrOrInput(ctx, 'pads', 1);
  if (!pads) return [typed(ctx.dtype(0), xs.map(() => null))];
  const axesInput = ctx.node.input(3) ? staticInts(ctx, 3) : undefined;
  if (ctx.node.input(3) && !axesInput) return [typed(ctx.dtype(0), xs.map(() => null))];
  const axes = (axesInput ?? xs.map((_, k) => k)).map((a) => normalizeAxis(ctx, a, xs.length, 'input axes'));
  if (pads.length !== 2 * axes.length) ctx.fail(`expected ${2 * axes.length} pads, got ${pads.length}`, 'pads');
  const out = [...xs];
  axes.forEach((a, k) => {
    const d = xs[a]!;
    const total = pads[k]! + pads[k + axes.length]!;
    out[a] = total === 0 ? d : typeof d === 'number' ? d + total : null;
  });
  return [typed(ctx.dtype(0), out)];
};

// ---- shape manipulation ----

export const shape: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [{ dtype: 'int64', shape: [null] }];
  const rank = xs.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(ctx.node.getInt('start', 0));
  const end = clamp(ctx.node.getInt('end', rank));
  const dims = xs.slice(start, Math.max(start, end));
  ctx.setElements(0, dims);
  return [{ dtype: 'int64', shape: [dims.length] }];
};

export const size: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (xs) ctx.setElements(0, [product(xs)]);
  return [{ dtype: 'int64', shape: [] }];
};

export const reshape: InferFn = (ctx) => {
  const dtype = ctx.dtype(0);
  const target = ctx.node.getInts('shape') ?? ctx.elements(1);
  if (!target) {
    const len = ctx.shape(1)?.[0];
    return [typed(dtype, typeof len === 'number' ? new Array<Dim>(len).fill(null) : undefined)];
  }
  const xs = ctx.shape(0);
  const allowZero = ctx.node.getInt('allowzero', 0) === 1;
  const out: Dim[] = target.map((d, k) => {
    if (typeof d === 'number' && d < -1) ctx.fail(`shape [${target.join(',')}] has a negative dim other than -1`, 'input shape');
    if (d !== 0 || allowZero) return d;
    // 0 copies the input dim at the same position.
    if (!xs) return null;
    if (k >= xs.length) ctx.fail(`shape copies dim ${k} the input does not have`, 'input shape');
    return xs[k]!;
  });
  const inferred = out.indexOf(-1);
  if (out.indexOf(-1, inferred + 1) > 0) ctx.fail('shape has more than one -1', 'input shape');
  if (inferred >= 0) {
    const total = xs ? product(xs) : null;
    const rest = product(out.filter((_, k) => k !== inferred));
    if (typeof total === 'number' && typeof rest === 'number' && rest !== 0) {
      if (total % rest !== 0) ctx.fail(`cannot reshape ${total} elements into ${shapeText(target)}`, 'input shape');
      out[inferred] = total / rest;
    } else {
      out[inferred] = xs && rest === 1 && xs.length === 1 ? xs[0]! : null;
    }
  } else if (xs) {
    const before = product(xs);
    const after = product(out);
    if (typeof before === 'number' && typeof after === 'number' && before !== after) {
      ctx.fail(`cannot reshape ${before} elements into ${shapeText(out)}`, 'input shape');
    }
  }
  const values = ctx.elements(0);
  if (values) ctx.setElements(0, values);
  return [typed(dtype, out)];
};

export const flatten: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [typed(ctx.dtype(0), [null, null])];
  const axis = ctx.node.getInt('axis', 1);
  const a = axis < 0 ? axis + xs.length : axis;
  if (a < 0 || a > xs.length) ctx.fail(`axis ${axis} is out of range for rank ${xs.length}`, 'attribute axis');
  return [typed(ctx.dtype(0), [product(xs.slice(0, a)), product(xs.slice(a))])];
};

export const transpose: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [typed(ctx.dtype(0), undefined)];
  const perm = ctx.node.getInts('perm') ?? xs.map((_, k) => xs.length - 1 - k);
  if (perm.length !== xs.length || [...perm].sort((a, b) => a - b).some((p, k) => p !== k)) {
    ctx.fail(`perm [${perm.join(',')}] is not a permutation of ${xs.length} axes`, 'attribute perm');
  }
  const out = perm.map((p) => xs[p]!);
  const values = ctx.elements(0);
  if (values && allStatic(xs) && allStatic(out)) {
    const strides = stridesOf(xs);
    ctx.setElements(0, pickStrided(values, perm.map((p) => strides[p]!), out.map(() => 0), out.map(() => 1), out));
  }
  return [typed(ctx.dtype(0), out)];
};

export const squeeze: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [typed(ctx.dtype(0), undefined)];
  const hasAxes = ctx.node.getInts('axes') !== undefined || ctx.node.input(1) !== null;
  const axes = intsFromAttrOrInput(ctx, 'axes', 1);
  if (hasAxes && !axes) return [typed(ctx.dtype(0), undefined)];
  let drop: Set<number>;
  if (axes) {
    drop = new Set(axes.map((a) => normalizeAxis(ctx, a, xs.length, 'axes')));
    for (const a of drop) if (typeof xs[a] === 'number' && xs[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${xs[a]}`, 'axes');
  } else {
    if (xs.some((d) => typeof d !== 'number')) return [typed(ctx.dtype(0), undefined)];
    drop = new Set(xs.flatMap((d, k) => (d === 1 ? [k] : [])));
  }
  const values = ctx.elements(0);
  if (values) ctx.setElements(0, values);
  return [typed(ctx.dtype(0), xs.filter((_, k) => !drop.has(k)))];
};

export const unsqueeze: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const axes = intsFromAttrOrInput(ctx, 'axes', 1);
  if (!xs || !axes) return [typed(ctx.dtype(0), undefined)];
  const rank = xs.length + axes.length;
  const inserted = new Set(axes.map((a) => normalizeAxis(ctx, a, rank, 'axes')));
  if (inserted.size !== axes.length) ctx.fail(`axes [${axes.join(',')}] repeat an axis`, 'axes');
  const out: Dim[] = [];
  let k = 0;
  for (let a = 0; a < rank; a++) out.push(inserted.has(a) ? 1 : xs[k++]!);
  const values = ctx.elements(0);
  if (values) ctx.setElements(0, values);
  return [typed(ctx.dtype(0), out)];
};

export const concat: InferFn = (ctx) => {
  const shapes = Array.from({ length: ctx.inputCount }, (_, i) => ctx.shape(i));
  const dtype = Array.from({ length: ctx.inputCount }, (_, i) => ctx.dtype(i)).find(Boolean);
  const first = shapes.find(Boolean);
  if (!first) return [typed(dtype, undefined)];
  const rank = first.length;
  const axis = normalizeAxis(ctx, ctx.node.getInt('axis', 0), rank, 'attribute axis');
  const out: Dim[] = [...first];
  out[axis] = 0;
  for (const [i, s] of shapes.entries()) {
    if (!s) {
      out[axis] = null;
      continue;
    }
    if (s.length !== rank) ctx.fail(`input ${i} has rank ${s.length}, expected ${rank}`, `input ${i}`);
    for (let k = 0; k < rank; k++) {
      if (k === axis) {
        const a: Dim = out[axis]!;
        out[axis] = typeof a === 'number' && typeof s[k] === 'number' ? a + (s[k] as number) : null;
      } else {
        out[k] = unifyDim(ctx, out[k]!, s[k]!, `input ${i}`);
      }
    }
  }
  const parts = Array.from({ length: ctx.inputCount }, (_, i) => ctx.elements(i));
  if (rank === 1 && parts.every(Boolean)) ctx.setElements(0, parts.flatMap((p) => p!));
  return [typed(dtype, out)];
};

export const split: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const count = ctx.node.outputs.length;
  const dtype = ctx.dtype(0);
  if (!xs) return new Array(count).fill(typed(dtype, undefined));
  const axis = normalizeAxis(ctx, ctx.node.getInt('axis', 0), xs.length, 'attribute axis');
  const sizes = intsFromAttrOrInput(ctx, 'split', 1);
  const total = xs[axis]!;
  let parts: Dim[];
  if (sizes) {
    if (sizes.length !== count) ctx.fail(`split has ${sizes.length} sizes for ${count} outputs`, 'split');
    if (typeof total === 'number' && sizes.reduce((a, b) => a + b, 0) !== total) ctx.fail(`split sizes do not add up to ${total}`, 'split');
    parts = [...sizes];
  } else if (ctx.node.input(1)) {
    parts = new Array<Dim>(count).fill(null);
  } else if (typeof total === 'number') {
    // Equal parts, the last one smaller when the axis does not divide (opset 18 num_outputs rule).
    const chunk = Math.ceil(total / count);
    parts = Array.from({ length: count }, (_, k) => Math.max(0, Math.min(chunk, total - k * chunk)));
  } else {
    parts = new Array<Dim>(count).fill(null);
  }
  return parts.map((p) => typed(dtype, xs.map((d, k) => (k === axis ? p : d))));
};

/** Clamps Slice bounds as ONNX does: the first index taken and how many are taken. */
function sliceRange(dim: number, start: number, end: number, step: number): { first: number; count: number } {
  const clampTo = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clampTo(s, 0, dim);
    e = clampTo(e, 0, dim);
  } else {
    s = clampTo(s, 0, dim - 1);
    e = clampTo(e, -1, dim - 1);
  }
  return { first: s, count: Math.max(0, Math.ceil((e - s) / step)) };
}

/**
 * Picks elements of a row-major tensor: output index (i_0..i_r) reads input element
 * sum_k (first_k + i_k * step_k) * strides_k, for output dims `counts` (strides_k: the input
 * stride of the axis output axis k walks).
 */
function pickStrided(values: readonly Dim[], strides: readonly number[], first: readonly number[], step: readonly number[], counts: readonly number[]): Dim[] {
  const out: Dim[] = [];
  const index = new Array<number>(counts.length).fill(0);
  const total = counts.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    let at = 0;
    for (let k = 0; k < counts.length; k++) at += (first[k]! + index[k]! * step[k]!) * strides[k]!;
    out.push(values[at]!);
    for (let k = counts.length - 1; k >= 0 && ++index[k]! === counts[k]!; k--) index[k] = 0;
  }
  return out;
}

function allStatic(shape: Shape | undefined): shape is readonly number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export const slice: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const dtype = ctx.dtype(0);
  if (!xs) return [typed(dtype, undefined)];
  const fromAttrs = ctx.opset < 10;
  const starts = fromAttrs ? ctx.node.getInts('starts') : staticInts(ctx, 1);
  const ends = fromAttrs ? ctx.node.getInts('ends') : staticInts(ctx, 2);
  const axesGiven = fromAttrs ? ctx.node.getInts('axes') : ctx.node.input(3) ? staticInts(ctx, 3) : undefined;
  const stepsGiven = !fromAttrs && ctx.node.input(4) ? staticInts(ctx, 4) : undefined;
  if (!starts || !ends || (!fromAttrs && ctx.node.input(3) && !axesGiven) || (!fromAttrs && ctx.node.input(4) && !stepsGiven)) {
    return [typed(dtype, xs.map(() => null))];
  }
  if (starts.length !== ends.length) ctx.fail(`starts has ${starts.length} elements but ends has ${ends.length}`, 'ends');
  const axes = (axesGiven ?? starts.map((_, k) => k)).map((a) => normalizeAxis(ctx, a, xs.length, 'axes'));
  const steps = stepsGiven ?? starts.map(() => 1);
  if (steps.some((s) => s === 0)) ctx.fail('a step is 0', 'steps');
  const out: Dim[] = [...xs];
  const first = xs.map(() => 0);
  const step = xs.map(() => 1);
  axes.forEach((a, k) => {
    const d = xs[a]!;
    if (typeof d !== 'number') {
      out[a] = null;
      return;
    }
    const r = sliceRange(d, starts[k]!, ends[k]!, steps[k]!);
    out[a] = r.count;
    first[a] = r.first;
    step[a] = steps[k]!;
  });
  const values = ctx.elements(0);
  if (values && allStatic(xs) && allStatic(out)) ctx.setElements(0, pickStrided(values, stridesOf(xs), first, step, out));
  return [typed(dtype, out)];
};

export const gather: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const is = ctx.shape(1);
  const dtype = ctx.dtype(0);
  if (!xs || !is) return [typed(dtype, undefined)];
  const axis = normalizeAxis(ctx, ctx.node.getInt('axis', 0), xs.length, 'attribute axis');
  const values = ctx.elements(0);
  const indices = staticInts(ctx, 1);
  if (values && indices && xs.length === 1) {
    const n = values.length;
    if (indices.some((i) => i < -n || i >= n)) ctx.fail(`index out of range for ${n} elements`, 'input indices');
    ctx.setElements(0, indices.map((i) => values[i < 0 ? i + n : i]!));
  }
  return [typed(dtype, [...xs.slice(0, axis), ...is, ...xs.slice(axis + 1)])];
};

export const gatherElements: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const is = ctx.shape(1);
  if (xs && is && xs.length !== is.length) ctx.fail(`indices have rank ${is.length} but data has rank ${xs.length}`, 'input indices');
  return [typed(ctx.dtype(0), is)];
};

/** DepthToSpace: [N, C, H, W] -> [N, C / b^2, H * b, W * b]; SpaceToDepth the inverse. */
function blockRearrange(ctx: InferContext, toSpace: boolean): readonly (TensorType | undefined)[] {
  const xs = ctx.shape(0);
  if (!xs) return [typed(ctx.dtype(0), undefined)];
  if (xs.length !== 4) ctx.fail(`input has rank ${xs.length}, expected 4`, 'input 0');
  const b = ctx.node.getInt('blocksize', 1);
  const scale = (d: Dim, up: boolean): Dim => {
    if (typeof d !== 'number') return null;
    if (up) return d * b;
    if (d % b !== 0) ctx.fail(`dim ${d} is not divisible by ${b}`, 'attribute blocksize');
    return d / b;
  };
  const [n, c, h, w] = xs as [Dim, Dim, Dim, Dim];
  const channels = typeof c !== 'number' ? null : toSpace ? (c % (b * b) === 0 ? c / (b * b) : ctx.fail(`channels ${c} are not divisible by ${b * b}`, 'attribute blocksize')) : c * b * b;
  return [typed(ctx.dtype(0), [n, channels, scale(h, toSpace), scale(w, toSpace)])];
}

export const depthToSpace: InferFn = (ctx) => blockRearrange(ctx, true);
export const spaceToDepth: InferFn = (ctx) => blockRearrange(ctx, false);

/** NonZero: [rank, number of non-zero elements] (the count is data-dependent). */
export const nonZero: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  return [typed('int64', [xs ? xs.length : null, null])];
};

/** TopK: the axis shrinks to K (attribute before opset 10, a constant operand after). */
export const topK: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [typed(ctx.dtype(0), undefined), typed('int64', undefined)];
  const axis = normalizeAxis(ctx, ctx.node.getInt('axis', -1), xs.length, 'attribute axis');
  const k = ctx.opset < 10 ? ctx.node.getInt('k') ?? null : staticInts(ctx, 1)?.[0] ?? null;
  const shape = xs.map((d, i) => (i === axis ? k : d));
  return [typed(ctx.dtype(0), shape), typed('int64', shape)];
};

export const expand: InferFn = (ctx) => {
  const target = ctx.elements(1);
  const xs = ctx.shape(0);
  if (!target) {
    const len = ctx.shape(1)?.[0];
    const rank = typeof len === 'number' && xs ? Math.max(len, xs.length) : undefined;
    return [typed(ctx.dtype(0), rank === undefined ? undefined : new Array<Dim>(rank).fill(null))];
  }
  return [typed(ctx.dtype(0), broadcastShapes(ctx, [xs, target]))];
};

export const tile: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [typed(ctx.dtype(0), undefined)];
  const repeats = ctx.elements(1);
  if (!repeats) return [typed(ctx.dtype(0), xs.map(() => null))];
  if (repeats.length !== xs.length) ctx.fail(`repeats has ${repeats.length} elements for rank ${xs.length}`, 'input repeats');
  return [typed(ctx.dtype(0), xs.map((d, k) => (repeats[k] === 1 ? d : typeof d === 'number' && typeof repeats[k] === 'number' ? d * repeats[k] : null)))];
};

export const cast: InferFn = (ctx) => {
  const to = ctx.node.getInt('to');
  const dtype = to === undefined ? undefined : dtypeFromOnnx(to);
  const values = ctx.elements(0);
  if (values && dtype === 'bool') ctx.setElements(0, values.map((v) => (typeof v === 'number' ? Number(v !== 0) : null)));
  else if (values && dtype && TRACKED_DTYPES.has(dtype)) ctx.setElements(0, values);
  return [typed(dtype, ctx.shape(0))];
};

export const dropout: InferFn = (ctx) => [ctx.type(0), ctx.opset >= 10 ? typed('bool', ctx.shape(0)) : ctx.type(0)];

// ---- constants and generators ----

/** The tensor a Constant node holds, from whichever value attribute it uses. */
export function constantNodeTensor(attrs: ReadonlyMap<string, Attribute>): Tensor | undefined {
  for (const [name, a] of attrs) {
    if (name === 'value' && a.kind === 'tensor') return a.value;
    if (name === 'value_int' && a.kind === 'int') return { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(a.value)) };
    if (name === 'value_ints' && a.kind === 'ints') return { dtype: 'int64', shape: [a.value.length], data: BigInt64Array.from(a.value, BigInt) };
    if (name === 'value_float' && a.kind === 'float') return { dtype: 'float32', shape: [], data: Float32Array.of(a.value) };
    if (name === 'value_floats' && a.kind === 'floats') return { dtype: 'float32', shape: [a.value.length], data: Float32Array.from(a.value) };
    if (name === 'value_string' && a.kind === 'string') return { dtype: 'string', shape: [], data: [a.value] };
    if (name === 'value_strings' && a.kind === 'strings') return { dtype: 'string', shape: [a.value.length], data: [...a.value] };
  }
  return undefined;
}

export const constant: InferFn = (ctx) => {
  const t = constantNodeTensor(ctx.node.attrs);
  return [t && { dtype: t.dtype, shape: [...t.shape] }];
};

export const constantOfShape: InferFn = (ctx) => {
  const value = ctx.node.getTensor('value');
  const dtype = value?.dtype ?? 'float32';
  const dims = ctx.elements(0);
  if (dims) {
    if (dims.some((d) => typeof d === 'number' && d < 0)) ctx.fail(`shape [${dims.join(',')}] has a negative dim`, 'input 0');
    const count = product(dims);
    if (value && TRACKED_DTYPES.has(dtype) && typeof count === 'number') ctx.setElements(0, new Array<Dim>(count).fill(Number(toIntArray(value)[0] ?? 0)));
    return [typed(dtype, dims)];
  }
  const len = ctx.shape(0)?.[0];
  return [typed(dtype, typeof len === 'number' ? new Array<Dim>(len).fill(null) : undefined)];
};

export const range: InferFn = (ctx) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => ctx.constant(i));
  if (start && limit && delta) {
    const [s, l, d] = [start, limit, delta].map((t) => Number((t.data as ArrayLike<number | bigint>)[0]));
    if (d === 0) ctx.fail('delta is 0', 'input delta');
    return [typed(ctx.dtype(0), [Math.max(Math.ceil((l! - s!) / d!), 0)])];
  }
  return [typed(ctx.dtype(0), [null])];
};

// ---- reductions and matrix products ----

function reducedShape(ctx: InferContext, xs: Shape, axes: readonly number[] | undefined, keepDims: boolean): Shape {
  const all = axes === undefined || axes.length === 0;
  const reduced = new Set(all ? xs.map((_, k) => k) : axes.map((a) => normalizeAxis(ctx, a, xs.length, 'axes')));
  return keepDims ? xs.map((d, k) => (reduced.has(k) ? 1 : d)) : xs.filter((_, k) => !reduced.has(k));
}

export const reduce: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const dtype = ctx.dtype(0);
  if (!xs) return [typed(dtype, undefined)];
  const keepDims = ctx.node.getInt('keepdims', 1) === 1;
  const axesInput = ctx.node.getInts('axes') === undefined && ctx.node.input(1) !== null;
  const axes = intsFromAttrOrInput(ctx, 'axes', 1);
  if (axesInput && !axes) return [typed(dtype, keepDims ? xs.map(() => null) : undefined)];
  if ((!axes || axes.length === 0) && ctx.node.getInt('noop_with_empty_axes', 0) === 1) return [ctx.type(0)];
  return [typed(dtype, reducedShape(ctx, xs, axes, keepDims))];
};

export const argReduce: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  if (!xs) return [typed('int64', undefined)];
  return [typed('int64', reducedShape(ctx, xs, [ctx.node.getInt('axis', 0)], ctx.node.getInt('keepdims', 1) === 1))];
};

/** numpy.matmul: 1-D operands are promoted and the promoted dim dropped; batch dims broadcast. */
function matMulShape(ctx: InferContext, a: number, b: number): Shape | undefined {
  const as = ctx.shape(a);
  const bs = ctx.shape(b);
  if (!as || !bs) return undefined;
  if (as.length === 0 || bs.length === 0) ctx.fail('matmul operands must have rank >= 1');
  const a2 = as.length === 1 ? [1, as[0]!] : as;
  const b2 = bs.length === 1 ? [bs[0]!, 1] : bs;
  unifyDim(ctx, a2[a2.length - 1]!, b2[b2.length - 2]!, `input ${b}`);
  const batch = broadcastShapes(ctx, [a2.slice(0, -2), b2.slice(0, -2)])!;
  const out = [...batch];
  if (as.length > 1) out.push(a2[a2.length - 2]!);
  if (bs.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

export const matMul: InferFn = (ctx) => [typed(ctx.dtype(0), matMulShape(ctx, 0, 1))];
export const matMulInteger: InferFn = (ctx) => [typed('int32', matMulShape(ctx, 0, 1))];
export const qlinearMatMul: InferFn = (ctx) => [typed(ctx.dtype(7), matMulShape(ctx, 0, 3))];

export const gemm: InferFn = (ctx) => {
  const as = ctx.shape(0);
  const bs = ctx.shape(1);
  if (!as || !bs) return [typed(ctx.dtype(0), [null, null])];
  if (as.length !== 2 || bs.length !== 2) ctx.fail(`Gemm operands must be 2-D, got ranks ${as.length} and ${bs.length}`);
  const [m, ka] = ctx.node.getInt('transA', 0) ? [as[1]!, as[0]!] : [as[0]!, as[1]!];
  const [kb, n] = ctx.node.getInt('transB', 0) ? [bs[1]!, bs[0]!] : [bs[0]!, bs[1]!];
  unifyDim(ctx, ka, kb, 'input B');
  return [typed(ctx.dtype(0), [m, n])];
};

// ---- quantization ----

export const quantizeLinear: InferFn = (ctx) => {
  const outputDType = ctx.node.getInt('output_dtype', 0);
  const dtype = ctx.dtype(2) ?? (outputDType ? dtypeFromOnnx(outputDType) : 'uint8');
  return [typed(dtype, ctx.shape(0))];
};

/** DequantizeLinear: float32 before opset 19; then the scale's type, unless output_dtype (opset 23) says otherwise. */
export const dequantizeLinear: InferFn = (ctx) => {
  const outputDType = ctx.node.getInt('output_dtype', 0);
  const dtype = outputDType ? dtypeFromOnnx(outputDType) : ctx.opset >= 19 ? ctx.dtype(1) : 'float32';
  return [typed(dtype, ctx.shape(0))];
};

export const dynamicQuantizeLinear: InferFn = (ctx) => [typed('uint8', ctx.shape(0)), { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }];

// ---- recurrent ----

/** LSTM/GRU: Y [seq, dirs, batch, hidden] and Y_h/Y_c [dirs, batch, hidden] (batch first when layout = 1). */
export const recurrent: InferFn = (ctx) => {
  const xs = ctx.shape(0);
  const dtype = ctx.dtype(0);
  const dirs = ctx.node.getString('direction', 'forward') === 'bidirectional' ? 2 : 1;
  const ws = ctx.shape(1);
  const gates = ctx.node.op === 'LSTM' ? 4 : 3;
  const fromWeight = ws && typeof ws[1] === 'number' ? ws[1] / gates : null;
  const hidden = ctx.node.getInt('hidden_size') ?? fromWeight;
  if (ws && typeof ws[0] === 'number' && ws[0] !== dirs) ctx.fail(`weight has ${ws[0]} directions, expected ${dirs}`, 'input W');
  if (!xs) return [typed(dtype, undefined), typed(dtype, undefined), typed(dtype, undefined)];
  if (xs.length !== 3) ctx.fail(`input has rank ${xs.length}, expected 3`, 'input X');
  const batchFirst = ctx.node.getInt('layout', 0) === 1;
  const [seq, batch] = batchFirst ? [xs[1]!, xs[0]!] : [xs[0]!, xs[1]!];
  const y = batchFirst ? [batch, seq, dirs, hidden] : [seq, dirs, batch, hidden];
  const state = batchFirst ? [batch, dirs, hidden] : [dirs, batch, hidden];
  return [typed(dtype, y), typed(dtype, state), typed(dtype, state)];
};

// ---- control flow ----

/** The type two values share: dims that differ (or are unknown in one) become unknown; undefined if a dtype is unknown. */
function commonType(a: TensorType | undefined, b: TensorType | undefined): TensorType | undefined {
  if (!a || !b) return undefined;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { dtype: a.dtype };
  return { dtype: a.dtype, shape: a.shape.map((d, j) => (sameDim(d, b.shape![j]!) ? d : null)) };
}

/**
 * If: a condition known from shape arithmetic (a rank or batch-size test) selects its branch; the
 * other may be ill-typed for these shapes (it never runs), so a contradiction there is rolled back.
 * Otherwise both branches are inferred and merged. A branch that contradicts itself cannot be the
 * one taken: its types are rolled back and the other's are used; only when both contradict is the
 * error raised.
 */
export const ifBranches: InferFn = (ctx) => {
  const cond = ctx.elements(0);
  if (cond?.length === 1 && typeof cond[0] === 'number') {
    const [taken, other] = cond[0] !== 0 ? ['then_branch', 'else_branch'] : ['else_branch', 'then_branch'];
    // The other branch is still typed where it is consistent (rolled back where it is not).
    ctx.tryInferSubgraph(other);
    return ctx.inferSubgraph(taken) ?? [];
  }
  const thenBranch = ctx.tryInferSubgraph('then_branch');
  const elseBranch = ctx.tryInferSubgraph('else_branch');
  if (thenBranch.error && elseBranch.error) throw thenBranch.error;
  if (thenBranch.error) return elseBranch.types ?? [];
  if (elseBranch.error) return thenBranch.types ?? [];
  const thenTypes = thenBranch.types ?? [];
  const elseTypes = elseBranch.types ?? [];
  return ctx.node.outputs.map((_, k) => {
    const [a, b] = [thenTypes[k], elseTypes[k]];
    if (a && b && a.dtype !== b.dtype) ctx.fail(`then_branch output ${k} is ${a.dtype} but else_branch output ${k} is ${b.dtype}`, `output ${k}`);
    return commonType(a, b);
  });
};

/**
 * Loop body: (iteration, cond, carried...) -> (cond, carried..., scan outputs...). A carried
 * result is its initial value (no iteration) or a body output, so it gets their common type;
 * scan outputs gain a leading iteration axis.
 */
export const loop: InferFn = (ctx) => {
  const carried = Array.from({ length: Math.max(0, ctx.inputCount - 2) }, (_, i) => ctx.type(i + 2));
  const pairs = carried.map((_, k) => [2 + k, 1 + k] as const);
  const body = ctx.inferLoopBody('body', [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }, ...carried], pairs) ?? [];
  return ctx.node.outputs.map((_, k) => {
    if (k < carried.length) return commonType(carried[k], body[k + 1]) ?? (carried[k] && { dtype: carried[k]!.dtype });
    const t = body[k + 1];
    return t && typed(t.dtype, t.shape && [null, ...t.shape]);
  });
};

/** Scan body: (state..., scan slices...) -> (state..., scan output slices...). */
export const scan: InferFn = (ctx) => {
  const scanInputs = ctx.node.getInt('num_scan_inputs', 0);
  const states = Math.max(0, ctx.inputCount - scanInputs);
  const axes = ctx.node.getInts('scan_input_axes');
  const bodyInputs = Array.from({ length: ctx.inputCount }, (_, i) => {
    const t = ctx.type(i);
    if (i < states || !t?.shape) return t;
    const axis = axes?.[i - states] ?? 0;
    const a = axis < 0 ? axis + t.shape.length : axis;
    return { dtype: t.dtype, shape: t.shape.filter((_, k) => k !== a) };
  });
  const pairs = Array.from({ length: states }, (_, k) => [k, k] as const);
  const body = ctx.inferLoopBody('body', bodyInputs, pairs) ?? [];
  return ctx.node.outputs.map((_, k) => {
    if (k < states) return commonType(ctx.type(k), body[k]) ?? (ctx.type(k) && { dtype: ctx.type(k)!.dtype });
    const t = body[k];
    return t && { dtype: t.dtype };
  });
};
