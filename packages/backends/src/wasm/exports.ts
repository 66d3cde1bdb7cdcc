/**
 * The raw exports of slimc_kernels.wasm: one signature per C function of
 * packages/backends/kernels/include/slimc_kernels.h (pointers are byte offsets into `memory`).
 */

/** The parts of the WebAssembly JS API the loader uses (the project's lib settings omit DOM types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmModule {
  readonly __wasmModule: unique symbol;
}
export interface WasmApi {
  Module: { new (bytes: Uint8Array): WasmModule; exports(module: WasmModule): { name: string; kind: string }[] };
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => {
    readonly exports: Record<string, unknown>;
  };
  Memory: abstract new (...args: never[]) => WasmMemory;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}
/** The global WebAssembly object, typed with the interfaces above. */
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type Ptr = number;
type I32 = number;

export interface KernelExports {
  readonly memory: WasmMemory;
  _initialize(): void;
  malloc(bytes: I32): Ptr;
  aligned_alloc(alignment: I32, bytes: I32): Ptr;
  free(ptr: Ptr): void;
  /** The C stack's top (where it starts, growing down) and its lowest address: its 64 KB region. */
  emscripten_stack_get_base(): Ptr;
  emscripten_stack_get_end(): Ptr;
  slimc_release_scratch(): void;
  slimc_reserve_scratch(integerGemm: I32, floatConv: I32, rowBytes: I32, planChannels: I32): void;

  slimc_multiply_by_quantized_multiplier(x: I32, multiplier: I32, shift: I32): I32;
  slimc_requantize(rows: I32, cols: I32, src: Ptr, srcStride: I32, multipliers: Ptr, shifts: Ptr, perChannel: I32,
    zeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32, dst: Ptr, dstStride: I32): void;

  slimc_packed_b_size_q8(K: I32, N: I32): I32;
  slimc_pack_b_q8(K: I32, N: I32, B: Ptr, strideK: I32, strideN: I32, bSigned: I32, bZeroPoints: Ptr,
    zpPerChannel: I32, packed: Ptr): void;
  slimc_gemm_q8_i32(M: I32, N: I32, K: I32, A: Ptr, lda: I32, aSigned: I32, aZeroPoint: I32, packedB: Ptr,
    bias: Ptr, C: Ptr, ldc: I32): void;
  slimc_gemm_q8(M: I32, N: I32, K: I32, A: Ptr, lda: I32, aSigned: I32, aZeroPoint: I32, packedB: Ptr, bias: Ptr,
    multipliers: Ptr, shifts: Ptr, perChannel: I32, outZeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32,
    C: Ptr, ldc: I32): void;

  slimc_conv_packed_weights_size_q8(C: I32, Cout: I32, KH: I32, KW: I32, groups: I32): I32;
  slimc_conv_pack_weights_q8(C: I32, Cout: I32, KH: I32, KW: I32, groups: I32, weights: Ptr, wSigned: I32,
    wZeroPoints: Ptr, zpPerChannel: I32, packed: Ptr): void;
  slimc_conv_q8(geometry: Ptr, input: Ptr, inSigned: I32, inZeroPoint: I32, packedWeights: Ptr, bias: Ptr,
    multipliers: Ptr, shifts: Ptr, perChannel: I32, outZeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32,
    outputTable: Ptr, output: Ptr): void;

  slimc_add_q8(n: I32, a: Ptr, aSigned: I32, aZeroPoint: I32, aMultiplier: I32, aShift: I32, b: Ptr, bStride: I32,
    bSigned: I32, bZeroPoint: I32, bMultiplier: I32, bShift: I32, leftShift: I32, outMultiplier: I32,
    outShift: I32, outZeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32, out: Ptr): void;
  slimc_mul_q8(n: I32, a: Ptr, aSigned: I32, aZeroPoint: I32, b: Ptr, bStride: I32, bSigned: I32, bZeroPoint: I32,
    multiplier: I32, shift: I32, outZeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32, out: Ptr): void;
  slimc_rescale_q8(rows: I32, cols: I32, src: Ptr, srcStride: I32, srcSigned: I32, srcZeroPoint: I32,
    multiplier: I32, shift: I32, dst: Ptr, dstStride: I32, dstSigned: I32, dstZeroPoint: I32, outMin: I32,
    outMax: I32): void;
  slimc_lut_build_q8(fn: I32, alpha: number, beta: number, inScale: number, inZeroPoint: I32, inSigned: I32,
    outScale: number, outZeroPoint: I32, outSigned: I32, table: Ptr): void;
  slimc_lut_apply_q8(n: I32, src: Ptr, table: Ptr, dst: Ptr): void;
  slimc_lut_apply_f32(n: I32, src: Ptr, table: Ptr, dst: Ptr): void;

  slimc_avgpool_q8(geometry: Ptr, input: Ptr, inSigned: I32, inZeroPoint: I32, countIncludePad: I32,
    multipliers: Ptr, shifts: Ptr, outZeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32, output: Ptr): void;
  slimc_maxpool_q8(geometry: Ptr, input: Ptr, isSigned: I32, output: Ptr): void;
  slimc_maxpool_f32(geometry: Ptr, input: Ptr, output: Ptr): void;
  slimc_avgpool_f32(geometry: Ptr, input: Ptr, countIncludePad: I32, output: Ptr): void;
  slimc_global_avgpool_q8(N: I32, HW: I32, C: I32, input: Ptr, inSigned: I32, inZeroPoint: I32, inScale: number,
    outScale: number, outZeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32, output: Ptr): void;

