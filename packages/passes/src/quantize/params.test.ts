import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import {
  type PerChannelQuantParams,
  type QuantParams,
  chooseQuantParams,
  chooseQuantParamsForValues,
  chooseQuantParamsPerChannel,
  dequantizeTensor,
  quantizeBias,
  quantizeTensor,
  quantizedRange,
} from './params.js';

const { onnx } = onnxProto;

/** Runs QuantizeLinear then DequantizeLinear in ONNX Runtime on `x` with the given parameters. */
async function ortQuantizeDequantize(x: Float32Array, shape: number[], p: QuantParams | PerChannelQuantParams) {
  const elemTypes = { int8: onnx.TensorProto.DataType.INT8, uint8: onnx.TensorProto.DataType.UINT8, int16: onnx.TensorProto.DataType.INT16, uint16: onnx.TensorProto.DataType.UINT16 };
  const elemType = elemTypes[p.dtype as keyof typeof elemTypes];
  // 16-bit QuantizeLinear needs opset 21.
  const opset = p.dtype === 'int8' || p.dtype === 'uint8' ? 13 : 21;
  const perChannel = 'scales' in p;
  const scales = perChannel ? Array.from(p.scales) : [p.scale];
  const zeroPoints = perChannel ? Array.from(p.zeroPoints) : [p.zeroPoint];
  const dims = perChannel ? [scales.length] : [];
  const attribute = perChannel ? [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: p.axis }] : [];
  const valueInfo = (name: string, type: number) => ({
    name,
    type: { tensorType: { elemType: type, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: opset === 13 ? 7 : 10,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'qdq',
      node: [
        { opType: 'QuantizeLinear', input: ['x', 'scale', 'zp'], output: ['y'], attribute },
        { opType: 'DequantizeLinear', input: ['y', 'scale', 'zp'], output: ['z'], attribute },
      ],
      initializer: [
        { name: 'scale', dataType: onnx.TensorProto.DataType.FLOAT, dims, floatData: scales },
        { name: 'zp', dataType: elemType, dims, int32Data: zeroPoints },
      ],
      input: [valueInfo('x', onnx.TensorProto.DataType.FLOAT)],
      output: [valueInfo('y', elemType), valueInfo('z', onnx.TensorProto.DataType.FLOAT)],
    },
  });
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  const result = await session.run({ x: new ort.Tensor('float32', x, shape) });
  return { q: result.y!.data as Int8Array | Uint8Array | Int16Array | Uint16Array, x: result.z!.data as Float32Array };
}

describe('quantizedRange', () => {
  it('follows the ONNX Runtime quantizer table', () => {
    expect(quantizedRange({ dtype: 'uint8' })).toEqual([0, 255]);
    expect(quantizedRange({ dtype: 'uint8', reduceRange: true })).toEqual([0, 127]);
    expect(quantizedRange({ dtype: 'int8' })).toEqual([-128, 127]);
    expect(quantizedRange({ dtype: 'int8', symmetric: true })).toEqual([-127, 127]);
    expect(quantizedRange({ dtype: 'int8', reduceRange: true })).toEqual([-64, 64]);
    expect(quantizedRange({ dtype: 'int8', symmetric: true, reduceRange: true })).toEqual([-64, 64]);
    expect(quantizedRange({ dtype: 'int16', symmetric: true })).toEqual([-32767, 32767]);
    expect(quantizedRange({ dtype: 'uint16' })).toEqual([0, 65535]);
  });

  it('lets narrowRange be chosen explicitly', () => {
    expect(quantizedRange({ dtype: 'int8', symmetric: true, narrowRange: false })).toEqual([-128, 127]);
    expect(quantizedRange({ dtype: 'int8', narrowRange: true })).toEqual([-127, 127]);
    expect(quantizedRange({ dtype: 'uint8', narrowRange: true })).toEqual([1, 255]);
  });
});

