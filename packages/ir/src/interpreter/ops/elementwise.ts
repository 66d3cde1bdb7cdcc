/**
 * Elementwise kernels: unary math and activations, binary arithmetic and comparisons with numpy
 * broadcasting, variadic Min/Max/Sum/Mean, Where, Clip, Cast.
 *
 * int64/uint64 tensors are computed with BigInt so shape arithmetic stays exact; integer division
 * truncates toward zero and Mod follows the sign of the divisor unless `fmod=1` (ONNX rules).
 * int32 multiplication uses Math.imul so it wraps like the C type instead of losing bits in float64.
 */
import { allocData, dtypeFromOnnx, isBigIntDType, isFloatDType, type DType } from '../../dtype.js';
import { shapeSize, type Tensor } from '../../tensor.js';
import {
  bigintsOf,
  broadcastIndex,
  broadcastShapes,
  numberBuffer,
  numbersOf,
  roundHalfEven,
  tensorFrom,
  type ElementArray,
} from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';

type NumFn = (x: number) => number;
type BinFn = (x: number, y: number) => number;
type BigBinFn = (x: bigint, y: bigint) => bigint;

/** The broadcast output shape of `ts`, or an error naming the node. */
export function broadcastOrFail(ctx: KernelContext, ts: readonly Tensor[]): number[] {
  const shape = broadcastShapes(ts.map((t) => t.shape));
  if (!shape) {
    throw ctx.error(`shapes ${ts.map((t) => `[${t.shape.join(',')}]`).join(' and ')} do not broadcast`, 'inputs');
  }
  return shape;
}

/** Applies `f` to every element, keeping the dtype (BigInt `big` for int64 when given). */
export function mapUnary(x: Tensor, f: NumFn, outDtype: DType = x.dtype, big?: (v: bigint) => bigint): Tensor {
  const n = shapeSize(x.shape);
  if (isBigIntDType(x.dtype) && big && isBigIntDType(outDtype)) {
    const src = x.data as BigInt64Array;
    const out = new (x.dtype === 'int64' ? BigInt64Array : BigUint64Array)(n);
    for (let i = 0; i < n; i++) out[i] = big(src[i]!);
    return { dtype: outDtype, shape: [...x.shape], data: out };
  }
  const src = numbersOf(x);
  const out = numberBuffer(outDtype, n);
  for (let i = 0; i < n; i++) out[i] = f(src[i]!);
  return tensorFrom(outDtype, x.shape, out);
}

/** Float32 arithmetic with a dedicated loop each (the hot ops of real models; one array type per loop). */
type Float32Op = 'add' | 'sub' | 'mul' | 'div';

function float32Binary(op: Float32Op, x: Float32Array, y: Float32Array, ia: Int32Array | null, ib: Int32Array | null, out: Float32Array): void {
  const n = out.length;
  switch (op) {
    case 'add':
      for (let i = 0; i < n; i++) out[i] = x[ia ? ia[i]! : i]! + y[ib ? ib[i]! : i]!;
      return;
    case 'sub':
      for (let i = 0; i < n; i++) out[i] = x[ia ? ia[i]! : i]! - y[ib ? ib[i]! : i]!;
      return;
    case 'mul':
      for (let i = 0; i < n; i++) out[i] = x[ia ? ia[i]! : i]! * y[ib ? ib[i]! : i]!;
      return;
    case 'div':
      for (let i = 0; i < n; i++) out[i] = x[ia ? ia[i]! : i]! / y[ib ? ib[i]! : i]!;
      return;
  }
}

