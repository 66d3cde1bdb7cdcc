/*
 * Shared internals of slimc_kernels: scratch buffers, q8 loads/stores, and the requantization
 * plan (per-channel constants precomputed so the SIMD path needs no per-lane variable shifts).
 */
#ifndef SLIMC_INTERNAL_H
#define SLIMC_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include <math.h>
#include "slimc_kernels.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#define SLIMC_SIMD 1
#endif

#define SLIMC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SLIMC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Scratch buffers, one per purpose so nested kernels never clobber each other. */
enum scratch_slot {
  SCRATCH_PACKED_A, SCRATCH_REQUANT_PLAN, SCRATCH_IM2COL, SCRATCH_ROW, SCRATCH_SLOT_COUNT
};
void *slimc_scratch(enum scratch_slot slot, size_t bytes);

/* The most bytes a kernel takes from the packed-A and im2col slots (more only for K > 12K), so
 * slimc_reserve_scratch can size them up front. The int8 GEMM packs A in blocks of 96 KB of int16
 * pairs; an int8 im2col chunk of half that is as many rows as one block, so a smaller chunk costs
 * no B reuse. The float GEMM reads im2col rows directly and streams B once per chunk: 256 KB. */
#define SLIMC_A_BLOCK_BYTES (96 * 1024)
#define SLIMC_IM2COL_CHUNK_BYTES_Q8 (SLIMC_A_BLOCK_BYTES / 2)
#define SLIMC_IM2COL_CHUNK_BYTES_F32 (256 * 1024)

static inline int32_t load_q8(const void *p, int32_t index, int32_t is_signed) {
  return is_signed ? (int32_t)((const int8_t *)p)[index] : (int32_t)((const uint8_t *)p)[index];
}

static inline void store_q8(void *p, int32_t index, int32_t value) {
  ((uint8_t *)p)[index] = (uint8_t)value; /* the low byte is the int8 or uint8 encoding */
}

static inline int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* Requantization constants for channel c, derived from (multiplier, shift):
 *   input_min/input_max = the x for which x * 2^left fits int32. The reference saturates x * 2^left;
 *   clamping x first instead gives 2^31 - 2^left rather than 2^31 - 1 on positive overflow, but then
 *   |high-mul| >= 2^29 either way (multiplier >= 2^30) and the final clamp to an 8-bit range makes
 *   the outputs identical (multiplier 0 gives 0 in both).
 *   left_factor = 2^left;
 *   right_shift, remainder_mask = 2^right - 1, half_mask = remainder_mask >> 1: the terms of
 *   RoundingDivideByPOT(h, right) = (h >> right) + ((h & mask) > half_mask + (h < 0));
 *   right_factor = 2^(31 - right) (right >= 1) and unshifted = -1 where right == 0 let the SIMD
 *   path shift each lane by its own amount: h >> right = high 32 bits of 2 * h * right_factor. */
typedef struct {
  int32_t channels;       /* entries in each array (padded to a multiple of 8) */
  int32_t *input_min;
  int32_t *input_max;
  int32_t *left_factor;
  int32_t *multiplier;
  int32_t *right_shift;
  int32_t *right_factor;
  int32_t *unshifted;
  int32_t *remainder_mask;
  int32_t *half_mask;
  /* y + zero_point is clamped to [out_min, out_max] as clamp(y, out_min - zp, out_max - zp) + zp,
   * which cannot overflow int32 */
  int32_t zero_point, out_min, out_max, out_signed;
  /* all channels share one shift <= 0 (always so per tensor): the SIMD path then skips the left
   * shift and shifts right by a constant */
  int32_t uniform_right_shift; /* the shared right shift, or -1 */
  /* SLIMC_REQUANT_ROUND_ONCE: y = round_half_even(float32(acc * scale[c])) instead, the fixed-point
   * arrays unused */
  int32_t round_once;
  /* round-once only: no accumulator can exceed 2^24 in magnitude (requant_plan_bound_accumulators),
   * so kernels may take the SIMD path without its range check (see acc_range) */
  int32_t accumulators_within_2_24;
  float *scale;
  /* a 256-entry table applied to each output byte (a lookup-table activation fused into the
   * convolution), or NULL */
  const uint8_t *table;
} requant_plan;

/* Builds a plan for `channels` output channels in scratch (valid until the next call). */
requant_plan *requant_plan_build(int32_t channels, const int32_t *multipliers,
                                 const int32_t *shifts, int32_t per_channel, int32_t zero_point,
                                 int32_t out_min, int32_t out_max, int32_t out_signed);

