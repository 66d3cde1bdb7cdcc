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
  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const plane = (n * g.channels + c) * h * w;
      const outPlane = (n * g.channels + c) * oh * ow;
      const wBase = c * kh * kw;
      const b = bias ? bias[c]! : 0;
      for (let oy = 0; oy < oh; oy++) {
        const iy0 = oy * sh - pt;
        // taps inside the input: ky in [ky0, ky1), kx in [kx0, kx1) (no per-tap bounds checks)
        const ky0 = iy0 < 0 ? Math.ceil(-iy0 / dh) : 0;
        const ky1 = Math.min(kh, Math.ceil((h - iy0) / dh));
        for (let ox = 0; ox < ow; ox++) {
          const ix0 = ox * sw - pl;
          const kx0 = ix0 < 0 ? Math.ceil(-ix0 / dw) : 0;
          const kx1 = Math.min(kw, Math.ceil((w - ix0) / dw));
          let acc = b;
          for (let ky = ky0; ky < ky1; ky++) {
            const row = plane + (iy0 + ky * dh) * w + ix0;
            const wRow = wBase + ky * kw;
            for (let kx = kx0; kx < kx1; kx++) acc += x[row + kx * dw]! * weights[wRow + kx]!;
          }
          out[outPlane + oy * ow + ox] = acc < min ? min : acc > max ? max : acc;
        }
      }
    }
  }
}
