/*
 * slimc_kernels: the int8 and float32 compute kernels of the slimc runtime.
 *
 * Built twice from the same sources: with emscripten to WebAssembly SIMD128 (slimc_kernels.wasm,
 * code under __wasm_simd128__) and natively with gcc as portable C (unit tests, native bench).
 * Both builds compute bit-identical integer results.
 *
 * Conventions
 *  - Sizes, strides and flags are int32_t (the wasm32 ABI); strides count elements, not bytes.
 *  - Activations of the convolution and pooling kernels are NHWC; weights are ONNX OIHW.
 *  - A "q8" buffer holds int8 when its `*_signed` flag is 1, uint8 when it is 0.
 *  - Kernels are single-threaded and not reentrant (they share internal scratch buffers).
 *
 * Requantization (int32 -> q8), bit-exact with TFLite/gemmlowp and with slimc's TypeScript
 * `multiplyByQuantizedMultiplier` (packages/passes/src/quantize/fixed-point.ts):
 *   A real multiplier r > 0 is encoded as (multiplier, shift) with r ~= multiplier * 2^(shift-31),
 *   multiplier in [2^30, 2^31) (or 0), so `quantizeMultiplier(r)` yields it.  Then
 *     left  = max(shift, 0),  right = max(-shift, 0)
 *     x'    = saturate_int32(x * 2^left)   (the C reference overflows there; we saturate)
 *     h     = SaturatingRoundingDoublingHighMul(x', multiplier)
 *           = (int32)((int64 x' * multiplier + nudge) / 2^31)   C division, truncating;
 *             nudge = 2^30 if the product >= 0 else 1 - 2^30
 *             (== floor((x' * multiplier + 2^30) / 2^31), the form the SIMD code uses)
 *     y     = RoundingDivideByPOT(h, right)
 *           = (h >> right) + ((h & mask) > (mask >> 1) + (h < 0 ? 1 : 0)),  mask = 2^right - 1
 *             (round half away from zero)
 *     out   = clamp(y + zero_point, out_min, out_max)   (exact, no int32 wrap)
 *   Preconditions: 0 <= multiplier < 2^31, -31 <= shift <= 30, out_min/out_max inside the range
 *   of the output type. The saturating case of the high-mul (both operands INT32_MIN) cannot
 *   occur because multiplier >= 0. Fused ReLU / Clip are expressed through out_min / out_max.
 *   Per-channel: `multipliers`/`shifts` hold one entry per output channel when per_channel = 1,
 *   else one entry used for all channels.
 *
 * Zero points: the GEMM widens both operands to int16 while packing and subtracts the zero points
 * there ((a - za) and (b - zb) fit int16 exactly), so the micro-kernel computes
 * sum_k (a - za)(b - zb) directly. This replaces the row/col-sum correction (which exists to keep
 * an 8-bit inner loop) at no cost, since our inner loop is int16 anyway.
 */
#ifndef SLIMC_KERNELS_H
#define SLIMC_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Round-once requantization (SLIMC_REQUANT_ROUND_ONCE in a `per_channel` argument): ONNX's
 * QLinearConv / QLinearMatMul rule and the reference interpreter's,
 *     out = clamp(round_half_even(float32(acc * M)) + zero_point, out_min, out_max),
 * with M the float32 real multiplier. `multipliers` then points to float32 values M (one per
 * channel when SLIMC_REQUANT_PER_CHANNEL is also set) and `shifts` is unused. SIMD: f32x4
 * multiply and nearest, exact because the float32 product of an int32 |acc| <= 2^24 is the
 * correctly rounded real product (larger accumulators take the scalar double path).
 * Without the flag the gemmlowp fixed-point formula above applies (TFLite-exact). */
enum slimc_requant_flags { SLIMC_REQUANT_PER_CHANNEL = 1, SLIMC_REQUANT_ROUND_ONCE = 2 };

/* ---------- scalar fixed-point helpers (exposed for tests and for building tables) ---------- */

/* The requantization formula above on one value, before zero point and clamping. */
int32_t slimc_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

