/**
 * `slimc inspect`: what a model is made of — opsets, inputs and outputs with shapes, an op
 * histogram (subgraphs included), and parameters counted by dtype (initializers and Constant-node
 * tensors).
 */
import { type DType, type Graph, type Model, type Tensor, type Value, printGraph, tensorByteSize, tensorTypeText } from '@slimc/ir';

export interface ValueSummary {
  name: string;
  type: string;
}

export interface InspectReport {
  model: string;
  irVersion: number;
  producer: string;
  opsets: Record<string, number>;
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  nodes: number;
  subgraphs: number;
  ops: Record<string, number>;
  parameters: { count: number; bytes: number; byDtype: Record<string, { count: number; bytes: number; tensors: number }> };
}

export function inspectModel(model: Model, name = model.source ?? 'model'): InspectReport {
  const ops = new Map<string, number>();
  const byDtype = new Map<DType, { count: number; bytes: number; tensors: number }>();
  const addTensor = (t: Tensor) => {
    const e = byDtype.get(t.dtype) ?? { count: 0, bytes: 0, tensors: 0 };
    e.count += t.data.length;
    e.bytes += tensorByteSize(t);
    e.tensors += 1;
    byDtype.set(t.dtype, e);
  };
  let nodes = 0;
  let subgraphs = -1;
  for (const g of model.graph.allGraphs()) {
    subgraphs++;
    for (const c of g.initializers) addTensor(c.constant!);
    for (const n of g.nodes()) {
      nodes++;
      ops.set(n.qualifiedOp, (ops.get(n.qualifiedOp) ?? 0) + 1);
      for (const a of n.attrs.values()) {
        if (a.kind === 'tensor' && n.op === 'Constant') addTensor(a.value);
      }
    }
  }
  const summarize = (v: Value): ValueSummary => ({ name: v.name, type: v.type ? tensorTypeText(v.type) : v.opaqueType ? 'opaque' : '?' });
  const sortedOps = [...ops].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const dtypes = [...byDtype].sort((a, b) => b[1].bytes - a[1].bytes);
  return {
    model: name,
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: Object.fromEntries([...model.opsetImports].map(([d, v]) => [d || 'ai.onnx', v])),
    inputs: graphInputs(model.graph).map(summarize),
    outputs: model.graph.outputs.map(summarize),
    nodes,
    subgraphs,
    ops: Object.fromEntries(sortedOps),
    parameters: {
      count: dtypes.reduce((s, [, e]) => s + e.count, 0),
      bytes: dtypes.reduce((s, [, e]) => s + e.bytes, 0),
      byDtype: Object.fromEntries(dtypes),
    },
  };
}

/** Graph inputs that are real inputs (not IR<4 initializer defaults). */
function graphInputs(g: Graph): Value[] {
  return g.inputs.filter((v) => !v.isConstant);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`model     ${r.model}`);
  lines.push(`ir        ${r.irVersion}${r.producer ? `   producer ${r.producer}` : ''}`);
  lines.push(`opsets    ${Object.entries(r.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}`);
  lines.push('inputs');
  for (const v of r.inputs) lines.push(`  ${v.name}: ${v.type}`);
  lines.push('outputs');
  for (const v of r.outputs) lines.push(`  ${v.name}: ${v.type}`);
  lines.push(`nodes     ${r.nodes}${r.subgraphs ? ` (in ${r.subgraphs + 1} graphs)` : ''}`);
  const width = Math.max(...Object.keys(r.ops).map((k) => k.length), 4);
  for (const [op, n] of Object.entries(r.ops)) lines.push(`  ${op.padEnd(width)} ${String(n).padStart(6)}`);
  lines.push(`parameters ${r.parameters.count.toLocaleString('en-US')} (${formatBytes(r.parameters.bytes)})`);
  for (const [d, e] of Object.entries(r.parameters.byDtype)) {
    lines.push(`  ${d.padEnd(9)} ${e.count.toLocaleString('en-US').padStart(12)} in ${String(e.tensors).padStart(4)} tensors  ${formatBytes(e.bytes)}`);
  }
  return lines.join('\n');
}

export function inspectIr(model: Model): string {
  return printGraph(model.graph);
}
