/*
 * int8/uint8 convolution, NHWC activations, ONNX OIHW int8 weights.
 *
 * Four paths, chosen from the geometry alone (packing and running agree on it):
 *  - depthwise (groups == C == Cout): direct kernel, 32 then 8 channels per pass over the taps,
 *    taps taken in pairs by i32x4.dot_i16x8_s (see conv_depthwise).
 *  - 1x1, stride 1, no padding: the input itself is the GEMM's A (rows = pixels, lda = C).
 *  - Cg a multiple of 8: SIMD build, the input widened to int16 in bands of rows that the GEMM
 *    reads in place (see conv_from_widened_input); where a band would not fit its scratch, or
 *    in the portable build, the GEMM's A panels packed straight from the input (see
 *    conv_packed_from_input).
 *  - otherwise im2col per group into rows of K = KH*KW*Cg (k = (ky*KW + kx)*Cg + c, padding
 *    filled with the input zero point), a chunk of output pixels at a time, then GEMM.
 * GEMM weights: one packed B (K x Cout_g) per group, B(k, n) = W[g*Cout_g + n][c][ky][kx].
 */
#include <string.h>
#include "internal.h"


static int is_depthwise(int32_t C, int32_t Cout, int32_t groups) {
  return groups == C && Cout == C && groups > 1;
}

/* Depthwise packed weights: for each pair of taps (t0, t1) = (2p, 2p + 1) and channel c, the
 * int16 pair (w[c][t0] - zw, w[c][t1] - zw) at ((p * padded) + c) * 2, a missing last tap of an
 * odd window being 0; then int32 wsum[padded]: each channel's sum of (w - zw) over its taps. */
static int32_t depthwise_tap_pairs(int32_t KH, int32_t KW) { return (KH * KW + 1) / 2; }

int32_t slimc_conv_packed_weights_size_q8(int32_t C, int32_t Cout, int32_t KH, int32_t KW,
                                          int32_t groups) {
  int32_t padded = (C + 7) & ~7;
  if (is_depthwise(C, Cout, groups))
    return depthwise_tap_pairs(KH, KW) * padded * 2 * (int32_t)sizeof(int16_t) +
           padded * (int32_t)sizeof(int32_t);
  return groups * slimc_packed_b_size_q8(KH * KW * (C / groups), Cout / groups);
}

void slimc_conv_pack_weights_q8(int32_t C, int32_t Cout, int32_t KH, int32_t KW, int32_t groups,
                                const void *weights, int32_t w_signed,
                                const int32_t *w_zero_points, int32_t zp_per_channel,
                                void *packed) {
  if (is_depthwise(C, Cout, groups)) {
    int32_t padded = (C + 7) & ~7, window = KH * KW, pairs = depthwise_tap_pairs(KH, KW);
    int16_t *out = packed;
    int32_t *wsum = (int32_t *)(out + (size_t)pairs * padded * 2);
    for (int32_t c = 0; c < padded; c++) {
      int32_t zero_point = w_zero_points ? w_zero_points[zp_per_channel ? SLIMC_MIN(c, C - 1) : 0] : 0;
      int32_t sum = 0;
      for (int32_t tap = 0; tap < 2 * pairs; tap++) {
        int32_t value = c < C && tap < window ? load_q8(weights, c * window + tap, w_signed) - zero_point : 0;
        out[((size_t)(tap / 2) * padded + c) * 2 + (tap & 1)] = (int16_t)value;
        sum += value;
      }
      wsum[c] = sum;
    }
    return;
  }
  int32_t cg = C / groups, cout_g = Cout / groups, K = KH * KW * cg;
  /* B(k, n) with k = (ky*KW + kx)*cg + c is W[n][c][ky][kx]: repack the group's weights to
   * [n][ky][kx][c] so B is an N x K matrix with unit stride along k */
  uint8_t *reordered = slimc_scratch(SCRATCH_IM2COL, (size_t)cout_g * K);
  for (int32_t g = 0; g < groups; g++) {
    for (int32_t n = 0; n < cout_g; n++)
      for (int32_t c = 0; c < cg; c++)
        for (int32_t tap = 0; tap < KH * KW; tap++)
          reordered[(size_t)n * K + tap * cg + c] =
              ((const uint8_t *)weights)[((size_t)(g * cout_g + n) * cg + c) * KH * KW + tap];
    const int32_t *zp = w_zero_points && zp_per_channel ? w_zero_points + g * cout_g : w_zero_points;
    slimc_pack_b_q8(K, cout_g, reordered, 1, K, w_signed, zp, zp_per_channel,
                    (uint8_t *)packed + (size_t)g * slimc_packed_b_size_q8(K, cout_g));
  }
}

