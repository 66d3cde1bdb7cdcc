/**
 * Properties of the wasm kernel library: every integer kernel equals a plain TypeScript reference
 * bit for bit (the requantization reference is slimc's own fixed-point module), float kernels
 * agree within 1e-5 relative to the magnitude of the summed terms.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { Graph, Model, interpret, makeTensor, seededRandom } from '@slimc/ir';
import { multiplyByQuantizedMultiplier as referenceMbqm } from '../../../passes/src/quantize/fixed-point.js';
import { KernelLibrary, convOutputExtent, type ConvGeometry, type Q8Array, type Q8Type, type Requantization } from './index.js';

const lib = KernelLibrary.loadSync();

const typeRange = (t: Q8Type): [number, number] => (t === 'int8' ? [-128, 127] : [0, 255]);
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const signedOf = (a: Q8Array): Q8Type => (a instanceof Int8Array ? 'int8' : 'uint8');

const arbQ8Type = fc.constantFrom<Q8Type>('int8', 'uint8');
const arbQ8 = (type: Q8Type, length: number) =>
  fc.array(fc.integer({ min: typeRange(type)[0], max: typeRange(type)[1] }), { minLength: length, maxLength: length })
    .map((v) => (type === 'int8' ? Int8Array.from(v) : Uint8Array.from(v)));
const arbZeroPoint = (type: Q8Type) => fc.integer({ min: typeRange(type)[0], max: typeRange(type)[1] });
/** Q31 multipliers as quantizeMultiplier produces them, with shifts typical of requantization. */
const arbMultiplier = fc.oneof({ arbitrary: fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), weight: 9 },
  { arbitrary: fc.constant(0), weight: 1 });
/** Shifts that map GEMM/conv accumulators (|acc| up to ~2^20) mostly into the 8-bit range, so
 * rounding differences show instead of saturating away. */
const arbShift = fc.integer({ min: -20, max: -4 });
const arbRequant = (channels: number) =>
  fc.record({
    perChannel: fc.boolean(),
    multipliers: fc.array(arbMultiplier, { minLength: channels, maxLength: channels }),
    shifts: fc.array(arbShift, { minLength: channels, maxLength: channels }),
    outputType: arbQ8Type,
    zeroPointSeed: fc.integer({ min: 0, max: 255 }),
    relu: fc.boolean(),
  }).map(({ perChannel, multipliers, shifts, outputType, zeroPointSeed, relu }): Requantization => {
    const zeroPoint = outputType === 'int8' ? zeroPointSeed - 128 : zeroPointSeed;
    return {
      multipliers: perChannel ? multipliers : multipliers.slice(0, 1),
      shifts: perChannel ? shifts : shifts.slice(0, 1),
      zeroPoint, outputType,
      ...(relu ? { min: zeroPoint } : {}),
    };
  });

function referenceRequantize(acc: number, channel: number, r: Requantization): number {
  const c = r.multipliers.length > 1 ? channel : 0;
  const [lo, hi] = typeRange(r.outputType);
  return clamp(r.zeroPoint + referenceMbqm(acc, r.multipliers[c]!, r.shifts[c]!), Math.max(lo, r.min ?? lo), hi);
}

/** A geometry with at least one output pixel. */
const arbGeometry = (opts: { depthwise?: boolean; maxChannels?: number; maxKernel?: number } = {}) =>
  fc.record({
    batch: fc.integer({ min: 1, max: 2 }), height: fc.integer({ min: 1, max: 8 }), width: fc.integer({ min: 1, max: 8 }),
    groups: opts.depthwise ? fc.constant(0) : fc.integer({ min: 1, max: 3 }),
    channelsPerGroup: fc.integer({ min: 1, max: opts.maxChannels ?? 6 }),
    outPerGroup: fc.integer({ min: 1, max: 10 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: opts.maxKernel ?? 3 }), fc.integer({ min: 1, max: opts.maxKernel ?? 3 })),
    strides: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    dilations: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
  }).map((g): ConvGeometry & { outChannels: number; groups: number } => {
    const groups = opts.depthwise ? 8 + g.channelsPerGroup : g.groups; // depthwise: 9..; crosses the 8-lane SIMD step
    const channels = opts.depthwise ? groups : groups * g.channelsPerGroup;
    const outChannels = opts.depthwise ? channels : groups * g.outPerGroup;
    const height = Math.max(g.height, g.dilations[0] * (g.kernel[0] - 1) + 1 - g.pads[0] - g.pads[2]);
    const width = Math.max(g.width, g.dilations[1] * (g.kernel[1] - 1) + 1 - g.pads[1] - g.pads[3]);
    return { batch: g.batch, height, width, channels, outChannels, groups, kernel: g.kernel, strides: g.strides,
      dilations: g.dilations, pads: g.pads };
  });