/* rows x cols int32 (row stride src_stride) -> q8 (row stride dst_stride); channel = column. */
void slimc_requantize(int32_t rows, int32_t cols, const int32_t *src, int32_t src_stride,
                      const int32_t *multipliers, const int32_t *shifts, int32_t per_channel,
                      int32_t zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                      void *dst, int32_t dst_stride);

/* ---------- int8 GEMM: C[M][N] = sum_k (A[m][k] - za) * (B[k][n] - zb[n]) + bias[n] ---------- */

/* Size in bytes of B (K x N) packed into the micro-kernel layout. Packed layouts are private to
 * a build (the wasm and the native build differ); always pack with the library that runs. */
int32_t slimc_packed_b_size_q8(int32_t K, int32_t N);

/* Packs B, element (k, n) at B[k * stride_k + n * stride_n] (a K x N row-major matrix has
 * stride_k = N, stride_n = 1; an N x K weight matrix has stride_k = 1, stride_n = K).
 * b_zero_points: one per column when zp_per_channel, else one (NULL means 0). */
void slimc_pack_b_q8(int32_t K, int32_t N, const void *B, int32_t stride_k, int32_t stride_n,
                     int32_t b_signed, const int32_t *b_zero_points, int32_t zp_per_channel,
                     void *packed);

/* Int32 output (row stride ldc). bias may be NULL. */
void slimc_gemm_q8_i32(int32_t M, int32_t N, int32_t K, const void *A, int32_t lda,
                       int32_t a_signed, int32_t a_zero_point, const void *packed_b,
                       const int32_t *bias, int32_t *C, int32_t ldc);

/* Requantized q8 output (row stride ldc), per-column requantization parameters. */
void slimc_gemm_q8(int32_t M, int32_t N, int32_t K, const void *A, int32_t lda, int32_t a_signed,
                   int32_t a_zero_point, const void *packed_b, const int32_t *bias,
                   const int32_t *multipliers, const int32_t *shifts, int32_t per_channel,
                   int32_t out_zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                   void *C, int32_t ldc);

/* ---------- int8 convolution, NHWC activations, OIHW weights ----------
 * Output height = (H + pad_top + pad_bottom - dil_h * (KH - 1) - 1) / stride_h + 1 (same for W).
 * Padded input positions hold the input zero point. Depthwise (groups == C == Cout) runs a direct
 * kernel; 1x1 stride-1 unpadded convolutions read the input as the GEMM's A with no im2col;
 * with channels per group a multiple of 8 the GEMM reads the input, widened to int16 in bands of
 * rows, in place (or packs its A panels from the input directly);
 * everything else is im2col + GEMM per group. */

int32_t slimc_conv_packed_weights_size_q8(int32_t C, int32_t Cout, int32_t KH, int32_t KW,
                                          int32_t groups);
void slimc_conv_pack_weights_q8(int32_t C, int32_t Cout, int32_t KH, int32_t KW, int32_t groups,
                                const void *weights, int32_t w_signed,
                                const int32_t *w_zero_points, int32_t zp_per_channel,
                                void *packed);

/* Geometry is passed as an int32 array (see slimc_conv_geometry_index) to keep the ABI short. */
enum slimc_conv_geometry_index {
  SLIMC_CONV_N, SLIMC_CONV_H, SLIMC_CONV_W, SLIMC_CONV_C, SLIMC_CONV_COUT, SLIMC_CONV_KH,
  SLIMC_CONV_KW, SLIMC_CONV_GROUPS, SLIMC_CONV_STRIDE_H, SLIMC_CONV_STRIDE_W, SLIMC_CONV_DIL_H,
  SLIMC_CONV_DIL_W, SLIMC_CONV_PAD_TOP, SLIMC_CONV_PAD_LEFT, SLIMC_CONV_PAD_BOTTOM,
  SLIMC_CONV_PAD_RIGHT, SLIMC_CONV_GEOMETRY_LENGTH
};

/* output_table: NULL, or 256 bytes through which each requantized output byte is mapped (a
 * lookup-table activation such as hardswish fused into the convolution). */
void slimc_conv_q8(const int32_t *geometry, const void *input, int32_t in_signed,
                   int32_t in_zero_point, const void *packed_weights, const int32_t *bias,
                   const int32_t *multipliers, const int32_t *shifts, int32_t per_channel,
                   int32_t out_zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                   const uint8_t *output_table, void *output);