int32_t slimc_window_taps(const int32_t *geo, const uint8_t *input, size_t element_size,
                          int32_t n, int32_t oy, int32_t ox, const uint8_t **taps,
                          int32_t *tap_index) {
  int32_t H = geo[SLIMC_CONV_H], W = geo[SLIMC_CONV_W], C = geo[SLIMC_CONV_C];
  int32_t count = 0;
  for (int32_t ky = 0; ky < geo[SLIMC_CONV_KH]; ky++) {
    int32_t iy = oy * geo[SLIMC_CONV_STRIDE_H] - geo[SLIMC_CONV_PAD_TOP] + ky * geo[SLIMC_CONV_DIL_H];
    if (iy < 0 || iy >= H) continue;
    for (int32_t kx = 0; kx < geo[SLIMC_CONV_KW]; kx++) {
      int32_t ix = ox * geo[SLIMC_CONV_STRIDE_W] - geo[SLIMC_CONV_PAD_LEFT] + kx * geo[SLIMC_CONV_DIL_W];
      if (ix < 0 || ix >= W) continue;
      taps[count] = input + (((size_t)n * H + iy) * W + ix) * C * element_size;
      if (tap_index) tap_index[count] = ky * geo[SLIMC_CONV_KW] + kx;
      count++;
    }
  }
  return count;
}

/* Depthwise: sum over taps t of (x_t - zx) * w_t = sum x_t * w_t - zx * wsum with padded taps
 * reading a row of zx (their terms cancel), so every output pixel has the full window and the
 * zero point moves into the bias. Taps go in pairs (t0, t1): 8 channels of each widened to int16
 * and interleaved, i32x4.dot_i16x8_s with the packed weight pairs gives 4 channels 2 taps (one
 * pmaddwd: 4x fewer instructions than extmul_low/high and adds per tap). Products and sums are
 * exact in int32 (|x| <= 255, |w - zw| <= 255, at most 2^14 taps). Per output pixel, 32 then 8
 * channels per pass over the taps, accumulators in registers, requantized straight to the output. */
#ifdef SLIMC_SIMD
static inline v128_t depthwise_pair_dot(v128_t acc, const uint8_t *t0, const uint8_t *t1,
                                        int32_t is_signed, const int16_t *w, v128_t *acc_high) {
  v128_t x0 = is_signed ? wasm_i16x8_load8x8(t0) : wasm_u16x8_load8x8(t0);
  v128_t x1 = is_signed ? wasm_i16x8_load8x8(t1) : wasm_u16x8_load8x8(t1);
  *acc_high = wasm_i32x4_add(*acc_high, wasm_i32x4_dot_i16x8(wasm_i16x8_shuffle(x0, x1, 4, 12, 5, 13, 6, 14, 7, 15),
                                                             wasm_v128_load(w + 8)));
  return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_i16x8_shuffle(x0, x1, 0, 8, 1, 9, 2, 10, 3, 11),
                                                  wasm_v128_load(w)));
}

