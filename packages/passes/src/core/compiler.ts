/**
 * The pass manager and its plugin API.
 *
 * The whole plugin API is `Compiler.hooks`, one frozen table of tapable hooks, plus
 * `registerPass`. Every tap is named; ordering between taps comes from tapable's `stage` (lower
 * runs first, default 0) and `before` (tap name). In the order they fire during `run`:
 *
 * | hook            | kind                 | when                                                                                       |
 * |-----------------|----------------------|--------------------------------------------------------------------------------------------|
 * | pipeline        | SyncWaterfallHook    | once per run, after the spec is parsed and validated, before any pass: taps may add, drop or reorder steps |
 * | beforePass      | SyncHook             | before each step runs (after the previous step's afterPass)                                |
 * | patterns        | SyncWaterfallHook    | when a pattern pass (or a composite such as canonicalize) gathers its set: taps add or remove patterns |
 * | executor        | SyncBailHook         | whenever a pass needs a whole graph run (calibration, evaluation); first tap to return an Executor wins, else the reference interpreter. (fold-constants evaluates single nodes with the interpreter's runNode: folding must mean the reference semantics) |
 * | calibrationData | AsyncSeriesBailHook  | when a pass needs sample inputs; first tap to return samples wins, else the pass reports none |
 * | afterPass       | SyncHook             | after each step ran and (with verifyEach) the IR was verified                              |
 * | beforeEmit      | AsyncSeriesHook      | after the last pass, before the model is lowered to a backend or encoded (called by `compile`) |
 *
 * A pass that throws is reported as a SlimcError naming the pass; with `verifyEach` the verifier
 * runs after every pass, so a pass that breaks the IR is named too.
 */
import { AsyncSeriesBailHook, AsyncSeriesHook, SyncBailHook, SyncHook, SyncWaterfallHook } from 'tapable';
import { type Model, type Tensor, SlimcError, interpret, printGraph, verifyOrThrow } from '@slimc/ir';
import { closestName, resolveOptions, type RawOptionValue } from './options.js';
import { parsePipeline } from './pipeline-spec.js';
import { applyPatternsGreedily, type PatternSet } from './pattern.js';
import type { Executor, Pass, PassContext, PassResult, Plugin } from './pass.js';

/** One resolved step of a pipeline: the pass and its validated options. */
export interface PipelineStep {
  readonly pass: Pass<any>;
  readonly options: Readonly<Record<string, unknown>>;
}

/** A step as given by API users: a name, or a name with options (raw text or typed values). */
export type PipelineStepInput = string | { name: string; options?: Readonly<Record<string, unknown>> };

export interface PassReport {
  name: string;
  options: Record<string, unknown>;
  changed: boolean;
  /** Wall time of the pass (verification excluded); 0 when timings are off. */
  ms: number;
  stats: Record<string, number>;
  /** Nodes in the model, subgraphs included, before and after the pass. */
  nodesBefore: number;
  nodesAfter: number;
  warnings: string[];
}

export interface RunReport {
  passes: PassReport[];
  /** `printGraph` of the model after each pass named in `dumpAfter` (later runs of a pass overwrite). */
  dumps: Record<string, string>;
}

export interface PatternHookInfo {
  /** The pass gathering the set. */
  readonly pass: string;
  readonly model: Model;
}

export interface ExecutorRequest {
  readonly model: Model;
  /** Why a graph is run: 'fold-constants', 'calibration', ... */
  readonly purpose: string;
}

export interface CalibrationRequest {
  readonly model: Model;
  /** The pass asking. */
  readonly pass: string;
  /** How many samples the pass would like. */
  readonly count: number;
}

/** Sample inputs keyed by graph input name. */
export type CalibrationSamples = Record<string, Tensor>[];

export interface EmitInfo {
  /** Target format, e.g. 'onnx'. */
  readonly format: string;
}