/* ---------- int8 elementwise ----------
 * b_stride 0 broadcasts b[0]; 1 walks b with a. */

/* TFLite quantized add: a' = MBQM((a - za) << left_shift, a_mult, a_shift), same for b,
 * out = clamp(MBQM(a' + b', out_mult, out_shift) + zo, min, max). */
void slimc_add_q8(int32_t n, const void *a, int32_t a_signed, int32_t a_zero_point,
                  int32_t a_multiplier, int32_t a_shift, const void *b, int32_t b_stride,
                  int32_t b_signed, int32_t b_zero_point, int32_t b_multiplier, int32_t b_shift,
                  int32_t left_shift, int32_t out_multiplier, int32_t out_shift,
                  int32_t out_zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                  void *out);

/* out = clamp(MBQM((a - za) * (b - zb), multiplier, shift) + zo, min, max). */
void slimc_mul_q8(int32_t n, const void *a, int32_t a_signed, int32_t a_zero_point,
                  const void *b, int32_t b_stride, int32_t b_signed, int32_t b_zero_point,
                  int32_t multiplier, int32_t shift, int32_t out_zero_point, int32_t out_min,
                  int32_t out_max, int32_t out_signed, void *out);

/* Copies rows x cols with a change of scale/zero point (concat along the inner axis writes each
 * input into a column range of the output with dst_stride = total channels):
 * out = clamp(MBQM(x - zx, multiplier, shift) + zo, min, max). */
void slimc_rescale_q8(int32_t rows, int32_t cols, const void *src, int32_t src_stride,
                      int32_t src_signed, int32_t src_zero_point, int32_t multiplier,
                      int32_t shift, void *dst, int32_t dst_stride, int32_t dst_signed,
                      int32_t dst_zero_point, int32_t out_min, int32_t out_max);

/* 256-entry lookup tables, indexed by the raw input byte.
 * table[byte] = clamp(round_half_even(f(scale_in * (v - zp_in)) / scale_out) + zp_out), where v is
 * the byte read as int8 or uint8, computed in double precision. */
enum slimc_lut_function {
  SLIMC_LUT_SIGMOID = 0,     /* 1 / (1 + exp(-x)) */
  SLIMC_LUT_HARDSIGMOID = 1, /* max(0, min(1, alpha * x + beta)) */
  SLIMC_LUT_HARDSWISH = 2    /* x * max(0, min(1, x / 6 + 1/2)) */
};
void slimc_lut_build_q8(int32_t function, double alpha, double beta, double in_scale,
                        int32_t in_zero_point, int32_t in_signed, double out_scale,
                        int32_t out_zero_point, int32_t out_signed, uint8_t *table);
void slimc_lut_apply_q8(int32_t n, const void *src, const uint8_t *table, void *dst);
/* dst[i] = table[byte of src[i]]: q8 codes to float32 through a 256-entry table. */
void slimc_lut_apply_f32(int32_t n, const void *src, const float *table, float *dst);

/* ---------- int8 pooling, NHWC ----------
 * geometry as for convolution (COUT and GROUPS ignored, KH/KW = window).
 * Average: out = clamp(MBQM(sum(x - zx), mult[count-1], shift[count-1]) + zo, min, max) where
 * count is the window size (count_include_pad) or the number of non-padded taps; the caller passes
 * one (multiplier, shift) per possible count 1..KH*KW encoding in_scale / (out_scale * count).
 * Max: max over the non-padded taps, same type in and out. */
void slimc_avgpool_q8(const int32_t *geometry, const void *input, int32_t in_signed,
                      int32_t in_zero_point, int32_t count_include_pad,
                      const int32_t *multipliers, const int32_t *shifts, int32_t out_zero_point,
                      int32_t out_min, int32_t out_max, int32_t out_signed, void *output);
void slimc_maxpool_q8(const int32_t *geometry, const void *input, int32_t is_signed,
                      void *output);
/* float32 max pooling, NHWC, geometry as above: per output, the first non-padded tap, then any
 * strictly greater one, in row-major window order (the reference interpreter's rule); -infinity
 * for a window entirely in padding. */