/** The same geometry with `factor` times the channels in every group. */
const widenChannels = <G extends ConvGeometry & { groups: number }>(g: G, factor: number): G => ({ ...g, channels: g.channels * factor });

/** The same geometry as a 1x1, stride-1, unpadded convolution (the kernels' pointwise path). */
const pointwise = <G extends ConvGeometry>(g: G): G => ({ ...g, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0] });

function outputDims(g: ConvGeometry): [number, number] {
  const [sh, sw] = g.strides ?? [1, 1];
  const [dh, dw] = g.dilations ?? [1, 1];
  const [pt, pl, pb, pr] = g.pads ?? [0, 0, 0, 0];
  return [convOutputExtent(g.height, g.kernel[0], sh, dh, pt, pb), convOutputExtent(g.width, g.kernel[1], sw, dw, pl, pr)];
}

/** Visits the input positions of one output pixel's window; `inside` is false for padding. */
function forWindow(g: ConvGeometry, oy: number, ox: number, visit: (iy: number, ix: number, inside: boolean, tap: number) => void) {
  const [sh, sw] = g.strides ?? [1, 1];
  const [dh, dw] = g.dilations ?? [1, 1];
  const [pt, pl] = g.pads ?? [0, 0, 0, 0];
  for (let ky = 0; ky < g.kernel[0]; ky++) {
    for (let kx = 0; kx < g.kernel[1]; kx++) {
      const iy = oy * sh - pt + ky * dh;
      const ix = ox * sw - pl + kx * dw;
      visit(iy, ix, iy >= 0 && iy < g.height && ix >= 0 && ix < g.width, ky * g.kernel[1] + kx);
    }
  }
}

describe('requantization', () => {
  test.prop([fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), arbMultiplier, fc.integer({ min: -31, max: 30 })], { numRuns: 2000 })(
    'multiplyByQuantizedMultiplier equals the TypeScript fixed-point reference on all int32',
    (x, multiplier, shift) => {
      expect(lib.multiplyByQuantizedMultiplier(x, multiplier, shift)).toBe(referenceMbqm(x, multiplier, shift));
    });

  test.prop([fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 21 }), fc.nat(), fc.boolean()])(
    'requantize (SIMD path) equals the reference, including saturating left shifts',
    (rows, cols, seed, bigShifts) => {
      const rng = seededRandom(seed);
      const r: Requantization = {
        multipliers: Array.from({ length: cols }, () => 2 ** 30 + Math.floor(rng() * 2 ** 30)),
        shifts: Array.from({ length: cols }, () => (bigShifts ? Math.floor(rng() * 31) : -Math.floor(rng() * 24))),
        zeroPoint: Math.floor(rng() * 256) - 128, outputType: 'int8',
      };
      // mostly accumulators whose result lands near the output range (|acc·2^shift| ~ 2^7), some
      // over the whole int32 range (saturation of x·2^shift)
      const acc = Int32Array.from({ length: rows * cols }, (_, i) => {
        const scale = rng() < 0.8 ? 2 ** Math.min(31, Math.max(1, 8 - r.shifts[i % cols]!)) : 2 ** 32;
        return Math.floor((rng() - 0.5) * scale);
      });
      const got = lib.requantize(acc, rows, cols, r);
      const want = Array.from(acc, (v, i) => referenceRequantize(v, i % cols, r));
      expect(Array.from(got)).toEqual(want);
    });
});