describe('chooseQuantParams', () => {
  it('computes scale and zero point as ONNX Runtime does', () => {
    // [-1, 1] on uint8: scale 2/255, zero point round_half_even(127.5) = 128.
    expect(chooseQuantParams({ min: -1, max: 1, dtype: 'uint8' })).toEqual({ dtype: 'uint8', scale: Math.fround(2 / 255), zeroPoint: 128 });
    // Symmetric int8 uses [-127, 127] and the larger magnitude.
    expect(chooseQuantParams({ min: -0.5, max: 2, dtype: 'int8', symmetric: true })).toEqual({ dtype: 'int8', scale: Math.fround(4 / 254), zeroPoint: 0 });
    // Symmetric uint8 puts the zero point in the middle.
    expect(chooseQuantParams({ min: -3, max: 1, dtype: 'uint8', symmetric: true }).zeroPoint).toBe(128);
    // A positive range is widened to include 0.
    expect(chooseQuantParams({ min: 1, max: 3, dtype: 'uint8' })).toEqual({ dtype: 'uint8', scale: Math.fround(3 / 255), zeroPoint: 0 });
    expect(chooseQuantParams({ min: -3, max: -1, dtype: 'int8' })).toEqual({ dtype: 'int8', scale: Math.fround(3 / 255), zeroPoint: 127 });
  });

  it('gives a degenerate range scale 1', () => {
    expect(chooseQuantParams({ min: 0, max: 0, dtype: 'uint8' })).toEqual({ dtype: 'uint8', scale: 1, zeroPoint: 0 });
    expect(chooseQuantParams({ min: 0, max: 0, dtype: 'uint8', symmetric: true })).toEqual({ dtype: 'uint8', scale: 1, zeroPoint: 128 });
  });

  it('rejects invalid ranges', () => {
    expect(() => chooseQuantParams({ min: 2, max: 1, dtype: 'int8' })).toThrow(/invalid real range/);
    expect(() => chooseQuantParams({ min: NaN, max: 1, dtype: 'int8' })).toThrow(/invalid real range/);
  });

  const options = fc.record({
    dtype: fc.constantFrom('int8' as const, 'uint8' as const, 'int16' as const, 'uint16' as const),
    symmetric: fc.boolean(),
    reduceRange: fc.boolean(),
  });
  const range = fc
    .tuple(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.double({ min: -1e4, max: 1e4, noNaN: true }))
    .filter(([a, b]) => Math.abs(a - b) > 1e-6)
    .map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) }));

  test.prop([options, range, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 })])(
    'zero is exact and every value in range round-trips within half a step',
    (opts, r, fractions) => {
      const p = chooseQuantParams({ ...opts, ...r });
      const [qmin, qmax] = quantizedRange(opts);
      expect(p.zeroPoint).toBeGreaterThanOrEqual(qmin);
      expect(p.zeroPoint).toBeLessThanOrEqual(qmax);
      expect(dequantizeTensor(quantizeTensor([0], [1], p), [1], p)[0]).toBe(0);
      const lo = Math.min(r.min, 0);
      const hi = Math.max(r.max, 0);
      const values = Float32Array.from(fractions, (f) => lo + f * (hi - lo));
      const back = dequantizeTensor(quantizeTensor(values, [values.length], p), [values.length], p);
      values.forEach((v, i) => {
        expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(p.scale * 0.5 * (1 + 1e-5) + Math.abs(v) * 1e-6);
      });
    },
  );
});

