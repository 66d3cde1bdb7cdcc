/*
 * Native unit tests of slimc_kernels: each kernel against a direct reference written here
 * (plain loops over the definitions in slimc_kernels.h), on random shapes and parameters.
 * Prints "N passed, N failed" and exits non-zero on failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "slimc_kernels.h"

static int passed, failed;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) {                                            \
      passed++;                                            \
    } else {                                               \
      failed++;                                            \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
    }                                                      \
  } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}
static int32_t rand_range(int32_t lo, int32_t hi) { return lo + (int32_t)(next_u32() % (uint32_t)(hi - lo + 1)); }

static void fill_q8(uint8_t *p, size_t n) { for (size_t i = 0; i < n; i++) p[i] = (uint8_t)next_u32(); }
static int32_t q8(const uint8_t *p, size_t i, int is_signed) { return is_signed ? (int8_t)p[i] : p[i]; }
static int32_t clampi(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A multiplier in [2^30, 2^31) and a shift in [-12, 1], like quantizeMultiplier of a small scale. */
static void random_multiplier(int32_t *m, int32_t *s) {
  *m = (int32_t)((1u << 30) + (next_u32() % (1u << 30)));
  *s = rand_range(-12, 1);
}

static void test_multiply_by_quantized_multiplier(void) {
  const int32_t half = 1 << 30; /* 0.5 */
  CHECK(slimc_multiply_by_quantized_multiplier(100, half, 0) == 50, "100 * 0.5");
  CHECK(slimc_multiply_by_quantized_multiplier(3, half, -1) == 1, "3 * 0.25 rounds to 1");
  CHECK(slimc_multiply_by_quantized_multiplier(-3, half, -1) == -1, "-3 * 0.25 rounds to -1");
  CHECK(slimc_multiply_by_quantized_multiplier(2, half, -1) == 1, "0.5 rounds away from zero");
  CHECK(slimc_multiply_by_quantized_multiplier(-2, half, -1) == -1, "-0.5 rounds away from zero");
  CHECK(slimc_multiply_by_quantized_multiplier(7, half, 2) == 14, "7 * 0.5 * 4");
  CHECK(slimc_multiply_by_quantized_multiplier(-7, half, 2) == -14, "-7 * 0.5 * 4");
  CHECK(slimc_multiply_by_quantized_multiplier(half, half, 2) == half, "the left shift saturates");
  CHECK(slimc_multiply_by_quantized_multiplier(-half, half, 2) == -half, "the left shift saturates below");
  /* against double arithmetic away from ties */
  int ok = 1;
  for (int i = 0; i < 20000 && ok; i++) {
    int32_t m, s;
    random_multiplier(&m, &s);
    int32_t x = rand_range(-1000000, 1000000);
    double exact = (double)x * m * pow(2.0, s - 31);
    int32_t got = slimc_multiply_by_quantized_multiplier(x, m, s);
    if (fabs(exact - got) > 1.0 + 1e-6) /* two roundings */ ok = 0, fprintf(stderr, "x=%d m=%d s=%d: %d vs %f\n", x, m, s, got, exact);
  }
  CHECK(ok, "within one unit of x * m * 2^(s-31)");
}

