/*
 * float32 elementwise kernels: binary ops with block broadcasting, clamp-style activations,
 * per-tensor QuantizeLinear / DequantizeLinear, depthwise convolution and global average pooling
 * on NCHW data. Plain loops over restrict pointers: clang vectorizes them to SIMD128 in the wasm
 * build (f32x4 add/mul/div/min/max, f32x4.nearest for the rounding), gcc to SSE/AVX natively.
 *
 * Results equal slimc's reference interpreter, which computes each element in float64 and rounds
 * once to float32: for + - * / of float32 operands that double rounding gives the float32 result,
 * so float32 arithmetic is exact here; HardSigmoid / HardSwish mix in float64 constants and run in
 * double. The convolution and pooling sums are the exceptions (their accumulation order and
 * precision differ from the interpreter's).
 */
#include <math.h>
#include <string.h>
#include "internal.h"

static void binary_run(int32_t op, int32_t n, const float *restrict a, const float *restrict b,
                       float *restrict out) {
  switch (op) {
    case SLIMC_BINARY_ADD: for (int32_t i = 0; i < n; i++) out[i] = a[i] + b[i]; break;
    case SLIMC_BINARY_SUB: for (int32_t i = 0; i < n; i++) out[i] = a[i] - b[i]; break;
    case SLIMC_BINARY_MUL: for (int32_t i = 0; i < n; i++) out[i] = a[i] * b[i]; break;
    case SLIMC_BINARY_DIV: for (int32_t i = 0; i < n; i++) out[i] = a[i] / b[i]; break;
    case SLIMC_BINARY_SUB_SWAPPED: for (int32_t i = 0; i < n; i++) out[i] = b[i] - a[i]; break;
    case SLIMC_BINARY_DIV_SWAPPED: for (int32_t i = 0; i < n; i++) out[i] = b[i] / a[i]; break;
  }
}

static void binary_scalar(int32_t op, int32_t n, const float *restrict a, float v,
                          float *restrict out) {
  switch (op) {
    case SLIMC_BINARY_ADD: for (int32_t i = 0; i < n; i++) out[i] = a[i] + v; break;
    case SLIMC_BINARY_SUB: for (int32_t i = 0; i < n; i++) out[i] = a[i] - v; break;
    case SLIMC_BINARY_MUL: for (int32_t i = 0; i < n; i++) out[i] = a[i] * v; break;
    case SLIMC_BINARY_DIV: for (int32_t i = 0; i < n; i++) out[i] = a[i] / v; break;
    case SLIMC_BINARY_SUB_SWAPPED: for (int32_t i = 0; i < n; i++) out[i] = v - a[i]; break;
    case SLIMC_BINARY_DIV_SWAPPED: for (int32_t i = 0; i < n; i++) out[i] = v / a[i]; break;
  }
}

void slimc_binary_f32(int32_t op, int32_t n, const float *a, const float *b, int32_t inner,
                      int32_t period, float *out) {
  if (inner == 1) {
    /* b runs along the innermost dims: whole rows of `period` elements */
    for (int32_t i = 0; i < n; i += period) binary_run(op, SLIMC_MIN(period, n - i), a + i, b, out + i);
    return;
  }
  for (int32_t i = 0, j = 0; i < n; i += inner, j = j + 1 == period ? 0 : j + 1) {
    binary_scalar(op, SLIMC_MIN(inner, n - i), a + i, b[j], out + i);
  }
}

/* exp in double, two lanes, for |x| <= 708 (callers clamp; NaN gives NaN): x = n ln2 + r with
 * n = round(x / ln2) and ln2 split in two (fdlibm's: n * LN2_HI is exact), |r| <= ln2 / 2, e^r by
 * its Taylor polynomial to degree 11 (remainder < 1e-14 relative), times 2^n built in the
 * exponent bits. Within about 1e-14 of the true exp: rounded to float32, results equal those of
 * any correctly rounded double exp (Math.exp, libm) except within 1e-14 of a float32 tie. */
/* 1/10!, ..., 1/2!, 1, 1: the Horner steps after 1/11! */
static const double exp_taylor[] = {1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                                    1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};

