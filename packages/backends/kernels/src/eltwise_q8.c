/*
 * int8/uint8 elementwise kernels: add and mul with rescale, rescaling copy (concat), and
 * 256-entry lookup tables for sigmoid / hardsigmoid / hardswish. Math in slimc_kernels.h.
 * Scalar C: these are memory-bound and the compilers vectorize the plain loops well enough.
 */
#include <math.h>
#include "internal.h"

void slimc_add_q8(int32_t n, const void *a, int32_t a_signed, int32_t a_zero_point,
                  int32_t a_multiplier, int32_t a_shift, const void *b, int32_t b_stride,
                  int32_t b_signed, int32_t b_zero_point, int32_t b_multiplier, int32_t b_shift,
                  int32_t left_shift, int32_t out_multiplier, int32_t out_shift,
                  int32_t out_zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                  void *out) {
  (void)out_signed; /* the clamp bounds already encode the output type */
  for (int32_t i = 0; i < n; i++) {
    int32_t x = (load_q8(a, i, a_signed) - a_zero_point) * (1 << left_shift);
    int32_t y = (load_q8(b, i * b_stride, b_signed) - b_zero_point) * (1 << left_shift);
    int32_t sum = slimc_multiply_by_quantized_multiplier(x, a_multiplier, a_shift) +
                  slimc_multiply_by_quantized_multiplier(y, b_multiplier, b_shift);
    int32_t r = slimc_multiply_by_quantized_multiplier(sum, out_multiplier, out_shift);
    store_q8(out, i, clamp_i32(r + out_zero_point, out_min, out_max));
  }
}

void slimc_mul_q8(int32_t n, const void *a, int32_t a_signed, int32_t a_zero_point,
                  const void *b, int32_t b_stride, int32_t b_signed, int32_t b_zero_point,
                  int32_t multiplier, int32_t shift, int32_t out_zero_point, int32_t out_min,
                  int32_t out_max, int32_t out_signed, void *out) {
  (void)out_signed;
  for (int32_t i = 0; i < n; i++) {
    int32_t product = (load_q8(a, i, a_signed) - a_zero_point) *
                      (load_q8(b, i * b_stride, b_signed) - b_zero_point);
    int32_t r = slimc_multiply_by_quantized_multiplier(product, multiplier, shift);
    store_q8(out, i, clamp_i32(r + out_zero_point, out_min, out_max));
  }
}

void slimc_rescale_q8(int32_t rows, int32_t cols, const void *src, int32_t src_stride,
                      int32_t src_signed, int32_t src_zero_point, int32_t multiplier,
                      int32_t shift, void *dst, int32_t dst_stride, int32_t dst_signed,
                      int32_t dst_zero_point, int32_t out_min, int32_t out_max) {
  (void)dst_signed;
  for (int32_t r = 0; r < rows; r++) {
    const uint8_t *in = (const uint8_t *)src + (size_t)r * src_stride;
    uint8_t *out = (uint8_t *)dst + (size_t)r * dst_stride;
    for (int32_t c = 0; c < cols; c++) {
      int32_t v = slimc_multiply_by_quantized_multiplier(load_q8(in, c, src_signed) - src_zero_point,
                                                         multiplier, shift);
      store_q8(out, c, clamp_i32(v + dst_zero_point, out_min, out_max));
    }
  }
}

static double lut_function(int32_t function, double alpha, double beta, double x) {
  switch (function) {
    case SLIMC_LUT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case SLIMC_LUT_HARDSIGMOID: return fmax(0.0, fmin(1.0, alpha * x + beta));
    default: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
  }
}

/* Round half to even, as ONNX QuantizeLinear does. */
static double round_half_even(double v) {
  double floor_v = floor(v), diff = v - floor_v;
  if (diff > 0.5) return floor_v + 1;
  if (diff < 0.5) return floor_v;
  return fmod(floor_v, 2.0) == 0 ? floor_v : floor_v + 1;
}

void slimc_lut_build_q8(int32_t function, double alpha, double beta, double in_scale,
                        int32_t in_zero_point, int32_t in_signed, double out_scale,
                        int32_t out_zero_point, int32_t out_signed, uint8_t *table) {
  int32_t lo = out_signed ? -128 : 0, hi = out_signed ? 127 : 255;
  for (int32_t byte = 0; byte < 256; byte++) {
    int32_t v = in_signed ? (int32_t)(int8_t)byte : byte;
    double y = lut_function(function, alpha, beta, in_scale * (v - in_zero_point));
    double q = round_half_even(y / out_scale) + out_zero_point;
    int32_t clamped = q < lo ? lo : (q > hi ? hi : (int32_t)q);
    table[byte] = (uint8_t)clamped;
  }
}

void slimc_lut_apply_q8(int32_t n, const void *src, const uint8_t *table, void *dst) {
  const uint8_t *in = src;
  uint8_t *out = dst;
  for (int32_t i = 0; i < n; i++) out[i] = table[in[i]];
}

void slimc_lut_apply_f32(int32_t n, const void *src, const float *table, float *dst) {
  const uint8_t *in = src;
  for (int32_t i = 0; i < n; i++) dst[i] = table[in[i]];
}