describe('int8 GEMM', () => {
  const arbCase = fc.record({
    M: fc.integer({ min: 1, max: 13 }), N: fc.integer({ min: 1, max: 19 }), K: fc.integer({ min: 1, max: 40 }),
    aType: arbQ8Type, bType: arbQ8Type, ldaExtra: fc.nat(3), layout: fc.constantFrom<'kn' | 'nk'>('kn', 'nk'),
    perChannelZp: fc.boolean(), withBias: fc.boolean(),
  }).chain((c) => fc.record({
    c: fc.constant(c),
    a: arbQ8(c.aType, c.M * (c.K + c.ldaExtra)),
    b: arbQ8(c.bType, c.K * c.N),
    aZeroPoint: arbZeroPoint(c.aType),
    bZeroPoints: fc.array(arbZeroPoint(c.bType), { minLength: c.perChannelZp ? c.N : 1, maxLength: c.perChannelZp ? c.N : 1 }),
    bias: fc.array(fc.integer({ min: -100000, max: 100000 }), { minLength: c.N, maxLength: c.N }),
    requant: arbRequant(c.N),
  }));

  test.prop([arbCase], { numRuns: 150 })('int32 and requantized outputs equal the reference', ({ c, a, b, aZeroPoint, bZeroPoints, bias, requant }) => {
    const { M, N, K } = c;
    const lda = K + c.ldaExtra;
    const packed = lib.packB(b, K, N, { layout: c.layout, zeroPoints: bZeroPoints });
    const biasArray = c.withBias ? Int32Array.from(bias) : undefined;
    const acc = lib.gemmS8(a, M, packed, { aZeroPoint, lda, ...(biasArray ? { bias: biasArray } : {}) });
    const q = lib.gemmS8(a, M, packed, { aZeroPoint, lda, requant, ...(biasArray ? { bias: biasArray } : {}) });
    packed.dispose();
    const want = new Int32Array(M * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = biasArray ? biasArray[n]! : 0;
        const zb = bZeroPoints[bZeroPoints.length > 1 ? n : 0]!;
        for (let k = 0; k < K; k++) {
          const bv = c.layout === 'kn' ? b[k * N + n]! : b[n * K + k]!;
          sum += (a[m * lda + k]! - aZeroPoint) * (bv - zb);
        }
        want[m * N + n] = sum;
      }
    }
    expect(Array.from(acc)).toEqual(Array.from(want));
    expect(signedOf(q)).toBe(requant.outputType);
    expect(Array.from(q)).toEqual(Array.from(want, (v, i) => referenceRequantize(v, i % N, requant)));
  });

  test('large blocks (several A blocks, partial tiles) equal the reference', () => {
    const rng = seededRandom(7);
    const [M, N, K] = [203, 37, 300];
    const a = Uint8Array.from({ length: M * K }, () => Math.floor(rng() * 256));
    const b = Int8Array.from({ length: K * N }, () => Math.floor(rng() * 256) - 128);
    const packed = lib.packB(b, K, N);
    const acc = lib.gemmS8(a, M, packed, { aZeroPoint: 131 });
    packed.dispose();
    let mismatches = 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += (a[m * K + k]! - 131) * b[k * N + n]!;
        if (acc[m * N + n] !== sum) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });
});

/** Direct NHWC convolution in int32 (before requantization). */
function referenceConvAcc(x: Q8Array, g: ConvGeometry & { outChannels: number; groups: number }, w: Q8Array, zx: number,
  zw: number[], bias: Int32Array | undefined): Int32Array {
  const [oh, ow] = outputDims(g);
  const cg = g.channels / g.groups;
  const og = g.outChannels / g.groups;
  const [kh, kw] = g.kernel;
  const out = new Int32Array(g.batch * oh * ow * g.outChannels);
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < g.outChannels; o++) {
          let sum = bias ? bias[o]! : 0;
          const group = Math.floor(o / og);
          forWindow(g, oy, ox, (iy, ix, inside, tap) => {
            for (let c = 0; c < cg; c++) {
              const xv = inside ? x[((n * g.height + iy) * g.width + ix) * g.channels + group * cg + c]! : zx;
              const wv = w[(o * cg + c) * kh * kw + tap]! - zw[zw.length > 1 ? o : 0]!;
              sum += (xv - zx) * wv;
            }
          });
          out[((n * oh + oy) * ow + ox) * g.outChannels + o] = sum;
        }
      }
    }
  }
  return out;
}