static double exp_scalar(double x) {
  double n = nearbyint(x * 1.4426950408889634);
  double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 39916800.0;
  for (int i = 0; i < 11; i++) p = p * r + exp_taylor[i];
  return ldexp(p, (int)n);
}

#ifdef SLIMC_SIMD
static inline v128_t exp_f64x2(v128_t x) {
  /* n + 1.5 * 2^52 holds n in its low mantissa bits: the rounding and the integer at once */
  const v128_t shifter = wasm_f64x2_splat(6755399441055744.0);
  v128_t k = wasm_f64x2_add(wasm_f64x2_mul(x, wasm_f64x2_splat(1.4426950408889634)), shifter);
  v128_t n = wasm_f64x2_sub(k, shifter);
  v128_t r = wasm_f64x2_sub(wasm_f64x2_sub(x, wasm_f64x2_mul(n, wasm_f64x2_splat(6.93147180369123816490e-01))),
                            wasm_f64x2_mul(n, wasm_f64x2_splat(1.90821492927058770002e-10)));
  v128_t p = wasm_f64x2_splat(1.0 / 39916800.0);
  for (int i = 0; i < 11; i++) p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(exp_taylor[i]));
  /* 2^n: (n + 1023) << 52, n read from k's low bits */
  v128_t biased = wasm_i64x2_add(wasm_i64x2_sub(k, shifter), wasm_i64x2_splat(1023));
  return wasm_f64x2_mul(p, wasm_i64x2_shl(biased, 52));
}
#endif

/* The arguments exp_f64x2 takes: |x| <= 708, where 1 / (1 + exp(-x)) and softmax terms are
 * already 0 or 1 in float32 beyond the clamp. */
#define EXP_ARGUMENT_LIMIT 708.0

static void sigmoid_f32(int32_t n, const float *restrict x, float *restrict out) {
  int32_t i = 0;
#ifdef SLIMC_SIMD
  const v128_t lo = wasm_f64x2_splat(-EXP_ARGUMENT_LIMIT), hi = wasm_f64x2_splat(EXP_ARGUMENT_LIMIT);
  const v128_t one = wasm_f64x2_splat(1.0);
  for (; i + 2 <= n; i += 2) {
    v128_t v = wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(x + i));
    v128_t minus = wasm_f64x2_pmin(wasm_f64x2_pmax(wasm_f64x2_neg(v), lo), hi);
    v128_t y = wasm_f64x2_div(one, wasm_f64x2_add(one, exp_f64x2(minus)));
    /* NaN in, NaN out (the clamp would have made it a number) */
    y = wasm_v128_bitselect(y, v, wasm_f64x2_eq(v, v));
    wasm_v128_store64_lane(out + i, wasm_f32x4_demote_f64x2_zero(y), 0);
  }
#endif
  for (; i < n; i++) {
    double v = -(double)x[i];
    v = v < -EXP_ARGUMENT_LIMIT ? -EXP_ARGUMENT_LIMIT : v > EXP_ARGUMENT_LIMIT ? EXP_ARGUMENT_LIMIT : v;
    out[i] = x[i] != x[i] ? x[i] : (float)(1.0 / (1.0 + exp_scalar(v)));
  }
}

void slimc_unary_f32(int32_t op, int32_t n, const float *restrict x, double alpha, double beta,
                     float lo, float hi, float *restrict out) {
  switch (op) {
    case SLIMC_UNARY_SIGMOID:
      sigmoid_f32(n, x, out);
      break;
    case SLIMC_UNARY_CLAMP:
      /* comparisons, not fminf/fmaxf: NaN passes through as in the interpreter */
      for (int32_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < lo ? lo : v;
        out[i] = v > hi ? hi : v;
      }
      break;
    case SLIMC_UNARY_HARDSIGMOID:
      for (int32_t i = 0; i < n; i++) {
        double v = alpha * (double)x[i] + beta;
        v = v > 1.0 ? 1.0 : v;
        out[i] = (float)(v < 0.0 ? 0.0 : v);
      }
      break;
    case SLIMC_UNARY_HARDSWISH:
      for (int32_t i = 0; i < n; i++) {
        double xd = (double)x[i];
        double g = xd / 6.0 + 0.5;
        g = g > 1.0 ? 1.0 : g;
        g = g < 0.0 ? 0.0 : g;
        out[i] = (float)(xd * g);
      }
      break;
  }
}

