// The Q/DQ rewrites and convert-float16 on generated graphs: time per node at 10k and 100k nodes
// (linear scaling gives a 10x ratio).
//
// cancel-qdq: blocks of x -> Q -> DQ -> Transpose -> Reshape -> Q -> DQ -> Relu, so every block
// moves the middle DequantizeLinear down twice and cancels one pair.
// fold-fake-quant: blocks of MatMul(Q/DQ(x), Q/DQ(W const)) with a 16x16 weight each.
// convert-float16: blocks of MatMul(x, W const) -> Add(bias) -> Relu.
//
// Usage: node bench/qdq-rewrites.mjs [sizes...]   (after `tsc -b`; default 10000 100000)
import { Graph, Model, makeTensor } from '@slimc/ir';
import { Compiler, builtinPlugin } from '@slimc/passes';

function model(build) {
  const m = new Model(new Graph('main'));
  m.opsetImports.set('', 13);
  build(m.graph);
  return m;
}

function helpers(g) {
  const node = (op, inputs, attrs = {}, dtype = 'float32', shape = [4, 4]) =>
    g.addNode({ op, inputs, attrs, outputs: [{ name: op.toLowerCase(), type: { dtype, shape } }] }).output(0);
  const grid = () => [g.addConstant('s', makeTensor('float32', [], [0.05])), g.addConstant('z', makeTensor('uint8', [], [128]))];
  const q = (x) => node('QuantizeLinear', [x, ...grid()], {}, 'uint8');
  const dq = (x) => node('DequantizeLinear', [x, ...grid()]);
  return { node, q, dq };
}

const GENERATORS = {
  'cancel-qdq': [8, (blocks) => model((g) => {
    const { node, q, dq } = helpers(g);
    let v = g.addInput('x', { dtype: 'float32', shape: [4, 4] });
    // One Reshape target shared by every block, as `deduplicate` leaves a model (SHARED_SHAPE=0: one per block).
    const sharedShape = process.env.SHARED_SHAPE !== '0';
    const target = () => g.addConstant('shape', makeTensor('int64', [2], [4n, 4n]));
    const shared = target();
    for (let b = 0; b < blocks; b++) {
      const shape = sharedShape ? shared : target();
      const t = node('Transpose', [dq(q(v))], { perm: { kind: 'ints', value: [1, 0] } });
      v = node('Relu', [dq(q(node('Reshape', [t, shape])))]);
    }
    g.addOutput(v);
  })],
  'fold-fake-quant': [8, (blocks) => model((g) => {
    const { node, q, dq } = helpers(g);
    let v = g.addInput('x', { dtype: 'float32', shape: [4, 16] });
    for (let b = 0; b < blocks; b++) {
      const w = g.addConstant('w', makeTensor('float32', [16, 16], Array.from({ length: 256 }, (_, i) => Math.sin(i + b))));
      v = node('MatMul', [dq(q(v)), dq(q(w))], {}, 'float32', [4, 16]);
    }
    g.addOutput(v);
  })],
  'convert-float16': [3, (blocks) => model((g) => {
    const { node } = helpers(g);
    let v = g.addInput('x', { dtype: 'float32', shape: [4, 16] });
    for (let b = 0; b < blocks; b++) {
      const w = g.addConstant('w', makeTensor('float32', [16, 16], Array.from({ length: 256 }, (_, i) => Math.cos(i + b))));
      const bias = g.addConstant('b', makeTensor('float32', [16], Array.from({ length: 16 }, (_, i) => i / 16)));
      v = node('Relu', [node('Add', [node('MatMul', [v, w], {}, 'float32', [4, 16]), bias], {}, 'float32', [4, 16])], {}, 'float32', [4, 16]);
    }
    g.addOutput(v);
  })],
};

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
for (const [pass, [nodesPerBlock, generate]] of Object.entries(GENERATORS)) {
  const perNode = [];
  for (const size of sizes.length ? sizes : [10000, 100000]) {
    const m = generate(Math.round(size / nodesPerBlock));
    const nodes = m.graph.nodeCount;
    const compiler = new Compiler({ verifyEach: false });
    compiler.use(builtinPlugin);
    const t0 = performance.now();
    const report = await compiler.run(m, pass);
    const ms = performance.now() - t0;
    perNode.push(ms / nodes);
    const stats = Object.entries(report.passes[0].stats).map(([k, n]) => `${k}=${n}`).join(' ');
    console.log(`${pass.padEnd(16)} ${String(nodes).padStart(7)} nodes  ${ms.toFixed(0).padStart(6)} ms  ${((1000 * ms) / nodes).toFixed(2)} µs/node  ${stats}`);
  }
  if (perNode.length > 1) console.log(`${pass.padEnd(16)} time per node, largest / smallest size: ${(perNode[perNode.length - 1] / perNode[0]).toFixed(2)}x`);
}
