// Single-threaded GEMM throughput of the kernel library: int8 GEMM (requantized int8 output) in
// GOPS and float32 GEMM in GFLOPS (2*M*N*K operations per call), for the WebAssembly build in
// this Node and for the native gcc build (packages/backends/kernels, `make bench`) side by side;
// then int8 convolutions of typical layers (wasm), counting 2*MACs as the operations. For
// reference, the float32 MatMul of onnxruntime-node (native, one intra-op thread) on the same
// shapes: what slimc's int8 runtime is measured against when compared with onnxruntime's float.
// Usage: node bench/gemm.mjs [--no-native]   (needs `npm run build` for the loader in dist/)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { KernelLibrary } from '../packages/backends/dist/wasm/index.js';
import { encodeOnnx } from '../packages/backends/dist/index.js';
import { Graph, Model, makeTensor } from '../packages/ir/dist/index.js';

const shapes = [
  [256, 256, 256],
  [1024, 1024, 1024],
  [3136, 64, 576], // M = 56*56 pixels, N = 64 channels, K = 3*3*64: a ResNet-style 3x3 conv
];

/**
 * Seconds per call (of a function or one returning a promise): the fastest single call over ~2 s
 * of calls, timed in process CPU time. The machine is shared, so wall time counts other processes'
 * slices; CPU time of the fastest call is the best estimate of the uncontended speed (the native
 * bench uses the same method).
 */