/* One output pixel's channels [c, C) in blocks of 32 then 8; returns the first channel left. */
__attribute__((always_inline)) static inline int32_t depthwise_pixel_simd(int32_t c, int32_t C, int32_t pairs, int32_t padded,
                                           const uint8_t **taps, int32_t is_signed,
                                           const int16_t *weights, const int32_t *bias,
                                           const requant_plan *plan, uint8_t *out,
                                           enum acc_range range) {
  for (; c + 32 <= C; c += 32) {
    v128_t acc[8];
    for (int32_t b = 0; b < 8; b++) acc[b] = wasm_v128_load(bias + c + 4 * b);
    for (int32_t p = 0; p < pairs; p++) {
      const uint8_t *t0 = taps[2 * p] + c, *t1 = taps[2 * p + 1] + c;
      const int16_t *w = weights + ((size_t)p * padded + c) * 2;
      for (int32_t b = 0; b < 4; b++)
        acc[2 * b] = depthwise_pair_dot(acc[2 * b], t0 + 8 * b, t1 + 8 * b, is_signed, w + 16 * b, &acc[2 * b + 1]);
    }
    for (int32_t b = 0; b < 4; b++)
      requant_plan_store8(plan, out + c + 8 * b, requant_plan_apply8(plan, c + 8 * b, acc[2 * b], acc[2 * b + 1], range));
  }
  for (; c + 8 <= C; c += 8) {
    v128_t lo = wasm_v128_load(bias + c), hi = wasm_v128_load(bias + c + 4);
    for (int32_t p = 0; p < pairs; p++)
      lo = depthwise_pair_dot(lo, taps[2 * p] + c, taps[2 * p + 1] + c, is_signed,
                              weights + ((size_t)p * padded + c) * 2, &hi);
    requant_plan_store8(plan, out + c, requant_plan_apply8(plan, c, lo, hi, range));
  }
  return c;
}

/* depthwise_pixel_simd compiled for each acc_range */
__attribute__((noinline)) static int32_t depthwise_pixel_any(
    int32_t c, int32_t C, int32_t pairs, int32_t padded, const uint8_t **taps, int32_t is_signed,
    const int16_t *weights, const int32_t *bias, const requant_plan *plan, uint8_t *out) {
  return depthwise_pixel_simd(c, C, pairs, padded, taps, is_signed, weights, bias, plan, out, ACC_ANY);
}
__attribute__((noinline)) static int32_t depthwise_pixel_within_2_24(
    int32_t c, int32_t C, int32_t pairs, int32_t padded, const uint8_t **taps, int32_t is_signed,
    const int16_t *weights, const int32_t *bias, const requant_plan *plan, uint8_t *out) {
  return depthwise_pixel_simd(c, C, pairs, padded, taps, is_signed, weights, bias, plan, out,
                              ACC_WITHIN_2_24);
}
#endif

