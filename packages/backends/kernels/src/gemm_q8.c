/*
 * int8/uint8 x int8 GEMM with int32 accumulation.
 *
 * Layout. B is packed once into 8-column tiles of (b - zb) as int16, A per call into 4-row
 * panels of (a - za) as int16; padding rows/columns/k are zero, so they add nothing.
 * SIMD build: for each pair of k values (k, k+1), a B tile holds 16 int16
 * [n0k0 n0k1 n1k0 n1k1 ... n7k0 n7k1] and an A panel 8 int16 [r0k0 r0k1 r1k0 r1k1 ... r3k1].
 * Portable build: each column of the tile / row of the panel is contiguous along k (see
 * packed_index).
 *
 * SIMD micro-kernel 4x8: per k pair, splat each row's (k, k+1) pair to all four 32-bit lanes and
 * `i32x4.dot_i16x8_s` it with the two B vectors: 8 dots give the 4x8 tile 2 more k steps.
 * Products of int16 values in [-255, 255] and their pair sums fit int32, so the dot is exact.
 * Portable micro-kernel: per A row, eight dot products over k sharing each load of the row;
 * gcc -O3 vectorizes them into pmaddwd reductions.
 *
 * Blocking: A is packed in blocks of rows sized to stay in L2; for each block the B tiles are
 * walked in order, and each B tile (K x 8 int16) is reused by all panels of the block from L1.
 * With a small packed B, blocks are single panels (the panel stays in L1, B streams from L2).
 */
#include <string.h>
#include "internal.h"

#define MR SLIMC_GEMM_MR
#define NR 8
#define SMALL_B_BYTES (96 * 1024)

int32_t slimc_packed_b_size_q8(int32_t K, int32_t N) {
  /* rounded to a cache line so the groups packed back to back stay 64-byte aligned: loads of B
   * straddling cache lines cost up to 20% of the GEMM's speed */
  int32_t bytes = packed_n_tiles(N) * packed_k_pairs(K) * 2 * NR * (int32_t)sizeof(int16_t);
  return (bytes + 63) & ~63;
}

void slimc_pack_b_q8(int32_t K, int32_t N, const void *B, int32_t stride_k, int32_t stride_n,
                     int32_t b_signed, const int32_t *b_zero_points, int32_t zp_per_channel,
                     void *packed) {
  int16_t *out = packed;
  int32_t kp = packed_k_pairs(K);
  for (int32_t tile = 0; tile < packed_n_tiles(N); tile++) {
    for (int32_t j = 0; j < NR; j++) {
      int32_t n = tile * NR + j;
      int32_t zero_point =
          b_zero_points ? b_zero_points[zp_per_channel ? SLIMC_MIN(n, N - 1) : 0] : 0;
      for (int32_t k = 0; k < 2 * kp; k++) {
        int32_t value = 0;
        if (n < N && k < K) value = load_q8(B, k * stride_k + n * stride_n, b_signed) - zero_point;
        out[packed_index(j, k, NR, kp)] = (int16_t)value;
      }
    }
    out += (size_t)kp * 2 * NR;
  }
}

/* Packs rows [0, rows) (rows <= MR) of A into one panel; missing rows are zero. */
static void pack_a_panel(int32_t rows, int32_t K, const uint8_t *A, int32_t lda,
                         int32_t a_signed, int32_t a_zero_point, int16_t *panel) {
  int32_t k = 0, kp = packed_k_pairs(K);
#ifdef SLIMC_SIMD
  if (rows == MR) {
    const uint8_t *r0 = A, *r1 = A + lda, *r2 = A + 2 * (size_t)lda, *r3 = A + 3 * (size_t)lda;
    for (; k + 8 <= K; k += 8)
      pack_a_rows8(r0 + k, r1 + k, r2 + k, r3 + k, a_signed, a_zero_point, k, kp, panel);
  }
#endif
  for (int32_t r = 0; r < MR; r++) {
    for (int32_t kk = k; kk < 2 * kp; kk++) {
      int32_t value = 0;
      if (r < rows && kk < K) value = load_q8(A, r * lda + kk, a_signed) - a_zero_point;
      panel[packed_index(r, kk, MR, kp)] = (int16_t)value;
    }
  }
}