/* the scalar form of one element; NaN stores 0, as a typed array does */
static inline float quantize_one(float x, float scale, float zp, float lo, float hi) {
  float v = nearbyintf(x / scale) + zp;
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return v == v ? v : 0.0f;
}

void slimc_quantize_f32(int32_t n, const float *restrict x, float scale, int32_t zero_point,
                        int32_t out_min, int32_t out_max, int32_t out_signed, void *out) {
  const float lo = (float)out_min, hi = (float)out_max, zp = (float)zero_point;
  /* round half to even; past 2^24 the sum with the zero point may round, but such values
   * saturate anyway */
  int32_t i = 0;
#ifdef SLIMC_SIMD
  /* clamp x / scale to [lo - zp, hi - zp] (integers, so before or after rounding alike), then
   * one add of 1.5 * 2^23 rounds half to even and leaves round(v) + 0x4B400000 in the bits
   * (cheaper than nearest + trunc_sat, several instructions each in V8 on x64); NaN gives 0 */
  const v128_t vs = wasm_f32x4_splat(scale);
  const v128_t vlo = wasm_f32x4_splat(lo - zp), vhi = wasm_f32x4_splat(hi - zp);
  const v128_t magic = wasm_f32x4_splat(12582912.0f), unbias = wasm_i32x4_splat(0x4B400000 - zero_point);
  for (; i + 16 <= n; i += 16) {
    v128_t q[4];
    for (int k = 0; k < 4; k++) {
      v128_t v = wasm_f32x4_div(wasm_v128_load(x + i + 4 * k), vs);
      v128_t number = wasm_f32x4_eq(v, v);
      /* pmax/pmin keep the first operand on NaN; NaN lanes are masked to 0 below */
      v = wasm_f32x4_pmin(wasm_f32x4_pmax(v, vlo), vhi);
      q[k] = wasm_v128_and(wasm_i32x4_sub(wasm_f32x4_add(v, magic), unbias), number);
    }
    v128_t h0 = wasm_i16x8_narrow_i32x4(q[0], q[1]), h1 = wasm_i16x8_narrow_i32x4(q[2], q[3]);
    v128_t bytes = out_signed ? wasm_i8x16_narrow_i16x8(h0, h1) : wasm_u8x16_narrow_i16x8(h0, h1);
    wasm_v128_store((uint8_t *)out + i, bytes);
  }
#endif
  if (out_signed) {
    int8_t *restrict o = (int8_t *)out;
    for (; i < n; i++) o[i] = (int8_t)quantize_one(x[i], scale, zp, lo, hi);
  } else {
    uint8_t *restrict o = (uint8_t *)out;
    for (; i < n; i++) o[i] = (uint8_t)quantize_one(x[i], scale, zp, lo, hi);
  }
}

void slimc_dequantize_q8(int32_t n, const void *q, int32_t q_signed, int32_t zero_point,
                         float scale, float *restrict out) {
  if (q_signed) {
    const int8_t *restrict s = (const int8_t *)q;
    for (int32_t i = 0; i < n; i++) out[i] = (float)((int32_t)s[i] - zero_point) * scale;
  } else {
    const uint8_t *restrict s = (const uint8_t *)q;
    for (int32_t i = 0; i < n; i++) out[i] = (float)((int32_t)s[i] - zero_point) * scale;
  }
}

