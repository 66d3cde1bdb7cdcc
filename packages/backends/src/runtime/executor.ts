/**
 * The runtime as the compiler's `executor` hook (packages/passes/src/core/pass.ts): calibration
 * and checks run graphs on the WebAssembly kernels instead of the reference interpreter.
 *
 * A graph is lowered once per structure (its node and value identities) and kept while the graph
 * object lives; activations are not fused when a caller observes values, so every node output of
 * the graph is seen (Constant nodes' values included; outputs nothing reads are not computed).
 */
import { Model, type Graph, type Tensor, type Value } from '@slimc/ir';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { lowerModel } from './plan.js';
import { Runtime } from './runtime.js';

/** Structurally the passes package's `Executor` (backends cannot import passes). */
export interface WasmExecutor {
  readonly name: string;
  run(graph: Graph, inputs: Record<string, Tensor>, opts: { opset: number; observe?: (value: Value, t: Tensor) => void }): Promise<Record<string, Tensor>>;
}

/** Identity of a graph's current structure: node ids with their operand and result ids. */
function structureKey(graph: Graph, opset: number, observed: boolean): string {
  const parts = [String(opset), observed ? 'o' : 'f'];
  for (const n of graph.nodes()) parts.push(`${n.id}:${n.inputs.map((v) => v?.id ?? 0).join(',')}>${n.outputs.map((v) => v?.id ?? 0).join(',')}`);
  parts.push(graph.outputs.map((v) => v.id).join(','));
  return parts.join(';');
}

export function wasmExecutor(): WasmExecutor {
  let library: KernelLibrary | undefined;
  const cache = new WeakMap<Graph, { key: string; runtime: Runtime }>();
  return {
    name: 'wasm',
    async run(graph, inputs, opts) {
      library ??= await KernelLibrary.load();
      const observed = opts.observe !== undefined;
      const key = structureKey(graph, opts.opset, observed);
      let entry = cache.get(graph);
      if (!entry || entry.key !== key) {
        entry?.runtime.dispose();
        const model = new Model(graph);
        model.opsetImports.set('', opts.opset);
        entry = { key, runtime: Runtime.fromPlan(lowerModel(model, { fuseActivations: !observed }), library) };
        cache.set(graph, entry);
      }
      if (!opts.observe) return entry.runtime.run(inputs);
      const byName = new Map<string, Value>();
      for (const n of graph.nodes()) for (const v of n.outputs) if (v) byName.set(v.name, v);
      const observe = opts.observe;
      // Constant nodes are plan constants, not steps: report their values as the interpreter does
      for (const n of graph.nodes()) {
        const value = n.op === 'Constant' && !n.domain ? n.getTensor('value') : undefined;
        if (value && n.outputs[0]) observe(n.outputs[0], value);
      }
      return entry.runtime.run(inputs, (name, t) => {
        const v = byName.get(name);
        if (v) observe(v, t);
      });
    },
  };
}
