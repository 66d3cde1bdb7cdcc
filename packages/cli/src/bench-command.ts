/**
 * `slimc bench MODEL`: latency (median and best of N runs after a warm-up) and memory of a model
 * on the WebAssembly runtime (default) or the reference interpreter, single-threaded.
 */
import { SlimcError } from '@slimc/ir';
import { createRunner, openModel, parseShapes, syntheticInputs, type Engine } from './model-file.js';
import { bindInputs, readTensorDir } from './tensor-files.js';
import { formatBytes } from './inspect.js';
import type { CliIO } from './main.js';

export interface BenchReport {
  model: string;
  engine: Engine;
  runs: number;
  medianMs: number;
  bestMs: number;
  fallbacks: string[];
  memory?: { weights: number; peakActivations: number; wasmPeak: number };
}

export async function runBench(path: string, opts: { inputs?: string; shape?: string[]; runs: number; runtime?: Engine; json?: boolean }, io: CliIO): Promise<BenchReport> {
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new SlimcError('invalid-argument', `expected a positive whole number, got ${opts.runs}`, { field: '--runs' });
  const runner = await createRunner(openModel(path), opts.runtime ?? 'wasm');
  try {
    const feeds = opts.inputs ? bindInputs(runner.inputs, readTensorDir(opts.inputs), path) : syntheticInputs(runner, parseShapes(opts.shape), path);
    runner.run(feeds); // warm-up: plans memory, packs weights, JIT
    const times: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const t0 = performance.now();
      runner.run(feeds);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const m = runner.memory;
    const report: BenchReport = {
      model: path,
      engine: runner.engine,
      runs: opts.runs,
      medianMs: times[Math.floor(times.length / 2)]!,
      bestMs: times[0]!,
      fallbacks: runner.fallbacks,
      memory: m && { weights: m.weights, peakActivations: m.peakActivations, wasmPeak: m.wasmPeak },
    };
    if (opts.json) io.out(JSON.stringify(report, null, 2) + '\n');
    else {
      io.out(`${path} on ${report.engine}: median ${report.medianMs.toFixed(2)} ms, best ${report.bestMs.toFixed(2)} ms over ${opts.runs} runs\n`);
      if (report.memory) {
        io.out(`memory: weights ${formatBytes(report.memory.weights)}, activations ${formatBytes(report.memory.peakActivations)}, WebAssembly peak ${formatBytes(report.memory.wasmPeak)}\n`);
      }
      if (report.fallbacks.length) io.out(`interpreter fallbacks: ${report.fallbacks.join(', ')}\n`);
    }
    return report;
  } finally {
    runner.dispose();
  }
}