static void test_requantize(void) {
  for (int trial = 0; trial < 50; trial++) {
    int32_t rows = rand_range(1, 5), cols = rand_range(1, 37), per_channel = rand_range(0, 1);
    int32_t out_signed = rand_range(0, 1), zp = out_signed ? rand_range(-20, 20) : rand_range(0, 255);
    int32_t lo = out_signed ? -128 : 0, hi = out_signed ? 127 : 255;
    int32_t *src = malloc(sizeof(int32_t) * rows * cols), mult[64], shift[64];
    uint8_t *dst = malloc((size_t)rows * cols);
    for (int i = 0; i < rows * cols; i++) src[i] = rand_range(-200000, 200000);
    for (int c = 0; c < cols; c++) random_multiplier(&mult[c], &shift[c]);
    /* large left shifts make x * 2^left overflow, where the reference saturates */
    if (trial % 3 == 0) for (int c = 0; c < cols; c++) shift[c] = rand_range(-2, 20);
    if (trial % 4 == 0) mult[0] = 0;
    slimc_requantize(rows, cols, src, cols, mult, shift, per_channel, zp, lo, hi, out_signed, dst, cols);
    int ok = 1;
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < cols; c++) {
        int ch = per_channel ? c : 0;
        int32_t want = clampi(slimc_multiply_by_quantized_multiplier(src[r * cols + c], mult[ch], shift[ch]) + zp, lo, hi);
        if (q8(dst, r * cols + c, out_signed) != want) ok = 0;
      }
    CHECK(ok, "requantize trial %d", trial);
    free(src);
    free(dst);
  }
}

static void test_gemm(void) {
  for (int trial = 0; trial < 60; trial++) {
    int32_t M = rand_range(1, 19), N = rand_range(1, 21), K = rand_range(1, 70);
    int32_t a_signed = rand_range(0, 1), b_signed = rand_range(0, 1), zp_per_channel = rand_range(0, 1);
    int32_t za = a_signed ? rand_range(-128, 127) : rand_range(0, 255);
    int32_t lda = K + rand_range(0, 3);
    uint8_t *A = malloc((size_t)M * lda), *B = malloc((size_t)K * N);
    int32_t zb[32], bias[32], mult[32], shift[32];
    fill_q8(A, (size_t)M * lda);
    fill_q8(B, (size_t)K * N);
    for (int n = 0; n < N; n++) {
      zb[n] = b_signed ? rand_range(-128, 127) : rand_range(0, 255);
      bias[n] = rand_range(-5000, 5000);
      random_multiplier(&mult[n], &shift[n]);
    }
    /* B given as N x K (weights layout) half of the time */
    int transposed = rand_range(0, 1);
    int32_t stride_k = transposed ? 1 : N, stride_n = transposed ? K : 1;
    void *packed = malloc(slimc_packed_b_size_q8(K, N));
    slimc_pack_b_q8(K, N, B, stride_k, stride_n, b_signed, zb, zp_per_channel, packed);
    int32_t *C32 = malloc(sizeof(int32_t) * M * N);
    uint8_t *C8 = malloc((size_t)M * N);
    int32_t out_signed = rand_range(0, 1), zo = out_signed ? rand_range(-10, 10) : rand_range(0, 255);
    int32_t lo = out_signed ? -128 : 0, hi = out_signed ? 127 : 255;
    slimc_gemm_q8_i32(M, N, K, A, lda, a_signed, za, packed, bias, C32, N);
    slimc_gemm_q8(M, N, K, A, lda, a_signed, za, packed, bias, mult, shift, zp_per_channel, zo, lo, hi, out_signed, C8, N);
    int ok32 = 1, ok8 = 1;
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        int32_t acc = bias[n];
        int32_t z = zp_per_channel ? zb[n] : zb[0];
        for (int k = 0; k < K; k++)
          acc += (q8(A, (size_t)m * lda + k, a_signed) - za) * (q8(B, (size_t)k * stride_k + n * stride_n, b_signed) - z);
        if (C32[m * N + n] != acc) ok32 = 0;
        int ch = zp_per_channel ? n : 0;
        int32_t want = clampi(slimc_multiply_by_quantized_multiplier(acc, mult[ch], shift[ch]) + zo, lo, hi);
        if (q8(C8, m * N + n, out_signed) != want) ok8 = 0;
      }
    CHECK(ok32, "gemm int32 M=%d N=%d K=%d", M, N, K);
    CHECK(ok8, "gemm q8 M=%d N=%d K=%d", M, N, K);
    free(A); free(B); free(packed); free(C32); free(C8);
  }
}