export interface CompilerOptions {
  /** Verify the IR after every pass (default true). */
  verifyEach?: boolean;
  /** Measure ms per pass (default true). */
  timings?: boolean;
  /** Pass names after which to keep `printGraph` of the model. */
  dumpAfter?: readonly string[];
}

export interface RunOptions {
  /** Called before and after each step. */
  onProgress?: (event: { phase: 'start' | 'end'; pass: string; index: number; total: number }) => void;
}

/** The interpreter keeps every value in the logical layout, and its tensors are its own: `data` changes nothing. */
export const referenceInterpreter: Executor = Object.freeze<Executor>({
  name: 'reference-interpreter',
  run: (graph, inputs, { opset, observe, observed }) => {
    if (!observe) return interpret(graph, inputs, { opset });
    return interpret(graph, inputs, { opset, observe: (v, t) => (!observed || observed.has(v)) && observe(v, t, 'logical') });
  },
});

export class Compiler {
  readonly hooks = Object.freeze({
    pipeline: new SyncWaterfallHook<[PipelineStep[], Model]>(['steps', 'model']),
    beforePass: new SyncHook<[PipelineStep, Model]>(['step', 'model']),
    patterns: new SyncWaterfallHook<[PatternSet, PatternHookInfo]>(['patterns', 'info']),
    executor: new SyncBailHook<[ExecutorRequest], Executor | undefined>(['request']),
    calibrationData: new AsyncSeriesBailHook<[CalibrationRequest], CalibrationSamples | undefined>(['request']),
    afterPass: new SyncHook<[PipelineStep, Model, PassReport]>(['step', 'model', 'report']),
    beforeEmit: new AsyncSeriesHook<[Model, EmitInfo]>(['model', 'info']),
  });

  readonly options: Required<CompilerOptions>;
  private readonly registry = new Map<string, Pass<any>>();
  private readonly applied: string[] = [];

  constructor(options: CompilerOptions = {}) {
    this.options = {
      verifyEach: options.verifyEach ?? true,
      timings: options.timings ?? true,
      dumpAfter: options.dumpAfter ?? [],
    };
  }