/* Writes the valid rows x cols of a 4x8 int32 tile acc[r][c] (bias already added). */
static void store_tile(const int32_t acc[MR][NR], int32_t rows, int32_t cols,
                       const requant_plan *plan, int32_t plan_channel, void *C, int32_t ldc) {
  for (int32_t r = 0; r < rows; r++) {
    if (!plan) {
      memcpy((int32_t *)C + (size_t)r * ldc, acc[r], (size_t)cols * sizeof(int32_t));
      continue;
    }
    /* requantize into a local row first: byte stores may alias the plan, and would make the
     * compiler reload its fields for every element */
    int32_t values[NR];
    for (int32_t c = 0; c < NR; c++) values[c] = requant_plan_apply(plan, plan_channel + c, acc[r][c]);
    uint8_t *out = (uint8_t *)C + (size_t)r * ldc;
    for (int32_t c = 0; c < cols; c++) requant_plan_store(plan, out, c, values[c]);
  }
}

#ifdef SLIMC_SIMD
/* The 4x8 tile's accumulators: row r's columns 0..3 in c[2r], 4..7 in c[2r + 1]. */
typedef struct {
  v128_t c[2 * MR];
} tile_4x8;

/* Adds `pairs` k pairs to the tile: row r's pair p at rows[r] + p * row_step (a broadcast 32-bit
 * lane), the B tile's at b + 16p; returns b past them. A packed panel (row_step 8) advances one
 * pointer; separate rows (a convolution's segments, row_step 2) are indexed from their starts:
 * advancing four pointers there made V8's code for the loop a third slower. */
__attribute__((always_inline)) static inline const int16_t *tile_4x8_accumulate(
    tile_4x8 *t, int32_t pairs, const int16_t *r0, const int16_t *r1, const int16_t *r2,
    const int16_t *r3, int32_t row_step, const int16_t *b) {
  v128_t c00 = t->c[0], c01 = t->c[1], c10 = t->c[2], c11 = t->c[3];
  v128_t c20 = t->c[4], c21 = t->c[5], c30 = t->c[6], c31 = t->c[7];
#define TILE_4X8_STEP(a0, a1, a2, a3)                                                      \
  do {                                                                                     \
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 8);                             \
    c00 = wasm_i32x4_add(c00, wasm_i32x4_dot_i16x8(a0, b0));                               \
    c01 = wasm_i32x4_add(c01, wasm_i32x4_dot_i16x8(a0, b1));                               \
    c10 = wasm_i32x4_add(c10, wasm_i32x4_dot_i16x8(a1, b0));                               \
    c11 = wasm_i32x4_add(c11, wasm_i32x4_dot_i16x8(a1, b1));                               \
    c20 = wasm_i32x4_add(c20, wasm_i32x4_dot_i16x8(a2, b0));                               \
    c21 = wasm_i32x4_add(c21, wasm_i32x4_dot_i16x8(a2, b1));                               \
    c30 = wasm_i32x4_add(c30, wasm_i32x4_dot_i16x8(a3, b0));                               \
    c31 = wasm_i32x4_add(c31, wasm_i32x4_dot_i16x8(a3, b1));                               \
    b += 2 * NR;                                                                           \
  } while (0)
  if (row_step == 2 * MR) {
    for (int32_t p = 0; p < pairs; p++, r0 += 2 * MR)
      TILE_4X8_STEP(wasm_v128_load32_splat(r0), wasm_v128_load32_splat(r0 + 2),
                    wasm_v128_load32_splat(r0 + 4), wasm_v128_load32_splat(r0 + 6));
  } else {
    for (int32_t p = 0; p < pairs; p++)
      TILE_4X8_STEP(wasm_v128_load32_splat(r0 + p * row_step), wasm_v128_load32_splat(r1 + p * row_step),
                    wasm_v128_load32_splat(r2 + p * row_step), wasm_v128_load32_splat(r3 + p * row_step));
  }
