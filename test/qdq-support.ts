/**
 * Helpers for the Q/DQ rewrite tests: QuantizeLinear / DequantizeLinear builders, op counts, and
 * running a model in both the interpreter and onnxruntime.
 */
import { type DType, type Graph, type Model, type Tensor, type Value, interpret, makeTensor } from '@slimc/ir';
import { encodeOnnx } from '@slimc/backends';
import * as ort from 'onnxruntime-node';
import { fromOrt, toOrt } from './interpreter-oracle.js';
import { int } from './passes-support.js';

export interface GridSpec {
  scale: number | number[];
  /** Omitted: no zero-point input. */
  zeroPoint?: number | number[];
  dtype?: DType;
  axis?: number;
}

/** Scale and zero-point constants for a grid (a fresh pair per call, so equality is by value). */
export function gridConstants(g: Graph, grid: GridSpec): [Value, Value | null] {
  const scales = typeof grid.scale === 'number' ? [grid.scale] : grid.scale;
  const shape = typeof grid.scale === 'number' ? [] : [scales.length];
  const s = g.addConstant('scale', makeTensor('float32', shape, scales));
  if (grid.zeroPoint === undefined) return [s, null];
  const zps = typeof grid.zeroPoint === 'number' ? [grid.zeroPoint] : grid.zeroPoint;
  const z = g.addConstant('zero_point', makeTensor(grid.dtype ?? 'uint8', typeof grid.zeroPoint === 'number' ? [] : [zps.length], zps));
  return [s, z];
}

function qdq(g: Graph, opType: 'QuantizeLinear' | 'DequantizeLinear', x: Value, grid: GridSpec, name: string): Value {
  const [s, z] = gridConstants(g, grid);
  const attrs = grid.axis !== undefined ? { axis: int(grid.axis) } : {};
  const quantizedType = grid.zeroPoint === undefined && opType === 'QuantizeLinear' ? 'uint8' : (grid.dtype ?? 'uint8');
  const dtype = opType === 'QuantizeLinear' ? quantizedType : 'float32';
  const shape = x.type?.shape;
  return g.addNode({ op: opType, inputs: z ? [x, s, z] : [x, s], attrs, outputs: [{ name, type: shape ? { dtype, shape } : undefined }] }).output(0);
}

export const quantize = (g: Graph, x: Value, grid: GridSpec, name = 'q'): Value => qdq(g, 'QuantizeLinear', x, grid, name);
export const dequantize = (g: Graph, x: Value, grid: GridSpec, name = 'dq'): Value => qdq(g, 'DequantizeLinear', x, grid, name);

/** How many nodes of each op the main graph has. */
export function opCounts(m: Model): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of m.graph.nodes()) out[n.qualifiedOp] = (out[n.qualifiedOp] ?? 0) + 1;
  return out;
}

/** The scale of every QuantizeLinear in the main graph (calibrated activations' grids), keyed by the tensor it quantizes. */
export function activationScales(m: Model): Map<string, number> {
  const scales = new Map<string, number>();
  for (const n of m.graph.nodes()) {
    if (n.op === 'QuantizeLinear') scales.set(n.inputs[0]!.name, (n.inputs[1]!.constant!.data as Float32Array)[0]!);
  }
  return scales;
}

/** Largest relative difference between two models' activation scales; Infinity when they quantize different tensors. */
export function worstScaleDifference(a: Model, b: Model): number {
  const [sa, sb] = [activationScales(a), activationScales(b)];
  if (sa.size !== sb.size) return Infinity;
  let worst = 0;
  for (const [name, s] of sb) worst = Math.max(worst, sa.has(name) ? Math.abs(sa.get(name)! - s) / s : Infinity);
  return worst;
}

/** Runs encoded model bytes in onnxruntime (optimizations off); float16 outputs keep their bit patterns. */
export async function runOrtBytes(bytes: Uint8Array, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) feeds[k] = toOrt(v);
    const out = await session.run(feeds);
    const result: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) {
      result[k] = v.type === 'float16' ? { dtype: 'float16', shape: v.dims.map(Number), data: v.data as Uint16Array } : fromOrt(v);
    }
    return result;
  } finally {
    await session.release();
  }
}

/** Outputs of the model in the interpreter and in onnxruntime (optimizations off). */
export async function runBoth(m: Model, inputs: Record<string, Tensor>): Promise<{ interpreter: Record<string, Tensor>; ort: Record<string, Tensor> }> {
  return { interpreter: interpret(m.graph, inputs, { opset: m.opset }), ort: await runOrtBytes(encodeOnnx(m), inputs) };
}

/** The largest |a - b| over every element of every output of `b` (Infinity on a missing output or shape mismatch). */
export function maxAbsDiff(a: Record<string, Tensor>, b: Record<string, Tensor>): number {
  let worst = 0;
  for (const [name, want] of Object.entries(b)) {
    const got = a[name];
    if (!got || got.data.length !== want.data.length || got.shape.join() !== want.shape.join()) return Infinity;
    const x = Array.from(got.data as ArrayLike<number>, Number);
    const y = Array.from(want.data as ArrayLike<number>, Number);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}