static void random_geometry(int32_t *g, int depthwise) {
  g[SLIMC_CONV_N] = rand_range(1, 2);
  g[SLIMC_CONV_H] = rand_range(1, 9);
  g[SLIMC_CONV_W] = rand_range(1, 9);
  int32_t groups = depthwise ? 0 : rand_range(1, 3);
  int32_t C = depthwise ? rand_range(2, 20) : groups * rand_range(1, 6);
  g[SLIMC_CONV_C] = C;
  g[SLIMC_CONV_GROUPS] = depthwise ? C : groups;
  g[SLIMC_CONV_COUT] = depthwise ? C : groups * rand_range(1, 10);
  g[SLIMC_CONV_KH] = rand_range(1, 3);
  g[SLIMC_CONV_KW] = rand_range(1, 3);
  g[SLIMC_CONV_STRIDE_H] = rand_range(1, 2);
  g[SLIMC_CONV_STRIDE_W] = rand_range(1, 2);
  g[SLIMC_CONV_DIL_H] = rand_range(1, 2);
  g[SLIMC_CONV_DIL_W] = rand_range(1, 2);
  for (int i = SLIMC_CONV_PAD_TOP; i <= SLIMC_CONV_PAD_RIGHT; i++) g[i] = rand_range(0, 2);
  /* grow the input until at least one output pixel exists */
  while (g[SLIMC_CONV_H] + g[SLIMC_CONV_PAD_TOP] + g[SLIMC_CONV_PAD_BOTTOM] < g[SLIMC_CONV_DIL_H] * (g[SLIMC_CONV_KH] - 1) + 1) g[SLIMC_CONV_H]++;
  while (g[SLIMC_CONV_W] + g[SLIMC_CONV_PAD_LEFT] + g[SLIMC_CONV_PAD_RIGHT] < g[SLIMC_CONV_DIL_W] * (g[SLIMC_CONV_KW] - 1) + 1) g[SLIMC_CONV_W]++;
}

static int32_t out_h(const int32_t *g) { return (g[SLIMC_CONV_H] + g[SLIMC_CONV_PAD_TOP] + g[SLIMC_CONV_PAD_BOTTOM] - g[SLIMC_CONV_DIL_H] * (g[SLIMC_CONV_KH] - 1) - 1) / g[SLIMC_CONV_STRIDE_H] + 1; }
static int32_t out_w(const int32_t *g) { return (g[SLIMC_CONV_W] + g[SLIMC_CONV_PAD_LEFT] + g[SLIMC_CONV_PAD_RIGHT] - g[SLIMC_CONV_DIL_W] * (g[SLIMC_CONV_KW] - 1) - 1) / g[SLIMC_CONV_STRIDE_W] + 1; }

/* Direct convolution, q8 in/out, computing the same sums the kernels must. */
static void reference_conv(const int32_t *g, const uint8_t *x, int xs, int32_t zx, const uint8_t *w, int ws,
                           const int32_t *zw, int zw_per_channel, const int32_t *bias, const int32_t *mult,
                           const int32_t *shift, int per_channel, int32_t zo, int32_t lo, int32_t hi, int32_t *out) {
  int32_t OH = out_h(g), OW = out_w(g), C = g[SLIMC_CONV_C], Cout = g[SLIMC_CONV_COUT];
  int32_t G = g[SLIMC_CONV_GROUPS], cg = C / G, cog = Cout / G, KH = g[SLIMC_CONV_KH], KW = g[SLIMC_CONV_KW];
  for (int n = 0; n < g[SLIMC_CONV_N]; n++)
    for (int oy = 0; oy < OH; oy++)
      for (int ox = 0; ox < OW; ox++)
        for (int o = 0; o < Cout; o++) {
          int32_t acc = bias ? bias[o] : 0, grp = o / cog;
          for (int c = 0; c < cg; c++)
            for (int ky = 0; ky < KH; ky++)
              for (int kx = 0; kx < KW; kx++) {
                int iy = oy * g[SLIMC_CONV_STRIDE_H] - g[SLIMC_CONV_PAD_TOP] + ky * g[SLIMC_CONV_DIL_H];
                int ix = ox * g[SLIMC_CONV_STRIDE_W] - g[SLIMC_CONV_PAD_LEFT] + kx * g[SLIMC_CONV_DIL_W];
                int32_t xv = (iy < 0 || iy >= g[SLIMC_CONV_H] || ix < 0 || ix >= g[SLIMC_CONV_W])
                                 ? zx : q8(x, (((size_t)n * g[SLIMC_CONV_H] + iy) * g[SLIMC_CONV_W] + ix) * C + grp * cg + c, xs);
                int32_t wv = q8(w, (((size_t)o * cg + c) * KH + ky) * KW + kx, ws) - zw[zw_per_channel ? o : 0];
                acc += (xv - zx) * wv;
              }
          int ch = per_channel ? o : 0;
          out[(((size_t)n * OH + oy) * OW + ox) * Cout + o] =
              clampi(slimc_multiply_by_quantized_multiplier(acc, mult[ch], shift[ch]) + zo, lo, hi);
        }
}

