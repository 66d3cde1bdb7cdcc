/** slimc_depthwise_conv_f32 (NCHW) against the definition of a depthwise convolution. */
import { beforeAll, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { GEOMETRY_LENGTH } from '../wasm/exports.js';
import { KernelLibrary } from '../wasm/kernel-library.js';

let library: KernelLibrary;
beforeAll(async () => {
  library = await KernelLibrary.load();
});

/** out[n][c][oy][ox] = bias[c] + sum over in-image taps, straight from the definition. */
function reference(x: Float32Array, w: Float32Array, bias: Float32Array, g: { batch: number; channels: number; height: number; width: number;
  kernel: [number, number]; strides: [number, number]; dilations: [number, number]; pads: [number, number, number, number] }) {
  const [kh, kw] = g.kernel;
  const oh = Math.floor((g.height + g.pads[0] + g.pads[2] - g.dilations[0] * (kh - 1) - 1) / g.strides[0]) + 1;
  const ow = Math.floor((g.width + g.pads[1] + g.pads[3] - g.dilations[1] * (kw - 1) - 1) / g.strides[1]) + 1;
  const out = new Float32Array(g.batch * g.channels * oh * ow);
  for (let n = 0; n < g.batch; n++) for (let c = 0; c < g.channels; c++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    let acc = bias[c]!;
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const iy = oy * g.strides[0] - g.pads[0] + ky * g.dilations[0];
      const ix = ox * g.strides[1] - g.pads[1] + kx * g.dilations[1];
      if (iy >= 0 && iy < g.height && ix >= 0 && ix < g.width) acc += x[((n * g.channels + c) * g.height + iy) * g.width + ix]! * w[(c * kh + ky) * kw + kx]!;
    }
    out[((n * g.channels + c) * oh + oy) * ow + ox] = acc;
  }
  return { out, oh, ow };
}

const arbGeometry = fc.record({
  batch: fc.integer({ min: 1, max: 2 }), channels: fc.integer({ min: 1, max: 4 }),
  height: fc.integer({ min: 3, max: 9 }), width: fc.integer({ min: 3, max: 9 }),
  kernel: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
  strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  dilations: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  pads: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
}).filter((g) => g.height + g.pads[0] + g.pads[2] > g.dilations[0] * (g.kernel[0] - 1) && g.width + g.pads[1] + g.pads[3] > g.dilations[1] * (g.kernel[1] - 1));

test.prop([arbGeometry, fc.integer()])('depthwise convolution equals the definition (strides, dilations, asymmetric pads)', (g, seed) => {
  const values = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 1.7 + k));
  const x = values(g.batch * g.channels * g.height * g.width, 1);
  const w = values(g.channels * g.kernel[0] * g.kernel[1], 2);
  const bias = values(g.channels, 3);
  const want = reference(x, w, bias, g);
  const pads = g.pads;
  const run = (lo: number, hi: number) => {
    const ptrs = [x, w, bias].map((a) => {
      const ptr = library.alloc(a.byteLength);
      library.write(ptr, a);
      return ptr;
    });
    const geometry = library.alloc(GEOMETRY_LENGTH * 4);
    const out = library.alloc(want.out.length * 4);
    library.view(Int32Array, geometry, GEOMETRY_LENGTH).set([g.batch, g.height, g.width, g.channels, g.channels, g.kernel[0], g.kernel[1],
      g.channels, g.strides[0], g.strides[1], g.dilations[0], g.dilations[1], pads[0], pads[1], pads[2], pads[3]]);
    library.exports.slimc_depthwise_conv_f32(geometry, ptrs[0]!, ptrs[1]!, ptrs[2]!, lo, hi, out);
    const result = library.view(Float32Array, out, want.out.length).slice();
    [...ptrs, geometry, out].forEach((p) => library.free(p));
    return result;
  };
  const out = run(-Infinity, Infinity);
  for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(want.out[i]!, 5);
  const clamped = run(-0.5, 0.75);
  for (let i = 0; i < out.length; i++) expect(clamped[i]).toBeCloseTo(Math.min(0.75, Math.max(-0.5, want.out[i]!)), 5);
});