#undef TILE_4X8_STEP
  t->c[0] = c00; t->c[1] = c01; t->c[2] = c10; t->c[3] = c11;
  t->c[4] = c20; t->c[5] = c21; t->c[6] = c30; t->c[7] = c31;
  return b;
}

/* Adds the bias to a finished tile and stores its valid rows x cols (requantized by plan, or
 * int32 if NULL). */
__attribute__((always_inline)) static inline void tile_4x8_store(
    const tile_4x8 *t, const int32_t *bias, int32_t rows, int32_t cols, const requant_plan *plan,
    int32_t plan_channel, void *C, int32_t ldc, enum acc_range range) {
  v128_t c00 = t->c[0], c01 = t->c[1], c10 = t->c[2], c11 = t->c[3];
  v128_t c20 = t->c[4], c21 = t->c[5], c30 = t->c[6], c31 = t->c[7];
  if (bias) {
    v128_t bias0, bias1;
    if (cols == NR) {
      bias0 = wasm_v128_load(bias);
      bias1 = wasm_v128_load(bias + 4);
    } else {
      int32_t padded[NR] = {0};
      memcpy(padded, bias, (size_t)cols * sizeof(int32_t));
      bias0 = wasm_v128_load(padded);
      bias1 = wasm_v128_load(padded + 4);
    }
    c00 = wasm_i32x4_add(c00, bias0); c01 = wasm_i32x4_add(c01, bias1);
    c10 = wasm_i32x4_add(c10, bias0); c11 = wasm_i32x4_add(c11, bias1);
    c20 = wasm_i32x4_add(c20, bias0); c21 = wasm_i32x4_add(c21, bias1);
    c30 = wasm_i32x4_add(c30, bias0); c31 = wasm_i32x4_add(c31, bias1);
  }
  if (plan && rows == MR && cols == NR) {
    uint8_t *out = C;
    requant_plan_store8(plan, out, requant_plan_apply8(plan, plan_channel, c00, c01, range));
    requant_plan_store8(plan, out + ldc, requant_plan_apply8(plan, plan_channel, c10, c11, range));
    requant_plan_store8(plan, out + 2 * ldc, requant_plan_apply8(plan, plan_channel, c20, c21, range));
    requant_plan_store8(plan, out + 3 * ldc, requant_plan_apply8(plan, plan_channel, c30, c31, range));
    return;
  }
  if (plan) {
    /* a partial tile (N % 8 columns, M % 4 rows): all 8 lanes requantized (the plan is padded
     * past its last channel), the valid bytes of each row copied out */
    uint8_t bytes[MR][NR];
    requant_plan_store8(plan, bytes[0], requant_plan_apply8(plan, plan_channel, c00, c01, range));
    requant_plan_store8(plan, bytes[1], requant_plan_apply8(plan, plan_channel, c10, c11, range));
    requant_plan_store8(plan, bytes[2], requant_plan_apply8(plan, plan_channel, c20, c21, range));
    requant_plan_store8(plan, bytes[3], requant_plan_apply8(plan, plan_channel, c30, c31, range));
    for (int32_t r = 0; r < rows; r++) memcpy((uint8_t *)C + (size_t)r * ldc, bytes[r], (size_t)cols);
    return;
  }
  int32_t acc[MR][NR];
  wasm_v128_store(acc[0], c00); wasm_v128_store(acc[0] + 4, c01);
  wasm_v128_store(acc[1], c10); wasm_v128_store(acc[1] + 4, c11);
  wasm_v128_store(acc[2], c20); wasm_v128_store(acc[2] + 4, c21);
  wasm_v128_store(acc[3], c30); wasm_v128_store(acc[3] + 4, c31);
  store_tile((const int32_t(*)[NR])acc, rows, cols, plan, plan_channel, C, ldc);
}

