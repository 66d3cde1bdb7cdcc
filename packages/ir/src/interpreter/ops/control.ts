/**
 * Control flow: If, Loop and Scan run their body graphs through the interpreter, which resolves
 * the outer values a body captures in the enclosing scope.
 *
 *   If:   run then_branch or else_branch; its outputs are the node's outputs.
 *   Loop: body(iter, cond, carried...) -> (cond, carried..., scan...) while iter < M and cond;
 *         the node returns the final carried values and each scan output stacked on a new axis 0.
 *   Scan: body(state..., slice...) -> (state..., slice...) over axis slices of the scan inputs.
 */
import { isBigIntDType } from '../../dtype.js';
import { makeTensor, type Tensor } from '../../tensor.js';
import { emptyTensor, intsOf, numbersOf } from '../arrays.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { concat, reshaped, split, transpose } from './shape.js';

function truthy(ctx: KernelContext, t: Tensor): boolean {
  if (t.data.length !== 1) throw ctx.error(`condition must have one element, got ${t.data.length}`, 'condition');
  return isBigIntDType(t.dtype) ? (t.data as BigInt64Array)[0] !== 0n : numbersOf(t)[0] !== 0;
}

/** Stacks same-shaped tensors along a new axis `axis`. */
function stack(ts: readonly Tensor[], axis: number): Tensor {
  const withAxis = ts.map((t) => reshaped(t, [...t.shape.slice(0, axis), 1, ...t.shape.slice(axis)]));
  return concat(withAxis, axis);
}

/** An empty stacked output when a loop runs zero times: shape from the body's declared type if static. */
function emptyStack(ctx: KernelContext, declared: { dtype: Tensor['dtype']; shape?: readonly (number | string | null)[] } | undefined): Tensor {
  const dims = declared?.shape?.map((d) => (typeof d === 'number' ? d : 0)) ?? [];
  return emptyTensor(declared?.dtype ?? 'float32', [0, ...dims]);
}

const ifOp: Kernel = (ctx, inputs) => {
  const cond = ctx.input(inputs, 0);
  const branch = ctx.graph(truthy(ctx, cond) ? 'then_branch' : 'else_branch');
  const outs = ctx.runSubgraph(branch, []);
  if (outs.length !== ctx.node.outputs.length) throw ctx.error(`branch has ${outs.length} outputs, node has ${ctx.node.outputs.length}`, 'attribute then_branch');
  return outs;
};

const loop: Kernel = (ctx, inputs) => {
  const body = ctx.graph('body');
  const maxTrips = inputs[0] && inputs[0].data.length ? intsOf(inputs[0])[0]! : Infinity;
  let cond = inputs[1] && inputs[1].data.length ? truthy(ctx, inputs[1]) : true;
  let carried = inputs.slice(2).map((t, i) => {
    if (!t) throw ctx.error('missing loop-carried initial value', `input ${i + 2}`);
    return t;
  });
  const nCarried = carried.length;
  const nScan = body.outputs.length - 1 - nCarried;
  if (nScan < 0) throw ctx.error(`body has ${body.outputs.length} outputs for ${nCarried} carried values`, 'attribute body');
  const scans: Tensor[][] = Array.from({ length: nScan }, () => []);
  let condValue = inputs[1] ?? makeTensor('bool', [], [1]);
  for (let i = 0; i < maxTrips && cond; i++) {
    const iter = makeTensor('int64', [], [BigInt(i)]);
    const outs = ctx.runSubgraph(body, [iter, condValue, ...carried]);
    condValue = outs[0]!;
    cond = truthy(ctx, condValue);
    carried = outs.slice(1, 1 + nCarried);
    outs.slice(1 + nCarried).forEach((t, k) => scans[k]!.push(t));
  }
  const stacked = scans.map((ts, k) => (ts.length ? stack(ts, 0) : emptyStack(ctx, body.outputs[1 + nCarried + k]!.type)));
  return [...carried, ...stacked];
};

interface ScanAttrs {
  inDirs: readonly number[];
  outDirs: readonly number[];
  inAxes: readonly number[];
  outAxes: readonly number[];
}