async function bestTime(call) {
  await call();
  let best = Infinity;
  const end = performance.now() + 2000;
  for (let n = 0; n < 5 || performance.now() < end; n++) {
    const t0 = process.cpuUsage();
    await call();
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  return best;
}

/** onnxruntime-node's float32 MatMul [M, K] x constant [K, N], one thread, in GFLOPS. */
async function benchOrtFloat([M, N, K]) {
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const g = new Graph();
  const a = g.addInput('a', { dtype: 'float32', shape: [M, K] });
  const b = g.addConstant('b', makeTensor('float32', [K, N], Float32Array.from({ length: K * N }, () => Math.random() - 0.5)));
  g.addOutput(g.addNode({ op: 'MatMul', inputs: [a, b], outputs: ['y'] }).output(0));
  const model = new Model(g);
  model.opsetImports.set('', 13);
  const session = await ort.InferenceSession.create(encodeOnnx(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = { a: new ort.Tensor('float32', Float32Array.from({ length: M * K }, Math.random), [M, K]) };
  const seconds = await bestTime(() => session.run(feeds));
  await session.release();
  return ((2 * M * N * K) / seconds) * 1e-9;
}

function randomBytes(n) {
  const a = new Int8Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 256) | 0;
  return a;
}

async function benchWasm(lib, [M, N, K]) {
  const x = lib.exports;
  const a = lib.alloc(M * K);
  lib.write(a, randomBytes(M * K));
  const packedB = lib.packB(randomBytes(K * N), K, N);
  const c = lib.alloc(M * N);
  const bias = lib.alloc(N * 4);
  lib.write(bias, new Int32Array(N));
  const mult = lib.alloc(4);
  const shift = lib.alloc(4);
  lib.write(mult, Int32Array.of(2 ** 30));
  lib.write(shift, Int32Array.of(-12));
  const q8 = await bestTime(() => x.slimc_gemm_q8(M, N, K, a, K, 1, 3, packedB.ptr, bias, mult, shift, 0, 0, -128, 127, 1, c, N));

  const af = lib.alloc(M * K * 4);
  lib.write(af, Float32Array.from({ length: M * K }, Math.random));
  const packedF = lib.packBF32(Float32Array.from({ length: K * N }, Math.random), K, N);
  const cf = lib.alloc(M * N * 4);
  const f32 = await bestTime(() => x.slimc_gemm_f32(M, N, K, af, K, packedF.ptr, 0, -Infinity, Infinity, cf, N));
  for (const p of [a, c, bias, mult, shift, af, cf]) lib.free(p);
  packedB.dispose();
  packedF.dispose();
  const ops = 2 * M * N * K;
  return { q8: (ops / q8) * 1e-9, f32: (ops / f32) * 1e-9 };
}

function benchNative() {
  const kernels = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'backends', 'kernels');
  const make = spawnSync('make', ['-s', '-C', kernels, 'bench'], { encoding: 'utf8' });
  const binary = join(kernels, 'build', 'bench_gemm');
  if (make.status !== 0 || !existsSync(binary)) return undefined;
  const run = spawnSync(binary, shapes.flat().map(String), { encoding: 'utf8' });
  if (run.status !== 0) return undefined;
  const figures = new Map();
  for (const line of run.stdout.trim().split('\n')) {
    const [kind, M, N, K, value] = line.split(' ');
    figures.set(`${kind} ${M}x${N}x${K}`, Number(value));
  }
  return figures;
}

/**
 * NHWC int8 convolution layers: [name, H, W, C, Cout, K, groups, stride]; then the PaddleOCR det
 * layers (input 1x3x160x160) where its int8 run spends most time: the 3x3 convolutions of its
 * head, the stem, small-K 1x1 convolutions and a depthwise one.
 */
const convLayers = [
  ['3x3 56x56x64->64', 56, 56, 64, 64, 3, 1, 1],
  ['1x1 56x56x64->256', 56, 56, 64, 256, 1, 1, 1],
  ['3x3 dw 56x56x128 s2', 56, 56, 128, 128, 3, 128, 2],
  ['det Conv.58 3x3 40x40x96->24', 40, 40, 96, 24, 3, 1, 1],
  ['det Conv.0 3x3 s2 160x160x3->16', 160, 160, 3, 16, 3, 1, 2],
  ['det Conv.2 1x1 80x80x16->32', 80, 80, 16, 32, 1, 1, 1],
  ['det Conv.46 1x1 40x40x12->96', 40, 40, 12, 96, 1, 1, 1],
  ['det Conv.33 1x1 40x40x48->12', 40, 40, 48, 12, 1, 1, 1],
  ['det Conv.1 3x3 dw 80x80x16', 80, 80, 16, 16, 3, 16, 1],
];

/** Requantization flags of slimc_kernels.h: per-channel scales, round-once (the runtime's default). */
const REQUANT_PER_CHANNEL_ROUND_ONCE = 3;

/**
 * Seconds per call of one layer as the runtime runs it (round-once requantization with per-channel
 * scales, an int32 bias), without and with a 256-entry output table fused in (hardswish-like).
 */
async function benchConv(lib, [, H, W, C, Cout, k, groups, stride]) {
  const x = lib.exports;
  const pad = (k - 1) >> 1;
  const geometry = Int32Array.of(1, H, W, C, Cout, k, k, groups, stride, stride, 1, 1, pad, pad, pad, pad);
  const OH = Math.floor((H + 2 * pad - k) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - k) / stride) + 1;
  const geo = lib.alloc(geometry.byteLength);
  lib.write(geo, geometry);
  const input = lib.alloc(H * W * C);
  lib.write(input, randomBytes(H * W * C));
  const weights = lib.packConvWeightsS8(randomBytes((Cout * C * k * k) / groups), { outChannels: Cout, channels: C, kernel: [k, k], groups });
  const output = lib.alloc(OH * OW * Cout);
  const scales = lib.alloc(4 * Cout);
  lib.write(scales, Float32Array.from({ length: Cout }, () => 2 ** -12 * (1 + Math.random())));
  const bias = lib.alloc(4 * Cout);
  lib.write(bias, Int32Array.from({ length: Cout }, () => Math.round((Math.random() - 0.5) * 4000)));
  const table = lib.alloc(256);
  lib.write(table, randomBytes(256));
  const run = (outputTable) => () =>
    x.slimc_conv_q8(geo, input, 0, 128, weights.ptr, bias, scales, 0, REQUANT_PER_CHANNEL_ROUND_ONCE, 0, -128, 127, 1, outputTable, output);
  const seconds = await bestTime(run(0));
  const withTable = await bestTime(run(table));
  for (const p of [geo, input, output, scales, bias, table]) lib.free(p);
  weights.dispose();
  return { seconds, withTable, gops: ((2 * OH * OW * Cout * (C / groups) * k * k) / seconds) * 1e-9 };
}

const lib = KernelLibrary.loadSync();
const native = process.argv.includes('--no-native') ? undefined : benchNative();
const fmt = (v) => (v === undefined ? '   n/a' : v.toFixed(1).padStart(6));
console.log('shape (MxNxK)     int8 GOPS wasm  native   f32 GFLOPS wasm  native   onnxruntime-node f32');
for (const [M, N, K] of shapes) {
  const w = await benchWasm(lib, [M, N, K]);
  const key = `${M}x${N}x${K}`;
  const ort = await benchOrtFloat([M, N, K]);
  console.log(`${key.padEnd(18)}${fmt(w.q8)}     ${fmt(native?.get(`q8 ${key}`))}   ${fmt(w.f32)}          ${fmt(native?.get(`f32 ${key}`))}   ${fmt(ort)}`);
}
console.log('\nint8 convolution (NHWC, uint8 in, int8 out)   ms      GOPS (wasm)   ms with an output table');
for (const layer of convLayers) {
  const r = await benchConv(lib, layer);
  console.log(`${layer[0].padEnd(44)}${(r.seconds * 1000).toFixed(3).padStart(6)}   ${r.gops.toFixed(1).padStart(6)}        ${(r.withTable * 1000).toFixed(3)}`);
}
