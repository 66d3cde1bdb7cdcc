/*
 * float32 GEMM and convolution (NHWC), for the float parts of mixed graphs and calibration.
 * B is packed into 8-column tiles, [k][8] floats per tile (padding columns zero). The 4x8
 * micro-kernel broadcasts A[r][k] and multiplies-adds the two B vectors (no FMA: plain
 * SIMD128 has none, and relaxed SIMD is avoided). Convolution = im2col + GEMM (1x1 stride-1
 * unpadded convolutions read the input directly), with the same k order and group handling as
 * the int8 convolution.
 */
#include <string.h>
#include "internal.h"

#define MR 4
#define NR 8

int32_t slimc_packed_b_size_f32(int32_t K, int32_t N) {
  return (packed_n_tiles(N) * K * NR * (int32_t)sizeof(float) + 63) & ~63; /* see the q8 size */
}

void slimc_pack_b_f32(int32_t K, int32_t N, const float *B, int32_t stride_k, int32_t stride_n,
                      float *packed) {
  for (int32_t tile = 0; tile < packed_n_tiles(N); tile++)
    for (int32_t k = 0; k < K; k++)
      for (int32_t j = 0; j < NR; j++) {
        int32_t n = tile * NR + j;
        *packed++ = n < N ? B[(size_t)k * stride_k + (size_t)n * stride_n] : 0.0f;
      }
}

static void store_tile_f32(const float acc[MR][NR], int32_t rows, int32_t cols, const float *bias,
                           float out_min, float out_max, float *C, int32_t ldc) {
  for (int32_t r = 0; r < rows; r++)
    for (int32_t c = 0; c < cols; c++) {
      float v = acc[r][c] + (bias ? bias[c] : 0.0f);
      v = v < out_min ? out_min : (v > out_max ? out_max : v);
      C[(size_t)r * ldc + c] = v;
    }
}

static void kernel_f32(int32_t K, const float *A, int32_t lda, int32_t rows, const float *b,
                       int32_t cols, const float *bias, float out_min, float out_max, float *C,
                       int32_t ldc) {
  const float *r0 = A, *r1 = A + (rows > 1 ? lda : 0);
  const float *r2 = A + (rows > 2 ? 2 * (size_t)lda : 0), *r3 = A + (rows > 3 ? 3 * (size_t)lda : 0);
  float acc[MR][NR];
#ifdef SLIMC_SIMD
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int32_t k = 0; k < K; k++) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t a0 = wasm_v128_load32_splat(r0 + k), a1 = wasm_v128_load32_splat(r1 + k);
    v128_t a2 = wasm_v128_load32_splat(r2 + k), a3 = wasm_v128_load32_splat(r3 + k);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a2, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a2, b1));
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a3, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a3, b1));
    b += NR;
  }
  wasm_v128_store(acc[0], c00); wasm_v128_store(acc[0] + 4, c01);
  wasm_v128_store(acc[1], c10); wasm_v128_store(acc[1] + 4, c11);
  wasm_v128_store(acc[2], c20); wasm_v128_store(acc[2] + 4, c21);
  wasm_v128_store(acc[3], c30); wasm_v128_store(acc[3] + 4, c31);
#else
  /* one accumulator row per A row, so each column loop is a single 8-lane multiply-add */
  float acc0[NR] = {0}, acc1[NR] = {0}, acc2[NR] = {0}, acc3[NR] = {0};
  for (int32_t k = 0; k < K; k++) {
    float x0 = r0[k], x1 = r1[k], x2 = r2[k], x3 = r3[k];
    for (int32_t c = 0; c < NR; c++) {
      acc0[c] += x0 * b[c];
      acc1[c] += x1 * b[c];
      acc2[c] += x2 * b[c];
      acc3[c] += x3 * b[c];
    }
    b += NR;
  }
  memcpy(acc[0], acc0, sizeof(acc0));
  memcpy(acc[1], acc1, sizeof(acc1));
  memcpy(acc[2], acc2, sizeof(acc2));
  memcpy(acc[3], acc3, sizeof(acc3));
#endif
  store_tile_f32((const float(*)[NR])acc, rows, cols, bias, out_min, out_max, C, ldc);
}

