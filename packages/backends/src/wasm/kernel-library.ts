/**
 * Loads slimc_kernels.wasm (the C kernel library built by scripts/build-wasm.sh) and wraps its
 * functions for TypeScript callers.
 *
 * The module is a standalone wasm (no emscripten JS glue): its only import is
 * `env.emscripten_notify_memory_growth`, which we use to drop cached typed-array views, and it
 * exports `_initialize` (the reactor entry that runs C constructors), which runs once at load.
 *
 * Two levels of API:
 *  - `exports`, `alloc`/`free`, `view`/`write`: pointer-level access for the runtime, which keeps
 *    its tensors in wasm memory;
 *  - typed wrappers (`gemmS8`, `convS8`, ...) that copy typed arrays in and out — convenient for
 *    tests, calibration and one-off calls. int8 vs uint8 follows the array type (Int8Array is
 *    int8). Packed weights stay in wasm memory until `dispose()`.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SlimcError } from '@slimc/ir';
import { GEOMETRY_LENGTH, KERNEL_FUNCTIONS, wasmApi, type KernelExports, type WasmModule } from './exports.js';

/** Where the committed build lives: packages/backends/wasm/ (same depth from src/ and dist/). */
export const KERNELS_WASM_URL = new URL('../../wasm/slimc_kernels.wasm', import.meta.url);

export type Q8Array = Int8Array | Uint8Array;
export type Q8Type = 'int8' | 'uint8';

/** int32 -> q8 requantization (math in slimc_kernels.h); one entry, or one per output channel. */
export interface Requantization {
  multipliers: ArrayLike<number>;
  shifts: ArrayLike<number>;
  zeroPoint: number;
  outputType: Q8Type;
  /** Clamp bounds in the quantized domain (fused ReLU/Clip); default: the output type's range. */
  min?: number;
  max?: number;
}

/** NHWC convolution / pooling geometry. */
export interface ConvGeometry {
  batch: number;
  height: number;
  width: number;
  channels: number;
  /** Output channels (convolution only). */
  outChannels?: number;
  kernel: readonly [number, number];
  groups?: number;
  strides?: readonly [number, number];
  dilations?: readonly [number, number];
  /** [top, left, bottom, right], as ONNX pads for 2-D. */
  pads?: readonly [number, number, number, number];
}

export type LutFunction = 'sigmoid' | 'hardsigmoid' | 'hardswish';

type TypedArray = Int8Array | Uint8Array | Int16Array | Int32Array | Float32Array;
type TypedArrayConstructor<T extends TypedArray> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

function invalid(fn: string, field: string, detail: string): SlimcError {
  return new SlimcError('invalid-argument', `${fn}: ${detail}`, { field });
}

function isSigned(a: Q8Array): number {
  return a instanceof Int8Array ? 1 : 0;
}

function q8Range(type: Q8Type): [number, number] {
  return type === 'int8' ? [-128, 127] : [0, 255];
}

