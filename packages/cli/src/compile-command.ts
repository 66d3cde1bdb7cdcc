/**
 * `slimc compile` and `slimc passes`: the CLI face of the programmatic `compile` API. Plugins come
 * from `--plugin` and from a `slimc.config.mjs` / `slimc.config.json` found from the working
 * directory; the config may also name a default pipeline.
 */
import { dirname } from 'node:path';
import { SingleBar } from 'cli-progress';
import { SlimcError } from '@slimc/ir';
import { compileForWasm, saveOnnx, writeFileAtomic } from '@slimc/backends';
import { compile, createCompiler, describeOptionType, findConfig, loadConfig, type CompileReport, type OptionSpec, type Plugin } from '@slimc/passes';
import type { CliIO, CompileFlags } from './main.js';
import { sameFile } from './main.js';

interface PluginSetup {
  plugins: (Plugin | string)[];
  pluginDir: string;
  pipeline?: string;
}

async function pluginSetup(flags: { plugin?: string[]; config?: boolean }): Promise<PluginSetup> {
  const cwd = process.cwd();
  const setup: PluginSetup = { plugins: [...(flags.plugin ?? [])], pluginDir: cwd };
  if (flags.config === false) return setup;
  const configPath = findConfig(cwd);
  if (!configPath) return setup;
  const config = await loadConfig(configPath);
  // Config plugins resolve from the config's folder; command-line plugins from the working directory.
  const fromConfig = (config.plugins ?? []).map((p) => (typeof p === 'string' && p.startsWith('.') ? `${dirname(configPath)}/${p}` : p));
  setup.plugins.unshift(...fromConfig);
  setup.pipeline = config.pipeline;
  return setup;
}

export async function runCompile(modelPath: string, flags: CompileFlags, io: CliIO): Promise<void> {
  if (sameFile(modelPath, flags.output)) {
    throw new SlimcError('invalid-argument', 'the output would overwrite the input model; choose another -o', { model: modelPath, field: '-o' });
  }
  const setup = await pluginSetup(flags);
  // No pipeline at all means a faithful round trip.
  const pipeline = flags.pipeline ?? setup.pipeline ?? [];
  const bar = io.isTTY && !flags.json ? new SingleBar({ format: 'compiling [{bar}] {value}/{total} {pass}', stream: process.stderr, hideCursor: true, clearOnComplete: true }) : undefined;
  const { model, report, compiler } = await compile(modelPath, {
    pipeline,
    plugins: setup.plugins,
    pluginDir: setup.pluginDir,
    verifyEach: Boolean(flags.verifyEach),
    timings: true,
    dumpAfter: flags.dumpAfter ?? [],
    executor: flags.executor,
    onProgress: bar
      ? (e) => {
          if (e.phase === 'start' && e.index === 0) bar.start(e.total, 0, { pass: e.pass });
          else if (e.phase === 'start') bar.update(e.index, { pass: e.pass });
          else if (e.index === e.total - 1) bar.stop();
        }
      : undefined,
  }).finally(() => bar?.stop());
  await compiler.hooks.beforeEmit.promise(model, { format: flags.target });
  if (flags.target === 'wasm') writeFileAtomic(flags.output, compileForWasm(model));
  else saveOnnx(model, flags.output, { externalData: Boolean(flags.externalData), valueInfo: flags.valueInfo });
  if (flags.json) {
    io.out(JSON.stringify({ output: flags.output, ...report }, null, 2) + '\n');
    return;
  }
  for (const [pass, text] of Object.entries(report.dumps)) io.out(`// IR after ${pass}\n${text}`);
  io.out(formatCompileReport(report, flags.output, Boolean(flags.timings)));
}

export function formatCompileReport(r: CompileReport, output: string, timings: boolean): string {
  const lines: string[] = [];
  if (r.passes.length === 0) lines.push('pipeline  (none: round trip)');
  else lines.push(`pipeline  ${r.pipeline}`);
  for (const p of r.passes) {
    const stats = Object.entries(p.stats).map(([k, v]) => `${k}=${v}`).join(' ');
    const time = timings ? `${p.ms.toFixed(1).padStart(9)} ms  ` : '';
    lines.push(`  ${p.name.padEnd(22)} ${time}nodes ${p.nodesBefore} -> ${p.nodesAfter}${stats ? `  ${stats}` : ''}`);
    for (const w of p.warnings) lines.push(`    warning: ${w}`);
  }
  if (timings) lines.push(`  ${'total'.padEnd(22)} ${r.totals.ms.toFixed(1).padStart(9)} ms`);
  if (r.executor) lines.push(`executor  ${r.executor} (calibration)`);
  lines.push(`nodes     ${r.totals.nodesBefore} -> ${r.totals.nodesAfter}`);
  lines.push(`wrote     ${output}`);
  return lines.join('\n') + '\n';
}

export async function runPassesList(flags: { plugin?: string[]; json?: boolean; config?: boolean }, io: CliIO): Promise<void> {
  const setup = await pluginSetup(flags);
  const compiler = await createCompiler({ plugins: setup.plugins, pluginDir: setup.pluginDir });
  const passes = compiler.listPasses();
  if (flags.json) {
    io.out(JSON.stringify(passes.map((p) => ({ name: p.name, kind: p.kind, description: p.description, options: p.options })), null, 2) + '\n');
    return;
  }
  const lines: string[] = [];
  for (const p of passes) {
    lines.push(`${p.name}  (${p.kind})`);
    lines.push(`    ${p.description}`);
    for (const [name, spec] of Object.entries(p.options as Record<string, OptionSpec>)) {
      const dflt = spec.default === undefined ? '' : ` (default ${JSON.stringify(spec.default)})`;
      lines.push(`    ${name}: ${describeOptionType(spec)}${dflt}  ${spec.description}`.trimEnd());
    }
  }
  io.out(lines.join('\n') + '\n');
}