/** Broadcasting binary op on numbers (and on BigInts for int64 when `big` is given). */
export function mapBinary(ctx: KernelContext, a: Tensor, b: Tensor, f: BinFn, outDtype: DType = a.dtype, big?: BigBinFn, fast?: Float32Op): Tensor {
  const shape = broadcastOrFail(ctx, [a, b]);
  const n = shapeSize(shape);
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  if (fast && a.dtype === 'float32' && b.dtype === 'float32' && outDtype === 'float32') {
    const out = new Float32Array(n);
    float32Binary(fast, a.data as Float32Array, b.data as Float32Array, ia, ib, out);
    return { dtype: 'float32', shape, data: out };
  }
  if (isBigIntDType(a.dtype) && big) {
    const x = bigintsOf(a);
    const y = bigintsOf(b);
    const out = new (outDtype === 'uint64' ? BigUint64Array : BigInt64Array)(n);
    for (let i = 0; i < n; i++) out[i] = big(x[ia ? ia[i]! : i]!, y[ib ? ib[i]! : i]!);
    return { dtype: outDtype, shape, data: out };
  }
  const x = numbersOf(a);
  const y = numbersOf(b);
  const out = numberBuffer(outDtype, n);
  if (!ia && !ib) for (let i = 0; i < n; i++) out[i] = f(x[i]!, y[i]!);
  else if (!ia) for (let i = 0; i < n; i++) out[i] = f(x[i]!, y[ib![i]!]!);
  else if (!ib) for (let i = 0; i < n; i++) out[i] = f(x[ia[i]!]!, y[i]!);
  else for (let i = 0; i < n; i++) out[i] = f(x[ia[i]!]!, y[ib[i]!]!);
  return tensorFrom(outDtype, shape, out);
}

/** Raw comparable elements: numbers for numeric dtypes (float16 decoded), BigInts, or strings. */
function comparable(t: Tensor): ElementArray {
  if (t.dtype === 'string' || isBigIntDType(t.dtype)) return t.data as unknown as ElementArray;
  return numbersOf(t) as unknown as ElementArray;
}

function compare(ctx: KernelContext, a: Tensor, b: Tensor, f: (x: any, y: any) => boolean): Tensor {
  const shape = broadcastOrFail(ctx, [a, b]);
  const n = shapeSize(shape);
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  const x = comparable(a);
  const y = comparable(b);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = f(x[ia ? ia[i]! : i], y[ib ? ib[i]! : i]) ? 1 : 0;
  return { dtype: 'bool', shape, data: out };
}

function sameDtype(ctx: KernelContext, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw ctx.error(`input dtypes differ: ${a.dtype} and ${b.dtype}`, 'input 1');
}

// ---- scalar math ----

const SQRT_PI_INV2 = 2 / Math.sqrt(Math.PI);

/** erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (2n+1)!!  (all terms positive: no cancellation). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * SQRT_PI_INV2 * Math.exp(-x2) * sum;
}

const sigmoid: NumFn = (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus: NumFn = (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

const truncDiv: BinFn = (x, y) => Math.trunc(x / y);
const floorMod: BinFn = (x, y) => {
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r;
};
const bigFloorMod: BigBinFn = (x, y) => {
  const r = x % y;
  return r !== 0n && r < 0n !== y < 0n ? r + y : r;
};

function unary(f: NumFn, big?: (v: bigint) => bigint): Kernel {
  return (ctx, inputs) => [mapUnary(ctx.input(inputs, 0), f, undefined, big)];
}

/** A unary kernel whose function depends on attributes (read once per node). */
function unaryWithAttrs(make: (ctx: KernelContext) => NumFn): Kernel {
  return (ctx, inputs) => [mapUnary(ctx.input(inputs, 0), make(ctx))];
}

function arithmetic(fast: Float32Op, f: BinFn, big: BigBinFn, int32?: BinFn, intf?: BinFn): Kernel {
  return (ctx, inputs) => {
    const a = ctx.input(inputs, 0);
    const b = ctx.input(inputs, 1);
    sameDtype(ctx, a, b);
    let fn = f;
    if (int32 && (a.dtype === 'int32' || a.dtype === 'uint32')) fn = int32;
    else if (intf && !isFloatDType(a.dtype)) fn = intf;
    return [mapBinary(ctx, a, b, fn, a.dtype, big, fast)];
  };
}

