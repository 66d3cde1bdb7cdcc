/**
 * `slimc compare A.onnx B.onnx --inputs DIR [--json]`: runs both models in the interpreter on the
 * same inputs and prints, per output, cosine similarity, max abs error, SQNR and argmax agreement;
 * for a float/quantized pair, the per-layer SQNR of every dequantized tensor of B against the
 * value of the same name in A, worst first (see `compareModels` in @slimc/passes).
 *
 * DIR is one sample (input_K.pb / NAME.npy files) or several (test_data_set_N folders). A float
 * reference is first brought to the form the quantizer starts from (see `asFloatTwin`).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Model, Tensor } from '@slimc/ir';
import { loadOnnx } from '@slimc/backends';
import { Compiler, builtinPlugin, compareModels, type ModelComparison } from '@slimc/passes';
import { bindInputs, readTensorDir } from './tensor-files.js';

export interface CompareFlags {
  inputs: string;
  json?: boolean;
  /** Layers listed in the text report (default 20). */
  top?: number;
}

function samplesIn(dir: string, model: Model, modelPath: string): Record<string, Tensor>[] {
  const sets = readdirSync(dir)
    .filter((f) => /^test_data_set_\d+$/.test(f))
    .sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)));
  const dirs = sets.length ? sets.map((s) => join(dir, s)) : [dir];
  return dirs.map((d) => bindInputs(model.graph, readTensorDir(d), modelPath));
}

const db = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} dB` : 'exact');

export function formatComparison(c: ModelComparison, top = 20): string {
  const lines = [`${c.samples} sample(s)`, 'outputs:'];
  for (const o of c.outputs) {
    lines.push(`  ${o.name}: cosine ${o.cosine.toFixed(6)}, max abs error ${o.maxAbsError.toPrecision(4)}, SQNR ${db(o.sqnr)}, argmax agreement ${(100 * o.argmaxAgreement).toFixed(1)}%`);
  }
  if (c.layers.length) {
    lines.push(`layers (dequantized tensors vs float twins, worst first, ${Math.min(top, c.layers.length)} of ${c.layers.length}):`);
    for (const l of c.layers.slice(0, top)) lines.push(`  ${db(l.sqnr).padStart(9)}  ${l.name}${l.node ? ` (${l.node}, ${l.op})` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The float twin of a model quantized by slimc is the float model as the quantizer saw it: at
 * opset >= 13 and canonicalized (BatchNormalization folded into the Conv, whose output then holds
 * the normalized values under the Conv's name). A float reference with no quantization nodes is
 * brought into that form when the candidate has some, so names pair the same tensors.
 */
async function asFloatTwin(reference: Model, candidate: Model): Promise<void> {
  const quantized = (m: Model) => [...m.graph.allNodes()].some((n) => n.op === 'DequantizeLinear' || n.op.startsWith('QLinear'));
  if (!quantized(candidate) || quantized(reference)) return;
  const compiler = new Compiler().use(builtinPlugin);
  const steps = [...(reference.opset < 13 ? [{ name: 'upgrade-opset', options: { to: 13 } }] : []), 'canonicalize'];
  await compiler.run(reference, steps);
}

export async function runCompare(pathA: string, pathB: string, flags: CompareFlags, io: { out: (s: string) => void }): Promise<void> {
  const a = loadOnnx(pathA);
  const b = loadOnnx(pathB);
  await asFloatTwin(a, b);
  const c = await compareModels(a, b, samplesIn(flags.inputs, a, pathA));
  io.out(flags.json ? JSON.stringify(c, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n' : formatComparison(c, flags.top));
}