/** Output extent of a window sweep: floor((in + pads - dilation*(k-1) - 1) / stride) + 1. */
export function convOutputExtent(input: number, kernel: number, stride: number, dilation: number, padBegin: number,
  padEnd: number): number {
  return Math.floor((input + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Weights packed into wasm memory for one GEMM / convolution kind; free with `dispose()`. */
export class PackedWeights {
  constructor(
    private readonly library: KernelLibrary,
    readonly kind: 'gemm-q8' | 'gemm-f32' | 'conv-q8' | 'conv-f32',
    /** gemm: [K, N]; conv: [Cout, C/groups, KH, KW, groups]. */
    readonly dims: readonly number[],
    private pointer: number,
  ) {}

  get ptr(): number {
    if (this.pointer === 0) throw new SlimcError('internal', `packed ${this.kind} weights used after dispose()`);
    return this.pointer;
  }

  dispose(): void {
    if (this.pointer !== 0) this.library.free(this.pointer);
    this.pointer = 0;
  }
}

/** Allocations that live for one wrapper call. */
class CallScope {
  private readonly pointers: number[] = [];
  constructor(private readonly library: KernelLibrary) {}

  alloc(bytes: number): number {
    const ptr = this.library.alloc(bytes);
    this.pointers.push(ptr);
    return ptr;
  }

  /** Copies `data` into fresh wasm memory (0 for undefined, the C side's NULL). */
  copy(data: TypedArray | undefined): number {
    if (!data) return 0;
    const ptr = this.alloc(data.byteLength);
    this.library.write(ptr, data);
    return ptr;
  }

  int32(values: ArrayLike<number>): number {
    return this.copy(Int32Array.from(values));
  }

  freeAll(): void {
    for (const ptr of this.pointers) this.library.free(ptr);
  }
}

export class KernelLibrary {
  private cachedBuffer: ArrayBuffer | undefined;
  private cachedU8: Uint8Array | undefined;

  private constructor(readonly exports: KernelExports) {}

  /** Compiles and instantiates the committed .wasm (or the module at `url`). */
  static async load(url: URL = KERNELS_WASM_URL): Promise<KernelLibrary> {
    return KernelLibrary.fromModule(await wasmApi.compile(await readFile(url)));
  }

  /** Synchronous `load` (Node compiles any size synchronously). */
  static loadSync(url: URL = KERNELS_WASM_URL): KernelLibrary {
    return KernelLibrary.fromModule(new wasmApi.Module(readFileSync(url)));
  }

  static fromModule(module: WasmModule): KernelLibrary {
    let library: KernelLibrary | undefined;
    const imports = {
      env: {
        // called by the C allocator after memory.grow: the old ArrayBuffer is detached
        emscripten_notify_memory_growth: () => library?.invalidateViews(),
      },
      // STANDALONE_WASM may import WASI for stdio/exit; the kernels never print or exit
      wasi_snapshot_preview1: {
        fd_write: () => 52, fd_close: () => 52, fd_seek: () => 52, proc_exit: () => undefined,
      },
    };
    const instance = new wasmApi.Instance(module, imports);
    const missing = KERNEL_FUNCTIONS.filter((name) => typeof instance.exports[name] !== 'function');
    if (missing.length || !(instance.exports.memory instanceof wasmApi.Memory)) {
      throw new SlimcError('internal', `slimc_kernels.wasm lacks exports: ${missing.join(', ') || 'memory'}`);
    }
    library = new KernelLibrary(instance.exports as unknown as KernelExports);
    library.exports._initialize();
    return library;
  }

  // ---- memory ----

  /** `bytes` of wasm memory aligned to a cache line (misaligned packed weights cost up to 20%). */
  alloc(bytes: number): number {
    const ptr = this.exports.aligned_alloc(64, Math.ceil(Math.max(bytes, 1) / 64) * 64);
    if (ptr === 0) throw new SlimcError('internal', `wasm malloc of ${bytes} bytes failed`);
    return ptr;
  }

  free(ptr: number): void {
    this.exports.free(ptr);
  }

  /** Bytes of wasm memory (recreated after growth). */
  get heapU8(): Uint8Array {
    const buffer = this.exports.memory.buffer;
    if (buffer !== this.cachedBuffer || !this.cachedU8) {
      this.cachedBuffer = buffer;
      this.cachedU8 = new Uint8Array(buffer);
    }
    return this.cachedU8;
  }

  /** A view of `length` elements at `ptr`; invalid after the next allocation that grows memory. */
  view<T extends TypedArray>(ctor: TypedArrayConstructor<T>, ptr: number, length: number): T {
    return new ctor(this.exports.memory.buffer, ptr, length);
  }

  write(ptr: number, data: TypedArray): void {
    this.heapU8.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ptr);
  }

  /** Frees the kernels' internal scratch buffers (they grow to the largest call). */
  releaseScratch(): void {
    this.exports.slimc_release_scratch();
  }

  private invalidateViews(): void {
    this.cachedBuffer = undefined;
    this.cachedU8 = undefined;
  }

  private scoped<T>(fn: (scope: CallScope) => T): T {
    const scope = new CallScope(this);
    try {
      return fn(scope);
    } finally {
      scope.freeAll();
    }
  }

  private readBack<T extends TypedArray>(ctor: TypedArrayConstructor<T>, ptr: number, length: number): T {
    return this.view(ctor, ptr, length).slice() as T;
  }

  private readQ8(type: Q8Type, ptr: number, length: number): Q8Array {
    return type === 'int8' ? this.readBack(Int8Array, ptr, length) : this.readBack(Uint8Array, ptr, length);
  }

  /** Copies requantization parameters in; returns the C arguments after `multipliers`. */
  private requantArgs(fn: string, scope: CallScope, r: Requantization, channels: number) {
    const perChannel = r.multipliers.length > 1 ? 1 : 0;
    if (r.multipliers.length !== r.shifts.length || (perChannel && r.multipliers.length !== channels)) {
      throw invalid(fn, 'multipliers', `expected 1 or ${channels} multipliers and as many shifts, got ` +
        `${r.multipliers.length} and ${r.shifts.length}`);
    }
    for (let i = 0; i < r.shifts.length; i++) {
      const shift = r.shifts[i]!;
      const multiplier = r.multipliers[i]!;
      if (!(shift >= -31 && shift <= 30) || !(multiplier >= 0 && multiplier < 2 ** 31)) {
        throw invalid(fn, 'shifts', `multiplier ${multiplier} / shift ${shift} outside [0, 2^31) / [-31, 30]`);
      }
    }
    const [min, max] = this.clampRange(r.outputType, r.min, r.max);
    if (min > max) throw invalid(fn, 'min/max', `empty clamp range [${min}, ${max}]`);
    return {
      multipliers: scope.int32(r.multipliers), shifts: scope.int32(r.shifts), perChannel,
      zeroPoint: r.zeroPoint, min, max, signed: r.outputType === 'int8' ? 1 : 0,
    };
  }

  private geometryArgs(fn: string, scope: CallScope, g: ConvGeometry, outChannels: number) {
    const [kh, kw] = g.kernel;
    const [sh, sw] = g.strides ?? [1, 1];
    const [dh, dw] = g.dilations ?? [1, 1];
    const [pt, pl, pb, pr] = g.pads ?? [0, 0, 0, 0];
    const groups = g.groups ?? 1;
    const values = [g.batch, g.height, g.width, g.channels, outChannels, kh, kw, groups, sh, sw, dh, dw, pt, pl, pb, pr];
    if (values.length !== GEOMETRY_LENGTH || values.some((v) => !Number.isInteger(v) || v < 0)) {
      throw invalid(fn, 'geometry', `expected non-negative integers, got [${values.join(', ')}]`);
    }
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || groups < 1) {
      throw invalid(fn, 'geometry', 'kernel, strides, dilations and groups must be >= 1');
    }
    if (g.channels % groups !== 0 || outChannels % groups !== 0) {
      throw invalid(fn, 'groups', `${groups} groups do not divide ${g.channels} input / ${outChannels} output channels`);
    }
    const outHeight = convOutputExtent(g.height, kh, sh, dh, pt, pb);
    const outWidth = convOutputExtent(g.width, kw, sw, dw, pl, pr);
    if (outHeight < 1 || outWidth < 1) throw invalid(fn, 'geometry', `empty output ${outHeight}x${outWidth}`);
    return { ptr: scope.int32(values), outHeight, outWidth, windowSize: kh * kw };
  }

  // ---- int8 GEMM ----

  /**
   * Packs int8 (or uint8) weights B for `gemmS8`. `layout` 'kn' reads a K x N row-major matrix
   * (ONNX MatMul), 'nk' an N x K one (Gemm with transB, conv weights).
   */
  packB(b: Q8Array, K: number, N: number, options: { layout?: 'kn' | 'nk'; zeroPoints?: ArrayLike<number> } = {}):
    PackedWeights {
    if (b.length !== K * N) throw invalid('packB', 'b', `expected ${K}x${N} = ${K * N} values, got ${b.length}`);
    const zeroPoints = options.zeroPoints ?? [0];
    const perChannel = zeroPoints.length > 1 ? 1 : 0;
    if (perChannel && zeroPoints.length !== N) throw invalid('packB', 'zeroPoints', `expected 1 or ${N} zero points`);
    const nk = options.layout === 'nk';
    const packed = this.alloc(this.exports.slimc_packed_b_size_q8(K, N));
    this.scoped((s) => this.exports.slimc_pack_b_q8(K, N, s.copy(b), nk ? 1 : N, nk ? K : 1, isSigned(b),
      s.int32(zeroPoints), perChannel, packed));
    return new PackedWeights(this, 'gemm-q8', [K, N], packed);
  }

  /**
   * C = (A - aZeroPoint) . (B - bZeroPoints) + bias for A M x K (row stride `lda`, default K):
   * requantized to int8/uint8 with `requant`, else int32.
   */
  gemmS8(a: Q8Array, M: number, b: PackedWeights, options: {
    aZeroPoint?: number; lda?: number; bias?: Int32Array; requant: Requantization;
  }): Q8Array;
  gemmS8(a: Q8Array, M: number, b: PackedWeights, options?: { aZeroPoint?: number; lda?: number; bias?: Int32Array }):
    Int32Array;
  gemmS8(a: Q8Array, M: number, b: PackedWeights, options: {
    aZeroPoint?: number; lda?: number; bias?: Int32Array; requant?: Requantization;
  } = {}): Q8Array | Int32Array {
    if (b.kind !== 'gemm-q8') throw invalid('gemmS8', 'b', `expected weights from packB, got ${b.kind}`);
    const [K, N] = b.dims as [number, number];
    const lda = options.lda ?? K;
    if (lda < K || (M > 0 && a.length < (M - 1) * lda + K)) {
      throw invalid('gemmS8', 'a', `${a.length} values do not hold ${M} rows of ${K} with stride ${lda}`);
    }
    if (options.bias && options.bias.length !== N) throw invalid('gemmS8', 'bias', `expected ${N} values`);
    const aZeroPoint = options.aZeroPoint ?? 0;
    return this.scoped((s) => {
      const aPtr = s.copy(a);
      const bias = s.copy(options.bias);
      const r = options.requant;
      if (!r) {
        const c = s.alloc(M * N * 4);
        this.exports.slimc_gemm_q8_i32(M, N, K, aPtr, lda, isSigned(a), aZeroPoint, b.ptr, bias, c, N);
        return this.readBack(Int32Array, c, M * N);
      }
      const q = this.requantArgs('gemmS8', s, r, N);
      const c = s.alloc(M * N);
      this.exports.slimc_gemm_q8(M, N, K, aPtr, lda, isSigned(a), aZeroPoint, b.ptr, bias, q.multipliers, q.shifts,
        q.perChannel, q.zeroPoint, q.min, q.max, q.signed, c, N);
      return this.readQ8(r.outputType, c, M * N);
    });
  }

  /** int32 rows x cols -> q8, channel = column. */
  requantize(acc: Int32Array, rows: number, cols: number, requant: Requantization): Q8Array {
    if (acc.length !== rows * cols) throw invalid('requantize', 'acc', `expected ${rows * cols} values`);
    return this.scoped((s) => {
      const src = s.copy(acc);
      const q = this.requantArgs('requantize', s, requant, cols);
      const dst = s.alloc(rows * cols);
      this.exports.slimc_requantize(rows, cols, src, cols, q.multipliers, q.shifts, q.perChannel, q.zeroPoint,
        q.min, q.max, q.signed, dst, cols);
      return this.readQ8(requant.outputType, dst, rows * cols);
    });
  }

  /** One value through MultiplyByQuantizedMultiplier (no zero point, no clamp). */
  multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
    return this.exports.slimc_multiply_by_quantized_multiplier(x, multiplier, shift);
  }

  // ---- int8 convolution ----

  /** Packs ONNX OIHW weights [Cout][C/groups][KH][KW] for `convS8`. */
  packConvWeightsS8(weights: Q8Array, dims: { outChannels: number; channels: number; kernel: readonly [number, number];
    groups?: number; zeroPoints?: ArrayLike<number> }): PackedWeights {
    const { outChannels, channels } = dims;
    const [kh, kw] = dims.kernel;
    const groups = dims.groups ?? 1;
    const expected = outChannels * (channels / groups) * kh * kw;
    if (!Number.isInteger(channels / groups) || weights.length !== expected) {
      throw invalid('packConvWeightsS8', 'weights', `expected ${expected} values for ${outChannels}x${channels}/` +
        `${groups}x${kh}x${kw}, got ${weights.length}`);
    }
    const zeroPoints = dims.zeroPoints ?? [0];
    const perChannel = zeroPoints.length > 1 ? 1 : 0;
    if (perChannel && zeroPoints.length !== outChannels) {
      throw invalid('packConvWeightsS8', 'zeroPoints', `expected 1 or ${outChannels} zero points`);
    }
    const packed = this.alloc(this.exports.slimc_conv_packed_weights_size_q8(channels, outChannels, kh, kw, groups));
    this.scoped((s) => this.exports.slimc_conv_pack_weights_q8(channels, outChannels, kh, kw, groups, s.copy(weights),
      isSigned(weights), s.int32(zeroPoints), perChannel, packed));
    return new PackedWeights(this, 'conv-q8', [outChannels, channels / groups, kh, kw, groups], packed);
  }

  /**
   * NHWC int8/uint8 convolution; returns the NHWC output and its shape. `outputTable`: 256 bytes
   * each output byte is mapped through (read back in the requantization's output type).
   */
  convS8(input: Q8Array, geometry: ConvGeometry, weights: PackedWeights, options: {
    inputZeroPoint?: number; bias?: Int32Array; requant: Requantization; outputTable?: Uint8Array;
  }): { output: Q8Array; shape: [number, number, number, number] } {
    const [outChannels, cg, kh, kw, groups] = weights.dims as number[] as [number, number, number, number, number];
    if (weights.kind !== 'conv-q8' || cg * groups !== geometry.channels || kh !== geometry.kernel[0] ||
      kw !== geometry.kernel[1] || groups !== (geometry.groups ?? 1)) {
      throw invalid('convS8', 'weights', `packed ${weights.kind} [${weights.dims.join(',')}] do not match the geometry`);
    }
    const inputLength = geometry.batch * geometry.height * geometry.width * geometry.channels;
    if (input.length !== inputLength) throw invalid('convS8', 'input', `expected ${inputLength} values`);
    if (options.bias && options.bias.length !== outChannels) throw invalid('convS8', 'bias', `expected ${outChannels}`);
    if (options.outputTable && options.outputTable.length !== 256) throw invalid('convS8', 'outputTable', 'expected 256 bytes');
    return this.scoped((s) => {
      const g = this.geometryArgs('convS8', s, { ...geometry, outChannels }, outChannels);
      const q = this.requantArgs('convS8', s, options.requant, outChannels);
      const length = geometry.batch * g.outHeight * g.outWidth * outChannels;
      const out = s.alloc(length);
      this.exports.slimc_conv_q8(g.ptr, s.copy(input), isSigned(input), options.inputZeroPoint ?? 0, weights.ptr,
        s.copy(options.bias), q.multipliers, q.shifts, q.perChannel, q.zeroPoint, q.min, q.max, q.signed, s.copy(options.outputTable), out);
      return {
        output: this.readQ8(options.requant.outputType, out, length),
        shape: [geometry.batch, g.outHeight, g.outWidth, outChannels],
      };
    });
  }

  // ---- int8 elementwise ----

  /**
   * TFLite quantized add; b may be one value (broadcast) or as long as a. Multipliers encode
   * a_scale / (2·max scale), b_scale / (2·max scale), 2·max scale / (2^leftShift · out_scale).
   */
  addS8(a: Q8Array, b: Q8Array, p: {
    aZeroPoint: number; aMultiplier: number; aShift: number; bZeroPoint: number; bMultiplier: number; bShift: number;
    leftShift?: number; outMultiplier: number; outShift: number; outZeroPoint: number; outputType: Q8Type;
    min?: number; max?: number;
  }): Q8Array {
    const bStride = this.broadcastStride('addS8', a, b);
    const [lo, hi] = this.clampRange(p.outputType, p.min, p.max);
    return this.scoped((s) => {
      const out = s.alloc(a.length);
      this.exports.slimc_add_q8(a.length, s.copy(a), isSigned(a), p.aZeroPoint, p.aMultiplier, p.aShift, s.copy(b),
        bStride, isSigned(b), p.bZeroPoint, p.bMultiplier, p.bShift, p.leftShift ?? 20, p.outMultiplier, p.outShift,
        p.outZeroPoint, lo, hi, p.outputType === 'int8' ? 1 : 0, out);
      return this.readQ8(p.outputType, out, a.length);
    });
  }

  /** out = MBQM((a - za)(b - zb), multiplier, shift) + zo; multiplier encodes a_scale·b_scale/out_scale. */
  mulS8(a: Q8Array, b: Q8Array, p: {
    aZeroPoint: number; bZeroPoint: number; multiplier: number; shift: number; outZeroPoint: number;
    outputType: Q8Type; min?: number; max?: number;
  }): Q8Array {
    const bStride = this.broadcastStride('mulS8', a, b);
    const [lo, hi] = this.clampRange(p.outputType, p.min, p.max);
    return this.scoped((s) => {
      const out = s.alloc(a.length);
      this.exports.slimc_mul_q8(a.length, s.copy(a), isSigned(a), p.aZeroPoint, s.copy(b), bStride, isSigned(b),
        p.bZeroPoint, p.multiplier, p.shift, p.outZeroPoint, lo, hi, p.outputType === 'int8' ? 1 : 0, out);
      return this.readQ8(p.outputType, out, a.length);
    });
  }

  /**
   * Concatenation along the innermost axis with requantization to the output's scale: inputs are
   * [rows x cols_i]; each has its own zero point and multiplier (input scale / output scale).
   */
  concatS8(inputs: readonly { data: Q8Array; cols: number; zeroPoint: number; multiplier: number; shift: number }[],
    rows: number, out: { zeroPoint: number; outputType: Q8Type; min?: number; max?: number }): Q8Array {
    const total = inputs.reduce((n, x) => n + x.cols, 0);
    const [lo, hi] = this.clampRange(out.outputType, out.min, out.max);
    return this.scoped((s) => {
      const dst = s.alloc(rows * total);
      let offset = 0;
      for (const [i, x] of inputs.entries()) {
        if (x.data.length !== rows * x.cols) throw invalid('concatS8', `inputs[${i}]`, `expected ${rows * x.cols} values`);
        this.exports.slimc_rescale_q8(rows, x.cols, s.copy(x.data), x.cols, isSigned(x.data), x.zeroPoint,
          x.multiplier, x.shift, dst + offset, total, out.outputType === 'int8' ? 1 : 0, out.zeroPoint, lo, hi);
        offset += x.cols;
      }
      return this.readQ8(out.outputType, dst, rows * total);
    });
  }

  /** The 256-entry table of `fn` between two quantized domains, indexed by the raw input byte. */
  buildLut(fn: LutFunction, input: { scale: number; zeroPoint: number; type: Q8Type },
    output: { scale: number; zeroPoint: number; type: Q8Type }, params: { alpha?: number; beta?: number } = {}):
    Uint8Array {
    const code = { sigmoid: 0, hardsigmoid: 1, hardswish: 2 }[fn];
    return this.scoped((s) => {
      const table = s.alloc(256);
      this.exports.slimc_lut_build_q8(code, params.alpha ?? 0.2, params.beta ?? 0.5, input.scale, input.zeroPoint,
        input.type === 'int8' ? 1 : 0, output.scale, output.zeroPoint, output.type === 'int8' ? 1 : 0, table);
      return this.readBack(Uint8Array, table, 256);
    });
  }

  applyLut(input: Q8Array, table: Uint8Array, outputType: Q8Type): Q8Array {
    if (table.length !== 256) throw invalid('applyLut', 'table', 'expected 256 entries');
    return this.scoped((s) => {
      const out = s.alloc(input.length);
      this.exports.slimc_lut_apply_q8(input.length, s.copy(input), s.copy(table), out);
      return this.readQ8(outputType, out, input.length);
    });
  }

  // ---- int8 pooling ----

  /**
   * NHWC average pooling. `multipliers[count-1]`/`shifts[count-1]` encode
   * in_scale / (out_scale · count) for every window count 1..KH·KW.
   */
  avgPoolS8(input: Q8Array, geometry: ConvGeometry, p: {
    inputZeroPoint: number; countIncludePad?: boolean; multipliers: ArrayLike<number>; shifts: ArrayLike<number>;
    outZeroPoint: number; outputType: Q8Type; min?: number; max?: number;
  }): { output: Q8Array; shape: [number, number, number, number] } {
    const [lo, hi] = this.clampRange(p.outputType, p.min, p.max);
    return this.scoped((s) => {
      const g = this.geometryArgs('avgPoolS8', s, { ...geometry, groups: 1 }, geometry.channels);
      if (p.multipliers.length < g.windowSize || p.shifts.length < g.windowSize) {
        throw invalid('avgPoolS8', 'multipliers', `expected ${g.windowSize} multipliers and shifts (one per count)`);
      }
      const length = geometry.batch * g.outHeight * g.outWidth * geometry.channels;
      const out = s.alloc(length);
      this.exports.slimc_avgpool_q8(g.ptr, s.copy(input), isSigned(input), p.inputZeroPoint, p.countIncludePad ? 1 : 0,
        s.int32(p.multipliers), s.int32(p.shifts), p.outZeroPoint, lo, hi, p.outputType === 'int8' ? 1 : 0, out);
      return { output: this.readQ8(p.outputType, out, length), shape: [geometry.batch, g.outHeight, g.outWidth, geometry.channels] };
    });
  }

  maxPoolS8(input: Q8Array, geometry: ConvGeometry): { output: Q8Array; shape: [number, number, number, number] } {
    return this.scoped((s) => {
      const g = this.geometryArgs('maxPoolS8', s, { ...geometry, groups: 1 }, geometry.channels);
      const length = geometry.batch * g.outHeight * g.outWidth * geometry.channels;
      const out = s.alloc(length);
      this.exports.slimc_maxpool_q8(g.ptr, s.copy(input), isSigned(input), out);
      const type: Q8Type = input instanceof Int8Array ? 'int8' : 'uint8';
      return { output: this.readQ8(type, out, length), shape: [geometry.batch, g.outHeight, g.outWidth, geometry.channels] };
    });
  }

  /** [N, HW, C] -> [N, C], as the interpreter's Q(GlobalAveragePool(DQ(x))) with float32 scales. */
  globalAvgPoolS8(input: Q8Array, batch: number, hw: number, channels: number, p: {
    inputZeroPoint: number; inputScale: number; outScale: number; outZeroPoint: number; outputType: Q8Type;
    min?: number; max?: number;
  }): Q8Array {
    if (input.length !== batch * hw * channels) throw invalid('globalAvgPoolS8', 'input', 'length mismatch');
    const [lo, hi] = this.clampRange(p.outputType, p.min, p.max);
    return this.scoped((s) => {
      const out = s.alloc(batch * channels);
      this.exports.slimc_global_avgpool_q8(batch, hw, channels, s.copy(input), isSigned(input), p.inputZeroPoint,
        p.inputScale, p.outScale, p.outZeroPoint, lo, hi, p.outputType === 'int8' ? 1 : 0, out);
      return this.readQ8(p.outputType, out, batch * channels);
    });
  }

  // ---- float32 ----

  packBF32(b: Float32Array, K: number, N: number, options: { layout?: 'kn' | 'nk' } = {}): PackedWeights {
    if (b.length !== K * N) throw invalid('packBF32', 'b', `expected ${K * N} values, got ${b.length}`);
    const nk = options.layout === 'nk';
    const packed = this.alloc(this.exports.slimc_packed_b_size_f32(K, N));
    this.scoped((s) => this.exports.slimc_pack_b_f32(K, N, s.copy(b), nk ? 1 : N, nk ? K : 1, packed));
    return new PackedWeights(this, 'gemm-f32', [K, N], packed);
  }

  /** C = clamp(A . B + bias, min, max), A M x K. */
  gemmF32(a: Float32Array, M: number, b: PackedWeights, options: { bias?: Float32Array; min?: number; max?: number } = {}):
    Float32Array {
    if (b.kind !== 'gemm-f32') throw invalid('gemmF32', 'b', `expected weights from packBF32, got ${b.kind}`);
    const [K, N] = b.dims as [number, number];
    if (a.length !== M * K) throw invalid('gemmF32', 'a', `expected ${M * K} values`);
    if (options.bias && options.bias.length !== N) throw invalid('gemmF32', 'bias', `expected ${N} values`);
    return this.scoped((s) => {
      const c = s.alloc(M * N * 4);
      this.exports.slimc_gemm_f32(M, N, K, s.copy(a), K, b.ptr, s.copy(options.bias), options.min ?? -Infinity,
        options.max ?? Infinity, c, N);
      return this.readBack(Float32Array, c, M * N);
    });
  }

  packConvWeightsF32(weights: Float32Array, dims: { outChannels: number; channels: number;
    kernel: readonly [number, number]; groups?: number }): PackedWeights {
    const { outChannels, channels } = dims;
    const [kh, kw] = dims.kernel;
    const groups = dims.groups ?? 1;
    const expected = outChannels * (channels / groups) * kh * kw;
    if (!Number.isInteger(channels / groups) || weights.length !== expected) {
      throw invalid('packConvWeightsF32', 'weights', `expected ${expected} values, got ${weights.length}`);
    }
    const packed = this.alloc(this.exports.slimc_conv_packed_weights_size_f32(channels, outChannels, kh, kw, groups));
    this.scoped((s) => this.exports.slimc_conv_pack_weights_f32(channels, outChannels, kh, kw, groups, s.copy(weights),
      packed));
    return new PackedWeights(this, 'conv-f32', [outChannels, channels / groups, kh, kw, groups], packed);
  }

  convF32(input: Float32Array, geometry: ConvGeometry, weights: PackedWeights,
    options: { bias?: Float32Array; min?: number; max?: number } = {}):
    { output: Float32Array; shape: [number, number, number, number] } {
    const [outChannels, cg, , , groups] = weights.dims as number[] as [number, number, number, number, number];
    if (weights.kind !== 'conv-f32' || cg * groups !== geometry.channels || groups !== (geometry.groups ?? 1)) {
      throw invalid('convF32', 'weights', `packed ${weights.kind} [${weights.dims.join(',')}] do not match the geometry`);
    }
    if (input.length !== geometry.batch * geometry.height * geometry.width * geometry.channels) {
      throw invalid('convF32', 'input', 'length does not match the geometry');
    }
    return this.scoped((s) => {
      const g = this.geometryArgs('convF32', s, geometry, outChannels);
      const length = geometry.batch * g.outHeight * g.outWidth * outChannels;
      const out = s.alloc(length * 4);
      this.exports.slimc_conv_f32(g.ptr, s.copy(input), weights.ptr, s.copy(options.bias), options.min ?? -Infinity,
        options.max ?? Infinity, out);
      return { output: this.readBack(Float32Array, out, length), shape: [geometry.batch, g.outHeight, g.outWidth, outChannels] };
    });
  }

  private broadcastStride(fn: string, a: Q8Array, b: Q8Array): number {
    if (b.length === a.length) return 1;
    if (b.length === 1) return 0;
    throw invalid(fn, 'b', `expected 1 or ${a.length} values, got ${b.length}`);
  }

  private clampRange(type: Q8Type, min?: number, max?: number): [number, number] {
    const [typeMin, typeMax] = q8Range(type);
    return [Math.max(min ?? typeMin, typeMin), Math.min(max ?? typeMax, typeMax)];
  }
}
