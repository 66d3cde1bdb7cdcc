/**
 * The `slimc` command. `runCli(argv)` runs one invocation in-process and resolves to its exit
 * code, so tests drive it exactly as a shell would.
 */
import { Command, CommanderError, Option } from 'commander';
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { SlimcError, type Tensor } from '@slimc/ir';
import { loadOnnx, type ValueInfoPolicy } from '@slimc/backends';
import { EXECUTOR_CHOICES, type ExecutorChoice } from '@slimc/passes';
import { createRunner, openModel, type Engine } from './model-file.js';
import { runBench } from './bench-command.js';
import { formatInspect, inspectIr, inspectModel } from './inspect.js';
import { bindInputs, readTensorDir, writeTensorDir } from './tensor-files.js';
import { EXIT_BAD_INPUT, EXIT_OK, exitCodeOf, formatFailure } from './errors.js';
import { runCompile, runPassesList } from './compile-command.js';
import { runCompare } from './compare-command.js';

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress bars only then). */
  isTTY: boolean;
}

const defaultIO: CliIO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stderr.isTTY),
};

export const VERSION = '0.1.0';

export async function runCli(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  let verbose = argv.includes('--verbose');
  let code = EXIT_OK;
  const program = new Command('slimc')
    .description('slimc: a model-compression compiler for ONNX models')
    .version(VERSION)
    .option('--verbose', 'print stack traces on errors')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showSuggestionAfterError(true);

  program
    .command('inspect')
    .description('show opsets, inputs/outputs, an op histogram and parameter sizes')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print the report as JSON')
    .option('--ir', 'print the IR in slimc text form')
    .action((modelPath: string, opts: { json?: boolean; ir?: boolean }) => {
      const model = loadOnnx(modelInput(modelPath));
      if (opts.ir) io.out(inspectIr(model));
      else if (opts.json) io.out(JSON.stringify(inspectModel(model, modelPath), null, 2) + '\n');
      else io.out(formatInspect(inspectModel(model, modelPath)) + '\n');
    });

  program
    .command('compile')
    .description('run a pass pipeline over a model and write the result (no pipeline: a faithful round trip)')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'output model file')
    .option('-p, --pipeline <spec>', 'passes, e.g. "canonicalize" or "fold-constants,fold-batchnorm"')
    .option('--plugin <name-or-path...>', 'load a plugin (package name or path); repeatable')
    .option('--json', 'print the compile report as JSON')
    .option('--verify-each', 'run the IR verifier after every pass')
    .option('--timings', 'print time per pass')
    .option('--dump-after <pass...>', 'print the IR after the named pass(es)')
    .option('--external-data', 'write weights to a side file <output>.data')
    .addOption(
      new Option('--value-info <which>', 'shape annotations of intermediate values: declared (those the input model had), all (what slimc inferred too) or none')
        .choices(['declared', 'all', 'none'])
        .default('declared'),
    )
    .addOption(new Option('--target <target>', 'onnx: an ONNX model; wasm: a .slimc model for the WebAssembly runtime').choices(['onnx', 'wasm']).default('onnx'))
    .addOption(new Option('--executor <executor>', 'who runs the model during calibration: wasm (the WebAssembly runtime), interpreter (the reference interpreter) or auto (wasm when it loads)').choices(EXECUTOR_CHOICES).default('auto'))
    .option('--no-config', 'ignore slimc.config.mjs / slimc.config.json')
    .action(async (modelPath: string, opts: CompileFlags) => {
      await runCompile(modelInput(modelPath), opts, io);
    });

  program
    .command('run')
    .description('run a model (ONNX or .slimc) on tensors from a folder')
    .argument('<model>', 'ONNX model or compiled .slimc file')
    .requiredOption('--inputs <dir>', 'folder of input_K.pb (TensorProto) or NAME.npy files')
    .requiredOption('-o, --output <dir>', 'folder to write output_K.pb / output_K.npy to')
    .addOption(new Option('--format <format>', 'output file format').choices(['pb', 'npy']).default('pb'))
    .addOption(new Option('--runtime <engine>', 'interpreter (reference) or wasm (int8 kernels); default: interpreter for ONNX, wasm for .slimc').choices(['interpreter', 'wasm']))
    .action(async (modelPath: string, opts: { inputs: string; output: string; format: 'pb' | 'npy'; runtime?: Engine }) => {
      const runner = await createRunner(openModel(modelInput(modelPath)), opts.runtime);
      try {
        const inputs = bindInputs(runner.inputs, readTensorDir(opts.inputs), modelPath);
        const result = runner.run(inputs);
        const outs: [string, Tensor][] = runner.outputs.map((name) => [name, result[name]!]);
        const files = writeTensorDir(opts.output, outs, opts.format);
        outs.forEach(([name, t], k) => io.out(`${files[k]}  ${name}: ${t.dtype}[${t.shape.join(',')}]\n`));
        if (runner.fallbacks.length) io.err(`note: ran in the interpreter (no wasm kernel): ${runner.fallbacks.join(', ')}\n`);
      } finally {
        runner.dispose();
      }
    });

  program
    .command('bench')
    .description('measure the latency and memory of a model on the interpreter or the wasm runtime')
    .argument('<model>', 'ONNX model or compiled .slimc file')
    .option('--inputs <dir>', 'inputs (default: deterministic random tensors of the static input shapes)')
    .option('--shape <name=DxD...>', 'shape of a symbolic input for random inputs; repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--runs <n>', 'timed runs after one warm-up', (v: string) => Number(v), 10)
    .addOption(new Option('--runtime <engine>', 'default: wasm').choices(['interpreter', 'wasm']))
    .option('--json', 'print as JSON')
    .action(async (modelPath: string, opts: { inputs?: string; shape?: string[]; runs: number; runtime?: Engine; json?: boolean }) => {
      await runBench(modelInput(modelPath), opts, io);
    });

  program
    .command('compare')
    .description('compare two models on the same inputs: per-output agreement, per-layer SQNR of a quantized model')
    .argument('<reference>', 'reference (float) ONNX model')
    .argument('<candidate>', 'candidate (e.g. quantized) ONNX model')
    .requiredOption('--inputs <dir>', 'input_K.pb / NAME.npy files, or test_data_set_N folders of them')
    .option('--top <n>', 'layers to list', (v: string) => Number(v), 20)
    .option('--json', 'print as JSON')
    .action(async (pathA: string, pathB: string, opts: { inputs: string; json?: boolean; top: number }) => {
      await runCompare(modelInput(pathA), modelInput(pathB), opts, io);
    });

  program
    .command('passes')
    .description('list every registered pass (plugins included) with its options')
    .option('--plugin <name-or-path...>', 'load a plugin first')
    .option('--json', 'print as JSON')
    .option('--no-config', 'ignore slimc.config.mjs / slimc.config.json')
    .action(async (opts: { plugin?: string[]; json?: boolean; config?: boolean }) => {
      await runPassesList(opts, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    verbose = Boolean(program.opts().verbose) || verbose;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (help and version exit 0)
      code = e.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    } else {
      io.err(formatFailure(e, verbose) + '\n');
      code = exitCodeOf(e);
    }
  }
  return code;
}

export interface CompileFlags {
  output: string;
  pipeline?: string;
  plugin?: string[];
  json?: boolean;
  verifyEach?: boolean;
  timings?: boolean;
  dumpAfter?: string[];
  externalData?: boolean;
  valueInfo: ValueInfoPolicy;
  config?: boolean;
  target: 'onnx' | 'wasm';
  executor: ExecutorChoice;
}

/** Resolves a model argument, refusing a missing file with a one-line error. */
function modelInput(path: string): string {
  if (!existsSync(path)) throw new SlimcError('invalid-argument', 'no such model file', { model: path });
  return path;
}

/** True when `out` names the same file as `input` (never overwrite a user's input). */
export function sameFile(input: string, out: string): boolean {
  if (!existsSync(out)) return resolve(input) === resolve(out);
  return realpathSync(input) === realpathSync(out);
}

