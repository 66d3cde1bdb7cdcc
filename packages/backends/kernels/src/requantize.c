/*
 * Requantization int32 -> q8 (math in slimc_kernels.h) and the internal scratch buffers.
 */
#include <stdlib.h>
#include "internal.h"

enum { PLAN_ARRAYS = 9 };

/* padded so 8-wide SIMD reads past the last (or a group's last) channel stay inside */
static int32_t plan_padded_channels(int32_t channels) { return ((channels + 7) & ~7) + 8; }

/* the plan, then the fixed-point arrays, then the float scales */
static size_t requant_plan_bytes(int32_t channels) {
  return sizeof(requant_plan) + 16 + (size_t)plan_padded_channels(channels) * (PLAN_ARRAYS + 1) * sizeof(int32_t);
}

static void *scratch_buffers[SCRATCH_SLOT_COUNT];
static size_t scratch_sizes[SCRATCH_SLOT_COUNT];

void *slimc_scratch(enum scratch_slot slot, size_t bytes) {
  if (bytes > scratch_sizes[slot]) {
    free(scratch_buffers[slot]);
    size_t grown = bytes + bytes / 4 + 64;
    /* cache-line alignment: packed panels are read with v128 loads */
    scratch_buffers[slot] = aligned_alloc(64, (grown + 63) & ~(size_t)63);
    scratch_sizes[slot] = scratch_buffers[slot] ? grown : 0;
  }
  return scratch_buffers[slot];
}

/* Sizes a slot to exactly `bytes` (no growth margin) unless it already holds that many. */
static void scratch_reserve(enum scratch_slot slot, size_t bytes) {
  if (scratch_sizes[slot] >= bytes) return;
  free(scratch_buffers[slot]);
  scratch_buffers[slot] = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  scratch_sizes[slot] = scratch_buffers[slot] ? bytes : 0;
}

void slimc_reserve_scratch(int32_t integer_gemm, int32_t float_conv, int32_t row_bytes,
                           int32_t plan_channels) {
  if (float_conv) scratch_reserve(SCRATCH_IM2COL, SLIMC_IM2COL_CHUNK_BYTES_F32);
  if (integer_gemm) scratch_reserve(SCRATCH_IM2COL, SLIMC_IM2COL_CHUNK_BYTES_Q8);
  if (integer_gemm) scratch_reserve(SCRATCH_PACKED_A, SLIMC_A_BLOCK_BYTES);
  scratch_reserve(SCRATCH_ROW, (size_t)row_bytes);
  if (integer_gemm) scratch_reserve(SCRATCH_REQUANT_PLAN, requant_plan_bytes(plan_channels));
}

void slimc_release_scratch(void) {
  for (int i = 0; i < SCRATCH_SLOT_COUNT; i++) {
    free(scratch_buffers[i]);
    scratch_buffers[i] = NULL;
    scratch_sizes[i] = 0;
  }
}

int32_t slimc_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  int32_t left = shift > 0 ? shift : 0;
  int32_t right = shift > 0 ? 0 : -shift;
  int64_t wide = (int64_t)x * ((int64_t)1 << left);
  /* saturates (where the C reference would overflow), as slimc's TypeScript reference does */
  int32_t shifted = wide > INT32_MAX ? INT32_MAX : wide < INT32_MIN ? INT32_MIN : (int32_t)wide;
  int64_t product = (int64_t)shifted * multiplier;
  int64_t nudge = product >= 0 ? (1LL << 30) : (1 - (1LL << 30));
  int32_t high = (int32_t)((product + nudge) / (1LL << 31));
  if (shifted == INT32_MIN && multiplier == INT32_MIN) high = INT32_MAX;
  int32_t mask = (int32_t)((1LL << right) - 1);
  int32_t remainder = high & mask;
  int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
  return (high >> right) + (remainder > threshold ? 1 : 0);
}