describe('int8 convolution', () => {
  const arbConvCase = (geometry: ReturnType<typeof arbGeometry>) => fc.record({
    g: geometry, xType: arbQ8Type, wType: arbQ8Type, perChannelZp: fc.boolean(), withBias: fc.boolean(),
    table: fc.option(fc.uint8Array({ minLength: 256, maxLength: 256 }), { nil: undefined }),
  }).chain((c) => fc.record({
    c: fc.constant(c),
    x: arbQ8(c.xType, c.g.batch * c.g.height * c.g.width * c.g.channels),
    w: arbQ8(c.wType, c.g.outChannels * (c.g.channels / c.g.groups) * c.g.kernel[0] * c.g.kernel[1]),
    zx: arbZeroPoint(c.xType),
    zw: fc.array(arbZeroPoint(c.wType), { minLength: c.perChannelZp ? c.g.outChannels : 1, maxLength: c.perChannelZp ? c.g.outChannels : 1 }),
    bias: fc.array(fc.integer({ min: -50000, max: 50000 }), { minLength: c.g.outChannels, maxLength: c.g.outChannels }),
    requant: arbRequant(c.g.outChannels),
  }));

  const check = ({ c, x, w, zx, zw, bias, requant }: {
    c: { g: ConvGeometry & { outChannels: number; groups: number }; withBias: boolean; table?: Uint8Array };
    x: Q8Array; w: Q8Array; zx: number; zw: number[]; bias: number[]; requant: Requantization;
  }) => {
    const { g } = c;
    const biasArray = c.withBias ? Int32Array.from(bias) : undefined;
    const packed = lib.packConvWeightsS8(w, { outChannels: g.outChannels, channels: g.channels, kernel: g.kernel, groups: g.groups, zeroPoints: zw });
    const { output, shape } = lib.convS8(x, g, packed, { inputZeroPoint: zx, requant, ...(biasArray ? { bias: biasArray } : {}),
      ...(c.table ? { outputTable: c.table } : {}) });
    packed.dispose();
    expect(shape).toEqual([g.batch, ...outputDims(g), g.outChannels]);
    const acc = referenceConvAcc(x, g, w, zx, zw, biasArray);
    // an output table maps each output byte; its entries are read back in the output type
    const mapped = (v: number) => {
      if (!c.table) return v;
      const entry = c.table[v & 255]!;
      return requant.outputType === 'int8' ? (entry << 24) >> 24 : entry;
    };
    expect(Array.from(output)).toEqual(Array.from(acc, (v, i) => mapped(referenceRequantize(v, i % g.outChannels, requant))));
  };

  test.prop([arbConvCase(arbGeometry())], { numRuns: 120 })('grouped im2col + GEMM equals direct convolution', check);
  // 9 to 80 channels: the kernel's 32-channel blocks, 8-channel blocks and scalar tail
  test.prop([arbConvCase(arbGeometry({ depthwise: true, maxChannels: 72 }))], { numRuns: 80 })('depthwise kernel equals direct convolution', check);
  // windows up to 5x5, odd and even tap counts (taps go in pairs, an odd window's last one alone)
  test.prop([arbConvCase(arbGeometry({ depthwise: true, maxChannels: 40, maxKernel: 5 }))], { numRuns: 40 })(
    'depthwise kernel with windows up to 5x5 equals direct convolution', check);
  test.prop([arbConvCase(arbGeometry().map(pointwise))], { numRuns: 60 })(
    'pointwise (1x1) path equals direct convolution', check);
  // channels per group a multiple of 8: A panels packed straight from the input, no im2col
  test.prop([arbConvCase(arbGeometry({ maxChannels: 3 }).map((g) => widenChannels(g, 8)))], { numRuns: 80 })(
    'A packed from the input (channels per group a multiple of 8) equals direct convolution', check);
});

describe('large convolutions (several im2col chunks and GEMM row blocks)', () => {
  const g = { batch: 1, height: 48, width: 48, channels: 16, outChannels: 24, groups: 1, kernel: [3, 3] as const,
    strides: [1, 1] as const, dilations: [1, 1] as const, pads: [1, 1, 1, 1] as const };
  const rng = seededRandom(11);
  const x = Uint8Array.from({ length: 48 * 48 * 16 }, () => Math.floor(rng() * 256));
  const w = Int8Array.from({ length: 24 * 16 * 9 }, () => Math.floor(rng() * 256) - 128);

  const checkInt8 = (geometry: ConvGeometry & { outChannels: number; groups: number }, rng: () => number, zeroPoint: number) => {
    const { channels, outChannels } = geometry;
    const input = Uint8Array.from({ length: geometry.height * geometry.width * channels }, () => Math.floor(rng() * 256));
    const weights = Int8Array.from({ length: outChannels * channels * 9 }, () => Math.floor(rng() * 256) - 128);
    const requant: Requantization = { multipliers: Array.from({ length: outChannels }, () => 2 ** 30 + Math.floor(rng() * 2 ** 30)),
      shifts: Array.from({ length: outChannels }, () => -12 - Math.floor(rng() * 3)), zeroPoint: -3, outputType: 'int8' };
    const packed = lib.packConvWeightsS8(weights, { outChannels, channels, kernel: [3, 3] });
    const { output } = lib.convS8(input, geometry, packed, { inputZeroPoint: zeroPoint, requant });
    packed.dispose();
    const acc = referenceConvAcc(input, geometry, weights, zeroPoint, [0], undefined);
    const want = Array.from(acc, (v, i) => referenceRequantize(v, i % outChannels, requant));
    expect(Array.from(output).filter((v, i) => v !== want[i]).length).toBe(0);
  };

  test('int8 equals direct convolution', () => checkInt8(g, seededRandom(12), 120));
  // channels per group a multiple of 8: the input widened to int16 in bands of rows (here 3
  // output rows, 7 input rows of 40 x 72, per band: 7 bands, stride 2)
  test('int8 over several bands of widened input rows equals direct convolution', () =>
    checkInt8({ ...g, height: 40, width: 40, channels: 72, outChannels: 8, strides: [2, 2] as const }, seededRandom(15), 131));
  // 3 input rows of 64 x 136 do not fit the 48 KB band scratch once widened: A packed from the input
  test('int8 with windows too wide to widen equals direct convolution', () =>
    checkInt8({ ...g, height: 5, width: 64, channels: 136, outChannels: 8 }, seededRandom(16), 7));
  // 12 channels: im2col rows (K = 108) in several chunks
  test('int8 through im2col chunks equals direct convolution', () => checkInt8({ ...g, channels: 12 }, seededRandom(14), 120));

  // K = 576, N = 96: a packed B over 96 KB, so A is packed from the input in blocks of 20
  // panels (80 pixels), the second block partial
  test('int8 with A packed from the input in blocks of panels equals direct convolution', () =>
    checkInt8({ ...g, height: 12, width: 12, channels: 64, outChannels: 96 }, seededRandom(13), 7));

  test('float32 within 1e-5 relative', () => {
    const xf = Float32Array.from(x, (v) => (v - 128) / 64);
    const wf = Float32Array.from(w, (v) => v / 128);
    const packed = lib.packConvWeightsF32(wf, { outChannels: 24, channels: 16, kernel: [3, 3] });
    const { output } = lib.convF32(xf, g, packed);
    packed.dispose();
    const acc = referenceConvAcc(x, g, w, 128, [0], undefined); // (x-128)·w, exactly 64·128 times the float sum
    const bad = Array.from(output).findIndex((v, i) => Math.abs(v - acc[i]! / (64 * 128)) > 1e-5 * (16 * 9 * 2 * 1));
    expect(bad).toBe(-1);
  });
});

