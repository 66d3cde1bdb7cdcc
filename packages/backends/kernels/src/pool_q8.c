/*
 * int8/uint8 pooling, NHWC: average (per-count multipliers, see slimc_kernels.h), max, global
 * average; and float32 max and average pooling, NHWC. Channels are innermost, so each window tap is a
 * contiguous run the compiler vectorizes.
 */
#include <string.h>
#include "internal.h"

/* Pooling geometry with its output extent. */
typedef struct {
  int32_t N, H, W, C, KH, KW, OH, OW;
  const int32_t *geo;
} pool_shape;

static pool_shape pool_shape_of(const int32_t *geo) {
  pool_shape s;
  s.geo = geo;
  s.N = geo[SLIMC_CONV_N]; s.H = geo[SLIMC_CONV_H]; s.W = geo[SLIMC_CONV_W];
  s.C = geo[SLIMC_CONV_C]; s.KH = geo[SLIMC_CONV_KH]; s.KW = geo[SLIMC_CONV_KW];
  s.OH = geometry_out_height(geo);
  s.OW = geometry_out_width(geo);
  return s;
}

void slimc_avgpool_q8(const int32_t *geo, const void *input, int32_t in_signed,
                      int32_t in_zero_point, int32_t count_include_pad,
                      const int32_t *multipliers, const int32_t *shifts, int32_t out_zero_point,
                      int32_t out_min, int32_t out_max, int32_t out_signed, void *output) {
  (void)out_signed;
  pool_shape s = pool_shape_of(geo);
  int32_t *sum = slimc_scratch(SCRATCH_ROW, (size_t)s.C * sizeof(int32_t));
  const uint8_t **taps = slimc_scratch(SCRATCH_IM2COL, (size_t)s.KH * s.KW * sizeof(*taps));
  for (int32_t n = 0; n < s.N; n++)
    for (int32_t oy = 0; oy < s.OH; oy++)
      for (int32_t ox = 0; ox < s.OW; ox++) {
        for (int32_t c = 0; c < s.C; c++) sum[c] = 0;
        int32_t valid = slimc_window_taps(s.geo, input, 1, n, oy, ox, taps, NULL);
        for (int32_t t = 0; t < valid; t++)
          for (int32_t c = 0; c < s.C; c++) sum[c] += load_q8(taps[t], c, in_signed) - in_zero_point;
        /* padded taps read the zero point, i.e. add 0 to the sum; only the divisor changes */
        int32_t count = count_include_pad ? s.KH * s.KW : valid;
        uint8_t *out = (uint8_t *)output + (((size_t)n * s.OH + oy) * s.OW + ox) * s.C;
        for (int32_t c = 0; c < s.C; c++) {
          int32_t v = count == 0 ? 0
                                 : slimc_multiply_by_quantized_multiplier(
                                       sum[c], multipliers[count - 1], shifts[count - 1]);
          store_q8(out, c, clamp_i32(v + out_zero_point, out_min, out_max));
        }
      }
}

void slimc_maxpool_q8(const int32_t *geo, const void *input, int32_t is_signed, void *output) {
  pool_shape s = pool_shape_of(geo);
  int32_t *best = slimc_scratch(SCRATCH_ROW, (size_t)s.C * sizeof(int32_t));
  const uint8_t **taps = slimc_scratch(SCRATCH_IM2COL, (size_t)s.KH * s.KW * sizeof(*taps));
  for (int32_t n = 0; n < s.N; n++)
    for (int32_t oy = 0; oy < s.OH; oy++)
      for (int32_t ox = 0; ox < s.OW; ox++) {
        for (int32_t c = 0; c < s.C; c++) best[c] = INT32_MIN;
        int32_t valid = slimc_window_taps(s.geo, input, 1, n, oy, ox, taps, NULL);
        for (int32_t t = 0; t < valid; t++)
          for (int32_t c = 0; c < s.C; c++) best[c] = SLIMC_MAX(best[c], load_q8(taps[t], c, is_signed));
        uint8_t *out = (uint8_t *)output + (((size_t)n * s.OH + oy) * s.OW + ox) * s.C;
        /* a window entirely in padding has no value; emit the type's lowest value */
        int32_t lowest = is_signed ? -128 : 0;
        for (int32_t c = 0; c < s.C; c++) store_q8(out, c, best[c] == INT32_MIN ? lowest : best[c]);
      }
}