function comparison(f: (x: any, y: any) => boolean): Kernel {
  return (ctx, inputs) => [compare(ctx, ctx.input(inputs, 0), ctx.input(inputs, 1), f)];
}

function logical(f: (x: number, y: number) => boolean): Kernel {
  return (ctx, inputs) => [mapBinary(ctx, ctx.input(inputs, 0), ctx.input(inputs, 1), (x, y) => (f(x, y) ? 1 : 0), 'bool')];
}

/** Min/Max/Sum/Mean over any number of broadcast inputs, folded left to right. */
function variadic(f: BinFn, big: BigBinFn, mean = false): Kernel {
  return (ctx, inputs) => {
    const ts = inputs.filter((t): t is Tensor => t !== null);
    if (!ts.length) throw ctx.error('needs at least one input', 'input 0');
    let acc = ts[0]!;
    for (let i = 1; i < ts.length; i++) {
      sameDtype(ctx, acc, ts[i]!);
      acc = mapBinary(ctx, acc, ts[i]!, f, acc.dtype, big);
    }
    if (ts.length === 1) acc = mapUnary(acc, (x) => x, acc.dtype, (x) => x);
    if (mean) {
      const k = ts.length;
      acc = mapUnary(acc, isFloatDType(acc.dtype) ? (x) => x / k : (x) => Math.trunc(x / k), acc.dtype, (x) => x / BigInt(k));
    }
    return [acc];
  };
}

const bigMin: BigBinFn = (x, y) => (x < y ? x : y);
const bigMax: BigBinFn = (x, y) => (x > y ? x : y);

/** Float to integer conversion for Cast: truncate toward zero, wrapping like a C cast of in-range values. */
export function castTensor(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  const n = shapeSize(x.shape);
  if (to === 'string') {
    if (x.dtype === 'string' || isBigIntDType(x.dtype)) return { dtype: 'string', shape: [...x.shape], data: Array.from(x.data as ArrayLike<unknown>, String) };
    const format = x.dtype === 'float32' ? formatFloat32 : formatNumber;
    return { dtype: 'string', shape: [...x.shape], data: Array.from(numbersOf(x), format) };
  }
  if (x.dtype === 'string') {
    const nums = Float64Array.from(x.data as string[], parseNumber);
    return castTensor(tensorFrom('float64', x.shape, nums), to);
  }
  if (to === 'bool') return mapUnary(x, (v) => (v !== 0 ? 1 : 0), 'bool');
  if (isBigIntDType(to)) {
    const out = new (to === 'int64' ? BigInt64Array : BigUint64Array)(n);
    if (isBigIntDType(x.dtype)) {
      const src = x.data as BigInt64Array;
      for (let i = 0; i < n; i++) out[i] = src[i]!;
    } else {
      const src = numbersOf(x);
      for (let i = 0; i < n; i++) {
        const v = src[i]!;
        out[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : to === 'int64' ? -(2n ** 63n) : 0n;
      }
    }
    return { dtype: to, shape: [...x.shape], data: out };
  }
  if (!isFloatDType(to)) {
    // Integer targets: truncate toward zero; out-of-range values wrap through the typed array.
    const src = numbersOf(x);
    const out = numberBuffer(to, n);
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      out[i] = Number.isFinite(v) ? Math.trunc(v) : 0;
    }
    if (isBigIntDType(x.dtype)) {
      // Wrap exactly from the 64-bit value rather than through a rounded float64.
      const big = x.data as BigInt64Array;
      const bits = to.endsWith('8') ? 8 : to.endsWith('16') ? 16 : 32;
      for (let i = 0; i < n; i++) out[i] = Number(BigInt.asIntN(bits, big[i]!));
    }
    return tensorFrom(to, x.shape, out);
  }
  return tensorFrom(to, x.shape, numbersOf(x));
}