/* Sets the plan's accumulators_within_2_24 for accumulators of at most `products` products of
 * two zero-point-shifted 8-bit values (each of magnitude <= 255) plus one of `bias[0..channels)`
 * (none if bias is NULL): when products * 255^2 + max |bias| <= 2^24. */
void requant_plan_bound_accumulators(requant_plan *plan, int32_t products, const int32_t *bias,
                                     int32_t channels);

/* What a SIMD requantization may assume of its accumulators, a constant at each call site: with
 * ACC_WITHIN_2_24 (only where the plan's accumulators_within_2_24 holds) the round-once path has
 * no range check and no scalar fallback. Kernels are compiled once for each: the check's branch
 * and fallback alone cost the 1x1 convolutions of few input channels up to 40% of their time. */
enum acc_range { ACC_ANY, ACC_WITHIN_2_24 };

/* Round-once requantization of one value: the product is formed in double and rounded to
 * float32 (as the interpreter does; for |acc| <= 2^24 that equals the float32 product), then
 * rounded half to even and clamped. */
static inline int32_t requant_round_once(const requant_plan *plan, int32_t c, int32_t acc) {
  float v = nearbyintf((float)((double)acc * (double)plan->scale[c]));
  const float lo = (float)(plan->out_min - plan->zero_point);
  const float hi = (float)(plan->out_max - plan->zero_point);
  v = v < lo ? lo : v > hi ? hi : v;
  return (int32_t)v + plan->zero_point;
}

/* One value through the plan's channel c: the exact scalar form. */
static inline int32_t requant_plan_apply(const requant_plan *plan, int32_t c, int32_t acc) {
  if (plan->round_once) return requant_round_once(plan, c, acc);
  int32_t clamped = clamp_i32(acc, plan->input_min[c], plan->input_max[c]);
  int32_t x = (int32_t)((uint32_t)clamped * (uint32_t)plan->left_factor[c]);
  int32_t h = (int32_t)(((int64_t)x * plan->multiplier[c] + (1LL << 30)) >> 31);
  int32_t y = (h >> plan->right_shift[c]) +
              ((h & plan->remainder_mask[c]) > plan->half_mask[c] + (h < 0 ? 1 : 0) ? 1 : 0);
  return clamp_i32(y, plan->out_min - plan->zero_point, plan->out_max - plan->zero_point) +
         plan->zero_point;
}