static void conv_depthwise(const int32_t *geo, int32_t OH, int32_t OW, const void *input,
                           int32_t in_signed, int32_t in_zero_point, const int16_t *weights,
                           const int32_t *bias, const requant_plan *plan, uint8_t *output) {
  int32_t H = geo[SLIMC_CONV_H], W = geo[SLIMC_CONV_W], C = geo[SLIMC_CONV_C];
  int32_t KH = geo[SLIMC_CONV_KH], KW = geo[SLIMC_CONV_KW];
  int32_t padded = (C + 7) & ~7, pairs = depthwise_tap_pairs(KH, KW);
  const int32_t *wsum = (const int32_t *)(weights + (size_t)pairs * padded * 2);
  /* scratch: the folded bias (int32[padded]), the zero-point row (padded bytes), tap pointers */
  uint8_t *scratch = slimc_scratch(SCRATCH_ROW, (size_t)padded * (sizeof(int32_t) + 1) +
                                                    (size_t)2 * pairs * sizeof(const uint8_t *));
  int32_t *folded_bias = (int32_t *)scratch;
  uint8_t *zero_row = scratch + (size_t)padded * sizeof(int32_t);
  const uint8_t **taps = (const uint8_t **)(zero_row + padded);
  for (int32_t c = 0; c < padded; c++) {
    folded_bias[c] = (bias && c < C ? bias[c] : 0) - in_zero_point * wsum[c];
    zero_row[c] = (uint8_t)in_zero_point; /* the int8 or uint8 encoding */
  }
  taps[2 * pairs - 1] = zero_row; /* the missing tap of an odd window (its weights are 0) */
  const int32_t stride_w = geo[SLIMC_CONV_STRIDE_W], pad_left = geo[SLIMC_CONV_PAD_LEFT];
  const int32_t dil_w = geo[SLIMC_CONV_DIL_W];
  const size_t step_bytes = (size_t)stride_w * C;
  for (int32_t n = 0; n < geo[SLIMC_CONV_N]; n++)
    for (int32_t oy = 0; oy < OH; oy++) {
      int previous_inside = 0;
      for (int32_t ox = 0; ox < OW; ox++) {
        uint8_t *out = output + (((size_t)n * OH + oy) * OW + ox) * C;
        int32_t ix0 = ox * stride_w - pad_left;
        int inside = ix0 >= 0 && ix0 + (KW - 1) * dil_w < W; /* every column of the window */
        if (inside && previous_inside) {
          /* the window moved one stride right with no column outside: advance the taps of the
           * rows inside, the others stay on the zero-point row */
          for (int32_t t = 0; t < KH * KW; t++)
            if (taps[t] != zero_row) taps[t] += step_bytes;
        } else {
          for (int32_t ky = 0; ky < KH; ky++) {
            int32_t iy = oy * geo[SLIMC_CONV_STRIDE_H] - geo[SLIMC_CONV_PAD_TOP] + ky * geo[SLIMC_CONV_DIL_H];
            for (int32_t kx = 0; kx < KW; kx++) {
              int32_t ix = ix0 + kx * dil_w;
              taps[ky * KW + kx] = iy < 0 || iy >= H || ix < 0 || ix >= W
                                       ? zero_row
                                       : (const uint8_t *)input + (((size_t)n * H + iy) * W + ix) * C;
            }
          }
        }
        previous_inside = inside;
        int32_t c = 0;
#ifdef SLIMC_SIMD
        c = plan->accumulators_within_2_24
                ? depthwise_pixel_within_2_24(c, C, pairs, padded, taps, in_signed, weights, folded_bias, plan, out)
                : depthwise_pixel_any(c, C, pairs, padded, taps, in_signed, weights, folded_bias, plan, out);
#endif
        for (; c < C; c++) {
          int32_t acc = folded_bias[c];
          for (int32_t tap = 0; tap < 2 * pairs; tap++)
            acc += load_q8(taps[tap], c, in_signed) * weights[((size_t)(tap / 2) * padded + c) * 2 + (tap & 1)];
          requant_plan_store(plan, out, c, requant_plan_apply(plan, c, acc));
        }
      }
    }
}

/* Copies n bytes; a plain loop for short runs (a few channels: the stem's C = 3), where a call
 * to memcpy costs more than the copy. */
static inline void copy_run(uint8_t *restrict dst, const uint8_t *restrict src, size_t n) {
  if (n > 32) {
    memcpy(dst, src, n);
    return;
  }
  for (size_t i = 0; i < n; i++) dst[i] = src[i];
}