describe('int8 elementwise', () => {
  const arbBinary = fc.record({ n: fc.integer({ min: 1, max: 70 }), aType: arbQ8Type, bType: arbQ8Type, outType: arbQ8Type, broadcast: fc.boolean() })
    .chain((c) => fc.record({
      c: fc.constant(c), a: arbQ8(c.aType, c.n), b: arbQ8(c.bType, c.broadcast ? 1 : c.n),
      za: arbZeroPoint(c.aType), zb: arbZeroPoint(c.bType), zo: arbZeroPoint(c.outType),
      ma: arbMultiplier, mb: arbMultiplier, mo: arbMultiplier,
      sa: fc.integer({ min: -3, max: 0 }), sb: fc.integer({ min: -3, max: 0 }), so: fc.integer({ min: -22, max: -10 }),
    }));

  test.prop([arbBinary])('add equals the TFLite reference', ({ c, a, b, za, zb, zo, ma, mb, mo, sa, sb, so }) => {
    const out = lib.addS8(a, b, { aZeroPoint: za, aMultiplier: ma, aShift: sa, bZeroPoint: zb, bMultiplier: mb, bShift: sb,
      outMultiplier: mo, outShift: so, outZeroPoint: zo, outputType: c.outType });
    const [lo, hi] = typeRange(c.outType);
    const want = Array.from(a, (av, i) => {
      const bv = b[c.broadcast ? 0 : i]!;
      const sum = referenceMbqm((av - za) * 2 ** 20, ma, sa) + referenceMbqm((bv - zb) * 2 ** 20, mb, sb);
      return clamp(referenceMbqm(sum, mo, so) + zo, lo, hi);
    });
    expect(Array.from(out)).toEqual(want);
  });

  test.prop([arbBinary])('mul equals the reference', ({ c, a, b, za, zb, zo, mo, so }) => {
    const shift = so + 8;
    const out = lib.mulS8(a, b, { aZeroPoint: za, bZeroPoint: zb, multiplier: mo, shift, outZeroPoint: zo, outputType: c.outType });
    const [lo, hi] = typeRange(c.outType);
    expect(Array.from(out)).toEqual(Array.from(a, (av, i) => clamp(referenceMbqm((av - za) * (b[c.broadcast ? 0 : i]! - zb), mo, shift) + zo, lo, hi)));
  });

  test.prop([fc.integer({ min: 1, max: 6 }), fc.array(fc.record({ cols: fc.integer({ min: 1, max: 9 }), type: arbQ8Type, zp: fc.integer({ min: 0, max: 255 }), m: arbMultiplier, s: fc.integer({ min: -2, max: 1 }), seed: fc.nat() }), { minLength: 1, maxLength: 4 }), arbQ8Type, fc.integer({ min: 0, max: 255 })])(
    'concat requantizes each input into its column range', (rows, parts, outType, zoSeed) => {
      const zo = outType === 'int8' ? zoSeed - 128 : zoSeed;
      const inputs = parts.map((p) => {
        const rng = seededRandom(p.seed);
        const data = p.type === 'int8' ? Int8Array.from({ length: rows * p.cols }, () => Math.floor(rng() * 256) - 128)
          : Uint8Array.from({ length: rows * p.cols }, () => Math.floor(rng() * 256));
        return { data, cols: p.cols, zeroPoint: p.type === 'int8' ? p.zp - 128 : p.zp, multiplier: p.m, shift: p.s };
      });
      const out = lib.concatS8(inputs, rows, { zeroPoint: zo, outputType: outType });
      const [lo, hi] = typeRange(outType);
      const want: number[] = [];
      for (let r = 0; r < rows; r++) {
        for (const x of inputs) {
          for (let c = 0; c < x.cols; c++) want.push(clamp(referenceMbqm(x.data[r * x.cols + c]! - x.zeroPoint, x.multiplier, x.shift) + zo, lo, hi));
        }
      }
      expect(Array.from(out)).toEqual(want);
    });

  const roundHalfEven = (v: number) => {
    const f = Math.floor(v);
    const d = v - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  };
  const lutReference: Record<'sigmoid' | 'hardsigmoid' | 'hardswish', (x: number) => number> = {
    sigmoid: (x) => 1 / (1 + Math.exp(-x)),
    hardsigmoid: (x) => Math.max(0, Math.min(1, 0.2 * x + 0.5)),
    hardswish: (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)),
  };
  test.prop([fc.constantFrom('sigmoid', 'hardsigmoid', 'hardswish' as const), arbQ8Type, arbQ8Type, fc.double({ min: 0.001, max: 0.2, noNaN: true }),
    fc.double({ min: 0.001, max: 0.05, noNaN: true }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })])(
    'lookup tables equal the float reference and apply by raw byte', (fn, inType, outType, inScale, outScale, zi, zo) => {
      const input = { scale: inScale, zeroPoint: inType === 'int8' ? zi - 128 : zi, type: inType };
      const output = { scale: outScale, zeroPoint: outType === 'int8' ? zo - 128 : zo, type: outType };
      const table = lib.buildLut(fn, input, output);
      const [lo, hi] = typeRange(outType);
      const want = Array.from({ length: 256 }, (_, byte) => {
        const v = inType === 'int8' ? (byte << 24) >> 24 : byte;
        const q = clamp(roundHalfEven(lutReference[fn](inScale * (v - input.zeroPoint)) / outScale) + output.zeroPoint, lo, hi);
        return q & 0xff;
      });
      expect(Array.from(table)).toEqual(want);
      const x = inType === 'int8' ? Int8Array.from([-128, -1, 0, 5, 127]) : Uint8Array.from([0, 1, 128, 200, 255]);
      const y = lib.applyLut(x, table, outType);
      expect(Array.from(y, (v) => v & 0xff)).toEqual(Array.from(x, (v) => table[v & 0xff]));
    });
});