void slimc_maxpool_f32(const int32_t *geometry, const float *input, float *output);
/* float32 average pooling, NHWC: the double sum of the non-padded taps in window order divided by
 * the window size (count_include_pad) or the number of non-padded taps, rounded once to float32
 * (the reference interpreter's rule). */
void slimc_avgpool_f32(const int32_t *geometry, const float *input, int32_t count_include_pad,
                       float *output);
/* N x H x W x C -> N x C, the reference interpreter's Q(GlobalAveragePool(DQ(x))) bit for bit:
 * float32 dequantized codes summed in double, the mean rounded to float32, divided by out_scale,
 * rounded to float32 and then half to even (the rounding onnxruntime's QLinearGlobalAveragePool
 * also ends with). 256 floats of stack for the code table. */
void slimc_global_avgpool_q8(int32_t N, int32_t HW, int32_t C, const void *input,
                             int32_t in_signed, int32_t in_zero_point, float in_scale,
                             float out_scale, int32_t out_zero_point, int32_t out_min,
                             int32_t out_max, int32_t out_signed, void *output);

/* ---------- float32 ----------
 * C[M][N] = clamp(A[M][K] . B[K][N] + bias[N], out_min, out_max) (use +-INFINITY for no clamp). */
int32_t slimc_packed_b_size_f32(int32_t K, int32_t N);
void slimc_pack_b_f32(int32_t K, int32_t N, const float *B, int32_t stride_k, int32_t stride_n,
                      float *packed);
void slimc_gemm_f32(int32_t M, int32_t N, int32_t K, const float *A, int32_t lda,
                    const float *packed_b, const float *bias, float out_min, float out_max,
                    float *C, int32_t ldc);
int32_t slimc_conv_packed_weights_size_f32(int32_t C, int32_t Cout, int32_t KH, int32_t KW,
                                           int32_t groups);
void slimc_conv_pack_weights_f32(int32_t C, int32_t Cout, int32_t KH, int32_t KW, int32_t groups,
                                 const float *weights, float *packed);
void slimc_conv_f32(const int32_t *geometry, const float *input, const float *packed_weights,
                    const float *bias, float out_min, float out_max, float *output);

/* ---------- float32 elementwise (eltwise_f32.c), results equal the reference interpreter ----------
 * Binary: out[i] = a[i] (op) b[(i / inner) % period] over n elements of a (b broadcast as a block:
 * a scalar is inner = n, period = 1; same shape is inner = 1, period = n; a per-channel [C,1,1]
 * against NCHW is inner = H*W, period = C). The *_SWAPPED ops compute b (op) a. */
enum slimc_binary_op {
  SLIMC_BINARY_ADD = 0, SLIMC_BINARY_SUB = 1, SLIMC_BINARY_MUL = 2, SLIMC_BINARY_DIV = 3,
  SLIMC_BINARY_SUB_SWAPPED = 4, SLIMC_BINARY_DIV_SWAPPED = 5
};
void slimc_binary_f32(int32_t op, int32_t n, const float *a, const float *b, int32_t inner,
                      int32_t period, float *out);
/* CLAMP: min(max(x, lo), hi) (Relu, Clip); HARDSIGMOID: max(0, min(1, alpha x + beta));
 * HARDSWISH: x max(0, min(1, x / 6 + 1/2)); SIGMOID: 1 / (1 + exp(-x)); the last three in double
 * (alpha and beta too, as the interpreter holds them), rounded once (sigmoid's exp is
 * slimc_exp_f64x2's, within 1e-13 of the true one, so its result may differ from the
 * interpreter's by one float32 rounding). */
enum slimc_unary_op {
  SLIMC_UNARY_CLAMP = 0, SLIMC_UNARY_HARDSIGMOID = 1, SLIMC_UNARY_HARDSWISH = 2, SLIMC_UNARY_SIGMOID = 3
};
void slimc_unary_f32(int32_t op, int32_t n, const float *x, double alpha, double beta, float lo,
                     float hi, float *out);
/* Per-tensor QuantizeLinear: q = clamp(round_half_even(x / scale) + zero_point, out_min, out_max)
 * (NaN gives 0); DequantizeLinear: x = (q - zero_point) * scale, both in float32 as ONNX says. */