void slimc_im2col(const int32_t *geo, int32_t OH, int32_t OW, const void *input,
                  size_t element_size, uint8_t pad_byte, int32_t g, int32_t pixel0, int32_t count,
                  void *rows) {
  int32_t H = geo[SLIMC_CONV_H], W = geo[SLIMC_CONV_W], C = geo[SLIMC_CONV_C];
  int32_t KH = geo[SLIMC_CONV_KH], KW = geo[SLIMC_CONV_KW];
  int32_t cg = C / geo[SLIMC_CONV_GROUPS], K = KH * KW * cg;
  size_t run = (size_t)cg * element_size;
  /* one group, dilation 1: a window row's KW taps are adjacent pixels, one run of KW * C */
  int contiguous_rows = cg == C && geo[SLIMC_CONV_DIL_W] == 1;
  /* the output position of pixel0, then stepped along with i (no divisions per pixel) */
  int32_t ox = pixel0 % OW, oy = (pixel0 / OW) % OH, n = pixel0 / (OW * OH);
  for (int32_t i = 0; i < count; i++, ox++) {
    if (ox == OW) {
      ox = 0;
      if (++oy == OH) {
        oy = 0;
        n++;
      }
    }
    uint8_t *row = (uint8_t *)rows + (size_t)i * K * element_size;
    int32_t ix0 = ox * geo[SLIMC_CONV_STRIDE_W] - geo[SLIMC_CONV_PAD_LEFT];
    for (int32_t ky = 0; ky < KH; ky++) {
      int32_t iy = oy * geo[SLIMC_CONV_STRIDE_H] - geo[SLIMC_CONV_PAD_TOP] + ky * geo[SLIMC_CONV_DIL_H];
      uint8_t *dst_row = row + (size_t)ky * KW * run;
      if (iy < 0 || iy >= H) {
        memset(dst_row, pad_byte, (size_t)KW * run);
        continue;
      }
      const uint8_t *src_row = (const uint8_t *)input + (((size_t)n * H + iy) * W * C + g * cg) * element_size;
      if (contiguous_rows && ix0 >= 0 && ix0 + KW <= W) {
        copy_run(dst_row, src_row + (size_t)ix0 * C * element_size, (size_t)KW * run);
        continue;
      }
      for (int32_t kx = 0; kx < KW; kx++) {
        int32_t ix = ix0 + kx * geo[SLIMC_CONV_DIL_W];
        uint8_t *dst = dst_row + (size_t)kx * run;
        if (ix < 0 || ix >= W)
          memset(dst, pad_byte, run);
        else
          copy_run(dst, src_row + (size_t)ix * C * element_size, run);
      }
    }
  }
}

/* The GEMM path without an im2col buffer, for Cg a multiple of 8: the A panels are packed
 * straight from the NHWC input, per 4 output pixels, per tap, 8 channels at a time (the same
 * transpose the GEMM's packing does), a padded tap reading a row of the input zero point (its
 * terms are 0 after the zero point is subtracted, as im2col's padding bytes are). K = taps * Cg
 * is then a multiple of 8, so panels have no odd k. Pixels past the last of a panel read the
 * zero-point row too; the GEMM stores only the rows that exist. Same panels as im2col + packing,
 * so the same outputs; one pass over the data instead of two. */
static void conv_packed_from_input(const int32_t *geo, int32_t OH, int32_t OW, const void *input,
                                   int32_t in_signed, int32_t in_zero_point,
                                   const void *packed_weights, const int32_t *bias,
                                   const requant_plan *plan, void *output) {
  int32_t H = geo[SLIMC_CONV_H], W = geo[SLIMC_CONV_W], C = geo[SLIMC_CONV_C];
  int32_t Cout = geo[SLIMC_CONV_COUT], groups = geo[SLIMC_CONV_GROUPS];
  int32_t KH = geo[SLIMC_CONV_KH], KW = geo[SLIMC_CONV_KW], taps = KH * KW;
  int32_t cg = C / groups, cout_g = Cout / groups, K = taps * cg, kp = packed_k_pairs(K);
  int32_t pixels = geo[SLIMC_CONV_N] * OH * OW;
  int32_t block_rows = slimc_gemm_q8_block_rows(pixels, cout_g, K);
  size_t panel_elems = slimc_packed_a_panel_elements(K);
  int16_t *packed_a = slimc_scratch(SCRATCH_PACKED_A, panel_elems * (size_t)(block_rows / SLIMC_GEMM_MR) *
                                                          sizeof(int16_t));
  uint8_t *zero_row = slimc_scratch(SCRATCH_IM2COL, (size_t)cg);
  for (int32_t c = 0; c < cg; c++) zero_row[c] = (uint8_t)in_zero_point; /* int8 or uint8 encoding */
  int32_t packed_group_bytes = slimc_packed_b_size_q8(K, cout_g);
  for (int32_t g = 0; g < groups; g++) {
    const uint8_t *group_in = (const uint8_t *)input + g * cg;
    for (int32_t p0 = 0; p0 < pixels; p0 += block_rows) {
      int32_t rows = SLIMC_MIN(block_rows, pixels - p0);
      for (int32_t row = 0; row < rows; row += SLIMC_GEMM_MR) {
        /* per pixel of the panel: its window's top-left input position */
        int32_t n[SLIMC_GEMM_MR], iy0[SLIMC_GEMM_MR], ix0[SLIMC_GEMM_MR];
        for (int32_t r = 0; r < SLIMC_GEMM_MR; r++) {
          int32_t pixel = p0 + row + r;
          n[r] = row + r < rows ? pixel / (OW * OH) : -1;
          iy0[r] = (pixel / OW) % OH * geo[SLIMC_CONV_STRIDE_H] - geo[SLIMC_CONV_PAD_TOP];
          ix0[r] = pixel % OW * geo[SLIMC_CONV_STRIDE_W] - geo[SLIMC_CONV_PAD_LEFT];
        }
        int16_t *panel = packed_a + (size_t)(row / SLIMC_GEMM_MR) * panel_elems;
        for (int32_t ky = 0; ky < KH; ky++)
          for (int32_t kx = 0; kx < KW; kx++) {
            const uint8_t *src[SLIMC_GEMM_MR];
            for (int32_t r = 0; r < SLIMC_GEMM_MR; r++) {
              int32_t iy = iy0[r] + ky * geo[SLIMC_CONV_DIL_H], ix = ix0[r] + kx * geo[SLIMC_CONV_DIL_W];
              src[r] = n[r] < 0 || iy < 0 || iy >= H || ix < 0 || ix >= W
                           ? zero_row
                           : group_in + (((size_t)n[r] * H + iy) * W + ix) * C;
            }
            int32_t k = (ky * KW + kx) * cg;
            for (int32_t c = 0; c < cg; c += 8)
              pack_a_rows8(src[0] + c, src[1] + c, src[2] + c, src[3] + c, in_signed,
                           in_zero_point, k + c, kp, panel);
          }
      }
      slimc_gemm_q8_packed(rows, cout_g, K, packed_a,
                           (const int16_t *)((const uint8_t *)packed_weights + (size_t)g * packed_group_bytes),
                           bias ? bias + g * cout_g : NULL, plan, g * cout_g,
                           (uint8_t *)output + (size_t)p0 * Cout + g * cout_g, Cout);
    }
  }
}

