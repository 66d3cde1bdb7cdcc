// Throughput of the quantization numeric core (packages/passes/src/quantize):
//  - requantize of int32 accumulators to int8 (Melem/s), per tensor and per channel, against a
//    BigInt formulation of the same gemmlowp arithmetic to show what the exact fast path saves;
//  - calibrator observe() throughput (M values/s) and range() latency with 2048-bin histograms.
// Run `npx tsc -b` first: this imports the built package.
// Usage: node bench/quant-math.mjs
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const q = await import(join(root, 'packages/passes/dist/quantize/index.js'));
const { seededRandom } = await import(join(root, 'packages/ir/dist/index.js'));

/** Fastest of repeated calls over ~0.5 s (the minimum is least disturbed on a shared machine). */
function bestTime(call, budgetMs = 500) {
  call();
  let best = Infinity;
  const end = performance.now() + budgetMs;
  for (let n = 0; n < 3 || performance.now() < end; n++) {
    const t0 = performance.now();
    call();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const random = seededRandom(1);

// ---- requantize ----
const n = 1 << 20;
const acc = Int32Array.from({ length: n }, () => Math.floor((random() - 0.5) * 2 ** 24));
const out = new Int8Array(n);
const m = q.quantizeMultiplier(0.00123);
const tTensor = bestTime(() => q.requantize(acc, out, { ...m, zeroPoint: 3 }));
const channels = 64;
const perChannel = q.quantizeMultipliers(Array.from({ length: channels }, (_, c) => 0.0005 + c * 0.0001));
const tChannel = bestTime(() =>
  q.requantize(acc, out, { multiplier: perChannel.multipliers, shift: perChannel.shifts, zeroPoint: 0, shape: [n / channels / 16, channels, 16], perChannelAxis: 1 }),
);
function bigIntRequantize(accs, outs, multiplier, shift, zp) {
  const M = BigInt(multiplier);
  const right = BigInt(Math.max(-shift, 0));
  const mask = (1n << right) - 1n;
  for (let i = 0; i < accs.length; i++) {
    const ab = BigInt(accs[i]) * M;
    const high = (ab + (ab >= 0n ? 1n << 30n : 1n - (1n << 30n))) / (1n << 31n);
    const threshold = (mask >> 1n) + (high < 0n ? 1n : 0n);
    const v = Number((high >> right) + ((high & mask) > threshold ? 1n : 0n)) + zp;
    outs[i] = v < -128 ? -128 : v > 127 ? 127 : v;
  }
}
const small = acc.subarray(0, n / 16);
const tBig = bestTime(() => bigIntRequantize(small, out, m.multiplier, m.shift, 3)) * 16;
console.log(`requantize int32->int8, ${n} elements:`);
console.log(`  per tensor         ${(n / tTensor / 1e6).toFixed(1)} Melem/s`);
console.log(`  per channel (64)   ${(n / tChannel / 1e6).toFixed(1)} Melem/s`);
console.log(`  BigInt formulation ${(n / tBig / 1e6).toFixed(1)} Melem/s  (fast path ${(tBig / tTensor).toFixed(1)}x)`);

// ---- calibration ----
const batch = Float32Array.from({ length: 1 << 16 }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
console.log(`calibration, 2048-bin histograms, batches of ${batch.length} N(0,1) values:`);
for (const [method, options] of [
  ['minmax', {}],
  ['percentile', { symmetric: true }],
  ['entropy', { symmetric: true }],
  ['entropy', { symmetric: false }],
  ['mse', { symmetric: true }],
  ['mse', { symmetric: false }],
]) {
  const c = q.createCalibrator(method, options);
  const tObserve = bestTime(() => c.observe(batch), 300);
  const tRange = bestTime(() => c.range(), 300);
  const r = c.range();
  const label = `${method}${options.symmetric === undefined ? '' : options.symmetric ? ' (symmetric)' : ' (asymmetric)'}`;
  console.log(
    `  ${label.padEnd(24)} observe ${(batch.length / tObserve / 1e6).toFixed(0).padStart(4)} M values/s   range() ${(tRange * 1e3).toFixed(2).padStart(7)} ms   -> [${r.min.toFixed(3)}, ${r.max.toFixed(3)}]`,
  );
}