describe('int8 pooling', () => {
  const arbPool = fc.record({ g: arbGeometry({ maxChannels: 11 }), type: arbQ8Type, includePad: fc.boolean(), seed: fc.nat(), zx: fc.integer({ min: -5, max: 5 }) });

  test.prop([arbPool], { numRuns: 80 })('average and max pooling equal the reference', ({ g: g0, type, includePad, seed, zx }) => {
    const g = { ...g0, groups: 1 };
    const rng = seededRandom(seed);
    const length = g.batch * g.height * g.width * g.channels;
    const x = type === 'int8' ? Int8Array.from({ length }, () => Math.floor(rng() * 256) - 128) : Uint8Array.from({ length }, () => Math.floor(rng() * 256));
    const window = g.kernel[0] * g.kernel[1];
    const multipliers = Array.from({ length: window }, () => 2 ** 30 + Math.floor(rng() * 2 ** 30));
    const shifts = Array.from({ length: window }, () => -Math.floor(rng() * 4));
    const avg = lib.avgPoolS8(x, g, { inputZeroPoint: zx, countIncludePad: includePad, multipliers, shifts, outZeroPoint: 3, outputType: 'int8' });
    const max = lib.maxPoolS8(x, g);
    const [oh, ow] = outputDims(g);
    expect(avg.shape).toEqual([g.batch, oh, ow, g.channels]);
    const wantAvg: number[] = [];
    const wantMax: number[] = [];
    for (let n = 0; n < g.batch; n++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          for (let c = 0; c < g.channels; c++) {
            let sum = 0;
            let count = 0;
            let best = -Infinity;
            forWindow(g, oy, ox, (iy, ix, inside) => {
              if (!inside) return;
              const v = x[((n * g.height + iy) * g.width + ix) * g.channels + c]!;
              sum += v - zx;
              count++;
              best = Math.max(best, v);
            });
            const divisor = includePad ? window : count;
            wantAvg.push(divisor === 0 ? 3 : clamp(referenceMbqm(sum, multipliers[divisor - 1]!, shifts[divisor - 1]!) + 3, -128, 127));
            wantMax.push(best === -Infinity ? typeRange(type)[0] : best);
          }
        }
      }
    }
    expect(Array.from(avg.output)).toEqual(wantAvg);
    expect(Array.from(max.output)).toEqual(wantMax);
  });

  test.prop([fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 20 }), fc.nat(), fc.boolean(),
    // input scales over many decades: the plane sums are taken in integer multiples of a power of
    // two that depends on them (see slimc_global_avgpool_q8)
    fc.integer({ min: -128, max: 255 }), fc.float({ min: Math.fround(1e-12), max: Math.fround(1e6), noNaN: true }),
    fc.float({ min: Math.fround(1e-4), max: 1, noNaN: true }), fc.integer({ min: -20, max: 20 })], { numRuns: 200 })(
    'global average pooling equals the interpreter\'s Q(GlobalAveragePool(DQ(x))) bit for bit', (batch, hw, channels, seed, signedIn, zp, inScale, outScale, outZp) => {
      const rng = seededRandom(seed);
      const inType: Q8Type = signedIn ? 'int8' : 'uint8';
      const inZp = signedIn ? Math.max(-128, Math.min(127, zp)) : Math.max(0, Math.min(255, zp));
      const codes = Array.from({ length: batch * hw * channels }, () => Math.floor(rng() * 256) - (signedIn ? 128 : 0));
      const x = signedIn ? Int8Array.from(codes) : Uint8Array.from(codes);
      const out = lib.globalAvgPoolS8(x, batch, hw, channels, { inputZeroPoint: inZp, inputScale: inScale, outScale, outZeroPoint: outZp, outputType: 'int8' });
      // the same pooling as a DQ -> GlobalAveragePool -> Q graph (NCHW) in the reference interpreter
      const model = new Model(new Graph('gap'));
      model.opsetImports.set('', 19);
      const g = model.graph;
      const input = g.addInput('x', { dtype: inType, shape: [batch, channels, hw, 1] });
      const scalar = (name: string, dtype: 'float32' | Q8Type, v: number) => g.addConstant(name, makeTensor(dtype, [], [v]));
      const dq = g.addNode({ op: 'DequantizeLinear', inputs: [input, scalar('xs', 'float32', inScale), scalar('xz', inType, inZp)], outputs: [{ name: 'dq' }] }).output(0);
      const pooled = g.addNode({ op: 'GlobalAveragePool', inputs: [dq], outputs: [{ name: 'gap' }] }).output(0);
      g.addOutput(g.addNode({ op: 'QuantizeLinear', inputs: [pooled, scalar('ys', 'float32', outScale), scalar('yz', 'int8', outZp)], outputs: [{ name: 'y' }] }).output(0));
      const nchw = new Array<number>(codes.length);
      for (let n = 0; n < batch; n++) for (let p = 0; p < hw; p++) for (let c = 0; c < channels; c++) nchw[(n * channels + c) * hw + p] = codes[(n * hw + p) * channels + c]!;
      const want = interpret(g, { x: makeTensor(inType, [batch, channels, hw, 1], nchw) }, { opset: model.opset })['y']!;
      expect(Array.from(out)).toEqual(Array.from(want.data as Int8Array));
    });
});