#ifdef SLIMC_SIMD
/* Input rows [iy0, iy0 + band_rows) of image n that a band of output rows reads, and how many
 * output rows a band holds: as many as keep the widened band within the im2col scratch the
 * runtime reserves (0 if even one output row's window rows do not fit). */
static int32_t widened_band_output_rows(const int32_t *geo, int32_t OH) {
  int32_t W = geo[SLIMC_CONV_W], C = geo[SLIMC_CONV_C];
  int32_t window_rows = (geo[SLIMC_CONV_KH] - 1) * geo[SLIMC_CONV_DIL_H] + 1;
  size_t row_bytes = (size_t)W * C * sizeof(int16_t);
  size_t room = SLIMC_IM2COL_CHUNK_BYTES_Q8 - (size_t)C * sizeof(int16_t); /* less the zeros */
  if ((size_t)window_rows * row_bytes > room) return 0;
  int32_t band_rows = (int32_t)(room / row_bytes);
  return SLIMC_MIN((band_rows - window_rows) / geo[SLIMC_CONV_STRIDE_H] + 1, OH);
}

/* Channels per group a multiple of 8, SIMD build: the input rows a band of output rows reads are
 * widened to int16 (x - zx) once, then each output pixel's row of A is its window's taps, each
 * one run of Cg int16 values in the band (or in a run of zeros for a padded tap): the GEMM reads
 * them in place (slimc_gemm_q8_segments), so A is neither gathered per output pixel nor packed.
 * An input value is widened once per band that reads it (about 1 + (KH - 1) / band rows times)
 * instead of once per window it falls in (KH * KW times). */
