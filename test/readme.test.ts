/**
 * The README's examples are real code and its quantization guide follows the code: the plugin
 * example loads and fuses, the calibration example quantizes a real model (both run against the
 * built packages, as a user's code would), the guide's option table is the quantize pass's schema,
 * the `slimc compare` output it shows names tensors of the model it claims to compare, and the
 * command synopsis offers the `--executor` values the CLI takes.
 */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXECUTOR_CHOICES, compile, createCompiler, formatPipeline, type OptionSchema } from '@slimc/passes';
import { PADDLE_CLS } from './fixtures/models.js';

const repo = join(__dirname, '..');

test('the README plugin example loads and fuses x * HardSigmoid(x)', async () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const m = /```js\n(import \{ definePass, definePattern[\s\S]*?)```/.exec(readme);
  expect(m).not.toBeNull();
  const passesUrl = pathToFileURL(join(repo, 'packages/passes/dist/index.js')).href;
  const dir = mkdtempSync(join(tmpdir(), 'slimc-readme-'));
  try {
    const file = join(dir, 'plugin.mjs');
    writeFileSync(file, m![1]!.replaceAll("'@slimc/passes'", `'${passesUrl}'`));
    const plugin = (await import(pathToFileURL(file).href)).default;
    const { compile } = await import(passesUrl);
    const { Graph, Model } = await import(pathToFileURL(join(repo, 'packages/ir/dist/index.js')).href);
    const g = new Graph('main');
    const x = g.addInput('x', { dtype: 'float32', shape: [4] });
    const hs = g.addNode({ op: 'HardSigmoid', inputs: [x], outputs: ['h'], attrs: { alpha: { kind: 'float', value: 1 / 6 }, beta: { kind: 'float', value: 0.5 } } });
    const mul = g.addNode({ op: 'Mul', inputs: [x, hs.output(0)], outputs: ['y'] });
    g.addOutput(mul.output(0));
    const model = new Model(g);
    model.opsetImports.set('', 14);
    const r = await compile(model, { pipeline: 'fuse-hardswish', plugins: [plugin] });
    expect([...r.model.graph.nodes()].map((n: { op: string }) => n.op)).toEqual(['HardSwish']);
    expect(r.report.passes[0].stats['fuse-hardswish']).toBe(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the command synopsis offers the calibration executors compile accepts', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const choices = /\[--executor ([\w|]+)\]/.exec(readme);
  expect(choices).not.toBeNull();
  expect(choices![1]!.split('|')).toEqual([...EXECUTOR_CHOICES]);
});

/** The README section that starts with `heading` (up to the next heading of the same level). */
function readmeSection(readme: string, heading: string): string {
  const level = /^#+/.exec(heading)![0];
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README has no "${heading}" section`).toBeGreaterThanOrEqual(0);
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n${level} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The body rows of the first Markdown table in `text`, as cells (pipes escaped as `\|` stay in their cell). */
function tableRows(text: string): string[][] {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (let i = first + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(lines[i]!.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows;
}

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);

describe('the README quantization guide', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const guide = readmeSection(readme, '## Quantization');

  test('lists every option of the quantize pass, with its values and default, and no other', async () => {
    const compiler = await createCompiler();
    const schema = compiler.getPass('quantize')!.options as OptionSchema;
    const rows = tableRows(readmeSection(guide, '### Options'));
    const documented = rows.map((r) => codeSpans(r[0]!)[0]);
    expect([...documented].sort()).toEqual(Object.keys(schema).sort());
    for (const [name, values, defaultCell] of rows) {
      const option = codeSpans(name!)[0]!;
      const spec = schema[option]!;
      if (spec.type === 'enum') expect(codeSpans(values!), `values of ${option}`).toEqual([...spec.values]);
      // the default as a pipeline spec writes it: quantize(option=VALUE)
      const written = formatPipeline([{ name: 'quantize', options: { [option]: spec.default } }]);
      expect(codeSpans(defaultCell!)[0], `default of ${option}`).toBe(written.slice(`quantize(${option}=`.length, -1));
    }
  });

  test('the sweep output quotes option sets the quantize pass accepts', async () => {
    const compiler = await createCompiler();
    const sweep = /```\n\$ node examples\/demo\/quantize-sweep\.mjs\n[^\n]*\n[^\n]*\n([\s\S]*?)```/.exec(guide);
    expect(sweep).not.toBeNull();
    const sets = sweep![1]!.trim().split('\n').map((line) => line.split(/\s+/)[0]!);
    expect(sets.length).toBeGreaterThan(0);
    for (const set of sets) expect(() => compiler.resolvePipeline(`quantize(${set})`), set).not.toThrow();
  });

  test('names only registered passes among the other quantization passes', async () => {
    const compiler = await createCompiler();
    const passes = tableRows(readmeSection(guide, '### Other quantization passes')).map((r) => codeSpans(r[0]!)[0]!.replace(/\(.*$/, ''));
    expect(passes.length).toBeGreaterThan(0);
    for (const p of passes) expect(compiler.getPass(p), p).toBeDefined();
  });

  test('the slimc compare example lists tensors and nodes of the demo model', async () => {
    const output = /```\n\$ slimc compare [^\n]*\n([\s\S]*?)```/.exec(guide);
    expect(output).not.toBeNull();
    const layers = [...output![1]!.matchAll(/^ +-?[\d.]+ dB {2}(\S+) \((\S+), (\w+)\)$/gm)];
    expect(layers.length).toBeGreaterThan(0);
    // the float model as `slimc compare` pairs it: opset 13, canonicalized
    const { model } = await compile(PADDLE_CLS.path, { pipeline: 'upgrade-opset(to=13),canonicalize' });
    const producers = new Map<string, { label: string; op: string }>();
    for (const n of model.graph.allNodes()) for (const v of n.outputs) if (v) producers.set(v.name, { label: n.label, op: n.op });
    for (const [, value, node, op] of layers) expect(producers.get(value!), value).toEqual({ label: node, op });
    const outputName = /^ {2}(\S+): cosine/m.exec(output![1]!)?.[1];
    expect(outputName).toBe(model.graph.outputs[0]!.name);
  });

  test('the calibration-data example quantizes a real model', async () => {
    const m = /```js\n(import \{ compile, collectSamples \}[\s\S]*?)```/.exec(guide);
    expect(m).not.toBeNull();
    const passesUrl = pathToFileURL(join(repo, 'packages/passes/dist/index.js')).href;
    const dir = mkdtempSync(join(tmpdir(), 'slimc-readme-'));
    try {
      const file = join(dir, 'calibrate.mjs');
      const code = m![1]!
        .replaceAll("'@slimc/passes'", `'${passesUrl}'`)
        .replace("'model.onnx'", JSON.stringify(PADDLE_CLS.path))
        .replace("'calib-images/'", JSON.stringify(join(repo, 'test/data/ocr/calib')));
      writeFileSync(file, `${code}\nexport { model, samples };\n`);
      const { model, samples } = await import(pathToFileURL(file).href);
      expect(samples.length).toBeGreaterThan(0);
      const ops = [...model.graph.allNodes()].map((n: { op: string }) => n.op);
      expect(ops).toContain('QuantizeLinear');
      expect(ops.filter((op: string) => op === 'Conv').length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