static void test_conv(int depthwise) {
  for (int trial = 0; trial < 60; trial++) {
    int32_t g[SLIMC_CONV_GEOMETRY_LENGTH];
    random_geometry(g, depthwise);
    if (trial % 5 == 0 && !depthwise) { /* exercise the pointwise path */
      g[SLIMC_CONV_KH] = g[SLIMC_CONV_KW] = g[SLIMC_CONV_STRIDE_H] = g[SLIMC_CONV_STRIDE_W] = 1;
      for (int i = SLIMC_CONV_PAD_TOP; i <= SLIMC_CONV_PAD_RIGHT; i++) g[i] = 0;
    }
    int32_t C = g[SLIMC_CONV_C], Cout = g[SLIMC_CONV_COUT], G = g[SLIMC_CONV_GROUPS];
    int32_t KH = g[SLIMC_CONV_KH], KW = g[SLIMC_CONV_KW];
    size_t in_size = (size_t)g[SLIMC_CONV_N] * g[SLIMC_CONV_H] * g[SLIMC_CONV_W] * C;
    size_t w_size = (size_t)Cout * (C / G) * KH * KW;
    size_t out_size = (size_t)g[SLIMC_CONV_N] * out_h(g) * out_w(g) * Cout;
    uint8_t *x = malloc(in_size), *w = malloc(w_size), *y = malloc(out_size);
    int32_t *want = malloc(out_size * sizeof(int32_t));
    int32_t *zw = malloc(Cout * sizeof(int32_t)), *bias = malloc(Cout * sizeof(int32_t));
    int32_t *mult = malloc(Cout * sizeof(int32_t)), *shift = malloc(Cout * sizeof(int32_t));
    fill_q8(x, in_size);
    fill_q8(w, w_size);
    int xs = rand_range(0, 1), ws = rand_range(0, 1), per_channel = rand_range(0, 1), os = rand_range(0, 1);
    int32_t zx = xs ? rand_range(-128, 127) : rand_range(0, 255), zo = os ? rand_range(-5, 5) : rand_range(0, 255);
    int32_t lo = os ? -128 : 0, hi = os ? 127 : 255;
    for (int o = 0; o < Cout; o++) {
      zw[o] = ws ? rand_range(-10, 10) : rand_range(100, 150);
      bias[o] = rand_range(-3000, 3000);
      random_multiplier(&mult[o], &shift[o]);
    }
    void *packed = malloc(slimc_conv_packed_weights_size_q8(C, Cout, KH, KW, G));
    slimc_conv_pack_weights_q8(C, Cout, KH, KW, G, w, ws, zw, per_channel, packed);
    slimc_conv_q8(g, x, xs, zx, packed, bias, mult, shift, per_channel, zo, lo, hi, os, NULL, y);
    reference_conv(g, x, xs, zx, w, ws, zw, per_channel, bias, mult, shift, per_channel, zo, lo, hi, want);
    int ok = 1;
    for (size_t i = 0; i < out_size; i++) if (q8(y, i, os) != want[i]) ok = 0;
    CHECK(ok, "%s conv trial %d C=%d Cout=%d groups=%d k=%dx%d", depthwise ? "depthwise" : "grouped", trial, C, Cout, G, KH, KW);
    free(x); free(w); free(y); free(want); free(zw); free(bias); free(mult); free(shift); free(packed);
  }
}

