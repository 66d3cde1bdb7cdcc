/**
 * Opening what the CLI is given: an ONNX model, or a `.slimc` model compiled for the WebAssembly
 * runtime (recognised by its magic bytes, whatever the file is called), and running either.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { type Dim, type DType, type Model, SlimcError, type Tensor, interpret, makeTensor, randomFloats } from '@slimc/ir';
import { loadOnnx, Runtime, SLIMC_MAGIC } from '@slimc/backends';

export type Engine = 'interpreter' | 'wasm';

export interface OpenedModel {
  path: string;
  /** The IR model (ONNX input) — absent for a compiled `.slimc` file. */
  model?: Model;
  /** The `.slimc` bytes. */
  compiled?: Uint8Array;
}

export function isCompiledModel(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(SLIMC_MAGIC.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === head.length && head.toString('latin1') === SLIMC_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export function openModel(path: string): OpenedModel {
  if (isCompiledModel(path)) return { path, compiled: readFileSync(path) };
  return { path, model: loadOnnx(path) };
}

/** A loaded model ready to run many times on one engine. */
export interface Runner {
  engine: Engine;
  inputs: { name: string; dtype: DType; shape?: readonly Dim[] }[];
  outputs: string[];
  run(inputs: Record<string, Tensor>): Record<string, Tensor>;
  /** Ops the wasm engine runs in the interpreter. */
  fallbacks: string[];
  memory?: Runtime['memory'];
  dispose(): void;
}

export async function createRunner(opened: OpenedModel, engine: Engine | undefined): Promise<Runner> {
  const chosen: Engine = engine ?? (opened.compiled ? 'wasm' : 'interpreter');
  if (chosen === 'interpreter') {
    const model = opened.model;
    if (!model) throw new SlimcError('invalid-argument', 'a compiled .slimc model runs only on the wasm runtime', { model: opened.path, field: '--runtime' });
    const inputs = model.graph.inputs.filter((v) => !v.isConstant);
    return {
      engine: chosen,
      inputs: inputs.map((v) => ({ name: v.name, dtype: v.type?.dtype ?? 'float32', shape: v.type?.shape })),
      outputs: model.graph.outputs.map((v) => v.name),
      run: (feeds) => interpret(model.graph, feeds, { opset: model.opset }),
      fallbacks: [],
      dispose: () => {},
    };
  }
  const rt = await Runtime.load(opened.compiled ?? opened.model!);
  const plan = rt.plan;
  return {
    engine: chosen,
    inputs: plan.inputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })),
    outputs: [...plan.outputs],
    run: (feeds) => rt.run(feeds),
    get fallbacks() {
      return rt.fallbacks;
    },
    get memory() {
      return rt.memory;
    },
    dispose: () => rt.dispose(),
  };
}

/** Deterministic inputs for a benchmark: static shapes only (symbolic dims need --inputs or --shape). */
export function syntheticInputs(runner: Runner, shapes: Record<string, number[]>, model: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  runner.inputs.forEach((v, k) => {
    const shape = shapes[v.name] ?? v.shape?.map((d) => (typeof d === 'number' ? d : NaN));
    if (!shape || shape.some((d) => !Number.isInteger(d))) {
      throw new SlimcError('invalid-argument', `input "${v.name}" has no static shape; give --inputs DIR or --shape ${v.name}=1x3x224x224`, { model, field: '--shape' });
    }
    const n = shape.reduce((a, b) => a * b, 1);
    // Floats uniform in [-0.5, 0.5); integer inputs (ids, sizes) get zeros.
    out[v.name] = v.dtype === 'float32' || v.dtype === 'float64' ? makeTensor(v.dtype, shape, randomFloats(n, k + 1, -0.5, 0.5)) : makeTensor(v.dtype, shape);
  });
  return out;
}

/** Parses `--shape name=1x3x48x320` flags. */
export function parseShapes(flags: readonly string[] | undefined): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const f of flags ?? []) {
    const m = /^(.+)=(\d+(?:x\d+)*)$/.exec(f);
    if (!m) throw new SlimcError('invalid-argument', `expected NAME=DxDx..., got "${f}"`, { field: '--shape' });
    out[m[1]!] = m[2]!.split('x').map(Number);
  }
  return out;
}
