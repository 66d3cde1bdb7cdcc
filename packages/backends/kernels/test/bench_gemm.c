/*
 * Native GEMM bench: prints one line per shape, "q8 M N K GOPS" and "f32 M N K GFLOPS",
 * fastest of many timed calls (2*M*N*K operations per GEMM). Args: M N K triples.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "slimc_kernels.h"

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Fastest single call over ~1 s of calls, in process CPU time: the machine is shared, and CPU
 * time of the fastest call estimates the uncontended speed best. Same method as bench/gemm.mjs
 * uses for the wasm build. */
#define BEST_TIME(call)                                                    \
  ({                                                                       \
    call;                                                                  \
    double best = 1e30, end = now_seconds() + 1.0;                         \
    for (int n = 0; n < 5 || now_seconds() < end; n++) {                   \
      double start = cpu_seconds();                                        \
      call;                                                                \
      double took = cpu_seconds() - start;                                 \
      if (took < best) best = took;                                        \
    }                                                                      \
    best;                                                                  \
  })

int main(int argc, char **argv) {
  for (int i = 1; i + 2 < argc; i += 3) {
    int M = atoi(argv[i]), N = atoi(argv[i + 1]), K = atoi(argv[i + 2]);
    int8_t *A = malloc((size_t)M * K), *B = malloc((size_t)K * N), *C = malloc((size_t)M * N);
    for (size_t j = 0; j < (size_t)M * K; j++) A[j] = (int8_t)(rand() & 0xff);
    for (size_t j = 0; j < (size_t)K * N; j++) B[j] = (int8_t)(rand() & 0xff);
    int32_t *bias = calloc(N, sizeof(int32_t)), multiplier = 1 << 30, shift = -12;
    void *packed = malloc(slimc_packed_b_size_q8(K, N));
    slimc_pack_b_q8(K, N, B, N, 1, 1, NULL, 0, packed);
    double t = BEST_TIME(slimc_gemm_q8(M, N, K, A, K, 1, 3, packed, bias, &multiplier, &shift, 0, 0, -128, 127, 1, C, N));
    printf("q8 %d %d %d %.1f\n", M, N, K, 2.0 * M * N * K / t * 1e-9);

    float *Af = malloc(sizeof(float) * M * K), *Bf = malloc(sizeof(float) * K * N), *Cf = malloc(sizeof(float) * M * N);
    for (size_t j = 0; j < (size_t)M * K; j++) Af[j] = (float)rand() / RAND_MAX;
    for (size_t j = 0; j < (size_t)K * N; j++) Bf[j] = (float)rand() / RAND_MAX;
    float *packed_f = malloc(slimc_packed_b_size_f32(K, N));
    slimc_pack_b_f32(K, N, Bf, N, 1, packed_f);
    t = BEST_TIME(slimc_gemm_f32(M, N, K, Af, K, packed_f, NULL, -INFINITY, INFINITY, Cf, N));
    printf("f32 %d %d %d %.1f\n", M, N, K, 2.0 * M * N * K / t * 1e-9);
    free(A); free(B); free(C); free(bias); free(packed); free(Af); free(Bf); free(Cf); free(packed_f);
  }
  return 0;
}