  /** Applies a plugin (once per name). */
  use(plugin: Plugin): this {
    if (this.applied.includes(plugin.name)) return this;
    this.applied.push(plugin.name);
    try {
      plugin.apply(this);
    } catch (e) {
      throw new SlimcError('invalid-argument', `plugin ${plugin.name} failed to apply: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
    }
    return this;
  }

  /** Names of the plugins applied, in order. */
  get plugins(): readonly string[] {
    return this.applied;
  }

  registerPass(pass: Pass<any>): void {
    const existing = this.registry.get(pass.name);
    if (existing && existing !== pass) {
      throw new SlimcError('invalid-argument', `a pass named "${pass.name}" is already registered`, { pass: pass.name });
    }
    this.registry.set(pass.name, pass);
  }

  /** Every registered pass, sorted by name. */
  listPasses(): Pass<any>[] {
    return [...this.registry.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  getPass(name: string): Pass<any> | undefined {
    return this.registry.get(name);
  }

  /** Parses (if text) and validates a pipeline against the registered passes and their option schemas. */
  resolvePipeline(spec: string | readonly PipelineStepInput[]): PipelineStep[] {
    const inputs: { name: string; options?: Readonly<Record<string, unknown>> }[] =
      typeof spec === 'string' ? parsePipeline(spec) : spec.map((s) => (typeof s === 'string' ? { name: s } : s));
    return inputs.map(({ name, options }) => {
      const pass = this.registry.get(name);
      if (!pass) {
        const hint = closestName(name, [...this.registry.keys()]);
        throw new SlimcError(
          'invalid-argument',
          `unknown pass "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; run \`slimc passes\` for the list`,
          { field: 'pipeline', value: name },
        );
      }
      return { pass, options: resolveOptions(name, pass.options, (options ?? {}) as Record<string, RawOptionValue>) };
    });
  }

  /** The executor for `purpose`: the first `executor` tap that answers, else the reference interpreter. */
  executor(model: Model, purpose: string): Executor {
    return this.hooks.executor.call({ model, purpose }) ?? referenceInterpreter;
  }

  /** Runs `spec` on `model` in place. */
  async run(model: Model, spec: string | readonly PipelineStepInput[], runOptions: RunOptions = {}): Promise<RunReport> {
    const steps = this.hooks.pipeline.call(this.resolvePipeline(spec), model);
    // A model that is already invalid must not be blamed on the first pass.
    if (this.options.verifyEach) verifyOrThrow(model, { model: model.source });
    const report: RunReport = { passes: [], dumps: {} };
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      runOptions.onProgress?.({ phase: 'start', pass: step.pass.name, index: i, total: steps.length });
      report.passes.push(await this.runStep(model, step, report));
      runOptions.onProgress?.({ phase: 'end', pass: step.pass.name, index: i, total: steps.length });
    }
    return report;
  }

  /** A context for running `pass` on `model` (also used by passes that run other passes). */
  context(model: Model, pass: string, warnings: string[] = []): PassContext {
    return {
      compiler: this,
      model,
      opset: model.opset,
      pass,
      executor: (purpose) => this.executor(model, purpose),
      gatherPatterns: (passName, base) => this.hooks.patterns.call(base, { pass: passName, model }),
      warn: (message) => warnings.push(message),
    };
  }

  /** Runs one pass with its hooks; errors are SlimcErrors naming the pass. */
  async runStep(model: Model, step: PipelineStep, report?: RunReport): Promise<PassReport> {
    const name = step.pass.name;
    const warnings: string[] = [];
    const ctx = this.context(model, name, warnings);
    this.hooks.beforePass.call(step, model);
    const nodesBefore = countNodes(model);
    const t0 = this.options.timings ? performance.now() : 0;
    let result: PassResult;
    try {
      result = await runPass(step, model, ctx);
    } catch (e) {
      throw asPassError(e, name, model);
    }
    const ms = this.options.timings ? performance.now() - t0 : 0;
    if (this.options.verifyEach) verifyOrThrow(model, { pass: name, model: model.source });
    const passReport: PassReport = {
      name,
      options: { ...step.options },
      changed: result.changed,
      ms,
      stats: result.stats ?? {},
      nodesBefore,
      nodesAfter: countNodes(model),
      warnings,
    };
    if (report && this.options.dumpAfter.includes(name)) report.dumps[name] = printGraph(model.graph);
    this.hooks.afterPass.call(step, model, passReport);
    return passReport;
  }
}

async function runPass(step: PipelineStep, model: Model, ctx: PassContext): Promise<PassResult> {
  const pass = step.pass;
  if (pass.kind === 'graph') return pass.run(model, ctx, step.options as never);
  pass.prepare?.(model, ctx, step.options as never);
  const set = ctx.gatherPatterns(pass.name, pass.patterns(step.options as never, ctx));
  const budgetPerNode = pass.maxRewritesPerNode ?? 8;
  const r = applyPatternsGreedily(model, set, {
    pass: pass.name,
    maxRewrites: budgetPerNode * countNodes(model) + 64,
  });
  const stats: Record<string, number> = { ...r.fired };
  if (r.deadErased) stats['dead-nodes-erased'] = r.deadErased;
  if (r.constantsRemoved) stats['constants-removed'] = r.constantsRemoved;
  return { changed: r.changed, stats };
}

function asPassError(e: unknown, pass: string, model: Model): SlimcError {
  if (e instanceof SlimcError) return e.withContext({ pass, model: model.source });
  const msg = e instanceof Error ? e.message : String(e);
  return new SlimcError('internal', `pass failed: ${msg}`, { pass, model: model.source }, { cause: e });
}

/** Nodes of the model, subgraphs included. */
export function countNodes(model: Model): number {
  let n = 0;
  for (const g of model.graph.allGraphs()) n += g.nodeCount;
  return n;
}