void slimc_maxpool_f32(const int32_t *geo, const float *input, float *output) {
  pool_shape s = pool_shape_of(geo);
  const uint8_t **taps = slimc_scratch(SCRATCH_IM2COL, (size_t)s.KH * s.KW * sizeof(*taps));
  for (int32_t n = 0; n < s.N; n++)
    for (int32_t oy = 0; oy < s.OH; oy++)
      for (int32_t ox = 0; ox < s.OW; ox++) {
        float *out = output + (((size_t)n * s.OH + oy) * s.OW + ox) * s.C;
        int32_t valid = slimc_window_taps(s.geo, (const uint8_t *)input, sizeof(float), n, oy, ox, taps, NULL);
        /* as the interpreter: the first valid tap, then any strictly greater one (a NaN first tap
         * stays); a window entirely in padding gives -infinity */
        for (int32_t c = 0; c < s.C; c++) out[c] = valid ? ((const float *)taps[0])[c] : -INFINITY;
        for (int32_t t = 1; t < valid; t++) {
          const float *x = (const float *)taps[t];
          for (int32_t c = 0; c < s.C; c++) out[c] = x[c] > out[c] ? x[c] : out[c];
        }
      }
}

void slimc_avgpool_f32(const int32_t *geo, const float *input, int32_t count_include_pad,
                       float *output) {
  pool_shape s = pool_shape_of(geo);
  double *sum = slimc_scratch(SCRATCH_ROW, (size_t)s.C * sizeof(double));
  const uint8_t **taps = slimc_scratch(SCRATCH_IM2COL, (size_t)s.KH * s.KW * sizeof(*taps));
  for (int32_t n = 0; n < s.N; n++)
    for (int32_t oy = 0; oy < s.OH; oy++)
      for (int32_t ox = 0; ox < s.OW; ox++) {
        int32_t valid = slimc_window_taps(s.geo, (const uint8_t *)input, sizeof(float), n, oy, ox, taps, NULL);
        /* as the interpreter: a double sum over the taps in window order, divided once */
        for (int32_t c = 0; c < s.C; c++) sum[c] = 0.0;
        for (int32_t t = 0; t < valid; t++) {
          const float *x = (const float *)taps[t];
          for (int32_t c = 0; c < s.C; c++) sum[c] += x[c];
        }
        double count = count_include_pad ? s.KH * s.KW : valid;
        float *out = output + (((size_t)n * s.OH + oy) * s.OW + ox) * s.C;
        for (int32_t c = 0; c < s.C; c++) out[c] = (float)(sum[c] / count);
      }
}

/* The 256 dequantized codes as integer multiples of one power of two, the returned unit (the
 * spacing of float32 values at the smallest nonzero one): units[code] * unit == dequantized[code].
 * Their magnitudes span at most 255x, so the integers stay below 2^33. Returns 0 (use the double
 * sums) when a code is not finite or `hw` sums of them could reach 2^53. Otherwise every partial sum of
 * a plane in double is an integer multiple of `unit` below 2^53 in magnitude, so the double sums,
 * in any order, are exact and equal unit * (the int64 sum of the units). */
static double dequantized_units(const float dequantized[256], int32_t hw, int64_t units[256]) {
  int smallest_exponent = INT32_MAX;
  int64_t largest = 0;
  for (int32_t code = 0; code < 256; code++) {
    float v = dequantized[code];
    if (v != v || v - v != 0.0f) return 0; /* NaN or infinite */
    if (v != 0.0f) {
      /* the float32 spacing at v: 2^(biased exponent - 150), 2^-149 for subnormals */
      uint32_t bits;
      memcpy(&bits, &v, sizeof bits);
      int32_t biased = (int32_t)((bits >> 23) & 255);
      int32_t spacing = biased == 0 ? -149 : biased - 150;
      smallest_exponent = spacing < smallest_exponent ? spacing : smallest_exponent;
    }
  }
  /* 2^smallest_exponent (>= 2^-149: a normal double), built from its bits */
  uint64_t unit_bits = (uint64_t)(1023 + (smallest_exponent == INT32_MAX ? 0 : smallest_exponent)) << 52;
  double unit;
  memcpy(&unit, &unit_bits, sizeof unit);
  for (int32_t code = 0; code < 256; code++) {
    double scaled = (double)dequantized[code] / unit; /* exact: a power of two */
    if (scaled != (double)(int64_t)scaled || scaled > 0x1p40 || scaled < -0x1p40) return 0;
    units[code] = (int64_t)scaled;
    int64_t magnitude = units[code] < 0 ? -units[code] : units[code];
    largest = magnitude > largest ? magnitude : largest;
  }
  return (double)largest * hw < 0x1p53 ? unit : 0.0;
}