/** One scan over `scanInputs` (opset-9 form): returns final states then stacked scan outputs. */
function runScan(ctx: KernelContext, states: Tensor[], scanInputs: readonly Tensor[], a: ScanAttrs): Tensor[] {
  const body = ctx.graph('body');
  const nState = states.length;
  const nScanOut = body.outputs.length - nState;
  // Move each scan axis to the front, then split into per-step slices.
  const sliced = scanInputs.map((t, k) => {
    const axis = ctx.axis(a.inAxes[k] ?? 0, t.shape.length, 'attribute scan_input_axes');
    const perm = [axis, ...t.shape.map((_, i) => i).filter((i) => i !== axis)];
    const moved = transpose(t, perm);
    const steps = split(moved, 0, new Array<number>(moved.shape[0]!).fill(1)).map((s) => reshaped(s, s.shape.slice(1)));
    return a.inDirs[k] === 1 ? steps.reverse() : steps;
  });
  const seqLen = sliced[0]?.length ?? 0;
  if (sliced.some((s) => s.length !== seqLen)) throw ctx.error('scan inputs differ in sequence length', 'inputs');
  const outs: Tensor[][] = Array.from({ length: nScanOut }, () => []);
  for (let t = 0; t < seqLen; t++) {
    const r = ctx.runSubgraph(body, [...states, ...sliced.map((s) => s[t]!)]);
    states = r.slice(0, nState);
    r.slice(nState).forEach((y, k) => outs[k]!.push(y));
  }
  const scanOutputs = outs.map((ts, k) => {
    if (!ts.length) return emptyStack(ctx, body.outputs[nState + k]!.type);
    const ordered = a.outDirs[k] === 1 ? [...ts].reverse() : ts;
    const rank = ordered[0]!.shape.length + 1;
    const axis = ctx.axis(a.outAxes[k] ?? 0, rank, 'attribute scan_output_axes');
    return stack(ordered, axis);
  });
  return [...states, ...scanOutputs];
}

function present(ctx: KernelContext, inputs: readonly (Tensor | null)[], from: number): Tensor[] {
  return inputs.slice(from).map((t, i) => {
    if (!t) throw ctx.error('missing input', `input ${from + i}`);
    return t;
  });
}

/**
 * Scan. Opset 8 has a leading sequence_lens input and a batch axis 0 on every state and scan
 * tensor (scan axis 1): it runs the opset-9 scan once per batch entry and restacks.
 */
const scan: Kernel = (ctx, inputs) => {
  const nScanIn = ctx.requiredInt('num_scan_inputs');
  if (ctx.opset >= 9) {
    const all = present(ctx, inputs, 0);
    const nState = all.length - nScanIn;
    return runScan(ctx, all.slice(0, nState), all.slice(nState), {
      inDirs: ctx.ints('scan_input_directions') ?? [],
      outDirs: ctx.ints('scan_output_directions') ?? [],
      inAxes: ctx.ints('scan_input_axes') ?? [],
      outAxes: ctx.ints('scan_output_axes') ?? [],
    });
  }
  const all = present(ctx, inputs, 1);
  const lens = inputs[0] ? intsOf(inputs[0]) : null;
  const nState = all.length - nScanIn;
  const batch = all[0]!.shape[0]!;
  const perBatch: Tensor[][] = [];
  for (let b = 0; b < batch; b++) {
    const entry = all.map((t) => reshaped(split(t, 0, [b, 1, batch - b - 1])[1]!, t.shape.slice(1)));
    const scans = entry.slice(nState).map((t) => (lens && lens[b]! < t.shape[0]! ? split(t, 0, [lens[b]!, t.shape[0]! - lens[b]!])[0]! : t));
    perBatch.push(runScan(ctx, entry.slice(0, nState), scans, { inDirs: ctx.ints('directions') ?? [], outDirs: [], inAxes: [], outAxes: [] }));
  }
  return perBatch[0]!.map((_, k) => stack(perBatch.map((r) => r[k]!), 0));
};

export const controlKernels: Record<string, Kernel> = {
  If: ifOp,
  Loop: loop,
  Scan: scan,
};
