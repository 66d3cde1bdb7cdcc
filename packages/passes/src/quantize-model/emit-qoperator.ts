/**
 * QOperator form: the QDQ form with each DequantizeLinear -> op -> QuantizeLinear group fused into
 * one standard-domain integer operator.
 *
 *   before:  %x = DequantizeLinear(%x_q, sx, zx);  %w = DequantizeLinear(%w_q, sw, zw)
 *            %b = DequantizeLinear(%b_q, sx*sw, 0); %y_float = Conv(%x, %w, %b)
 *            %y_q = QuantizeLinear(%y_float, sy, zy)
 *   after:   %y_q = QLinearConv(%x_q, sx, zx, %w_q, sw, zw, sy, zy, %b_q)
 *
 *   MatMul likewise becomes QLinearMatMul(%a_q, sa, za, %b_q, sb, zb, sy, zy) (per-column sb for a
 *   2-D constant b).
 *
 * Preconditions: every operand comes from a DequantizeLinear with constant parameters (per tensor
 * for activations), the op's only user is the QuantizeLinear of its output (an op whose float
 * output is also a graph output stays in QDQ form), and the bias zero point is 0 with scale
 * sx * sw. Gemm has no standard integer form and stays in QDQ form; so does any node that does
 * not fit. DequantizeLinear nodes left without users are erased; the remaining ones are the
 * float/int boundaries.
 *
 * ConvTranspose has no standard-domain integer form either (QLinearConvTranspose is onnxruntime's
 * com.microsoft op): in QOperator form it is quantized weight-only, %y = ConvTranspose(%x,
 * DequantizeLinear(%w_q, sw[c]){axis=1}, %b), its activations and bias float
 * (`quantizesActivations`), so the file holds only standard integer ops and no Q/DQ island a
 * QOperator runtime would have to fuse itself.
 */
import { makeTensor, type Node, type Value } from '@slimc/ir';
import type { QuantTarget } from './targets.js';
import { zeroPointName } from './names.js';

/** Ops quantized weight-only in QOperator form: no standard-domain integer operator computes them. */
const QOPERATOR_WEIGHT_ONLY_OPS: ReadonlySet<string> = new Set(['ConvTranspose']);

/** Whether static quantization in `format` puts `t`'s activations (and bias) on integer grids, or only its weights. */
export function quantizesActivations(t: QuantTarget, format: 'qdq' | 'qoperator'): boolean {
  return format !== 'qoperator' || !QOPERATOR_WEIGHT_ONLY_OPS.has(t.node.op);
}

interface Dequantized {
  dq: Node;
  quantized: Value;
  scale: Value;
  zeroPoint: Value;
}

function dequantizedOperand(v: Value | null, perTensor: boolean, scalarZeroPoint = false): Dequantized | undefined {
  const dq = v?.producer;
  if (!dq || dq.op !== 'DequantizeLinear' || dq.domain !== '') return undefined;
  const [quantized, scale] = [dq.input(0), dq.input(1)];
  if (!quantized || !scale?.isConstant) return undefined;
  if (perTensor && scale.constant!.data.length !== 1) return undefined;
  const zeroPoint = dq.input(2) ?? zeroPointFor(quantized, scalarZeroPoint ? [] : scale.constant!.shape);
  if (!zeroPoint?.isConstant) return undefined;
  return { dq, quantized, scale, zeroPoint };
}

/**
 * The zero point a DequantizeLinear left out (0, the default), as the constant the integer ops
 * require: zeros of the quantized type, one (QLinearConv takes a scalar for per-channel weights)
 * or shaped like the scale (QLinearMatMul's per-column b). An int32 bias gets one too, unused (the
 * integer ops take the bias without one) and dropped with the dead code.
 */
function zeroPointFor(quantized: Value, shape: readonly number[]): Value | undefined {
  const dtype = quantized.type?.dtype ?? quantized.constant?.dtype;
  if (dtype !== 'int8' && dtype !== 'uint8' && dtype !== 'int32') return undefined;
  const size = shape.reduce((a, b) => a * b, 1);
  return quantized.graph.root.addConstant(zeroPointName(quantized.name), makeTensor(dtype, shape, new Array<number>(size).fill(0)));
}

/** The QuantizeLinear that is the only user of `v`, with constant per-tensor parameters. */
function soleQuantizer(v: Value): Node | undefined {
  if (v.uses.length !== 1) return undefined;
  const q = v.userNodes()[0];
  if (!q || q.op !== 'QuantizeLinear' || q.domain !== '' || q.input(0) !== v) return undefined;
  const [scale, zeroPoint] = [q.input(1), q.input(2)];
  if (!scale?.isConstant || !zeroPoint?.isConstant || scale.constant!.data.length !== 1) return undefined;
  return q;
}

/** Fuses the QDQ groups of `targets` into QLinearConv / QLinearMatMul; returns how many were fused. */
export function fuseQOperators(targets: readonly QuantTarget[]): number {
  let fused = 0;
  for (const { node } of targets) {
    if (!node.attached || (node.op !== 'Conv' && node.op !== 'MatMul')) continue;
    const q = soleQuantizer(node.output(0));
    const a = dequantizedOperand(node.input(0), true);
    // Per-channel b only ever comes from a 2-D constant weight (per column), which both ops accept.
    const b = dequantizedOperand(node.input(1), false, node.op === 'Conv');
    if (!q || !a || !b) continue;
    // onnxruntime's QLinearConv / QLinearMatMul kernels write the input's 8-bit type; a per-tensor
    // dtype override can make them differ, and the group then stays in QDQ form.
    if (a.quantized.type?.dtype !== q.output(0).type?.dtype) continue;
    let bias: Dequantized | undefined;
    if (node.input(2)) {
      bias = dequantizedOperand(node.input(2), false);
      if (!bias || bias.quantized.type?.dtype !== 'int32' || !bias.quantized.isConstant) continue;
    }
    const g = node.graph;
    const inputs = [a.quantized, a.scale, a.zeroPoint, b.quantized, b.scale, b.zeroPoint, q.input(1), q.input(2)];
    if (bias) inputs.push(bias.quantized);
    const fusedNode = g.addNode(
      {
        op: node.op === 'Conv' ? 'QLinearConv' : 'QLinearMatMul',
        inputs,
        attrs: node.op === 'Conv' ? node.attrs : undefined,
        outputs: [{ name: `${q.output(0).name}_fused`, type: q.output(0).type }],
      },
      { before: node },
    );
    const out = fusedNode.output(0);
    const old = q.output(0);
    out.quant = old.quant;
    old.replaceAllUsesWith(out);
    const name = old.name;
    q.erase();
    node.erase();
    out.name = name;
    fusedNode.name = node.name;
    for (const d of [a, b, bias]) if (d && !d.dq.output(0).hasUses) d.dq.erase();
    fused++;
  }
  return fused;
}