void slimc_gemm_f32(int32_t M, int32_t N, int32_t K, const float *A, int32_t lda,
                    const float *packed_b, const float *bias, float out_min, float out_max,
                    float *C, int32_t ldc) {
  /* rows are walked in blocks so the block of A stays cached while every B tile passes */
  int32_t block_rows = SLIMC_MAX(MR, (int32_t)(64 * 1024 / (SLIMC_MAX(K, 1) * sizeof(float))) & ~3);
  for (int32_t m0 = 0; m0 < M; m0 += block_rows) {
    int32_t m1 = SLIMC_MIN(M, m0 + block_rows);
    for (int32_t tile = 0; tile < packed_n_tiles(N); tile++) {
      int32_t n0 = tile * NR;
      const float *b_tile = packed_b + (size_t)tile * K * NR;
      for (int32_t m = m0; m < m1; m += MR)
        kernel_f32(K, A + (size_t)m * lda, lda, SLIMC_MIN(MR, m1 - m), b_tile,
                   SLIMC_MIN(NR, N - n0), bias ? bias + n0 : NULL, out_min, out_max,
                   C + (size_t)m * ldc + n0, ldc);
    }
  }
}

int32_t slimc_conv_packed_weights_size_f32(int32_t C, int32_t Cout, int32_t KH, int32_t KW,
                                           int32_t groups) {
  return groups * slimc_packed_b_size_f32(KH * KW * (C / groups), Cout / groups);
}

void slimc_conv_pack_weights_f32(int32_t C, int32_t Cout, int32_t KH, int32_t KW, int32_t groups,
                                 const float *weights, float *packed) {
  int32_t cg = C / groups, cout_g = Cout / groups, K = KH * KW * cg;
  for (int32_t g = 0; g < groups; g++) {
    float *out = (float *)((uint8_t *)packed + (size_t)g * slimc_packed_b_size_f32(K, cout_g));
    for (int32_t tile = 0; tile < packed_n_tiles(cout_g); tile++)
      for (int32_t tap = 0; tap < KH * KW; tap++)
        for (int32_t c = 0; c < cg; c++)
          for (int32_t j = 0; j < NR; j++) {
            int32_t n = tile * NR + j;
            *out++ = n < cout_g ? weights[((size_t)(g * cout_g + n) * cg + c) * KH * KW + tap] : 0.0f;
          }
  }
}

void slimc_conv_f32(const int32_t *geo, const float *input, const float *packed_weights,
                    const float *bias, float out_min, float out_max, float *output) {
  int32_t C = geo[SLIMC_CONV_C];
  int32_t Cout = geo[SLIMC_CONV_COUT], groups = geo[SLIMC_CONV_GROUPS];
  int32_t KH = geo[SLIMC_CONV_KH], KW = geo[SLIMC_CONV_KW];
  int32_t OH = geometry_out_height(geo), OW = geometry_out_width(geo);
  if (OH <= 0 || OW <= 0) return;
  int32_t cg = C / groups, cout_g = Cout / groups, K = KH * KW * cg;
  int32_t pixels = geo[SLIMC_CONV_N] * OH * OW;
  int pointwise = geometry_is_pointwise(geo);
  int32_t chunk = SLIMC_MAX(4, (int32_t)(SLIMC_IM2COL_CHUNK_BYTES_F32 / sizeof(float)) / SLIMC_MAX(K, 1)) & ~3;
  float *rows = pointwise ? NULL : slimc_scratch(SCRATCH_IM2COL, (size_t)chunk * K * sizeof(float));
  for (int32_t g = 0; g < groups; g++) {
    const float *packed_b = (const float *)((const uint8_t *)packed_weights +
                                            (size_t)g * slimc_packed_b_size_f32(K, cout_g));
    if (pointwise) { /* the NHWC input is already the A matrix: rows = pixels, lda = C */
      slimc_gemm_f32(pixels, cout_g, K, input + g * cg, C, packed_b, bias ? bias + g * cout_g : NULL,
                     out_min, out_max, output + g * cout_g, Cout);
      continue;
    }
    for (int32_t p0 = 0; p0 < pixels; p0 += chunk) {
      int32_t count = SLIMC_MIN(chunk, pixels - p0);
      slimc_im2col(geo, OH, OW, input, sizeof(float), 0, g, p0, count, rows);
      slimc_gemm_f32(count, cout_g, K, rows, K, packed_b, bias ? bias + g * cout_g : NULL, out_min,
                     out_max, output + (size_t)p0 * Cout + g * cout_g, Cout);
    }
  }
}