/** ONNX spells infinities INF/-INF and not-a-number NaN in strings. */
function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'INF' : '-INF';
  return String(v);
}

/** The shortest decimal that reads back as the same float32 (what numpy prints for float32). */
function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return formatNumber(v);
  for (let p = 1; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

function parseNumber(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  return Number(t);
}

const clip: Kernel = (ctx, inputs) => {
  const x = ctx.input(inputs, 0);
  let lo = -Infinity;
  let hi = Infinity;
  if (ctx.opset < 11) {
    lo = ctx.float('min', -Infinity);
    hi = ctx.float('max', Infinity);
  } else {
    if (inputs[1]) lo = numbersOf(inputs[1])[0]!;
    if (inputs[2]) hi = numbersOf(inputs[2])[0]!;
    if (isBigIntDType(x.dtype)) {
      const bl = inputs[1] ? bigintsOf(inputs[1])[0]! : null;
      const bh = inputs[2] ? bigintsOf(inputs[2])[0]! : null;
      return [mapUnary(x, (v) => v, x.dtype, (v) => (bl !== null && v < bl ? bl : bh !== null && v > bh ? bh : v))];
    }
  }
  return [clampTensor(x, lo, hi)];
};

/** min(max(x, lo), hi) elementwise; float32 gets its own loop (Clip and Relu are hot in real models). */
function clampTensor(x: Tensor, lo: number, hi: number): Tensor {
  if (x.dtype !== 'float32') return mapUnary(x, (v) => (v < lo ? lo : v > hi ? hi : v));
  const src = x.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return { dtype: 'float32', shape: [...x.shape], data: out };
}

const where: Kernel = (ctx, inputs) => {
  const c = ctx.input(inputs, 0);
  const x = ctx.input(inputs, 1);
  const y = ctx.input(inputs, 2);
  sameDtype(ctx, x, y);
  const shape = broadcastOrFail(ctx, [c, x, y]);
  const n = shapeSize(shape);
  const ic = broadcastIndex(c.shape, shape);
  const ix = broadcastIndex(x.shape, shape);
  const iy = broadcastIndex(y.shape, shape);
  const cd = c.data as Uint8Array;
  const xd = x.data as unknown as ElementArray;
  const yd = y.data as unknown as ElementArray;
  const out: Tensor = { dtype: x.dtype, shape, data: allocData(x.dtype, n) };
  const od = out.data as unknown as ElementArray;
  for (let i = 0; i < n; i++) od[i] = cd[ic ? ic[i]! : i] ? xd[ix ? ix[i]! : i] : yd[iy ? iy[i]! : i];
  return [out];
};


const isInf: Kernel = (ctx, inputs) => {
  const pos = ctx.int('detect_positive', 1);
  const neg = ctx.int('detect_negative', 1);
  return [mapUnary(ctx.input(inputs, 0), (v) => ((v === Infinity && pos) || (v === -Infinity && neg) ? 1 : 0), 'bool')];
};

const gelu: Kernel = (ctx, inputs) => {
  const tanhApprox = ctx.string('approximate', 'none') === 'tanh';
  const k = Math.sqrt(2 / Math.PI);
  return [
    mapUnary(
      ctx.input(inputs, 0),
      tanhApprox ? (x) => 0.5 * x * (1 + Math.tanh(k * (x + 0.044715 * x * x * x))) : (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    ),
  ];
};

const prelu: Kernel = (ctx, inputs) => [mapBinary(ctx, ctx.input(inputs, 0), ctx.input(inputs, 1), (x, s) => (x < 0 ? s * x : x))];

const mod: Kernel = (ctx, inputs) => {
  const a = ctx.input(inputs, 0);
  const b = ctx.input(inputs, 1);
  sameDtype(ctx, a, b);
  if (ctx.int('fmod', 0)) return [mapBinary(ctx, a, b, (x, y) => x % y, a.dtype, (x, y) => x % y)];
  if (isFloatDType(a.dtype)) throw ctx.error('fmod must be 1 for floating-point inputs', 'attribute fmod');
  return [mapBinary(ctx, a, b, floorMod, a.dtype, bigFloorMod)];
};

const pow: Kernel = (ctx, inputs) => {
  const a = ctx.input(inputs, 0);
  const b = ctx.input(inputs, 1);
  // The exponent may have another dtype; the result has the base's dtype.
  const f: BinFn = isFloatDType(a.dtype) ? Math.pow : (x, y) => Math.trunc(Math.pow(x, y));
  if (isBigIntDType(a.dtype)) {
    const e = isBigIntDType(b.dtype) ? b : castTensor(b, 'int64');
    return [mapBinary(ctx, a, e, f, a.dtype, (x, y) => (y < 0n ? 0n : x ** y))];
  }
  return [mapBinary(ctx, a, castTensor(b, 'float64'), f, a.dtype)];
};

const bitShift: Kernel = (ctx, inputs) => {
  const left = ctx.string('direction', '') === 'LEFT';
  const a = ctx.input(inputs, 0);
  const bits = a.dtype === 'uint8' ? 8 : a.dtype === 'uint16' ? 16 : 32;
  return [
    mapBinary(
      ctx,
      a,
      ctx.input(inputs, 1),
      left ? (x, y) => (y >= bits ? 0 : x * 2 ** y) : (x, y) => Math.floor(x / 2 ** y),
      a.dtype,
      left ? (x, y) => BigInt.asUintN(64, x << y) : (x, y) => x >> y,
    ),
  ];
};

function bitwise(f: (x: number, y: number) => number, big: BigBinFn): Kernel {
  return (ctx, inputs) => [mapBinary(ctx, ctx.input(inputs, 0), ctx.input(inputs, 1), f, undefined, big)];
}

export const elementwiseKernels: Record<string, Kernel> = {
  Identity: (ctx, inputs) => [ctx.input(inputs, 0)],
  Abs: unary(Math.abs, (v) => (v < 0n ? -v : v)),
  Neg: unary((x) => -x, (v) => -v),
  Sign: unary(Math.sign, (v) => (v > 0n ? 1n : v < 0n ? -1n : 0n)),
  Sqrt: unary(Math.sqrt),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Reciprocal: unary((x) => 1 / x),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary(roundHalfEven),
  Relu: (ctx, inputs) => {
    const x = ctx.input(inputs, 0);
    return [x.dtype === 'float32' ? clampTensor(x, 0, Infinity) : mapUnary(x, (v) => (v > 0 ? v : 0), x.dtype, (v) => (v > 0n ? v : 0n))];
  },
  Sigmoid: unary(sigmoid),
  Tanh: unary(Math.tanh),
  Erf: unary(erf),
  Sin: unary(Math.sin),
  Cos: unary(Math.cos),
  Tan: unary(Math.tan),
  Asin: unary(Math.asin),
  Acos: unary(Math.acos),
  Atan: unary(Math.atan),
  Sinh: unary(Math.sinh),
  Cosh: unary(Math.cosh),
  Asinh: unary(Math.asinh),
  Acosh: unary(Math.acosh),
  Atanh: unary(Math.atanh),
  Softsign: unary((x) => x / (1 + Math.abs(x))),
  Softplus: unary(softplus),
  Mish: unary((x) => x * Math.tanh(softplus(x))),
  Not: (ctx, inputs) => [mapUnary(ctx.input(inputs, 0), (x) => (x ? 0 : 1), 'bool')],
  BitwiseNot: unary((x) => ~x, (v) => ~v),
  IsNaN: (ctx, inputs) => [mapUnary(ctx.input(inputs, 0), (x) => (Number.isNaN(x) ? 1 : 0), 'bool')],
  IsInf: isInf,
  HardSigmoid: unaryWithAttrs((ctx) => {
    const alpha = ctx.float('alpha', 0.2);
    const beta = ctx.float('beta', 0.5);
    return (x) => Math.max(0, Math.min(1, alpha * x + beta));
  }),
  HardSwish: unary((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))),
  LeakyRelu: unaryWithAttrs((ctx) => {
    const alpha = ctx.float('alpha', 0.01);
    return (x) => (x >= 0 ? x : alpha * x);
  }),
  Elu: unaryWithAttrs((ctx) => {
    const alpha = ctx.float('alpha', 1);
    return (x) => (x >= 0 ? x : alpha * (Math.exp(x) - 1));
  }),
  Selu: unaryWithAttrs((ctx) => {
    const alpha = ctx.float('alpha', 1.67326319217681884765625);
    const gamma = ctx.float('gamma', 1.05070102214813232421875);
    return (x) => gamma * (x > 0 ? x : alpha * (Math.exp(x) - 1));
  }),
  Celu: unaryWithAttrs((ctx) => {
    const alpha = ctx.float('alpha', 1);
    return (x) => Math.max(0, x) + Math.min(0, alpha * (Math.exp(x / alpha) - 1));
  }),
  ThresholdedRelu: unaryWithAttrs((ctx) => {
    const alpha = ctx.float('alpha', 1);
    return (x) => (x > alpha ? x : 0);
  }),
  Shrink: unaryWithAttrs((ctx) => {
    const bias = ctx.float('bias', 0);
    const lambd = ctx.float('lambd', 0.5);
    return (x) => (x < -lambd ? x + bias : x > lambd ? x - bias : 0);
  }),
  Gelu: gelu,
  Clip: clip,
  Add: arithmetic('add', (x, y) => x + y, (x, y) => x + y),
  Sub: arithmetic('sub', (x, y) => x - y, (x, y) => x - y),
  Mul: arithmetic('mul', (x, y) => x * y, (x, y) => x * y, Math.imul),
  Div: arithmetic('div', (x, y) => x / y, (x, y) => x / y, undefined, truncDiv),
  Pow: pow,
  Mod: mod,
  PRelu: prelu,
  BitShift: bitShift,
  BitwiseAnd: bitwise((x, y) => x & y, (x, y) => x & y),
  BitwiseOr: bitwise((x, y) => x | y, (x, y) => x | y),
  BitwiseXor: bitwise((x, y) => x ^ y, (x, y) => x ^ y),
  Equal: comparison((x, y) => x === y),
  Less: comparison((x, y) => x < y),
  LessOrEqual: comparison((x, y) => x <= y),
  Greater: comparison((x, y) => x > y),
  GreaterOrEqual: comparison((x, y) => x >= y),
  And: logical((x, y) => !!x && !!y),
  Or: logical((x, y) => !!x || !!y),
  Xor: logical((x, y) => !!x !== !!y),
  Min: variadic((x, y) => (Number.isNaN(x) || x < y ? x : y), bigMin),
  Max: variadic((x, y) => (Number.isNaN(x) || x > y ? x : y), bigMax),
  Sum: variadic((x, y) => x + y, (x, y) => x + y),
  Mean: variadic((x, y) => x + y, (x, y) => x + y, true),
  Where: where,
  Cast: (ctx, inputs) => {
    const to = dtypeAttr(ctx, 'to');
    return [castTensor(ctx.input(inputs, 0), to)];
  },
  CastLike: (ctx, inputs) => [castTensor(ctx.input(inputs, 0), ctx.input(inputs, 1).dtype)],
};

/** A dtype given as an ONNX TensorProto.DataType code attribute. */
export function dtypeAttr(ctx: KernelContext, name: string, dflt?: DType): DType {
  if (!ctx.has(name)) {
    if (dflt) return dflt;
    throw ctx.error('missing required attribute', `attribute ${name}`);
  }
  const code = ctx.int(name, 0);
  const dt = dtypeFromOnnx(code);
  if (!dt) throw ctx.unsupported(`data type ${code} is not supported`, `attribute ${name}`);
  return dt;
}