#ifdef SLIMC_SIMD
/* Four int32 accumulators of channels c..c+3 -> four clamped int32 results. */
static inline v128_t requant_plan_apply4(const requant_plan *plan, int32_t c, v128_t acc,
                                         enum acc_range range) {
  if (plan->round_once) {
    /* float32 products are the double products rounded once while |acc| <= 2^24 */
    if (range == ACC_ANY && wasm_v128_any_true(wasm_u32x4_gt(wasm_i32x4_abs(acc), wasm_i32x4_splat(1 << 24)))) {
      return wasm_i32x4_make(requant_round_once(plan, c, wasm_i32x4_extract_lane(acc, 0)),
                             requant_round_once(plan, c + 1, wasm_i32x4_extract_lane(acc, 1)),
                             requant_round_once(plan, c + 2, wasm_i32x4_extract_lane(acc, 2)),
                             requant_round_once(plan, c + 3, wasm_i32x4_extract_lane(acc, 3)));
    }
    v128_t v = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(acc), wasm_v128_load(plan->scale + c));
    /* clamping to the integer bounds before rounding equals clamping after (rounding is
     * monotonic); pmin/pmax are one instruction each (min/max handle NaN and -0, not needed:
     * acc is finite and -0 rounds to 0 all the same) */
    v = wasm_f32x4_pmax(v, wasm_f32x4_splat((float)(plan->out_min - plan->zero_point)));
    v = wasm_f32x4_pmin(v, wasm_f32x4_splat((float)(plan->out_max - plan->zero_point)));
    /* round half to even and convert in one add: v + 1.5 * 2^23 (|v| < 2^22) lands where floats
     * are integers, rounded to nearest even, and its bits are 0x4B400000 + round(v); cheaper
     * than nearest + trunc_sat (several instructions each in V8 on x64) */
    return wasm_i32x4_sub(wasm_f32x4_add(v, wasm_f32x4_splat(12582912.0f)),
                          wasm_i32x4_splat(0x4B400000 - plan->zero_point));
  }
  v128_t x = acc; /* a shared right shift means no left shift: x' = x */
  if (plan->uniform_right_shift < 0) {
    v128_t clamped = wasm_i32x4_min(wasm_i32x4_max(acc, wasm_v128_load(plan->input_min + c)),
                                    wasm_v128_load(plan->input_max + c));
    x = wasm_i32x4_mul(clamped, wasm_v128_load(plan->left_factor + c));
  }
  v128_t m = wasm_v128_load(plan->multiplier + c);
  /* h = floor((x*m + 2^30) / 2^31) = high 32 bits of 2*x*m + 2^31 (no overflow: |x*m| < 2^62),
   * and the high halves of int64 lanes are just the odd int32 lanes: no 64-bit shifts needed */
  v128_t bias31 = wasm_i64x2_splat(1LL << 31);
  v128_t p_lo = wasm_i64x2_extmul_low_i32x4(x, m);
  v128_t p_hi = wasm_i64x2_extmul_high_i32x4(x, m);
  p_lo = wasm_i64x2_add(wasm_i64x2_add(p_lo, p_lo), bias31);
  p_hi = wasm_i64x2_add(wasm_i64x2_add(p_hi, p_hi), bias31);
  v128_t h = wasm_i32x4_shuffle(p_lo, p_hi, 1, 3, 5, 7);
  v128_t shifted, remainder_mask, half_mask;
  if (plan->uniform_right_shift >= 0) {
    int32_t right = plan->uniform_right_shift;
    shifted = wasm_i32x4_shr(h, right);
    remainder_mask = wasm_i32x4_splat((int32_t)((1u << right) - 1));
    half_mask = wasm_i32x4_shr(remainder_mask, 1);
  } else {
    v128_t factor = wasm_v128_load(plan->right_factor + c);
    v128_t q_lo = wasm_i64x2_extmul_low_i32x4(h, factor);
    v128_t q_hi = wasm_i64x2_extmul_high_i32x4(h, factor);
    q_lo = wasm_i64x2_add(q_lo, q_lo);
    q_hi = wasm_i64x2_add(q_hi, q_hi);
    shifted = wasm_v128_bitselect(h, wasm_i32x4_shuffle(q_lo, q_hi, 1, 3, 5, 7),
                                  wasm_v128_load(plan->unshifted + c));
    remainder_mask = wasm_v128_load(plan->remainder_mask + c);
    half_mask = wasm_v128_load(plan->half_mask + c);
  }
  /* RoundingDivideByPOT: (h >> right) + ((h & mask) > (mask >> 1) + (h < 0)) */
  v128_t threshold = wasm_i32x4_sub(half_mask, wasm_i32x4_shr(h, 31));
  v128_t round_up = wasm_i32x4_gt(wasm_v128_and(h, remainder_mask), threshold); /* -1 if true */
  v128_t y = wasm_i32x4_sub(shifted, round_up);
  y = wasm_i32x4_max(y, wasm_i32x4_splat(plan->out_min - plan->zero_point));
  y = wasm_i32x4_min(y, wasm_i32x4_splat(plan->out_max - plan->zero_point));
  return wasm_i32x4_add(y, wasm_i32x4_splat(plan->zero_point));
}

/* Eight accumulators (channels c..c+7) -> eight q8 bytes in the low half of the result. */
static inline v128_t requant_plan_apply8(const requant_plan *plan, int32_t c, v128_t lo,
                                         v128_t hi, enum acc_range range) {
  v128_t w = wasm_i16x8_narrow_i32x4(requant_plan_apply4(plan, c, lo, range),
                                     requant_plan_apply4(plan, c + 4, hi, range));
  /* values are already clamped to the output range, so the saturating narrow is exact */
  return plan->out_signed ? wasm_i8x16_narrow_i16x8(w, w) : wasm_u8x16_narrow_i16x8(w, w);
}

/* Stores the 8 q8 bytes in the low half of `bytes`, through the plan's table if it has one. */
static inline void requant_plan_store8(const requant_plan *plan, uint8_t *out, v128_t bytes) {
  if (!plan->table) {
    wasm_v128_store64_lane(out, bytes, 0);
    return;
  }
  /* the lookups take the bytes from the register lane by lane (pextrb, pinsrb): reading them back
   * from the 8-byte store would stall on store-to-load forwarding */
  const uint8_t *table = plan->table;
  v128_t mapped = bytes;
#define SLIMC_MAP_LANE(i) mapped = wasm_u8x16_replace_lane(mapped, i, table[wasm_u8x16_extract_lane(bytes, i)])
  SLIMC_MAP_LANE(0); SLIMC_MAP_LANE(1); SLIMC_MAP_LANE(2); SLIMC_MAP_LANE(3);
  SLIMC_MAP_LANE(4); SLIMC_MAP_LANE(5); SLIMC_MAP_LANE(6); SLIMC_MAP_LANE(7);
#undef SLIMC_MAP_LANE
  wasm_v128_store64_lane(out, mapped, 0);
}