void slimc_depthwise_conv_f32(const int32_t *geometry, const float *input, const float *weights,
                              const float *bias, float out_min, float out_max, float *output) {
  const int32_t batch = geometry[SLIMC_CONV_N], h = geometry[SLIMC_CONV_H];
  const int32_t w = geometry[SLIMC_CONV_W], channels = geometry[SLIMC_CONV_C];
  const int32_t kh = geometry[SLIMC_CONV_KH], kw = geometry[SLIMC_CONV_KW];
  const int32_t sh = geometry[SLIMC_CONV_STRIDE_H], sw = geometry[SLIMC_CONV_STRIDE_W];
  const int32_t dh = geometry[SLIMC_CONV_DIL_H], dw = geometry[SLIMC_CONV_DIL_W];
  const int32_t pt = geometry[SLIMC_CONV_PAD_TOP], pl = geometry[SLIMC_CONV_PAD_LEFT];
  const int32_t oh = (h + pt + geometry[SLIMC_CONV_PAD_BOTTOM] - dh * (kh - 1) - 1) / sh + 1;
  const int32_t ow = (w + pl + geometry[SLIMC_CONV_PAD_RIGHT] - dw * (kw - 1) - 1) / sw + 1;
  /* one output row at a time, one tap at a time over the row: the inner loop is a multiply-add
   * over the outputs whose input column lies inside the image (no per-tap bounds checks) */
  for (int32_t plane = 0; plane < batch * channels; plane++) {
    const int32_t c = plane % channels;
    const float *in_plane = input + (size_t)plane * h * w;
    const float *wc = weights + (size_t)c * kh * kw;
    const float b = bias ? bias[c] : 0.0f;
    for (int32_t oy = 0; oy < oh; oy++) {
      float *restrict row = output + ((size_t)plane * oh + oy) * ow;
      for (int32_t ox = 0; ox < ow; ox++) row[ox] = b;
      for (int32_t ky = 0; ky < kh; ky++) {
        const int32_t iy = oy * sh - pt + ky * dh;
        if (iy < 0 || iy >= h) continue;
        const float *in_row = in_plane + (size_t)iy * w;
        for (int32_t kx = 0; kx < kw; kx++) {
          const float wv = wc[ky * kw + kx];
          const int32_t shift = kx * dw - pl; /* input column = ox * sw + shift */
          int32_t first = shift < 0 ? (-shift + sw - 1) / sw : 0;
          int32_t end = (w - 1 - shift) < 0 ? 0 : (w - 1 - shift) / sw + 1;
          if (end > ow) end = ow;
          const float *restrict src = in_row + shift;
          if (sw == 1) for (int32_t ox = first; ox < end; ox++) row[ox] += src[ox] * wv;
          else for (int32_t ox = first; ox < end; ox++) row[ox] += src[ox * sw] * wv;
        }
      }
      for (int32_t ox = 0; ox < ow; ox++) {
        float v = row[ox];
        v = v < out_min ? out_min : v;
        row[ox] = v > out_max ? out_max : v;
      }
    }
  }
}

void slimc_global_avgpool_f32(int32_t batch, int32_t channels, int32_t hw, int32_t nhwc,
                              const float *input, float *output) {
  /* each mean summed in order over the plane, in double, as the interpreter sums */
  for (int32_t b = 0; b < batch; b++) {
    const float *x = input + (size_t)b * channels * hw;
    for (int32_t c = 0; c < channels; c++) {
      double sum = 0.0;
      if (nhwc) for (int32_t i = 0; i < hw; i++) sum += x[(size_t)i * channels + c];
      else for (int32_t i = 0; i < hw; i++) sum += x[(size_t)c * hw + i];
      output[(size_t)b * channels + c] = (float)(sum / hw);
    }
  }
}

void slimc_copy_runs(int32_t runs, int32_t bytes, const void *src, int32_t src_stride, void *dst,
                     int32_t dst_stride) {
  const uint8_t *s = src;
  uint8_t *d = dst;
  for (int32_t i = 0; i < runs; i++) memcpy(d + (size_t)i * dst_stride, s + (size_t)i * src_stride, (size_t)bytes);
}

