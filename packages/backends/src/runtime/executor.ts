/**
 * The runtime as the compiler's `executor` hook (packages/passes/src/core/pass.ts): calibration
 * and checks run graphs on the WebAssembly kernels instead of the reference interpreter.
 *
 * A graph is lowered once per structure (its node and value identities) and observed set, and
 * stays loaded for up to LIVE_RUNTIMES graphs: loading one more disposes the least recently run
 * (it loads again if run again). Without an observer the lowering fuses activations. An
 * observer of every value (no `observed` set) gets an unfused lowering, so every node output of
 * the graph is seen (Constant nodes' values included; outputs nothing reads are not computed). An
 * observer of named values keeps the fused lowering when it still computes every one of them (a
 * fused Relu/Clip drops its producer's output), else takes the unfused one.
 *
 * With `data: 'view'` observed tensors are views of WebAssembly memory in the layout the runtime
 * keeps them (NHWC after convolutions and pooling), valid only during the callback: calibration's
 * per-tensor statistics need neither a copy nor a transpose.
 */
import { Model, type Graph, type Tensor, type Value } from '@slimc/ir';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { lowerModel, stepOutputs, type Plan } from './plan.js';
import { Runtime, type ObservedLayout } from './runtime.js';

/** Structurally the passes package's `Executor` and `ExecutorRunOptions` (backends cannot import passes). */
export interface WasmExecutor {
  readonly name: string;
  run(
    graph: Graph,
    inputs: Record<string, Tensor>,
    opts: {
      opset: number;
      observe?: (value: Value, t: Tensor, layout: ObservedLayout) => void;
      observed?: ReadonlySet<Value>;
      data?: 'copy' | 'view';
    },
  ): Promise<Record<string, Tensor>>;
}

/** Identity of a graph's current structure (node ids with their operand and result ids) and of what is observed. */
function structureKey(graph: Graph, opset: number, observe: boolean, observed: ReadonlySet<Value> | undefined): string {
  const watching = !observe ? 'f' : observed ? `o${[...observed].map((v) => v.id).sort((a, b) => a - b).join(',')}` : 'o*';
  const parts = [String(opset), watching];
  for (const n of graph.nodes()) parts.push(`${n.id}:${n.inputs.map((v) => v?.id ?? 0).join(',')}>${n.outputs.map((v) => v?.id ?? 0).join(',')}`);
  parts.push(graph.outputs.map((v) => v.id).join(','));
  return parts.join(';');
}

/** Node outputs by name, and the Constant nodes' values (plan constants, not steps). */
interface GraphValues {
  byName: Map<string, Value>;
  constants: [Value, Tensor][];
}

function graphValues(graph: Graph): GraphValues {
  const byName = new Map<string, Value>();
  const constants: [Value, Tensor][] = [];
  for (const n of graph.nodes()) {
    for (const v of n.outputs) if (v) byName.set(v.name, v);
    const value = n.op === 'Constant' && !n.domain ? n.getTensor('value') : undefined;
    if (value && n.outputs[0]) constants.push([n.outputs[0], value]);
  }
  return { byName, constants };
}

/**
 * The plan to run: fused unless something is observed that only the unfused lowering computes.
 * Values a Constant node holds are no step's output in either lowering (the executor reports them).
 */
function planFor(model: Model, observe: boolean, observed: ReadonlySet<Value> | undefined): Plan {
  if (!observe) return lowerModel(model, { fuseActivations: true });
  if (observed) {
    const fused = lowerModel(model, { fuseActivations: true });
    const computed = new Set(fused.steps.flatMap((s) => stepOutputs(s)));
    const needed = [...observed].filter((v) => v.producer && !(v.producer.op === 'Constant' && !v.producer.domain));
    if (needed.every((v) => computed.has(v.name))) return fused;
  }
  return lowerModel(model, { fuseActivations: false });
}

/** Lowered graphs kept loaded at once; loading one more disposes the least recently run. */
export const LIVE_RUNTIMES = 4;

export function wasmExecutor(): WasmExecutor {
  let library: KernelLibrary | undefined;
  // Loaded graphs, least recently run first. Their weights and buffers live in the one WebAssembly
  // memory, which a collected graph would not give back: a caller running many graphs (one per
  // target-sqnr step, say) would exhaust it, so the list is bounded.
  const loaded: { graph: WeakRef<Graph>; key: string; runtime: Runtime; values: GraphValues }[] = [];
  return {
    name: 'wasm',
    async run(graph, inputs, opts) {
      library ??= await KernelLibrary.load();
      const { observe, observed, data } = opts;
      const key = structureKey(graph, opts.opset, observe !== undefined, observed);
      const i = loaded.findIndex((l) => l.graph.deref() === graph);
      let entry = i >= 0 ? loaded.splice(i, 1)[0]! : undefined;
      if (!entry || entry.key !== key) {
        entry?.runtime.dispose();
        const model = new Model(graph);
        model.opsetImports.set('', opts.opset);
        entry = { graph: new WeakRef(graph), key, runtime: Runtime.fromPlan(planFor(model, observe !== undefined, observed), library), values: graphValues(graph) };
      }
      loaded.push(entry);
      while (loaded.length > LIVE_RUNTIMES) loaded.shift()!.runtime.dispose();
      if (!observe) return entry.runtime.run(inputs);
      const { byName, constants } = entry.values;
      const wanted = (v: Value) => !observed || observed.has(v);
      // Constant nodes are plan constants, not steps: report their values as the interpreter does
      for (const [v, t] of constants) if (wanted(v)) observe(v, t, 'logical');
      const names = observed && new Set([...observed].map((v) => v.name));
      return entry.runtime.run(
        inputs,
        (name, t, layout) => {
          const v = byName.get(name);
          if (v) observe(v, t, layout);
        },
        { values: names, data },
      );
    },
  };
}
