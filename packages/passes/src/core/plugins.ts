/**
 * Loading plugins by package name or path, and finding a project's slimc config.
 *
 * A plugin module exports the plugin as its default export or as `plugin`; either may also be a
 * factory taking no arguments. Names resolve like Node's own resolution from `fromDir` (so a plugin
 * installed in the project's node_modules is found); paths resolve relative to `fromDir`.
 *
 * Config: `slimc.config.mjs` (default export) or `slimc.config.json`, found by walking up from the
 * working directory: `{ plugins?: (Plugin | string)[]; pipeline?: string }`. Plugin strings in a
 * config resolve relative to the config's directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SlimcError } from '@slimc/ir';
import type { Plugin } from './pass.js';

function isPlugin(x: unknown): x is Plugin {
  return typeof x === 'object' && x !== null && typeof (x as Plugin).name === 'string' && typeof (x as Plugin).apply === 'function';
}

/** Resolves `spec` (package name or path) from `fromDir` to a file. */
export function resolvePluginPath(spec: string, fromDir: string): string {
  const require = createRequire(join(fromDir, 'noop.js'));
  const target = spec.startsWith('.') || isAbsolute(spec) ? resolve(fromDir, spec) : spec;
  try {
    return require.resolve(target);
  } catch (e) {
    throw new SlimcError('invalid-argument', `cannot find plugin "${spec}" from ${fromDir}`, { field: 'plugins', value: spec }, { cause: e });
  }
}

export async function loadPlugin(spec: string, fromDir: string = process.cwd()): Promise<Plugin> {
  const file = resolvePluginPath(spec, fromDir);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new SlimcError('invalid-argument', `plugin "${spec}" failed to load: ${msg}`, { field: 'plugins', value: spec }, { cause: e });
  }
  for (const candidate of [mod.default, mod.plugin]) {
    const p = typeof candidate === 'function' && !isPlugin(candidate) ? (candidate as () => unknown)() : candidate;
    if (isPlugin(p)) return p;
  }
  throw new SlimcError('invalid-argument', `plugin "${spec}" exports no plugin (default export or \`plugin\` with name and apply)`, {
    field: 'plugins',
    value: spec,
  });
}

export interface SlimcConfig {
  /** The config file. */
  path: string;
  plugins: (Plugin | string)[];
  pipeline?: string;
}

const CONFIG_FILES = ['slimc.config.mjs', 'slimc.config.js', 'slimc.config.json'];

/** The nearest config file at or above `cwd`, or undefined. */
export function findConfig(cwd: string = process.cwd()): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const f of CONFIG_FILES) {
      const p = join(dir, f);
      if (existsSync(p)) return p;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export async function loadConfig(path: string): Promise<SlimcConfig> {
  let raw: unknown;
  try {
    raw = path.endsWith('.json')
      ? JSON.parse(readFileSync(path, 'utf8'))
      : ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new SlimcError('invalid-argument', `cannot read config: ${msg}`, { model: path }, { cause: e });
  }
  const cfg = (raw ?? {}) as { plugins?: unknown; pipeline?: unknown };
  if (cfg.plugins !== undefined && !Array.isArray(cfg.plugins)) {
    throw new SlimcError('invalid-argument', 'plugins must be a list', { model: path, field: 'plugins' });
  }
  if (cfg.pipeline !== undefined && typeof cfg.pipeline !== 'string') {
    throw new SlimcError('invalid-argument', 'pipeline must be a string', { model: path, field: 'pipeline' });
  }
  // Plugin paths in a config are relative to the config, not to wherever slimc runs.
  const dir = dirname(path);
  const plugins = ((cfg.plugins ?? []) as unknown[]).map((p) => {
    if (typeof p === 'string') return p.startsWith('.') ? resolve(dir, p) : p;
    if (isPlugin(p)) return p;
    throw new SlimcError('invalid-argument', 'each plugin must be a name, a path or a plugin object', { model: path, field: 'plugins' });
  });
  return { path, plugins, pipeline: cfg.pipeline };
}