static void conv_from_widened_input(const int32_t *geo, int32_t OH, int32_t OW, int32_t band_oh,
                                    const void *input, int32_t in_signed, int32_t in_zero_point,
                                    const void *packed_weights, const int32_t *bias,
                                    const requant_plan *plan, void *output) {
  int32_t H = geo[SLIMC_CONV_H], W = geo[SLIMC_CONV_W], C = geo[SLIMC_CONV_C];
  int32_t Cout = geo[SLIMC_CONV_COUT], groups = geo[SLIMC_CONV_GROUPS];
  int32_t KH = geo[SLIMC_CONV_KH], KW = geo[SLIMC_CONV_KW], taps = KH * KW;
  int32_t stride_h = geo[SLIMC_CONV_STRIDE_H], pad_top = geo[SLIMC_CONV_PAD_TOP];
  int32_t cg = C / groups, cout_g = Cout / groups, K = taps * cg;
  int32_t window_rows = (KH - 1) * geo[SLIMC_CONV_DIL_H] + 1;
  int32_t max_band_rows = SLIMC_MIN((band_oh - 1) * stride_h + window_rows, H);
  int16_t *band = slimc_scratch(SCRATCH_IM2COL, ((size_t)max_band_rows * W * C + (size_t)cg) * sizeof(int16_t));
  int16_t *zeros = band + (size_t)max_band_rows * W * C;
  for (int32_t c = 0; c < cg; c++) zeros[c] = 0;
  v128_t zero_point = wasm_i16x8_splat((int16_t)in_zero_point);
  int32_t block_rows = slimc_gemm_q8_block_rows(band_oh * OW, cout_g, K);
  const int16_t **segments = slimc_scratch(
      SCRATCH_PACKED_A, (size_t)(block_rows / SLIMC_GEMM_MR) * taps * SLIMC_GEMM_MR * sizeof(int16_t *));
  int32_t packed_group_bytes = slimc_packed_b_size_q8(K, cout_g);
  for (int32_t n = 0; n < geo[SLIMC_CONV_N]; n++)
    for (int32_t oy0 = 0; oy0 < OH; oy0 += band_oh) {
      int32_t band_out_rows = SLIMC_MIN(band_oh, OH - oy0);
      int32_t iy_first = SLIMC_MAX(oy0 * stride_h - pad_top, 0);
      int32_t iy_end = SLIMC_MIN((oy0 + band_out_rows - 1) * stride_h - pad_top + window_rows, H);
      const uint8_t *src = (const uint8_t *)input + ((size_t)n * H + iy_first) * W * C;
      size_t band_elements = iy_end > iy_first ? (size_t)(iy_end - iy_first) * W * C : 0;
      for (size_t i = 0; i < band_elements; i += 8) /* C % 8 == 0: whole vectors */
        wasm_v128_store(band + i, load8_q8_minus_zp(src + i, in_signed, zero_point));
      int32_t band_pixels = band_out_rows * OW;
      uint8_t *band_out = (uint8_t *)output + (((size_t)n * OH + oy0) * OW) * Cout;
      for (int32_t g = 0; g < groups; g++)
        for (int32_t p0 = 0; p0 < band_pixels; p0 += block_rows) {
          int32_t rows = SLIMC_MIN(block_rows, band_pixels - p0);
          const int16_t **segment = segments;
          for (int32_t row = 0; row < rows; row += SLIMC_GEMM_MR) {
            /* per pixel of the panel: its window's top-left input position (none past the band) */
            int32_t present[SLIMC_GEMM_MR], iy0[SLIMC_GEMM_MR], ix0[SLIMC_GEMM_MR];
            for (int32_t r = 0; r < SLIMC_GEMM_MR; r++) {
              int32_t pixel = p0 + row + r;
              present[r] = row + r < rows;
              iy0[r] = (oy0 + pixel / OW) * stride_h - pad_top;
              ix0[r] = pixel % OW * geo[SLIMC_CONV_STRIDE_W] - geo[SLIMC_CONV_PAD_LEFT];
            }
            for (int32_t ky = 0; ky < KH; ky++)
              for (int32_t kx = 0; kx < KW; kx++)
                for (int32_t r = 0; r < SLIMC_GEMM_MR; r++) {
                  int32_t iy = iy0[r] + ky * geo[SLIMC_CONV_DIL_H], ix = ix0[r] + kx * geo[SLIMC_CONV_DIL_W];
                  *segment++ = !present[r] || iy < 0 || iy >= H || ix < 0 || ix >= W
                                   ? zeros
                                   : band + ((size_t)(iy - iy_first) * W + ix) * C + g * cg;
                }
          }
          slimc_gemm_q8_segments(rows, cout_g, taps, cg / 2, segments,
                                 (const int16_t *)((const uint8_t *)packed_weights + (size_t)g * packed_group_bytes),
                                 bias ? bias + g * cout_g : NULL, plan, g * cout_g,
                                 band_out + (size_t)p0 * Cout + g * cout_g, Cout);
        }
    }
}
#endif