void slimc_gather_strided(int32_t rank, const int32_t *dims, const int32_t *src_strides,
                          int32_t element_bytes, const void *src, void *dst) {
  enum { MAX_RANK = 8 };
  int32_t index[MAX_RANK] = {0};
  if (rank < 1 || rank > MAX_RANK) return;
  for (int32_t k = 0; k < rank; k++) if (dims[k] <= 0) return;
  const int32_t inner = dims[rank - 1], inner_stride = src_strides[rank - 1];
  const size_t row_bytes = (size_t)inner * element_bytes;
  uint8_t *out = dst;
  for (;;) {
    const uint8_t *from = src;
    for (int32_t k = 0; k < rank - 1; k++) from += (ptrdiff_t)index[k] * src_strides[k];
    /* the innermost dim: one copy when contiguous, else element by element */
    if (inner_stride == element_bytes) {
      memcpy(out, from, row_bytes);
    } else {
      switch (element_bytes) {
        case 1: for (int32_t i = 0; i < inner; i++) out[i] = from[(ptrdiff_t)i * inner_stride]; break;
        case 2: for (int32_t i = 0; i < inner; i++) memcpy(out + 2 * i, from + (ptrdiff_t)i * inner_stride, 2); break;
        case 4: for (int32_t i = 0; i < inner; i++) memcpy(out + 4 * i, from + (ptrdiff_t)i * inner_stride, 4); break;
        default: for (int32_t i = 0; i < inner; i++) memcpy(out + (size_t)element_bytes * i, from + (ptrdiff_t)i * inner_stride, (size_t)element_bytes);
      }
    }
    out += row_bytes;
    int32_t k = rank - 2;
    while (k >= 0 && ++index[k] == dims[k]) index[k--] = 0;
    if (k < 0) return;
  }
}

void slimc_mean_rows_f32(int32_t rows, int32_t dim, const float *x, float *out) {
  for (int32_t r = 0; r < rows; r++) {
    const float *row = x + (size_t)r * dim;
    double sum = 0.0;
    for (int32_t k = 0; k < dim; k++) sum += row[k];
    out[r] = (float)(sum / dim);
  }
}

void slimc_transpose_layout(int32_t batch, int32_t channels, int32_t hw, int32_t element_bytes,
                            int32_t to_nchw, const void *src, void *dst) {
  /* per image a [channels][hw] <-> [hw][channels] matrix transpose, in 16 x 16 tiles so both
   * sides stay in cache */
  enum { TILE = 16 };
  const int32_t rows = to_nchw ? hw : channels, cols = to_nchw ? channels : hw;
  for (int32_t b = 0; b < batch; b++) {
    const size_t base = (size_t)b * channels * hw;
    for (int32_t r0 = 0; r0 < rows; r0 += TILE) {
      const int32_t r1 = SLIMC_MIN(r0 + TILE, rows);
      for (int32_t c0 = 0; c0 < cols; c0 += TILE) {
        const int32_t c1 = SLIMC_MIN(c0 + TILE, cols);
        if (element_bytes == 4) {
          const uint32_t *s = (const uint32_t *)src + base;
          uint32_t *d = (uint32_t *)dst + base;
          for (int32_t r = r0; r < r1; r++)
            for (int32_t c = c0; c < c1; c++) d[(size_t)c * rows + r] = s[(size_t)r * cols + c];
        } else {
          const uint8_t *s = (const uint8_t *)src + base;
          uint8_t *d = (uint8_t *)dst + base;
          for (int32_t r = r0; r < r1; r++)
            for (int32_t c = c0; c < c1; c++) d[(size_t)c * rows + r] = s[(size_t)r * cols + c];
        }
      }
    }
  }
}

void slimc_resize_nearest_f32(int32_t batch, int32_t channels, int32_t h, int32_t w,
                              int32_t scale_h, int32_t scale_w, int32_t nhwc, const float *input,
                              float *output) {
  /* integer factors, asymmetric coordinates, floor: output (oy, ox) reads (oy / sh, ox / sw) */
  const int32_t oh = h * scale_h, ow = w * scale_w;
  if (nhwc) {
    for (int32_t b = 0; b < batch; b++)
      for (int32_t oy = 0; oy < oh; oy++) {
        const float *in_row = input + (((size_t)b * h + oy / scale_h) * w) * channels;
        float *out_row = output + (((size_t)b * oh + oy) * ow) * channels;
        for (int32_t ox = 0; ox < ow; ox++) {
          const float *src = in_row + (size_t)(ox / scale_w) * channels;
          float *dst = out_row + (size_t)ox * channels;
          for (int32_t c = 0; c < channels; c++) dst[c] = src[c];
        }
      }
    return;
  }
  for (int32_t p = 0; p < batch * channels; p++)
    for (int32_t oy = 0; oy < oh; oy++) {
      const float *in_row = input + ((size_t)p * h + oy / scale_h) * w;
      float *restrict out_row = output + ((size_t)p * oh + oy) * ow;
      for (int32_t ox = 0; ox < ow; ox++) out_row[ox] = in_row[ox / scale_w];
    }
}