describe('float32', () => {
  const arbFloats = (length: number) => fc.array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), { minLength: length, maxLength: length }).map((v) => Float32Array.from(v));

  /** |got - want| <= 1e-5 relative to the sum of the magnitudes of the terms. */
  const expectClose = (got: Float32Array, want: Float64Array, magnitude: Float64Array) => {
    const bad = Array.from(got).findIndex((v, i) => !(Math.abs(v - want[i]!) <= 1e-5 * (magnitude[i]! + 1e-6)));
    expect(bad, bad >= 0 ? `element ${bad}: ${got[bad]} vs ${want[bad]}` : '').toBe(-1);
  };

  test.prop([fc.record({ M: fc.integer({ min: 1, max: 11 }), N: fc.integer({ min: 1, max: 19 }), K: fc.integer({ min: 1, max: 33 }), layout: fc.constantFrom<'kn' | 'nk'>('kn', 'nk'), relu6: fc.boolean() })
    .chain((c) => fc.record({ c: fc.constant(c), a: arbFloats(c.M * c.K), b: arbFloats(c.K * c.N), bias: arbFloats(c.N) }))])(
    'GEMM within 1e-5 relative', ({ c, a, b, bias }) => {
      const { M, N, K } = c;
      const packed = lib.packBF32(b, K, N, { layout: c.layout });
      const got = lib.gemmF32(a, M, packed, { bias, ...(c.relu6 ? { min: 0, max: 6 } : {}) });
      packed.dispose();
      const want = new Float64Array(M * N);
      const magnitude = new Float64Array(M * N);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let sum = bias[n]!;
          let mag = Math.abs(bias[n]!);
          for (let k = 0; k < K; k++) {
            const term = a[m * K + k]! * (c.layout === 'kn' ? b[k * N + n]! : b[n * K + k]!);
            sum += term;
            mag += Math.abs(term);
          }
          want[m * N + n] = c.relu6 ? clamp(sum, 0, 6) : sum;
          magnitude[m * N + n] = mag;
        }
      }
      expectClose(got, want, magnitude);
    });

  test.prop([fc.oneof(arbGeometry(), arbGeometry().map(pointwise)).chain((g) => fc.record({ g: fc.constant(g), x: arbFloats(g.batch * g.height * g.width * g.channels),
    w: arbFloats(g.outChannels * (g.channels / g.groups) * g.kernel[0] * g.kernel[1]), bias: arbFloats(g.outChannels) }))], { numRuns: 80 })(
    'convolution (im2col and pointwise paths) within 1e-5 relative', ({ g, x, w, bias }) => {
      const packed = lib.packConvWeightsF32(w, { outChannels: g.outChannels, channels: g.channels, kernel: g.kernel, groups: g.groups });
      const { output } = lib.convF32(x, g, packed, { bias });
      packed.dispose();
      const [oh, ow] = outputDims(g);
      const cg = g.channels / g.groups;
      const og = g.outChannels / g.groups;
      const want = new Float64Array(output.length);
      const magnitude = new Float64Array(output.length);
      for (let n = 0; n < g.batch; n++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            for (let o = 0; o < g.outChannels; o++) {
              let sum = bias[o]!;
              let mag = Math.abs(bias[o]!);
              const group = Math.floor(o / og);
              forWindow(g, oy, ox, (iy, ix, inside, tap) => {
                if (!inside) return;
                for (let c = 0; c < cg; c++) {
                  const term = x[((n * g.height + iy) * g.width + ix) * g.channels + group * cg + c]! * w[(o * cg + c) * g.kernel[0] * g.kernel[1] + tap]!;
                  sum += term;
                  mag += Math.abs(term);
                }
              });
              const i = ((n * oh + oy) * ow + ox) * g.outChannels + o;
              want[i] = sum;
              magnitude[i] = mag;
            }
          }
        }
      }
      expectClose(output, want, magnitude);
    });
});

