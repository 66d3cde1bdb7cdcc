// Use-list edits on one value with many users: erasing the users first to last, last to first and
// in a shuffled order, and moving every use to another value and back. Each removal should cost
// O(1) whatever its position in the use list, so the three erase orders take about the same time
// per use and 10x the users takes about 10x the time.
//
// Usage: node bench/use-lists.mjs [users...]   (after `tsc -b`; default 20000 200000)
import { Graph } from '@slimc/ir';

function fanOut(users) {
  const g = new Graph('main');
  const x = g.addInput('x');
  const nodes = [];
  for (let i = 0; i < users; i++) nodes.push(g.addNode({ op: 'Relu', inputs: [x], outputs: ['r'] }));
  return { g, x, nodes };
}

/** Deterministic Fisher-Yates shuffle (xorshift32). */
function shuffled(list) {
  const out = [...list];
  let s = 0x9e3779b9;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function time(fn) {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

// Warm-up, so the first size is not timing the JIT.
for (const n of fanOut(5000).nodes) n.erase();

const sizes = process.argv.slice(2).map(Number);
for (const users of sizes.length ? sizes : [20_000, 200_000]) {
  const row = [];
  for (const [order, arrange] of [
    ['first-to-last', (n) => n],
    ['last-to-first', (n) => [...n].reverse()],
    ['shuffled', shuffled],
  ]) {
    const { nodes } = fanOut(users);
    const ms = time(() => {
      for (const n of arrange(nodes)) n.erase();
    });
    row.push(`${order} ${((ms * 1e6) / users).toFixed(0)} ns/use`);
  }
  const { g, x } = fanOut(users);
  const y = g.addInput('y');
  const ms = time(() => {
    x.replaceAllUsesWith(y);
    y.replaceUsesWhere(x, (u) => u.user.id % 2 === 0);
  });
  row.push(`replace ${((ms * 1e6) / users).toFixed(0)} ns/use`);
  console.log(`${String(users).padStart(7)} users: erase ${row.join(', ')}`);
}