/* One 4x8 tile of a packed A panel (k pairs of the four rows side by side) times a B tile. */
__attribute__((always_inline)) static inline void kernel_4x8(
    int32_t kp, const int16_t *a, const int16_t *b, const int32_t *bias, int32_t rows,
    int32_t cols, const requant_plan *plan, int32_t plan_channel, void *C, int32_t ldc,
    enum acc_range range) {
  tile_4x8 t;
  for (int32_t i = 0; i < 2 * MR; i++) t.c[i] = wasm_i32x4_splat(0);
  tile_4x8_accumulate(&t, kp, a, a + 2, a + 4, a + 6, 2 * MR, b);
  tile_4x8_store(&t, bias, rows, cols, plan, plan_channel, C, ldc, range);
}

/* slimc_gemm_q8_segments for one acc_range */
__attribute__((always_inline)) static inline void gemm_segment_tiles(
    int32_t rows, int32_t N, int32_t segments, int32_t segment_pairs,
    const int16_t *const *row_segments, const int16_t *packed_b, const int32_t *bias,
    const requant_plan *plan, int32_t plan_offset, void *C, int32_t ldc, enum acc_range range) {
  int32_t kp = segments * segment_pairs;
  int32_t panels = (rows + MR - 1) / MR;
  for (int32_t tile = 0; tile < packed_n_tiles(N); tile++) {
    int32_t n0 = tile * NR;
    int32_t cols = SLIMC_MIN(NR, N - n0);
    for (int32_t p = 0; p < panels; p++) {
      const int16_t *b = packed_b + (size_t)tile * kp * 2 * NR;
      const int16_t *const *segment = row_segments + (size_t)p * segments * MR;
      tile_4x8 t;
      for (int32_t i = 0; i < 2 * MR; i++) t.c[i] = wasm_i32x4_splat(0);
      for (int32_t s = 0; s < segments; s++, segment += MR)
        b = tile_4x8_accumulate(&t, segment_pairs, segment[0], segment[1], segment[2], segment[3],
                                2, b);
      int32_t row = p * MR;
      tile_4x8_store(&t, bias ? bias + n0 : NULL, SLIMC_MIN(MR, rows - row), cols, plan,
                     plan_offset + n0, (uint8_t *)C + ((size_t)row * ldc + n0) * (plan ? 1 : 4),
                     ldc, range);
    }
  }
}

__attribute__((noinline)) static void gemm_segment_tiles_any(
    int32_t rows, int32_t N, int32_t segments, int32_t segment_pairs,
    const int16_t *const *row_segments, const int16_t *packed_b, const int32_t *bias,
    const requant_plan *plan, int32_t plan_offset, void *C, int32_t ldc) {
  gemm_segment_tiles(rows, N, segments, segment_pairs, row_segments, packed_b, bias, plan,
                     plan_offset, C, ldc, ACC_ANY);
}

__attribute__((noinline)) static void gemm_segment_tiles_within_2_24(
    int32_t rows, int32_t N, int32_t segments, int32_t segment_pairs,
    const int16_t *const *row_segments, const int16_t *packed_b, const int32_t *bias,
    const requant_plan *plan, int32_t plan_offset, void *C, int32_t ldc) {
  gemm_segment_tiles(rows, N, segments, segment_pairs, row_segments, packed_b, bias, plan,
                     plan_offset, C, ldc, ACC_WITHIN_2_24);
}

void slimc_gemm_q8_segments(int32_t rows, int32_t N, int32_t segments, int32_t segment_pairs,
                            const int16_t *const *row_segments, const int16_t *packed_b,
                            const int32_t *bias, const requant_plan *plan, int32_t plan_offset,
                            void *C, int32_t ldc) {
  if (plan && plan->accumulators_within_2_24)
    gemm_segment_tiles_within_2_24(rows, N, segments, segment_pairs, row_segments, packed_b, bias,
                                   plan, plan_offset, C, ldc);
  else
    gemm_segment_tiles_any(rows, N, segments, segment_pairs, row_segments, packed_b, bias, plan,
                           plan_offset, C, ldc);
}

