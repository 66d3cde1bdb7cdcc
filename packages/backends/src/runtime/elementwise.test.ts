import { beforeAll, describe, expect, test } from 'vitest';
import { makeTensor, runOp } from '@slimc/ir';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { blockBroadcast } from './elementwise.js';

describe('blockBroadcast', () => {
  test.each([
    [[1, 8, 4, 4], [8, 1, 1], { inner: 16, period: 8 }],
    [[2, 3, 5], [5], { inner: 1, period: 5 }],
    [[2, 3, 5], [], { inner: 1, period: 1 }],
    [[2, 3, 5], [1, 3, 1], { inner: 5, period: 3 }],
    [[2, 3, 5], [2, 1, 5], null], // two broadcast blocks with a gap
    [[2, 3], [4, 2, 3], null], // the smaller side has more dims
    [[2, 3], [2, 4], null],
  ])('%j against %j', (big, small, want) => {
    expect(blockBroadcast(big, small)).toEqual(want);
  });
});

let library: KernelLibrary;
beforeAll(async () => {
  library = await KernelLibrary.load();
});

/** Copies each array into wasm memory, runs `body` on the pointers, frees them. */
function withBuffers(arrays: (Float32Array | Int8Array | Uint8Array)[], body: (...ptrs: number[]) => void): void {
  const ptrs = arrays.map((a) => {
    const ptr = library.alloc(a.byteLength);
    library.write(ptr, a);
    return ptr;
  });
  try {
    body(...ptrs);
  } finally {
    ptrs.forEach((p) => library.free(p));
  }
}

describe('slimc_binary_f32', () => {
  test('matches elementwise broadcasting for per-channel, scalar and swapped operands', () => {
    const a = Float32Array.from({ length: 2 * 3 * 40 }, (_, i) => i * 0.5 - 7);
    const perChannel = Float32Array.from([2, -3, 0.25]);
    const codes: Record<string, [number, number]> = { Add: [0, 0], Sub: [1, 4], Mul: [2, 2], Div: [3, 5] };
    for (const [layout, b, index] of [
      [{ inner: 40, period: 3 }, perChannel, (i: number) => Math.floor(i / 40) % 3],
      [{ inner: 1, period: 3 }, perChannel, (i: number) => i % 3],
      [{ inner: a.length, period: 1 }, Float32Array.from([4]), () => 0],
    ] as const) {
      for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
        for (const swapped of [false, true]) {
          const out = new Float32Array(a.length);
          withBuffers([a, b, out], (pa, pb, po) => {
            library.exports.slimc_binary_f32(codes[op]![swapped ? 1 : 0], a.length, pa!, pb!, layout.inner, layout.period, po!);
            out.set(library.view(Float32Array, po!, a.length));
          });
          const f = { Add: (x: number, y: number) => x + y, Sub: (x: number, y: number) => x - y, Mul: (x: number, y: number) => x * y, Div: (x: number, y: number) => x / y }[op]!;
          const want = Float32Array.from(a, (v, i) => (swapped ? f(b[index(i)]!, v) : f(v, b[index(i)]!)));
          expect(out).toEqual(want);
        }
      }
    }
  });
});

describe('slimc_quantize_f32 / slimc_dequantize_q8', () => {
  test('the interpreter rules: ties to even, saturation, zero point, NaN and infinities; and back', () => {
    const scale = 0.5;
    const special = [0.25, 0.75, -0.25, -0.75, 1.25, 100, -100, 3.1, -0.0, NaN, Infinity, -Infinity, 1e30, 63.25, 62.75];
    // long enough for the 16-wide SIMD loop and its scalar tail, with the special values in both
    const x = Float32Array.from({ length: 3 * special.length }, (_, i) => special[i % special.length]! * (i < special.length ? 1 : 1.5));
    for (const [type, zp] of [['uint8', 128], ['int8', -3]] as const) {
      const q = type === 'int8' ? new Int8Array(x.length) : new Uint8Array(x.length);
      const back = new Float32Array(x.length);
      withBuffers([x, q, back], (px, pq, pb) => {
        library.exports.slimc_quantize_f32(x.length, px!, scale, zp, type === 'int8' ? -128 : 0, type === 'int8' ? 127 : 255, type === 'int8' ? 1 : 0, pq!);
        q.set(library.view(type === 'int8' ? Int8Array : Uint8Array, pq!, x.length));
        library.exports.slimc_dequantize_q8(x.length, pq!, type === 'int8' ? 1 : 0, zp, scale, pb!);
        back.set(library.view(Float32Array, pb!, x.length));
      });
      const want = runOp('QuantizeLinear', [makeTensor('float32', [x.length], x), makeTensor('float32', [], [scale]), makeTensor(type, [], [zp])])[0]!;
      expect(Array.from(q)).toEqual(Array.from(want.data as Int8Array));
      const wantBack = runOp('DequantizeLinear', [want, makeTensor('float32', [], [scale]), makeTensor(type, [], [zp])])[0]!;
      expect(back).toEqual(wantBack.data);
    }
  });
});