static void test_elementwise(void) {
  enum { n = 301 };
  uint8_t a[n], b[n], out[n];
  fill_q8(a, n);
  fill_q8(b, n);
  int32_t ma, sa, mb, sb, mo, so;
  random_multiplier(&ma, &sa); random_multiplier(&mb, &sb); random_multiplier(&mo, &so);
  sa = -rand_range(0, 3); sb = -rand_range(0, 3); so = -rand_range(15, 19);
  slimc_add_q8(n, a, 1, 3, ma, sa, b, 1, 0, 128, mb, sb, 20, mo, so, -2, -128, 127, 1, out);
  int ok = 1;
  for (int i = 0; i < n; i++) {
    int32_t x = slimc_multiply_by_quantized_multiplier((q8(a, i, 1) - 3) * (1 << 20), ma, sa);
    int32_t y = slimc_multiply_by_quantized_multiplier((q8(b, i, 0) - 128) * (1 << 20), mb, sb);
    if (q8(out, i, 1) != clampi(slimc_multiply_by_quantized_multiplier(x + y, mo, so) - 2, -128, 127)) ok = 0;
  }
  CHECK(ok, "add");
  slimc_mul_q8(n, a, 1, 3, b, 0, 0, 128, mo, -9, 7, 0, 255, 0, out);
  ok = 1;
  for (int i = 0; i < n; i++)
    if (out[i] != clampi(slimc_multiply_by_quantized_multiplier((q8(a, i, 1) - 3) * (q8(b, 0, 0) - 128), mo, -9) + 7, 0, 255)) ok = 0;
  CHECK(ok, "mul with broadcast b");
  uint8_t table[256];
  slimc_lut_build_q8(SLIMC_LUT_SIGMOID, 0, 0, 0.1, 0, 1, 1.0 / 256, -128, 1, table);
  CHECK((int8_t)table[0] == 0 /* sigmoid(0) = 0.5 -> 128 - 128 */, "sigmoid(0)");
  CHECK((int8_t)table[127] == 127 && (int8_t)table[128] == -128 + 0, "sigmoid saturates: %d %d", (int8_t)table[127], (int8_t)table[128]);
  slimc_lut_build_q8(SLIMC_LUT_HARDSWISH, 0, 0, 0.05, 10, 0, 0.05, 10, 0, table);
  CHECK(table[10] == 10 && table[10 + 100] == 110, "hardswish: 0 -> 0, 5 -> 5");
  slimc_lut_apply_q8(n, a, table, out);
  ok = 1;
  for (int i = 0; i < n; i++) if (out[i] != table[a[i]]) ok = 0;
  CHECK(ok, "lut apply");
}