/* Per channel of one [HW, C] plane, unit * the sum of units over its pixels, 8 channels at a
 * time with the sums in registers. */
static void sum_units_by_channel(const uint8_t *plane, int32_t HW, int32_t C,
                                 const int64_t units[256], double unit, double *sum) {
  int32_t c = 0;
  for (; c + 8 <= C; c += 8) {
    int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    const uint8_t *pixel = plane + c;
    for (int32_t p = 0; p < HW; p++, pixel += C) {
      s0 += units[pixel[0]]; s1 += units[pixel[1]]; s2 += units[pixel[2]]; s3 += units[pixel[3]];
      s4 += units[pixel[4]]; s5 += units[pixel[5]]; s6 += units[pixel[6]]; s7 += units[pixel[7]];
    }
    sum[c] = (double)s0 * unit; sum[c + 1] = (double)s1 * unit;
    sum[c + 2] = (double)s2 * unit; sum[c + 3] = (double)s3 * unit;
    sum[c + 4] = (double)s4 * unit; sum[c + 5] = (double)s5 * unit;
    sum[c + 6] = (double)s6 * unit; sum[c + 7] = (double)s7 * unit;
  }
  for (; c < C; c++) {
    int64_t s = 0;
    for (int32_t p = 0; p < HW; p++) s += units[plane[(size_t)p * C + c]];
    sum[c] = (double)s * unit;
  }
}

void slimc_global_avgpool_q8(int32_t N, int32_t HW, int32_t C, const void *input,
                             int32_t in_signed, int32_t in_zero_point, float in_scale,
                             float out_scale, int32_t out_zero_point, int32_t out_min,
                             int32_t out_max, int32_t out_signed, void *output) {
  (void)out_signed;
  /* The reference interpreter's Q(GlobalAveragePool(DQ(x))), step by step: each code dequantized
   * to float32 (a table of the 256 codes), the plane summed in double in pixel order, the mean
   * rounded to float32, divided by the output scale and rounded to float32, then rounded half to
   * even. Exact for any scales, where one fixed-point multiplier on the integer sum is not. */
  float dequantized[256];
  for (int32_t code = 0; code < 256; code++) {
    int32_t q = in_signed ? (int32_t)(int8_t)code : code;
    dequantized[code] = (float)(q - in_zero_point) * in_scale;
  }
  /* the codes in units in the packed-A scratch (no GEMM runs meanwhile; kept off the 16 KB C
   * stack), the per-channel sums in the row scratch: both sized at load for int8 models */
  int64_t *units = slimc_scratch(SCRATCH_PACKED_A, 256 * sizeof(int64_t));
  double *sum = slimc_scratch(SCRATCH_ROW, (size_t)C * sizeof(double));
  double unit = dequantized_units(dequantized, HW, units); /* 0: sum in double */
  for (int32_t n = 0; n < N; n++) {
    const uint8_t *plane = (const uint8_t *)input + (size_t)n * HW * C;
    if (unit != 0.0)
      sum_units_by_channel(plane, HW, C, units, unit, sum);
    else {
      for (int32_t c = 0; c < C; c++) sum[c] = 0.0;
      for (int32_t p = 0; p < HW; p++) {
        const uint8_t *pixel = plane + (size_t)p * C;
        for (int32_t c = 0; c < C; c++) sum[c] += dequantized[pixel[c]];
      }
    }
    for (int32_t c = 0; c < C; c++) {
      float mean = (float)(sum[c] / HW);
      float scaled = (float)((double)mean / (double)out_scale);
      /* clamp before converting so out-of-range (or empty-plane NaN) results stay defined */
      float rounded = __builtin_rintf(scaled); /* half to even in the default rounding mode */
      int32_t v = rounded != rounded ? 0
                  : rounded > 65536.0f ? 65536
                  : rounded < -65536.0f ? -65536
                  : (int32_t)rounded;
      store_q8(output, n * C + c, clamp_i32(v + out_zero_point, out_min, out_max));
    }
  }
}
