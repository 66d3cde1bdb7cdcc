/**
 * Reading the quantization parameters of a QuantizeLinear / DequantizeLinear node as plain data,
 * and deciding when two nodes use the same ones.
 *
 * Inputs 1 (scale) and 2 (zero point, optional) must be true constants; `axis` (default 1) only
 * matters when the scale has more than one element; blocked quantization (`block_size` > 0) is not
 * handled. The quantized type is the zero point's dtype; without a zero point it is
 * `output_dtype` (opset 21+) or uint8 for QuantizeLinear, and the input's dtype for
 * DequantizeLinear. A missing zero point means 0 of that type.
 */
import { type DType, type Node, type Tensor, dtypeFromOnnx, integerRange, toFloat64 } from '@slimc/ir';
import { type MatchFailure, type Matcher, isDefaultDomain } from '../core/pattern.js';
import { roundHalfToEven } from '../quantize/rounding.js';

export interface QdqParams {
  /** The scale constant as stored (its dtype matters: float32 vs float16 scales round differently). */
  readonly scale: Tensor;
  readonly scales: Float64Array;
  /** One zero point per scale (zeros when the input is omitted). */
  readonly zeroPoints: Float64Array;
  /** Element type of the quantized side. */
  readonly dtype: DType;
  /** The quantized axis, normalized to be non-negative when the rank is known; undefined per tensor. */
  readonly axis: number | undefined;
}

const QUANT_TYPES: readonly DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32'];

/** The quantization parameters of a Q or DQ node, or the reason they cannot be read. */
export function qdqParams(node: Node, m: Matcher): QdqParams | string {
  if (node.getInt('block_size', 0) !== 0) return 'blocked quantization';
  const scale = m.constant(node.input(1));
  if (!scale) return 'scale is not a constant';
  const zpInput = node.input(2);
  const zp = zpInput ? m.constant(zpInput) : undefined;
  if (zpInput && !zp) return 'zero point is not a constant';
  let dtype: DType | undefined;
  if (zp) dtype = zp.dtype;
  else if (node.op === 'QuantizeLinear') {
    const code = node.getInt('output_dtype', 0);
    dtype = code === 0 ? 'uint8' : dtypeFromOnnx(code);
  } else dtype = node.input(0)?.type?.dtype;
  if (!dtype || !QUANT_TYPES.includes(dtype)) return `quantized type ${dtype ?? 'unknown'} is not handled`;
  const scales = toFloat64(scale);
  const zeroPoints = zp ? toFloat64(zp) : new Float64Array(scales.length);
  if (zeroPoints.length !== scales.length) return 'scale and zero point lengths differ';
  // One element with rank <= 1 is per tensor, whatever `axis` says (as the kernels read it).
  if (scales.length === 1 && scale.shape.length <= 1) return { scale, scales, zeroPoints, dtype, axis: undefined };
  if (scale.shape.length !== 1) return 'scale is not per-tensor or 1-D per-axis';
  let axis = node.getInt('axis', 1);
  const rank = node.input(0)?.type?.shape?.length;
  if (axis < 0 && rank !== undefined) axis += rank;
  return { scale, scales, zeroPoints, dtype, axis };
}

export interface QdqPair {
  /** The node feeding `outer`'s input 0. */
  inner: Node;
  innerParams: QdqParams;
  outerParams: QdqParams;
}

/** `outer`'s input 0 produced by an `innerOp` node, with both nodes' parameters, or why not. */
export function matchQdqPair(outer: Node, innerOp: 'QuantizeLinear' | 'DequantizeLinear', m: Matcher): QdqPair | MatchFailure {
  if (!isDefaultDomain(outer)) return m.fail('op of another domain');
  const inner = m.producer(outer.input(0), innerOp);
  if (!inner) return m.fail(`input is not a ${innerOp}`);
  const outerParams = qdqParams(outer, m);
  if (typeof outerParams === 'string') return m.fail(`${outer.op}: ${outerParams}`);
  const innerParams = qdqParams(inner, m);
  if (typeof innerParams === 'string') return m.fail(`${inner.op}: ${innerParams}`);
  return { inner, innerParams, outerParams };
}

/**
 * True when `a` and `b` quantize to the same grid: same quantized type, same scale dtype, the same
 * per-tensor / per-axis form and axis, and element-wise equal scales and zero points. (An
 * omitted zero point equals an explicit zero of the same type; an explicit zero of another type
 * does not match, since the quantized type differs.)
 */
export function sameQdqParams(a: QdqParams, b: QdqParams): boolean {
  if (a.dtype !== b.dtype || a.scale.dtype !== b.scale.dtype || a.axis !== b.axis) return false;
  if (a.scales.length !== b.scales.length) return false;
  for (let i = 0; i < a.scales.length; i++) {
    if (a.scales[i] !== b.scales[i] || a.zeroPoints[i] !== b.zeroPoints[i]) return false;
  }
  return true;
}

/**
 * True when QuantizeLinear(DequantizeLinear(q)) gives back every code q of the type exactly with
 * these parameters, checked by running both roundings on every code (256 or 65536 per distinct
 * scale/zero-point pair): x = float32(float32(q - zp) * s), q' = sat(roundHalfEven(float32(x / s)) + zp).
 *
 * This is true for any sane 8- or 16-bit grid, but the check also rejects the corner cases where
 * it fails: a scale so large that (q - zp) * s overflows to infinity, a subnormal scale whose
 * products lose bits, and int32 codes (not checked: beyond 2^24 float32 cannot hold q - zp). Only
 * float32 scales are checked; other scale types compute in their own precision and are not
 * cancelled.
 */
export function dequantizeQuantizeIsIdentity(p: QdqParams): boolean {
  if (p.scale.dtype !== 'float32' || p.dtype === 'int32') return false;
  // The driver may match one node several times; the check runs once per scale constant and grid.
  let byGrid = identityChecked.get(p.scale);
  if (!byGrid) identityChecked.set(p.scale, (byGrid = new Map()));
  const key = `${p.dtype}:${p.zeroPoints.join(',')}`;
  let ok = byGrid.get(key);
  if (ok === undefined) byGrid.set(key, (ok = roundTripsEveryCode(p)));
  return ok;
}

const identityChecked = new WeakMap<Tensor, Map<string, boolean>>();

function roundTripsEveryCode(p: QdqParams): boolean {
  const [lo, hi] = integerRange(p.dtype);
  const seen = new Set<string>();
  for (let c = 0; c < p.scales.length; c++) {
    const s = p.scales[c]!;
    const z = p.zeroPoints[c]!;
    const key = `${s}/${z}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!(s > 0) || !Number.isFinite(s)) return false;
    for (let q = lo; q <= hi; q++) {
      const x = Math.fround(Math.fround(q - z) * s);
      const scaled = Math.fround(x / s);
      if (!Number.isFinite(scaled)) return false;
      const back = Math.min(hi, Math.max(lo, roundHalfToEven(scaled) + z));
      if (back !== q) return false;
    }
  }
  return true;
}