static void test_pooling(void) {
  for (int trial = 0; trial < 30; trial++) {
    int32_t g[SLIMC_CONV_GEOMETRY_LENGTH];
    random_geometry(g, 0);
    int32_t C = g[SLIMC_CONV_C], KH = g[SLIMC_CONV_KH], KW = g[SLIMC_CONV_KW], OH = out_h(g), OW = out_w(g);
    size_t in_size = (size_t)g[SLIMC_CONV_N] * g[SLIMC_CONV_H] * g[SLIMC_CONV_W] * C;
    size_t out_size = (size_t)g[SLIMC_CONV_N] * OH * OW * C;
    uint8_t *x = malloc(in_size), *y = malloc(out_size), *ym = malloc(out_size);
    fill_q8(x, in_size);
    int32_t mult[9], shift[9], include_pad = rand_range(0, 1), zx = rand_range(-5, 5);
    for (int i = 0; i < 9; i++) random_multiplier(&mult[i], &shift[i]);
    slimc_avgpool_q8(g, x, 1, zx, include_pad, mult, shift, 1, -128, 127, 1, y);
    slimc_maxpool_q8(g, x, 1, ym);
    int ok = 1, okm = 1;
    for (int n = 0; n < g[SLIMC_CONV_N]; n++)
      for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++)
          for (int c = 0; c < C; c++) {
            int32_t sum = 0, count = 0, best = -128;
            for (int ky = 0; ky < KH; ky++)
              for (int kx = 0; kx < KW; kx++) {
                int iy = oy * g[SLIMC_CONV_STRIDE_H] - g[SLIMC_CONV_PAD_TOP] + ky * g[SLIMC_CONV_DIL_H];
                int ix = ox * g[SLIMC_CONV_STRIDE_W] - g[SLIMC_CONV_PAD_LEFT] + kx * g[SLIMC_CONV_DIL_W];
                if (iy < 0 || iy >= g[SLIMC_CONV_H] || ix < 0 || ix >= g[SLIMC_CONV_W]) continue;
                int32_t v = q8(x, (((size_t)n * g[SLIMC_CONV_H] + iy) * g[SLIMC_CONV_W] + ix) * C + c, 1);
                sum += v - zx;
                count++;
                if (v > best) best = v;
              }
            if (include_pad) count = KH * KW;
            int32_t want = count ? clampi(slimc_multiply_by_quantized_multiplier(sum, mult[count - 1], shift[count - 1]) + 1, -128, 127) : 1;
            size_t at = (((size_t)n * OH + oy) * OW + ox) * C + c;
            if (q8(y, at, 1) != want) ok = 0;
            if (q8(ym, at, 1) != best) okm = 0;
          }
    CHECK(ok, "avgpool trial %d", trial);
    CHECK(okm, "maxpool trial %d", trial);
    free(x); free(y); free(ym);
  }
}

static void test_float(void) {
  for (int trial = 0; trial < 20; trial++) {
    int32_t M = rand_range(1, 13), N = rand_range(1, 19), K = rand_range(1, 40);
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
    float bias[32];
    for (int i = 0; i < M * K; i++) A[i] = (float)rand_range(-1000, 1000) / 300.0f;
    for (int i = 0; i < K * N; i++) B[i] = (float)rand_range(-1000, 1000) / 300.0f;
    for (int i = 0; i < N; i++) bias[i] = (float)rand_range(-100, 100) / 10.0f;
    float *packed = malloc(slimc_packed_b_size_f32(K, N));
    slimc_pack_b_f32(K, N, B, N, 1, packed);
    slimc_gemm_f32(M, N, K, A, K, packed, bias, -INFINITY, 4.0f, C, N);
    int ok = 1;
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        double acc = bias[n], magnitude = fabs(bias[n]);
        for (int k = 0; k < K; k++) acc += (double)A[m * K + k] * B[k * N + n], magnitude += fabs((double)A[m * K + k] * B[k * N + n]);
        if (acc > 4.0) acc = 4.0;
        if (fabs(C[m * N + n] - acc) > 1e-5 * (magnitude + 1)) ok = 0;
      }
    CHECK(ok, "gemm f32 M=%d N=%d K=%d", M, N, K);
    free(A); free(B); free(C); free(packed);
  }
}

int main(void) {
  test_multiply_by_quantized_multiplier();
  test_requantize();
  test_gemm();
  test_conv(0);
  test_conv(1);
  test_elementwise();
  test_pooling();
  test_float();
  slimc_release_scratch();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
