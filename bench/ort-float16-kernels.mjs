// Which ops onnxruntime-node's CPU provider runs natively in float16, and which it wraps in its own
// float32 Casts (its InsertCastTransformer does that for a float16 node without a float16 kernel,
// so such a model still loads and runs). Each op is built as a one-node float16 model with slimc's
// IR, loaded with the optimized model saved, and the saved graph is checked for inserted Casts.
// convert-float16 cites these figures for its deny-list decisions.
//
// Run `npx tsc -b` first: this imports the built packages.
// Usage: node bench/ort-float16-kernels.mjs
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { Graph, Model, makeTensor } = await import(join(root, 'packages/ir/dist/index.js'));
const { encodeOnnx, decodeOnnx } = await import(join(root, 'packages/backends/dist/index.js'));

const half = (shape) => ({ dtype: 'float16', shape });
const ints = (...value) => ({ kind: 'ints', value });
const X = [1, 4, 8, 8];

/** op -> (graph, x) => inputs and attributes of the node under test. */
const CASES = {
  Relu: () => ({}),
  Sigmoid: () => ({}),
  Tanh: () => ({}),
  Abs: () => ({}),
  Neg: () => ({}),
  Sqrt: () => ({}),
  Exp: () => ({}),
  Erf: () => ({}),
  HardSigmoid: () => ({}),
  Softmax: () => ({}),
  Round: () => ({}),
  Add: (g, x) => ({ inputs: [x, x] }),
  Mul: (g, x) => ({ inputs: [x, x] }),
  Div: (g, x) => ({ inputs: [x, x] }),
  Pow: (g, x) => ({ inputs: [x, x] }),
  Max: (g, x) => ({ inputs: [x, x] }),
  MatMul: (g, x) => ({ inputs: [x, x] }),
  Conv: (g, x) => ({ inputs: [x, g.addConstant('w', makeTensor('float16', [4, 4, 3, 3]))] }),
  MaxPool: () => ({ attrs: { kernel_shape: ints(2, 2) } }),
  AveragePool: () => ({ attrs: { kernel_shape: ints(2, 2) } }),
  GlobalAveragePool: () => ({}),
  ReduceMean: () => ({ attrs: { axes: ints(1) } }),
  Clip: () => ({}),
  Resize: (g, x) => ({ inputs: [x, null, g.addConstant('scales', makeTensor('float32', [4], [1, 1, 2, 2]))] }),
  Transpose: () => ({ attrs: { perm: ints(0, 2, 3, 1) } }),
  Reshape: (g, x) => ({ inputs: [x, g.addConstant('shape', makeTensor('int64', [2], [1n, -1n]))] }),
  Concat: (g, x) => ({ inputs: [x, x], attrs: { axis: { kind: 'int', value: 1 } } }),
  Slice: (g, x) => ({ inputs: [x, g.addConstant('starts', makeTensor('int64', [1], [0n])), g.addConstant('ends', makeTensor('int64', [1], [2n]))] }),
  LayerNormalization: (g, x) => ({ inputs: [x, g.addConstant('scale', makeTensor('float16', [8]))] }),
};

const dir = mkdtempSync(join(tmpdir(), 'slimc-fp16-'));
const native = [];
const wrapped = [];
try {
  for (const [op, build] of Object.entries(CASES)) {
    const m = new Model(new Graph('main'));
    m.opsetImports.set('', 17);
    const g = m.graph;
    const x = g.addInput('x', half(X));
    const { inputs = [x], attrs = {} } = build(g, x);
    g.addOutput(g.addNode({ op, inputs, attrs, outputs: [{ name: 'y' }] }).output(0));
    const saved = join(dir, `${op}.onnx`);
    const session = await ort.InferenceSession.create(encodeOnnx(m), { graphOptimizationLevel: 'disabled', optimizedModelFilePath: saved });
    await session.release();
    const ops = [...decodeOnnx(readFileSync(saved)).graph.nodes()].map((n) => n.op);
    (ops.includes('Cast') ? wrapped : native).push(op);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`onnxruntime-node ${ort.env.versions?.common ?? ''} CPU, opset 17, float16 in and out:`);
console.log(`  native float16 kernel: ${native.join(' ')}`);
console.log(`  run through inserted float32 Casts: ${wrapped.join(' ')}`);
