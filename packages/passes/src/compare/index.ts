/**
 * compareModels: how far a compressed model strays from its reference on the same inputs.
 *
 * Per graph output (matched by name): cosine similarity, max |a - b|, SQNR and argmax agreement
 * (rows along the last axis whose argmax is the same). Per layer, for a float/quantized pair:
 * the SQNR of every dequantized tensor of `candidate` (a DequantizeLinear output) against the
 * reference value of the same name (the quantizer keeps float names on dequantized values; a
 * `_dequantized` suffix, used for graph inputs and outputs, is ignored), sorted worst first.
 *
 *   SQNR = 10·log10(Σ ref² / Σ (ref - candidate)²) dB over every element of every sample
 *   (Infinity when equal).
 *
 * Samples are streamed: one sample's reference values are held while the candidate runs on it,
 * then dropped, so memory follows one sample's activations, not the sample count.
 */
import { SlimcError, toFloat64, type Model, type Tensor, type Value } from '@slimc/ir';
import { referenceInterpreter } from '../core/compiler.js';
import type { Executor } from '../core/pass.js';

export interface OutputComparison {
  name: string;
  cosine: number;
  maxAbsError: number;
  sqnr: number;
  /** Fraction of rows (last axis) with the same argmax. */
  argmaxAgreement: number;
}

export interface LayerComparison {
  /** The value name in both models. */
  name: string;
  /** The node producing the reference value ('' for a graph input). */
  node: string;
  op: string;
  sqnr: number;
}

export interface ModelComparison {
  samples: number;
  outputs: OutputComparison[];
  /** Worst first. */
  layers: LayerComparison[];
}

export interface CompareOptions {
  /** Runs both graphs (default: the reference interpreter). */
  executor?: Executor;
  /** Also compare per-layer tensors (default true). */
  layers?: boolean;
}

class Accumulator {
  signal = 0;
  noise = 0;
  dot = 0;
  normA = 0;
  normB = 0;
  maxAbs = 0;
  rows = 0;
  rowsAgreeing = 0;

  add(ref: Float64Array, cand: Float64Array, rowLength: number, rowStats: boolean): void {
    for (let i = 0; i < ref.length; i++) {
      const a = ref[i]!;
      const b = cand[i]!;
      const d = a - b;
      this.signal += a * a;
      this.noise += d * d;
      this.dot += a * b;
      this.normB += b * b;
      const ad = Math.abs(d);
      if (ad > this.maxAbs || Number.isNaN(ad)) this.maxAbs = ad;
    }
    this.normA = this.signal;
    if (!rowStats || rowLength === 0) return;
    for (let r = 0; r + rowLength <= ref.length; r += rowLength) {
      this.rows++;
      if (argmax(ref, r, rowLength) === argmax(cand, r, rowLength)) this.rowsAgreeing++;
    }
  }

  get sqnr(): number {
    if (this.noise === 0) return Infinity;
    return 10 * Math.log10(this.signal / this.noise);
  }

  get cosine(): number {
    const den = Math.sqrt(this.normA) * Math.sqrt(this.normB);
    return den === 0 ? (this.normA === this.normB ? 1 : 0) : this.dot / den;
  }
}

function argmax(x: Float64Array, start: number, n: number): number {
  let best = start;
  for (let i = start + 1; i < start + n; i++) if (x[i]! > x[best]!) best = i;
  return best - start;
}

const isFloatTensor = (t: Tensor) => t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'float64';
const twinName = (name: string) => name.replace(/_dequantized$/, '');

/** Compares `candidate` with `reference` on every sample (see the module comment). */
export async function compareModels(
  reference: Model,
  candidate: Model,
  samples: AsyncIterable<Record<string, Tensor>> | Iterable<Record<string, Tensor>>,
  options: CompareOptions = {},
): Promise<ModelComparison> {
  const executor = options.executor ?? referenceInterpreter;
  const withLayers = options.layers ?? true;
  const outputs = new Map<string, Accumulator>();
  const layers = new Map<string, { acc: Accumulator; node: string; op: string }>();
  const dequantized = new Set<Value>();
  if (withLayers) for (const n of candidate.graph.allNodes()) if (n.op === 'DequantizeLinear' && n.outputs[0] && !n.input(0)?.isConstant) dequantized.add(n.outputs[0]);
  let count = 0;
  for await (const sample of samples) {
    const refValues = new Map<string, { t: Tensor; v: Value }>();
    const refOut = await executor.run(reference.graph, sample, {
      opset: reference.opset,
      observe: withLayers ? (v, t) => isFloatTensor(t) && refValues.set(v.name, { t, v }) : undefined,
    });
    const candOut = await executor.run(candidate.graph, sample, {
      opset: candidate.opset,
      observe: withLayers
        ? (v, t) => {
            if (!dequantized.has(v)) return;
            const ref = refValues.get(twinName(v.name)) ?? (sample[twinName(v.name)] ? { t: sample[twinName(v.name)]!, v } : undefined);
            if (!ref || ref.t.data.length !== t.data.length) return;
            let entry = layers.get(v.name);
            if (!entry) {
              const p = refValues.has(twinName(v.name)) ? ref.v.producer : null;
              entry = { acc: new Accumulator(), node: p?.label ?? '', op: p?.op ?? '' };
              layers.set(v.name, entry);
            }
            entry.acc.add(toFloat64(ref.t), toFloat64(t), 0, false);
          }
        : undefined,
    });
    for (const [name, r] of Object.entries(refOut)) {
      const c = candOut[name];
      if (!c) throw new SlimcError('invalid-argument', 'the candidate model has no output of this name', { value: name, field: 'outputs' });
      if (r.shape.join() !== c.shape.join()) {
        throw new SlimcError('invalid-argument', `output shapes differ: [${r.shape.join(', ')}] vs [${c.shape.join(', ')}]`, { value: name, field: 'outputs' });
      }
      if (r.dtype === 'string') continue;
      let acc = outputs.get(name);
      if (!acc) outputs.set(name, (acc = new Accumulator()));
      acc.add(toFloat64(r), toFloat64(c), r.shape.length ? r.shape[r.shape.length - 1]! : 1, true);
    }
    count++;
  }
  return {
    samples: count,
    outputs: [...outputs].map(([name, a]) => ({
      name,
      cosine: a.cosine,
      maxAbsError: a.maxAbs,
      sqnr: a.sqnr,
      argmaxAgreement: a.rows ? a.rowsAgreeing / a.rows : 1,
    })),
    layers: [...layers]
      .map(([name, e]) => ({ name, node: e.node, op: e.op, sqnr: e.acc.sqnr }))
      .sort((x, y) => x.sqnr - y.sqnr),
  };
}