/* Loads 8 q8 values widened to int16 with the zero point subtracted. */
static inline v128_t load8_q8_minus_zp(const void *p, int32_t is_signed, v128_t zero_point16) {
  v128_t v = is_signed ? wasm_i16x8_load8x8(p) : wasm_u16x8_load8x8(p);
  return wasm_i16x8_sub(v, zero_point16);
}
#endif

/* Stores one requantized value (requant_plan_apply's) through the plan's table if it has one. */
static inline void requant_plan_store(const requant_plan *plan, void *out, int32_t index, int32_t value) {
  store_q8(out, index, plan->table ? plan->table[(uint8_t)value] : value);
}

/* GEMM core shared by gemm and conv: plan == NULL writes int32 C, else requantized q8 C.
 * plan channel index = column index (the caller offsets the plan for groups). */
void slimc_gemm_q8_core(int32_t M, int32_t N, int32_t K, const void *A, int32_t lda,
                        int32_t a_signed, int32_t a_zero_point, const int16_t *packed_b,
                        const int32_t *bias, const requant_plan *plan, int32_t plan_offset,
                        void *C, int32_t ldc);

/* Packed B geometry: N padded to 8-column tiles, K padded to pairs. */
static inline int32_t packed_k_pairs(int32_t K) { return (K + 1) / 2; }
static inline int32_t packed_n_tiles(int32_t N) { return (N + 7) / 8; }

/* A panel packs MR = 4 rows of A (see gemm_q8.c); its int16 elements for a given K. */
#define SLIMC_GEMM_MR 4
static inline size_t slimc_packed_a_panel_elements(int32_t K) {
  return (size_t)packed_k_pairs(K) * 2 * SLIMC_GEMM_MR;
}

/* Where element (row or column j, k) of a packed panel of `width` rows/columns lives.
 * SIMD build: per k pair, the pair of every row/column side by side (the operand order of
 * i32x4.dot_i16x8_s with a broadcast pair). Portable build: each row/column's k values contiguous
 * (k padded to even), so the kernel is 32 plain dot products, which compilers turn into
 * multiply-add-pairs instructions (pmaddwd) on their own. Packed sizes are the same. */
static inline size_t packed_index(int32_t j, int32_t k, int32_t width, int32_t kp) {
#ifdef SLIMC_SIMD
  (void)kp;
  return (size_t)(k / 2) * 2 * width + 2 * j + (k & 1);
#else
  return (size_t)j * 2 * kp + k;
#endif
}

/* Packs k values [k, k + 8) of four A rows (r0..r3 point at their k-th element; k even) into
 * `panel` (a panel of kp k pairs), minus the zero point. */
static inline void pack_a_rows8(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2,
                                const uint8_t *r3, int32_t a_signed, int32_t a_zero_point,
                                int32_t k, int32_t kp, int16_t *panel) {
#ifdef SLIMC_SIMD
  (void)kp;
  /* each row: 4 (k, k+1) pairs as 32-bit lanes; transpose the 4x4 lanes so one vector holds
   * one k pair of all four rows */
  v128_t zp = wasm_i16x8_splat((int16_t)a_zero_point);
  v128_t v0 = load8_q8_minus_zp(r0, a_signed, zp);
  v128_t v1 = load8_q8_minus_zp(r1, a_signed, zp);
  v128_t v2 = load8_q8_minus_zp(r2, a_signed, zp);
  v128_t v3 = load8_q8_minus_zp(r3, a_signed, zp);
  v128_t t0 = wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5);
  v128_t t1 = wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5);
  v128_t t2 = wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7);
  v128_t t3 = wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7);
  int16_t *out = panel + (size_t)k * SLIMC_GEMM_MR;
  wasm_v128_store(out, wasm_i64x2_shuffle(t0, t1, 0, 2));
  wasm_v128_store(out + 8, wasm_i64x2_shuffle(t0, t1, 1, 3));
  wasm_v128_store(out + 16, wasm_i64x2_shuffle(t2, t3, 0, 2));
  wasm_v128_store(out + 24, wasm_i64x2_shuffle(t2, t3, 1, 3));
