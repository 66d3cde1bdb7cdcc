/**
 * The programmatic entry point: load a model, run a pipeline with plugins, report what happened.
 *
 *   const { model, report } = await compile('model.onnx', { pipeline: 'canonicalize', plugins: ['slimc-plugin-x'] });
 *
 * `compile` never mutates a Model it is given (it works on a copy). Plugin strings load through
 * `loadPlugin` from `pluginDir` (default: the working directory).
 *
 * Calibration runs graphs on the executor chosen by `executor` (default `auto`: slimc's
 * WebAssembly runtime when its kernels load, else the reference interpreter). It is tapped into
 * the compiler's `executor` hook at a late stage, so a plugin's executor still wins; the report
 * names the executor calibration actually ran on.
 */
import { type Model, SlimcError, cloneModel, tensorByteSize } from '@slimc/ir';
import { type EncodeOptions, KernelLibrary, decodeOnnx, encodeOnnx, loadOnnx, wasmExecutor } from '@slimc/backends';
import { Compiler, type CompilerOptions, type PassReport, type PipelineStepInput, type RunOptions, countNodes, referenceInterpreter } from './core/compiler.js';
import type { Executor, Plugin } from './core/pass.js';
import { loadPlugin } from './core/plugins.js';
import { formatPipeline } from './core/pipeline-spec.js';
import { DEFAULT_PIPELINE, builtinPlugin } from './builtin.js';

export interface CompileOptions extends CompilerOptions, RunOptions {
  /** Pipeline spec (default `canonicalize`). */
  pipeline?: string | readonly PipelineStepInput[];
  plugins?: readonly (Plugin | string)[];
  /** Where plugin names and relative paths resolve from (default: process.cwd()). */
  pluginDir?: string;
  /** Who runs the model during calibration (default `auto`). */
  executor?: ExecutorChoice;
}

/** `wasm`: slimc's WebAssembly runtime; `interpreter`: the reference interpreter; `auto`: wasm when its kernels load. */
export const EXECUTOR_CHOICES = ['auto', 'wasm', 'interpreter'] as const;
export type ExecutorChoice = (typeof EXECUTOR_CHOICES)[number];

export interface ModelSummary {
  source?: string;
  opset: number;
  /** Nodes, subgraphs included. */
  nodes: number;
  initializers: number;
  initializerBytes: number;
  inputs: string[];
  outputs: string[];
}

export interface CompileReport {
  /** The pipeline that ran, as a spec string with every option. */
  pipeline: string;
  passes: PassReport[];
  totals: { ms: number; changed: boolean; nodesBefore: number; nodesAfter: number };
  model: ModelSummary;
  /** printGraph after the passes named in `dumpAfter`. */
  dumps: Record<string, string>;
  plugins: string[];
  /** The executor calibration ran on (`wasm`, `reference-interpreter` or a plugin's); absent when nothing was calibrated. */
  executor?: string;
}

export function summarizeModel(model: Model): ModelSummary {
  let initializers = 0;
  let initializerBytes = 0;
  for (const g of model.graph.allGraphs()) {
    for (const c of g.initializers) {
      initializers++;
      initializerBytes += tensorByteSize(c.constant!);
    }
  }
  return {
    source: model.source,
    opset: model.opset,
    nodes: countNodes(model),
    initializers,
    initializerBytes,
    inputs: model.graph.inputs.map((v) => v.name),
    outputs: model.graph.outputs.map((v) => v.name),
  };
}

/** A compiler with the built-in passes and the given plugins applied. */
export async function createCompiler(options: CompilerOptions & { plugins?: readonly (Plugin | string)[]; pluginDir?: string } = {}): Promise<Compiler> {
  const compiler = new Compiler(options).use(builtinPlugin);
  for (const p of options.plugins ?? []) compiler.use(typeof p === 'string' ? await loadPlugin(p, options.pluginDir) : p);
  return compiler;
}

/**
 * The executor for `choice`. `auto` tries to load the WebAssembly kernels (`loadKernels`) and
 * falls back to the reference interpreter when they do not load; `wasm` fails instead.
 */
export async function selectCalibrationExecutor(
  choice: ExecutorChoice = 'auto',
  loadKernels: () => Promise<unknown> = () => KernelLibrary.load(),
): Promise<Executor> {
  if (!(EXECUTOR_CHOICES as readonly string[]).includes(choice)) {
    throw new SlimcError('invalid-argument', `expected one of ${EXECUTOR_CHOICES.join(', ')}`, { field: 'executor', value: String(choice) });
  }
  if (choice === 'interpreter') return referenceInterpreter;
  try {
    await loadKernels();
  } catch (e) {
    if (choice === 'auto') return referenceInterpreter;
    const why = e instanceof Error ? e.message : String(e);
    throw new SlimcError('unsupported', `the WebAssembly kernels did not load (${why}); use executor auto or interpreter`, { field: 'executor', value: 'wasm' }, { cause: e });
  }
  return wasmExecutor();
}

/**
 * Answers `executor` requests for calibration with `executor` (after every plugin tap: stage 100)
 * and returns what calibration was handed, read once the run is over.
 */
function tapCalibrationExecutor(compiler: Compiler, executor: Executor): () => string | undefined {
  compiler.hooks.executor.tap({ name: 'slimc-calibration-executor', stage: 100 }, ({ purpose }) => (purpose === 'calibration' ? executor : undefined));
  let purpose: string | undefined;
  let calibratedBy: string | undefined;
  compiler.hooks.executor.intercept({
    call: (request) => void (purpose = request.purpose),
    result: (answer) => {
      if (purpose === 'calibration' && answer) calibratedBy = answer.name;
    },
  });
  return () => calibratedBy;
}

function readModel(input: Uint8Array | string | Model): Model {
  if (typeof input === 'string') return loadOnnx(input);
  if (input instanceof Uint8Array) return decodeOnnx(input);
  return cloneModel(input);
}

export async function compile(
  input: Uint8Array | string | Model,
  options: CompileOptions = {},
): Promise<{ model: Model; report: CompileReport; compiler: Compiler }> {
  const compiler = await createCompiler(options);
  const calibratedBy = tapCalibrationExecutor(compiler, await selectCalibrationExecutor(options.executor));
  const model = readModel(input);
  const steps = compiler.resolvePipeline(options.pipeline ?? DEFAULT_PIPELINE);
  const nodesBefore = countNodes(model);
  const run = await compiler.run(
    model,
    steps.map((s) => ({ name: s.pass.name, options: s.options })),
    { onProgress: options.onProgress },
  );
  const report: CompileReport = {
    pipeline: formatPipeline(steps.map((s) => ({ name: s.pass.name, options: s.options }))),
    passes: run.passes,
    totals: {
      ms: run.passes.reduce((a, p) => a + p.ms, 0),
      changed: run.passes.some((p) => p.changed),
      nodesBefore,
      nodesAfter: countNodes(model),
    },
    model: summarizeModel(model),
    dumps: run.dumps,
    plugins: [...compiler.plugins],
  };
  const executor = calibratedBy();
  if (executor) report.executor = executor;
  return { model, report, compiler };
}

/** Encodes `model` as ONNX after the `beforeEmit` hook ran. */
export async function emitOnnx(compiler: Compiler, model: Model, options: EncodeOptions = {}): Promise<Uint8Array> {
  await compiler.hooks.beforeEmit.promise(model, { format: 'onnx' });
  return encodeOnnx(model, options);
}