void slimc_quantize_f32(int32_t n, const float *x, float scale, int32_t zero_point, int32_t out_min,
                        int32_t out_max, int32_t out_signed, void *out);
void slimc_dequantize_q8(int32_t n, const void *q, int32_t q_signed, int32_t zero_point,
                         float scale, float *out);
/* Depthwise convolution (groups == C == Cout) on NCHW activations, weights [C][KH][KW] unpacked,
 * geometry as for slimc_conv_q8; out = clamp(bias[c] + sum of taps inside the input). */
void slimc_depthwise_conv_f32(const int32_t *geometry, const float *input, const float *weights,
                              const float *bias, float out_min, float out_max, float *output);
/* [batch][channels][hw] (or [batch][hw][channels] when nhwc) -> [batch][channels]: the mean of
 * each plane, summed in order in double. */
void slimc_global_avgpool_f32(int32_t batch, int32_t channels, int32_t hw, int32_t nhwc,
                              const float *input, float *output);

/* `runs` copies of `bytes` bytes, the i-th from src + i * src_stride to dst + i * dst_stride
 * (byte strides): Concat of any element type, one input at a time into its place. */
void slimc_copy_runs(int32_t runs, int32_t bytes, const void *src, int32_t src_stride, void *dst,
                     int32_t dst_stride);

/* dst, row-major over dims[0..rank) (rank <= 8), gets the element of src at byte offset
 * sum_k index_k * src_strides[k], of element_bytes (1, 2, 4 or 8) each: Transpose (permuted
 * strides) and Slice (strides times steps, src at the first element) of any element type. */
void slimc_gather_strided(int32_t rank, const int32_t *dims, const int32_t *src_strides,
                          int32_t element_bytes, const void *src, void *dst);

/* out[r] = float32(sum_k x[r * dim + k] / dim), the sum in double in order: ReduceMean over the
 * last axis as the interpreter computes it. */
void slimc_mean_rows_f32(int32_t rows, int32_t dim, const float *x, float *out);

/* NCHW -> NHWC (to_nchw = 0) or NHWC -> NCHW (to_nchw = 1) of a logical [batch, channels, hw]
 * tensor of 1- or 4-byte elements. */
void slimc_transpose_layout(int32_t batch, int32_t channels, int32_t hw, int32_t element_bytes,
                            int32_t to_nchw, const void *src, void *dst);

/* Resize, mode nearest, asymmetric coordinates, nearest_mode floor, integer factors:
 * [batch][channels][h][w] (or NHWC when nhwc) -> h * scale_h by w * scale_w, same layout. */
void slimc_resize_nearest_f32(int32_t batch, int32_t channels, int32_t h, int32_t w,
                              int32_t scale_h, int32_t scale_w, int32_t nhwc, const float *input,
                              float *output);
/* Softmax over rows of `dim` elements at stride `inner` (outer x dim x inner blocks), in double
 * (exp as for SIGMOID). */
void slimc_softmax_f32(int32_t outer, int32_t dim, int32_t inner, const float *input,
                       float *output);

/* y = x * mul[c] + add[c] per channel of [batch][channels][hw] (NHWC when nhwc), in double,
 * rounded once: inference BatchNormalization with mul = scale / sqrt(var + eps) and
 * add = bias - mean * mul. */
void slimc_channel_affine_f32(int32_t batch, int32_t channels, int32_t hw, int32_t nhwc,
                              const float *input, const double *mul, const double *add,
                              float *output);

/* Releases the internal scratch buffers. */
void slimc_release_scratch(void);
/* Sizes the scratch buffers up front: with integer_gemm the int8 im2col rows, the packed-A block
 * and a requantization plan for plan_channels channels; with float_conv the float im2col rows;
 * row_bytes for per-row sums. A runtime calls it after packing its weights, so kernel scratch sits
 * below the activation region, which can then grow in place instead of moving above scratch
 * allocated during its first run. */
void slimc_reserve_scratch(int32_t integer_gemm, int32_t float_conv, int32_t row_bytes,
                           int32_t plan_channels);

#ifdef __cplusplus
}
#endif

#endif
