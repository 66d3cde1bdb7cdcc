/**
 * The README's plugin example is real code: extract it, load it as a plugin and check it fuses.
 * (Runs against the built packages, as a third-party plugin would.)
 */
import { expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

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