requant_plan *requant_plan_build(int32_t channels, const int32_t *multipliers,
                                 const int32_t *shifts, int32_t per_channel, int32_t zero_point,
                                 int32_t out_min, int32_t out_max, int32_t out_signed) {
  int32_t padded = plan_padded_channels(channels);
  size_t bytes = requant_plan_bytes(channels);
  uint8_t *base = slimc_scratch(SCRATCH_REQUANT_PLAN, bytes);
  requant_plan *plan = (requant_plan *)base;
  int32_t *arrays = (int32_t *)(base + ((sizeof(requant_plan) + 15) & ~(size_t)15));
  int32_t **fields[PLAN_ARRAYS] = {&plan->input_min, &plan->input_max, &plan->left_factor,
                                   &plan->multiplier, &plan->right_shift, &plan->right_factor,
                                   &plan->unshifted, &plan->remainder_mask, &plan->half_mask};
  for (int i = 0; i < PLAN_ARRAYS; i++) *fields[i] = arrays + (size_t)i * padded;
  plan->scale = (float *)(arrays + (size_t)PLAN_ARRAYS * padded);
  plan->channels = padded;
  plan->zero_point = zero_point;
  plan->out_min = out_min;
  plan->out_max = out_max;
  plan->out_signed = out_signed;
  plan->round_once = (per_channel & SLIMC_REQUANT_ROUND_ONCE) != 0;
  plan->table = NULL;
  plan->accumulators_within_2_24 = 0;
  per_channel &= SLIMC_REQUANT_PER_CHANNEL;
  if (plan->round_once) {
    const float *scales = (const float *)multipliers;
    for (int32_t c = 0; c < padded; c++) plan->scale[c] = scales[per_channel ? SLIMC_MIN(c, channels - 1) : 0];
    plan->uniform_right_shift = -1;
    return plan;
  }
  plan->uniform_right_shift = shifts[0] <= 0 ? -shifts[0] : -1;
  for (int32_t c = 0; c < padded; c++) {
    int32_t source = per_channel ? SLIMC_MIN(c, channels - 1) : 0;
    int32_t shift = shifts[source];
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    plan->input_min[c] = (int32_t)(INT32_MIN >> left);
    plan->input_max[c] = INT32_MAX >> left;
    plan->left_factor[c] = (int32_t)(1u << left);
    plan->multiplier[c] = multipliers[source];
    plan->right_shift[c] = right;
    plan->right_factor[c] = right > 0 ? (int32_t)(1u << (31 - right)) : 0;
    plan->unshifted[c] = right == 0 ? -1 : 0;
    plan->remainder_mask[c] = (int32_t)((1ull << right) - 1);
    plan->half_mask[c] = plan->remainder_mask[c] >> 1;
    if (shift != shifts[0]) plan->uniform_right_shift = -1;
  }
  return plan;
}

void requant_plan_bound_accumulators(requant_plan *plan, int32_t products, const int32_t *bias,
                                     int32_t channels) {
  int64_t largest_bias = 0;
  for (int32_t c = 0; bias && c < channels; c++) {
    int64_t magnitude = bias[c] < 0 ? -(int64_t)bias[c] : bias[c];
    largest_bias = magnitude > largest_bias ? magnitude : largest_bias;
  }
  plan->accumulators_within_2_24 =
      plan->round_once && (int64_t)products * 255 * 255 + largest_bias <= (1 << 24);
}

void slimc_requantize(int32_t rows, int32_t cols, const int32_t *src, int32_t src_stride,
                      const int32_t *multipliers, const int32_t *shifts, int32_t per_channel,
                      int32_t zero_point, int32_t out_min, int32_t out_max, int32_t out_signed,
                      void *dst, int32_t dst_stride) {
  const requant_plan *plan = requant_plan_build(cols, multipliers, shifts, per_channel,
                                                zero_point, out_min, out_max, out_signed);
  for (int32_t r = 0; r < rows; r++) {
    const int32_t *row = src + (size_t)r * src_stride;
    uint8_t *out = (uint8_t *)dst + (size_t)r * dst_stride;
    int32_t c = 0;
#ifdef SLIMC_SIMD
    for (; c + 8 <= cols; c += 8) {
      v128_t bytes = requant_plan_apply8(plan, c, wasm_v128_load(row + c),
                                         wasm_v128_load(row + c + 4), ACC_ANY);
      wasm_v128_store64_lane(out + c, bytes, 0);
    }
#endif
    for (; c < cols; c++) store_q8(out, c, requant_plan_apply(plan, c, row[c]));
  }
}