void slimc_conv_q8(const int32_t *geo, const void *input, int32_t in_signed,
                   int32_t in_zero_point, const void *packed_weights, const int32_t *bias,
                   const int32_t *multipliers, const int32_t *shifts, int32_t per_channel,
                   int32_t out_zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                   const uint8_t *output_table, void *output) {
  int32_t C = geo[SLIMC_CONV_C], Cout = geo[SLIMC_CONV_COUT], groups = geo[SLIMC_CONV_GROUPS];
  int32_t KH = geo[SLIMC_CONV_KH], KW = geo[SLIMC_CONV_KW];
  int32_t OH = geometry_out_height(geo), OW = geometry_out_width(geo);
  if (OH <= 0 || OW <= 0) return;
  requant_plan *plan = requant_plan_build(Cout, multipliers, shifts, per_channel, out_zero_point,
                                          out_min, out_max, out_signed);
  plan->table = output_table;
  requant_plan_bound_accumulators(plan, is_depthwise(C, Cout, groups) ? KH * KW : KH * KW * (C / groups),
                                  bias, Cout);
  if (is_depthwise(C, Cout, groups)) {
    conv_depthwise(geo, OH, OW, input, in_signed, in_zero_point, packed_weights, bias, plan,
                   output);
    return;
  }
  int32_t cg = C / groups, cout_g = Cout / groups, K = KH * KW * cg;
  int32_t pixels = geo[SLIMC_CONV_N] * OH * OW;
  int32_t packed_group_bytes = slimc_packed_b_size_q8(K, cout_g);
  int pointwise = geometry_is_pointwise(geo);
#ifdef SLIMC_SIMD
  int32_t band_oh = !pointwise && cg % 8 == 0 ? widened_band_output_rows(geo, OH) : 0;
  if (band_oh > 0) {
    conv_from_widened_input(geo, OH, OW, band_oh, input, in_signed, in_zero_point, packed_weights,
                            bias, plan, output);
    return;
  }
#endif
  if (!pointwise && cg % 8 == 0) {
    conv_packed_from_input(geo, OH, OW, input, in_signed, in_zero_point, packed_weights, bias,
                           plan, output);
    return;
  }
  int32_t chunk = SLIMC_MAX(4, SLIMC_IM2COL_CHUNK_BYTES_Q8 / SLIMC_MAX(K, 1)) & ~3;
  uint8_t *rows = pointwise ? NULL : slimc_scratch(SCRATCH_IM2COL, (size_t)chunk * K);
  for (int32_t g = 0; g < groups; g++) {
    const int16_t *packed_b =
        (const int16_t *)((const uint8_t *)packed_weights + (size_t)g * packed_group_bytes);
    const int32_t *group_bias = bias ? bias + g * cout_g : NULL;
    uint8_t *group_out = (uint8_t *)output + g * cout_g;
    if (pointwise) {
      slimc_gemm_q8_core(pixels, cout_g, K, (const uint8_t *)input + g * cg, C, in_signed,
                         in_zero_point, packed_b, group_bias, plan, g * cout_g, group_out, Cout);
      continue;
    }
    for (int32_t p0 = 0; p0 < pixels; p0 += chunk) {
      int32_t count = SLIMC_MIN(chunk, pixels - p0);
      slimc_im2col(geo, OH, OW, input, 1, (uint8_t)in_zero_point, g, p0, count, rows);
      slimc_gemm_q8_core(count, cout_g, K, rows, K, in_signed, in_zero_point, packed_b,
                         group_bias, plan, g * cout_g, group_out + (size_t)p0 * Cout, Cout);
    }
  }
}
