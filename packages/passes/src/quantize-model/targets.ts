/**
 * Which nodes the quantizer rewrites, and the role of each of their operands.
 *
 * A target is a Conv, ConvTranspose, MatMul or Gemm (or whatever `op-types` lists among those)
 * that is not excluded by name and whose operands fit a quantized kernel:
 *   - Conv:   X activation, W constant (per-channel axis 0: output channels), B constant 1-D bias;
 *   - ConvTranspose: X activation, W constant [C_in, C_out/group, k...] (per-channel axis 1, the
 *             output channels, when group = 1; per tensor otherwise, where axis 1 would give one
 *             scale to a channel of every group), B constant 1-D bias;
 *   - Gemm:   A activation (transA = 0, alpha = beta = 1), B constant 2-D (per-channel axis 0 when
 *             transB, else axis 1: the N columns), C constant 1-D of N as bias;
 *   - MatMul: each operand an activation, or a constant (rank 2: per-channel axis 1, the N
 *             columns; other ranks per tensor).
 * Only float32 operands are quantized. A target's output is an activation too.
 */
import type { Graph, Node, Value } from '@slimc/ir';

export interface WeightOperand {
  /** Operand index in the node. */
  index: number;
  /** Channel axis for per-channel quantization, or undefined when only per-tensor fits. */
  axis: number | undefined;
}

export interface QuantTarget {
  node: Node;
  /** Operand indices that are float activations (quantized with calibrated ranges). */
  activations: number[];
  weights: WeightOperand[];
  /** Operand index of a 1-D float bias (Conv input 2, Gemm input 2). */
  bias: number | undefined;
}

export const DEFAULT_OP_TYPES: readonly string[] = Object.freeze(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

const isFloat = (v: Value | null): v is Value => !!v && v.type?.dtype === 'float32';
const isFloatConstant = (v: Value | null): v is Value => !!v && v.isConstant && v.constant!.dtype === 'float32';
const isActivation = (v: Value | null): v is Value => isFloat(v) && !v.isConstant;

/** Patterns of `exclude`: plain names match exactly, `/regex/` matches node names by RegExp. */
export function nameMatcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const regexes: RegExp[] = [];
  for (const p of patterns) {
    const m = /^\/(.*)\/([a-z]*)$/.exec(p);
    if (m) regexes.push(new RegExp(m[1]!, m[2]));
    else exact.add(p);
  }
  return (name) => exact.has(name) || regexes.some((r) => r.test(name));
}

/** The operand roles of `node`, or undefined when it cannot be quantized. */
export function targetOf(node: Node): QuantTarget | undefined {
  const [a, b, c] = [node.input(0), node.input(1), node.input(2)];
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  if (!node.outputs[0] || node.outputs[0].type?.dtype !== 'float32') return undefined;
  switch (node.op) {
    case 'Conv': {
      if (!isActivation(a) || !isFloatConstant(b) || b.constant!.shape.length < 3) return undefined;
      const bias = isFloatConstant(c) && c.constant!.shape.length === 1 ? 2 : undefined;
      if (c && bias === undefined) return undefined;
      return { node, activations: [0], weights: [{ index: 1, axis: 0 }], bias };
    }
    case 'ConvTranspose': {
      if (!isActivation(a) || !isFloatConstant(b) || b.constant!.shape.length < 3) return undefined;
      const bias = isFloatConstant(c) && c.constant!.shape.length === 1 ? 2 : undefined;
      if (c && bias === undefined) return undefined;
      return { node, activations: [0], weights: [{ index: 1, axis: node.getInt('group', 1) === 1 ? 1 : undefined }], bias };
    }
    case 'Gemm': {
      if (node.getInt('transA', 0) !== 0 || node.getFloat('alpha', 1) !== 1 || node.getFloat('beta', 1) !== 1) return undefined;
      if (!isActivation(a) || !isFloatConstant(b) || b.constant!.shape.length !== 2) return undefined;
      const n = node.getInt('transB', 0) ? b.constant!.shape[0]! : b.constant!.shape[1]!;
      const bias = isFloatConstant(c) && c.constant!.shape.length === 1 && c.constant!.shape[0] === n ? 2 : undefined;
      if (c && bias === undefined) return undefined;
      return { node, activations: [0], weights: [{ index: 1, axis: node.getInt('transB', 0) ? 0 : 1 }], bias };
    }
    case 'MatMul': {
      const t: QuantTarget = { node, activations: [], weights: [], bias: undefined };
      for (const [i, v] of [a, b].entries()) {
        if (isFloatConstant(v)) t.weights.push({ index: i, axis: i === 1 && v.constant!.shape.length === 2 ? 1 : undefined });
        else if (isActivation(v)) t.activations.push(i);
        else return undefined;
      }
      return t;
    }
    default:
      return undefined;
  }
}

/** Every target of `graph` and its subgraphs that `opTypes` allows and `excluded` spares. */
export function findTargets(graph: Graph, opTypes: readonly string[], excluded: (name: string) => boolean): QuantTarget[] {
  const allowed = new Set(opTypes);
  const out: QuantTarget[] = [];
  for (const node of graph.allNodes()) {
    if (!allowed.has(node.op) || excluded(node.name)) continue;
    const t = targetOf(node);
    if (t) out.push(t);
  }
  return out;
}

/** The activation values of the targets (operands and outputs), each once, in discovery order. */
export function activationValues(targets: readonly QuantTarget[]): Value[] {
  const seen = new Set<Value>();
  for (const t of targets) {
    for (const i of t.activations) seen.add(t.node.input(i)!);
    seen.add(t.node.output(0));
  }
  return [...seen];
}