describe('loader', () => {
  test('async load instantiates an independent library', async () => {
    const other = await KernelLibrary.load();
    expect(other.exports.memory).not.toBe(lib.exports.memory);
    expect(other.multiplyByQuantizedMultiplier(1000, 2 ** 30, -1)).toBe(250);
  });

  test('typed-array views survive memory growth', () => {
    const before = lib.exports.memory.buffer.byteLength;
    const big = lib.alloc(before + 16 * 1024 * 1024); // forces memory.grow
    expect(lib.exports.memory.buffer.byteLength).toBeGreaterThan(before);
    lib.heapU8[big] = 42;
    expect(lib.view(Uint8Array, big, 1)[0]).toBe(42);
    lib.free(big);
    const packed = lib.packB(Int8Array.from([1, 2, 3, 4]), 2, 2);
    expect(Array.from(lib.gemmS8(Int8Array.from([1, 1]), 1, packed))).toEqual([4, 6]);
    packed.dispose();
  });

  test('degenerate shapes: K = 0 gives the bias, M = 0 an empty result', () => {
    const packed = lib.packB(new Int8Array(0), 0, 3);
    expect(Array.from(lib.gemmS8(new Int8Array(0), 2, packed, { bias: Int32Array.of(5, -6, 7) }))).toEqual([5, -6, 7, 5, -6, 7]);
    expect(lib.gemmS8(new Int8Array(0), 0, packed).length).toBe(0);
    packed.dispose();
  });

  test('rejects mismatched arguments with a SlimcError naming the field', () => {
    expect(() => lib.packB(Int8Array.from([1, 2, 3]), 2, 2)).toThrow(/packB: expected 2x2/);
    const packed = lib.packB(Int8Array.from([1, 2, 3, 4]), 2, 2);
    expect(() => lib.gemmS8(Int8Array.from([1, 1]), 1, packed, { requant: { multipliers: [1, 2, 3], shifts: [0, 0, 0], zeroPoint: 0, outputType: 'int8' } }))
      .toThrow(/expected 1 or 2 multipliers/);
    packed.dispose();
    expect(() => packed.ptr).toThrow(/after dispose/);
  });
});