describe('quantizeTensor / dequantizeTensor', () => {
  it('rounds half to even and saturates', () => {
    const p: QuantParams = { dtype: 'int8', scale: 0.5, zeroPoint: 1 };
    // x / scale = 0.5, 1.5, 2.5, -0.5, -1.5, 1000, -1000
    const q = quantizeTensor([0.25, 0.75, 1.25, -0.25, -0.75, 500, -500, Infinity, -Infinity, NaN], [10], p);
    expect(Array.from(q)).toEqual([1, 3, 3, 1, -1, 127, -128, 127, -128, 1]); // NaN -> the zero point
    expect(q).toBeInstanceOf(Int8Array);
  });

  it('matches ONNX Runtime QuantizeLinear / DequantizeLinear per tensor, ties and saturation included', async () => {
    for (const dtype of ['int8', 'uint8', 'int16', 'uint16'] as const) {
      const p = chooseQuantParams({ min: -1.3, max: 2.1, dtype });
      const n = 600;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        // Exact ties (k + 0.5) · scale, arbitrary values, and values beyond the range.
        x[i] = i % 3 === 0 ? Math.fround((i / 3 - 100 + 0.5) * p.scale) : Math.sin(i * 12.9898) * 3;
      }
      x[1] = Infinity;
      x[2] = -Infinity;
      const expected = await ortQuantizeDequantize(x, [n], p);
      const q = quantizeTensor(x, [n], p);
      expect(Array.from(q)).toEqual(Array.from(expected.q));
      expect(Array.from(dequantizeTensor(q, [n], p))).toEqual(Array.from(expected.x));
    }
  });

  it('matches ONNX Runtime per channel along a middle axis', async () => {
    const shape = [2, 4, 3];
    const n = 24;
    const x = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 7.31) * (1 + Math.floor(i / 3) % 4));
    for (const dtype of ['int8', 'uint8'] as const) {
      const p = chooseQuantParamsPerChannel(x, shape, 1, { dtype, symmetric: dtype === 'int8' });
      expect(p.scales.length).toBe(4);
      const expected = await ortQuantizeDequantize(x, shape, p);
      const q = quantizeTensor(x, shape, p);
      expect(Array.from(q)).toEqual(Array.from(expected.q));
      expect(Array.from(dequantizeTensor(q, shape, p))).toEqual(Array.from(expected.x));
    }
  });

  it('chooses each channel from its own slice', () => {
    // Shape [3, 2]: channel c (axis 0) holds ±(c + 1).
    const x = Float32Array.of(-1, 1, -2, 2, -3, 3);
    const p = chooseQuantParamsPerChannel(x, [3, 2], 0, { dtype: 'int8', symmetric: true });
    for (let c = 0; c < 3; c++) {
      expect(p.scales[c]).toBe(chooseQuantParamsForValues([-(c + 1), c + 1], { dtype: 'int8', symmetric: true }).scale);
    }
    expect(Array.from(p.zeroPoints)).toEqual([0, 0, 0]);
    expect(Array.from(quantizeTensor(x, [3, 2], p))).toEqual([-127, 127, -127, 127, -127, 127]);
  });

  it('reports a parameter set that does not fit the tensor', () => {
    const p: PerChannelQuantParams = { dtype: 'int8', axis: 0, scales: Float32Array.of(1, 1), zeroPoints: Int32Array.of(0, 0) };
    expect(() => quantizeTensor([1, 2, 3], [3], p)).toThrow(/expected 3 scales/);
    expect(() => quantizeTensor([1, 2, 3], [3], { dtype: 'int8', scale: 0, zeroPoint: 0 })).toThrow(/scale must be finite/);
  });
});

describe('quantizeBias', () => {
  it('uses scale = input scale × weight scale per channel, zero point 0, rounding half to even', () => {
    const inputScale = 0.5;
    const weightScales = Float32Array.of(0.5, 0.25, 0.125);
    const bias = Float32Array.of(0.3, -0.3125, 1e9);
    const { data, params } = quantizeBias(bias, inputScale, weightScales);
    for (let c = 0; c < 3; c++) expect(params.scales[c]).toBe(Math.fround(inputScale * weightScales[c]!));
    expect(Array.from(params.zeroPoints)).toEqual([0, 0, 0]);
    expect(data[0]).toBe(Math.round(Math.fround(0.3 / params.scales[0]!)));
    expect(data[1]).toBe(-2); // -0.3125 / 0.125 = -2.5 -> -2 (ties to even)
    expect(data[2]).toBe(2147483647); // saturates
    const back = dequantizeTensor(data, [3], params);
    expect(Math.abs(back[0]! - 0.3)).toBeLessThanOrEqual(params.scales[0]! / 2);
  });

  it('accepts a per-tensor weight scale and reports mismatches', () => {
    const { params } = quantizeBias([1, 2], 0.1, 0.5);
    expect(Array.from(params.scales)).toEqual([Math.fround(0.05), Math.fround(0.05)]);
    expect(() => quantizeBias([1, 2, 3], 0.1, [0.5, 0.5])).toThrow(/3 elements but 2 weight scales/);
    expect(() => quantizeBias([1], 0, 0.5)).toThrow(/bias scale of channel 0/);
  });
});