#else
  const uint8_t *rows[SLIMC_GEMM_MR] = {r0, r1, r2, r3};
  for (int32_t r = 0; r < SLIMC_GEMM_MR; r++)
    for (int32_t i = 0; i < 8; i++)
      panel[packed_index(r, k + i, SLIMC_GEMM_MR, kp)] = (int16_t)(load_q8(rows[r], i, a_signed) - a_zero_point);
#endif
}

/* Rows of A packed per block by slimc_gemm_q8_core for an M x N x K product (a multiple of
 * SLIMC_GEMM_MR, at most M rounded up to one). */
int32_t slimc_gemm_q8_block_rows(int32_t M, int32_t N, int32_t K);

/* C rows [0, rows) = packed A panels (rows rounded up to whole panels) x packed B, plus bias,
 * requantized by plan (int32 C if NULL); the GEMM core after its packing of A. */
void slimc_gemm_q8_packed(int32_t rows, int32_t N, int32_t K, const int16_t *packed_a,
                          const int16_t *packed_b, const int32_t *bias, const requant_plan *plan,
                          int32_t plan_offset, void *C, int32_t ldc);

#ifdef SLIMC_SIMD
/* C rows [0, rows) = A x packed B (K = segments * segment_pairs * 2), with A given per panel of
 * 4 rows as segments: row r's k pairs [s * segment_pairs, (s + 1) * segment_pairs) are the int16
 * values (a - za) at row_segments[(panel * segments + s) * 4 + r], pairs side by side. No packing
 * of A: a convolution points the segments at its input, widened once (see conv_q8.c). */
void slimc_gemm_q8_segments(int32_t rows, int32_t N, int32_t segments, int32_t segment_pairs,
                            const int16_t *const *row_segments, const int16_t *packed_b,
                            const int32_t *bias, const requant_plan *plan, int32_t plan_offset,
                            void *C, int32_t ldc);
#endif

/* Output extent of a window sweep: (in + pads - dilation*(kernel-1) - 1) / stride + 1. */
static inline int32_t geometry_out_height(const int32_t *geo) {
  return (geo[SLIMC_CONV_H] + geo[SLIMC_CONV_PAD_TOP] + geo[SLIMC_CONV_PAD_BOTTOM] -
          geo[SLIMC_CONV_DIL_H] * (geo[SLIMC_CONV_KH] - 1) - 1) / geo[SLIMC_CONV_STRIDE_H] + 1;
}
static inline int32_t geometry_out_width(const int32_t *geo) {
  return (geo[SLIMC_CONV_W] + geo[SLIMC_CONV_PAD_LEFT] + geo[SLIMC_CONV_PAD_RIGHT] -
          geo[SLIMC_CONV_DIL_W] * (geo[SLIMC_CONV_KW] - 1) - 1) / geo[SLIMC_CONV_STRIDE_W] + 1;
}

/* 1x1, stride 1, unpadded: the NHWC input is the GEMM's A as it is (rows = pixels, lda = C). */
static inline int geometry_is_pointwise(const int32_t *geo) {
  return geo[SLIMC_CONV_KH] == 1 && geo[SLIMC_CONV_KW] == 1 && geo[SLIMC_CONV_STRIDE_H] == 1 &&
         geo[SLIMC_CONV_STRIDE_W] == 1 && geo[SLIMC_CONV_PAD_TOP] == 0 &&
         geo[SLIMC_CONV_PAD_LEFT] == 0 && geo[SLIMC_CONV_PAD_BOTTOM] == 0 &&
         geo[SLIMC_CONV_PAD_RIGHT] == 0;
}

/* The input pixels of output pixel (n, oy, ox) that are not padding (pointers to their C
 * elements of element_size bytes), and with tap_index (may be NULL) each one's ky*KW + kx;
 * returns how many (at most KH*KW). */
int32_t slimc_window_taps(const int32_t *geo, const uint8_t *input, size_t element_size,
                          int32_t n, int32_t oy, int32_t ox, const uint8_t **taps,
                          int32_t *tap_index);

/* im2col of group g for output pixels [pixel0, pixel0 + count) (numbered over N*OH*OW): row i
 * holds K = KH*KW*Cg elements, k = (ky*KW + kx)*Cg + c; padded taps are filled with pad_byte
 * (the zero point for q8, 0 for float32 whose zero is all-zero bytes). */
void slimc_im2col(const int32_t *geo, int32_t OH, int32_t OW, const void *input,
                  size_t element_size, uint8_t pad_byte, int32_t g, int32_t pixel0, int32_t count,
                  void *rows);

#endif
