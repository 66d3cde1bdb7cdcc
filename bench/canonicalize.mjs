// Canonicalize on generated graphs of 10k, 100k and 1M nodes: time per node and the 1M/100k ratio
// (linear scaling would give 10x; the goal is < 12x).
//
// Each block of the generated graph (12 nodes, 2 initializers) holds every kind of work the
// pipeline does: an initializer that duplicates one of 8 distinct tensors (deduplicate), an
// Identity (eliminate-identity), a Constant node times an initializer (fold-constants), a diamond
// of elementwise ops with a duplicated Relu (CSE), and a dead Neg (dead code). Blocks chain, so the
// graph is one long dependency path with local diamonds.
//
// Usage: node bench/canonicalize.mjs [sizes...]   (after `tsc -b`; default 10000 100000 1000000)
import { Graph, Model, makeTensor } from '@slimc/ir';
import { Compiler, builtinPlugin } from '@slimc/passes';

const NODES_PER_BLOCK = 12;

function generate(targetNodes) {
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 13);
  const g = model.graph;
  const type = { dtype: 'float32', shape: [4] };
  const node = (op, inputs, attrs) => g.addNode({ op, inputs, attrs, outputs: [{ name: op.toLowerCase(), type }] }).output(0);
  let prev = g.addInput('x', type);
  const blocks = Math.max(1, Math.round(targetNodes / NODES_PER_BLOCK));
  for (let b = 0; b < blocks; b++) {
    const k = b % 8;
    const shift = g.addConstant('shift', makeTensor('float32', [4], [k, k + 1, k + 2, k + 3]));
    const v = node('Identity', [node('Add', [prev, shift])]);
    const c = node('Constant', [], { value: { kind: 'tensor', value: makeTensor('float32', [4], [0.5, 0.25, 0.125, 1]) } });
    const scale = node('Mul', [c, g.addConstant('scale', makeTensor('float32', [4], [1, 2, 3, 4]))]);
    const v2 = node('Mul', [v, scale]);
    const a = node('Relu', [v2]);
    const s = node('Sigmoid', [v2]);
    const d = node('Add', [a, s]);
    const aDup = node('Relu', [v2]);
    const dDup = node('Add', [aDup, s]);
    node('Neg', [d]); // dead
    prev = node('Mul', [d, dDup]);
  }
  g.addOutput(prev);
  return model;
}

// Warm-up, so the first size is not timing the JIT.
await new Compiler({ verifyEach: false }).use(builtinPlugin).run(generate(5000), 'canonicalize');

// Each size runs several times on a fresh graph and the fastest run counts (the usual estimator of
// a benchmark's cost on a machine where other processes come and go); CPU time is printed beside it.
const REPEATS = { 10_000: 5, 100_000: 5, 1_000_000: 3 };
const sizes = process.argv.slice(2).map(Number);
const results = [];
for (const size of sizes.length ? sizes : [10_000, 100_000, 1_000_000]) {
  const runs = [];
  let line = '';
  for (let r = 0; r < (REPEATS[size] ?? 3); r++) {
    const model = generate(size);
    const nodes = model.graph.nodeCount;
    globalThis.gc?.();
    const compiler = new Compiler({ verifyEach: false }).use(builtinPlugin);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const report = await compiler.run(model, 'canonicalize');
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    runs.push({ nodes, ms, cpuMs: (cpu.user + cpu.system) / 1000 });
    const stats = report.passes[0].stats;
    line =
      `${String(nodes).padStart(8)} nodes -> ${String(model.graph.nodeCount).padStart(7)}` +
      ` (folded ${stats['fold-constant'] ?? 0}, identities ${stats['eliminate-identity'] ?? 0}, merged ${stats['nodes-merged'] ?? 0} nodes` +
      ` + ${stats['constants-merged'] ?? 0} constants, dead ${(stats['dead-nodes-erased'] ?? 0) + (stats['nodes-removed'] ?? 0)}, rounds ${stats.rounds})`;
  }
  const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  results.push(best);
  console.log(
    `${line}: fastest of ${runs.length} ${best.ms.toFixed(0)} ms = ${((best.ms * 1000) / best.nodes).toFixed(2)} us/node` +
      ` (CPU ${best.cpuMs.toFixed(0)} ms; all runs ${runs.map((r) => r.ms.toFixed(0)).join('/')} ms)`,
  );
}
// A value with many users that all die: erasing them must not rescan the value's use list each time.
{
  const users = 200_000;
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 13);
  const g = model.graph;
  const x = g.addInput('x', { dtype: 'float32', shape: [4] });
  for (let i = 0; i < users; i++) g.addNode({ op: 'Relu', inputs: [x], outputs: ['r'] });
  g.addOutput(g.addNode({ op: 'Neg', inputs: [x], outputs: ['y'] }).output(0));
  const t0 = performance.now();
  await new Compiler({ verifyEach: false }).use(builtinPlugin).run(model, 'canonicalize');
  console.log(`fan-out: ${users} dead users of one value erased in ${(performance.now() - t0).toFixed(0)} ms`);
}

// Many rewrites hand their uses to one value: each Identity(x) is replaced by x, which ends with
// 100k users. A rewrite must re-queue the users it moves, not every user x already has.
{
  const users = 100_000;
  const model = new Model(new Graph('main'));
  model.opsetImports.set('', 13);
  const g = model.graph;
  const type = { dtype: 'float32', shape: [4] };
  const x = g.addInput('x', type);
  for (let i = 0; i < users; i++) {
    const id = g.addNode({ op: 'Identity', inputs: [x], outputs: [{ name: 'i', type }] }).output(0);
    g.addOutput(g.addNode({ op: 'Relu', inputs: [id], outputs: [{ name: 'r', type }] }).output(0));
  }
  const t0 = performance.now();
  await new Compiler({ verifyEach: false }).use(builtinPlugin).run(model, 'canonicalize');
  console.log(`fan-in: ${users} Identity(x) replaced by x in ${(performance.now() - t0).toFixed(0)} ms`);
}

const big = results.find((r) => r.nodes >= 900_000);
const mid = results.find((r) => r.nodes >= 90_000 && r.nodes < 900_000);
if (big && mid) {
  const ratio = big.ms / mid.ms;
  console.log(
    `time ratio ${big.nodes}/${mid.nodes} nodes: ${ratio.toFixed(2)}x (CPU time ${(big.cpuMs / mid.cpuMs).toFixed(2)}x;` +
      ` ${(big.nodes / mid.nodes).toFixed(1)}x the nodes; goal < 12x)`,
  );
}