  slimc_packed_b_size_f32(K: I32, N: I32): I32;
  slimc_pack_b_f32(K: I32, N: I32, B: Ptr, strideK: I32, strideN: I32, packed: Ptr): void;
  slimc_gemm_f32(M: I32, N: I32, K: I32, A: Ptr, lda: I32, packedB: Ptr, bias: Ptr, outMin: number, outMax: number,
    C: Ptr, ldc: I32): void;
  slimc_conv_packed_weights_size_f32(C: I32, Cout: I32, KH: I32, KW: I32, groups: I32): I32;
  slimc_conv_pack_weights_f32(C: I32, Cout: I32, KH: I32, KW: I32, groups: I32, weights: Ptr, packed: Ptr): void;
  slimc_conv_f32(geometry: Ptr, input: Ptr, packedWeights: Ptr, bias: Ptr, outMin: number, outMax: number,
    output: Ptr): void;

  slimc_binary_f32(op: I32, n: I32, a: Ptr, b: Ptr, inner: I32, period: I32, out: Ptr): void;
  slimc_unary_f32(op: I32, n: I32, x: Ptr, alpha: number, beta: number, lo: number, hi: number, out: Ptr): void;
  slimc_quantize_f32(n: I32, x: Ptr, scale: number, zeroPoint: I32, outMin: I32, outMax: I32, outSigned: I32, out: Ptr): void;
  slimc_dequantize_q8(n: I32, q: Ptr, qSigned: I32, zeroPoint: I32, scale: number, out: Ptr): void;
  slimc_depthwise_conv_f32(geometry: Ptr, input: Ptr, weights: Ptr, bias: Ptr, outMin: number, outMax: number, output: Ptr): void;
  slimc_global_avgpool_f32(batch: I32, channels: I32, hw: I32, nhwc: I32, input: Ptr, output: Ptr): void;
  slimc_resize_nearest_f32(batch: I32, channels: I32, h: I32, w: I32, scaleH: I32, scaleW: I32, nhwc: I32, input: Ptr, output: Ptr): void;
  slimc_softmax_f32(outer: I32, dim: I32, inner: I32, input: Ptr, output: Ptr): void;
  slimc_channel_affine_f32(batch: I32, channels: I32, hw: I32, nhwc: I32, input: Ptr, mul: Ptr, add: Ptr, output: Ptr): void;
  slimc_transpose_layout(batch: I32, channels: I32, hw: I32, elementBytes: I32, toNchw: I32, src: Ptr, dst: Ptr): void;
  slimc_copy_runs(runs: I32, bytes: I32, src: Ptr, srcStride: I32, dst: Ptr, dstStride: I32): void;
  slimc_gather_strided(rank: I32, dims: Ptr, srcStrides: Ptr, elementBytes: I32, src: Ptr, dst: Ptr): void;
  slimc_mean_rows_f32(rows: I32, dim: I32, x: Ptr, out: Ptr): void;
}

/** Every function the loader expects; checked at load so a stale .wasm fails loudly. */
export const KERNEL_FUNCTIONS = [
  '_initialize', 'malloc', 'aligned_alloc', 'free', 'emscripten_stack_get_base', 'emscripten_stack_get_end', 'slimc_release_scratch', 'slimc_reserve_scratch', 'slimc_multiply_by_quantized_multiplier',
  'slimc_requantize', 'slimc_packed_b_size_q8', 'slimc_pack_b_q8', 'slimc_gemm_q8_i32', 'slimc_gemm_q8',
  'slimc_conv_packed_weights_size_q8', 'slimc_conv_pack_weights_q8', 'slimc_conv_q8', 'slimc_add_q8',
  'slimc_mul_q8', 'slimc_rescale_q8', 'slimc_lut_build_q8', 'slimc_lut_apply_q8', 'slimc_lut_apply_f32', 'slimc_avgpool_q8',
  'slimc_maxpool_q8', 'slimc_maxpool_f32', 'slimc_avgpool_f32', 'slimc_global_avgpool_q8', 'slimc_packed_b_size_f32', 'slimc_pack_b_f32', 'slimc_gemm_f32',
  'slimc_conv_packed_weights_size_f32', 'slimc_conv_pack_weights_f32', 'slimc_conv_f32', 'slimc_binary_f32',
  'slimc_unary_f32', 'slimc_quantize_f32', 'slimc_dequantize_q8', 'slimc_depthwise_conv_f32', 'slimc_global_avgpool_f32',
  'slimc_transpose_layout', 'slimc_copy_runs', 'slimc_gather_strided', 'slimc_mean_rows_f32', 'slimc_resize_nearest_f32',
  'slimc_softmax_f32', 'slimc_channel_affine_f32',
] as const satisfies readonly (keyof KernelExports)[];

/** Geometry array layout shared by convolution and pooling (enum slimc_conv_geometry_index). */
export const GEOMETRY_LENGTH = 16;