void slimc_softmax_f32(int32_t outer, int32_t dim, int32_t inner, const float *input,
                       float *output) {
  /* the interpreter's steps in double: max, sum of exp(x - max), exp(x - max) / sum; each exp is
   * computed once (exp_f64x2, see there) and kept in double scratch for the division; rows whose
   * max is not finite take the scalar steps with libm's exp (NaN and infinities as the
   * interpreter gives them) */
  double *e = slimc_scratch(SCRATCH_ROW, (size_t)SLIMC_MAX(dim, 1) * sizeof(double));
  for (int32_t b = 0; b < outer; b++)
    for (int32_t i = 0; i < inner; i++) {
      const float *x = input + (size_t)b * dim * inner + i;
      float *o = output + (size_t)b * dim * inner + i;
      double max = -INFINITY;
      for (int32_t k = 0; k < dim; k++) if (x[(size_t)k * inner] > max) max = x[(size_t)k * inner];
      double sum = 0.0;
      int32_t k = 0;
      if (isfinite(max)) {
#ifdef SLIMC_SIMD
        if (inner == 1) {
          v128_t m = wasm_f64x2_splat(max), lo = wasm_f64x2_splat(-EXP_ARGUMENT_LIMIT), sums = wasm_f64x2_splat(0.0);
          for (; k + 2 <= dim; k += 2) {
            /* x - max <= 0 is exact in double; NaN x compare false in pmax and stay NaN */
            v128_t d = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(x + k)), m);
            v128_t ek = exp_f64x2(wasm_f64x2_pmax(d, lo));
            ek = wasm_v128_bitselect(ek, d, wasm_f64x2_eq(d, d));
            wasm_v128_store(e + k, ek);
            sums = wasm_f64x2_add(sums, ek);
          }
          sum = wasm_f64x2_extract_lane(sums, 0) + wasm_f64x2_extract_lane(sums, 1);
        }
#endif
        for (; k < dim; k++) {
          double d = (double)x[(size_t)k * inner] - max;
          sum += e[k] = d != d ? d : exp_scalar(d < -EXP_ARGUMENT_LIMIT ? -EXP_ARGUMENT_LIMIT : d);
        }
      } else {
        for (; k < dim; k++) sum += e[k] = exp((double)x[(size_t)k * inner] - max);
      }
      int32_t j = 0;
#ifdef SLIMC_SIMD
      if (inner == 1) {
        v128_t s = wasm_f64x2_splat(sum);
        for (; j + 2 <= dim; j += 2)
          wasm_v128_store64_lane(o + j, wasm_f32x4_demote_f64x2_zero(wasm_f64x2_div(wasm_v128_load(e + j), s)), 0);
      }
#endif
      for (; j < dim; j++) o[(size_t)j * inner] = (float)(e[j] / sum);
    }
}

void slimc_channel_affine_f32(int32_t batch, int32_t channels, int32_t hw, int32_t nhwc,
                              const float *input, const double *mul, const double *add,
                              float *output) {
  /* y = x * mul[c] + add[c] in double, rounded once (BatchNormalization as the interpreter
   * computes it, with mul and add folded per channel in double by the caller) */
  for (int32_t b = 0; b < batch; b++) {
    const float *x = input + (size_t)b * channels * hw;
    float *y = output + (size_t)b * channels * hw;
    if (nhwc) {
      for (int32_t p = 0; p < hw; p++)
        for (int32_t c = 0; c < channels; c++) {
          const size_t i = (size_t)p * channels + c;
          y[i] = (float)((double)x[i] * mul[c] + add[c]);
        }
    } else {
      for (int32_t c = 0; c < channels; c++) {
        const double m = mul[c], a = add[c];
        for (int32_t i = 0; i < hw; i++) y[(size_t)c * hw + i] = (float)((double)x[(size_t)c * hw + i] * m + a);
      }
    }
  }
}
