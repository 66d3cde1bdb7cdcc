/**
 * Float32 depthwise convolution (groups == channels == output channels) directly on NCHW data.
 *
 * The kernel library's float convolution runs every group as its own im2col + GEMM, which for a
 * depthwise layer is a 1-column GEMM per channel and costs ~50x the arithmetic; until the library
 * has a float depthwise entry point this loop does the work without leaving NCHW (no transposes).
 *   out[n][c][oy][ox] = clamp(bias[c] + sum_{ky,kx} x[n][c][oy*sh - pt + ky*dh][ox*sw - pl + kx*dw] * w[c][ky][kx])
 * over taps inside the input (padding contributes 0).
 */
export interface DepthwiseGeometry {
  batch: number;
  channels: number;
  height: number;
  width: number;
  outHeight: number;
  outWidth: number;
  kernel: readonly [number, number];
  strides: readonly [number, number];
  dilations: readonly [number, number];
  /** top, left */
  padBegin: readonly [number, number];
}

export function depthwiseConvF32(x: Float32Array, weights: Float32Array, bias: Float32Array | null, g: DepthwiseGeometry,
  min: number, max: number, out: Float32Array): void {
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [pt, pl] = g.padBegin;
  const { height: h, width: w, outHeight: oh, outWidth: ow } = g;
  // one output row at a time, one tap at a time over the row: the inner loop is a multiply-add
  // over the outputs whose input column is inside the image (no per-tap bounds checks)
  const row = new Float64Array(ow);
  const firstOx = new Int32Array(kw);
  const endOx = new Int32Array(kw);
  for (let kx = 0; kx < kw; kx++) {
    const shift = kx * dw - pl; // input column = ox * sw + shift
    firstOx[kx] = Math.max(0, Math.ceil(-shift / sw));
    endOx[kx] = Math.min(ow, Math.floor((w - 1 - shift) / sw) + 1);
  }
  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const plane = (n * g.channels + c) * h * w;
      const outPlane = (n * g.channels + c) * oh * ow;
      const wBase = c * kh * kw;
      const b = bias ? bias[c]! : 0;
      for (let oy = 0; oy < oh; oy++) {
        row.fill(b);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - pt + ky * dh;
          if (iy < 0 || iy >= h) continue;
          const inRow = plane + iy * w;
          for (let kx = 0; kx < kw; kx++) {
            const wv = weights[wBase + ky * kw + kx]!;
            const base = inRow + kx * dw - pl;
            const end = endOx[kx]!;
            if (sw === 1) for (let ox = firstOx[kx]!; ox < end; ox++) row[ox] += x[base + ox]! * wv;
            else for (let ox = firstOx[kx]!; ox < end; ox++) row[ox] += x[base + ox * sw]! * wv;
          }
        }
        const o = outPlane + oy * ow;
        for (let ox = 0; ox < ow; ox++) {
          const v = row[ox]!;
          out[o + ox] = v < min ? min : v > max ? max : v;
        }
      }
    }
  }
}