#else
static void kernel_4x8(int32_t kp, const int16_t *a, const int16_t *b, const int32_t *bias,
                       int32_t rows, int32_t cols, const requant_plan *plan, int32_t plan_channel,
                       void *C, int32_t ldc, enum acc_range range) {
  int32_t acc[MR][NR];
  int32_t k_padded = 2 * kp;
  for (int32_t r = 0; r < MR; r++) {
    const int16_t *a_row = a + (size_t)r * k_padded;
    /* the eight dot products of a row share each load of the A row */
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (int32_t k = 0; k < k_padded; k++) {
      int32_t x = a_row[k];
      s0 += x * b[k];
      s1 += x * b[k_padded + k];
      s2 += x * b[2 * k_padded + k];
      s3 += x * b[3 * k_padded + k];
      s4 += x * b[4 * k_padded + k];
      s5 += x * b[5 * k_padded + k];
      s6 += x * b[6 * k_padded + k];
      s7 += x * b[7 * k_padded + k];
    }
    acc[r][0] = s0; acc[r][1] = s1; acc[r][2] = s2; acc[r][3] = s3;
    acc[r][4] = s4; acc[r][5] = s5; acc[r][6] = s6; acc[r][7] = s7;
  }
  for (int32_t r = 0; r < MR; r++)
    for (int32_t c = 0; c < cols; c++) acc[r][c] += bias ? bias[c] : 0;
  store_tile((const int32_t(*)[NR])acc, rows, cols, plan, plan_channel, C, ldc);
}
#endif

int32_t slimc_gemm_q8_block_rows(int32_t M, int32_t N, int32_t K) {
  size_t panel_elems = slimc_packed_a_panel_elements(K);
  int32_t block_rows = (int32_t)(SLIMC_A_BLOCK_BYTES / (SLIMC_MAX(panel_elems, 1) * sizeof(int16_t))) * MR;
  /* with a small B (few output channels), one panel at a time does better: the panel is reused
   * from L1 by every B tile while B streams from L2 (measured: +3% at 3136x64x576, -3% at 256^3
   * where B is 128 KB) */
  if ((size_t)slimc_packed_b_size_q8(K, N) <= SMALL_B_BYTES) block_rows = MR;
  block_rows = SLIMC_MAX(block_rows, MR);
  return SLIMC_MIN(block_rows, (M + MR - 1) / MR * MR);
}

/* slimc_gemm_q8_packed for one acc_range (a constant: each is compiled on its own) */
__attribute__((always_inline)) static inline void gemm_packed_tiles(
    int32_t rows, int32_t N, int32_t K, const int16_t *packed_a, const int16_t *packed_b,
    const int32_t *bias, const requant_plan *plan, int32_t plan_offset, void *C, int32_t ldc,
    enum acc_range range) {
  int32_t kp = packed_k_pairs(K);
  size_t panel_elems = slimc_packed_a_panel_elements(K);
  size_t element_size = plan ? 1 : sizeof(int32_t);
  int32_t panels = (rows + MR - 1) / MR;
  for (int32_t tile = 0; tile < packed_n_tiles(N); tile++) {
    int32_t n0 = tile * NR;
    int32_t cols = SLIMC_MIN(NR, N - n0);
    const int16_t *b_tile = packed_b + (size_t)tile * kp * 2 * NR;
    for (int32_t p = 0; p < panels; p++) {
      int32_t row = p * MR;
      uint8_t *c_tile = (uint8_t *)C + ((size_t)row * ldc + n0) * element_size;
      kernel_4x8(kp, packed_a + p * panel_elems, b_tile, bias ? bias + n0 : NULL,
                 SLIMC_MIN(MR, rows - row), cols, plan, plan_offset + n0, c_tile, ldc, range);
    }
  }
}

__attribute__((noinline)) static void gemm_packed_tiles_any(
    int32_t rows, int32_t N, int32_t K, const int16_t *packed_a, const int16_t *packed_b,
    const int32_t *bias, const requant_plan *plan, int32_t plan_offset, void *C, int32_t ldc) {
  gemm_packed_tiles(rows, N, K, packed_a, packed_b, bias, plan, plan_offset, C, ldc, ACC_ANY);
}

__attribute__((noinline)) static void gemm_packed_tiles_within_2_24(
    int32_t rows, int32_t N, int32_t K, const int16_t *packed_a, const int16_t *packed_b,
    const int32_t *bias, const requant_plan *plan, int32_t plan_offset, void *C, int32_t ldc) {
  gemm_packed_tiles(rows, N, K, packed_a, packed_b, bias, plan, plan_offset, C, ldc,
                    ACC_WITHIN_2_24);
}

void slimc_gemm_q8_packed(int32_t rows, int32_t N, int32_t K, const int16_t *packed_a,
                          const int16_t *packed_b, const int32_t *bias, const requant_plan *plan,
                          int32_t plan_offset, void *C, int32_t ldc) {
  if (plan && plan->accumulators_within_2_24)
    gemm_packed_tiles_within_2_24(rows, N, K, packed_a, packed_b, bias, plan, plan_offset, C, ldc);
  else
    gemm_packed_tiles_any(rows, N, K, packed_a, packed_b, bias, plan, plan_offset, C, ldc);
}

void slimc_gemm_q8_core(int32_t M, int32_t N, int32_t K, const void *A, int32_t lda,
                        int32_t a_signed, int32_t a_zero_point, const int16_t *packed_b,
                        const int32_t *bias, const requant_plan *plan, int32_t plan_offset,
                        void *C, int32_t ldc) {
  if (M <= 0 || N <= 0) return;
  size_t panel_elems = slimc_packed_a_panel_elements(K);
  int32_t block_rows = slimc_gemm_q8_block_rows(M, N, K);
  int16_t *packed_a = slimc_scratch(SCRATCH_PACKED_A, panel_elems * (size_t)(block_rows / MR) *
                                                          sizeof(int16_t));
  size_t element_size = plan ? 1 : sizeof(int32_t);
  for (int32_t m0 = 0; m0 < M; m0 += block_rows) {
    int32_t rows_in_block = SLIMC_MIN(block_rows, M - m0);
    for (int32_t row = 0; row < rows_in_block; row += MR)
      pack_a_panel(SLIMC_MIN(MR, rows_in_block - row), K, (const uint8_t *)A + (size_t)(m0 + row) * lda,
                   lda, a_signed, a_zero_point, packed_a + (row / MR) * panel_elems);
    slimc_gemm_q8_packed(rows_in_block, N, K, packed_a, packed_b, bias, plan, plan_offset,
                         (uint8_t *)C + (size_t)m0 * ldc * element_size, ldc);
  }
}

void slimc_gemm_q8_i32(int32_t M, int32_t N, int32_t K, const void *A, int32_t lda,
                       int32_t a_signed, int32_t a_zero_point, const void *packed_b,
                       const int32_t *bias, int32_t *C, int32_t ldc) {
  slimc_gemm_q8_core(M, N, K, A, lda, a_signed, a_zero_point, packed_b, bias, NULL, 0, C, ldc);
}

void slimc_gemm_q8(int32_t M, int32_t N, int32_t K, const void *A, int32_t lda, int32_t a_signed,
                   int32_t a_zero_point, const void *packed_b, const int32_t *bias,
                   const int32_t *multipliers, const int32_t *shifts, int32_t per_channel,
                   int32_t out_zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                   void *C, int32_t ldc) {
  requant_plan *plan = requant_plan_build(N, multipliers, shifts, per_channel, out_zero_point,
                                          out_min, out_max, out_signed);
  requant_plan_bound_accumulators(plan, K, bias, N);
  slimc_gemm_q8_core(M, N, K, A, lda, a_signed, a_zero_point, packed_b, bias, plan, 0, C, ldc);
}
