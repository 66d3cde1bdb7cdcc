import { describe, expect, it } from 'vitest';
import type { Attribute } from '../graph.js';
import { makeTensor, type Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';
import { runOp } from './interpret.js';

const t = (dtype: DType, shape: number[], data: number[]) => makeTensor(dtype, shape, data);
const f32 = (shape: number[], data: number[]) => t('float32', shape, data);
const int = (value: number): Attribute => ({ kind: 'int', value });
const values = (x: Tensor) => Array.from(x.data as ArrayLike<number>, Number);
const one = (op: string, inputs: (Tensor | null)[], attrs: Record<string, Attribute> = {}) => runOp(op, inputs, attrs)[0]!;

describe('QuantizeLinear', () => {
  it('rounds exact halves to even', () => {
    const y = one('QuantizeLinear', [f32([6], [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]), f32([], [1]), t('int8', [], [0])]);
    expect(y.dtype).toBe('int8');
    expect(values(y)).toEqual([0, 2, 2, 0, -2, -2]);
  });

  it('rounds x / scale computed in float32', () => {
    // 0.3 / 0.2 is 1.4999999999999998 in float64 but exactly 1.5 in float32, which rounds to 2.
    expect(0.3 / 0.2).toBeLessThan(1.5);
    expect(Math.fround(Math.fround(0.3) / Math.fround(0.2))).toBe(1.5);
    expect(values(one('QuantizeLinear', [f32([1], [0.3]), f32([], [0.2]), t('uint8', [], [0])]))).toEqual([2]);
  });

  it('saturates to the output type after adding the zero point', () => {
    expect(values(one('QuantizeLinear', [f32([4], [300, -300, 127.4, -1]), f32([], [1]), t('uint8', [], [128])]))).toEqual([255, 0, 255, 127]);
    expect(values(one('QuantizeLinear', [f32([3], [300, -300, -128.5]), f32([], [1]), t('int8', [], [0])]))).toEqual([127, -128, -128]);
    expect(values(one('QuantizeLinear', [f32([2], [40000, -40000]), f32([], [1]), t('int16', [], [0])]))).toEqual([32767, -32768]);
    expect(values(one('QuantizeLinear', [f32([2], [70000, -5]), f32([], [1]), t('uint16', [], [0])]))).toEqual([65535, 0]);
  });

  it('defaults to uint8 with zero point 0', () => {
    const y = one('QuantizeLinear', [f32([2], [3.2, -1]), f32([], [2])]);
    expect(y.dtype).toBe('uint8');
    expect(values(y)).toEqual([2, 0]);
  });

  it('applies per-axis and blocked parameters', () => {
    const x = f32([2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
    const perAxis = one('QuantizeLinear', [x, f32([2], [1, 2]), t('int8', [2], [0, 10])], { axis: int(0) });
    expect(values(perAxis)).toEqual([1, 2, 3, 4, 12, 13, 14, 14]);
    const blocked = one('QuantizeLinear', [x, f32([2, 2], [1, 2, 4, 8]), t('int8', [2, 2], [0, 0, 0, 0])], { axis: int(1), block_size: int(2) });
    expect(values(blocked)).toEqual([1, 2, 2, 2, 1, 2, 1, 1]);
  });

  it('rejects a scale that matches no granularity', () => {
    expect(() => one('QuantizeLinear', [f32([2, 4], new Array(8).fill(0)), f32([3], [1, 1, 1])], { axis: int(1) })).toThrow(/per-axis/);
  });
});

describe('DequantizeLinear', () => {
  it('computes (q - zp) * scale per tensor and per axis', () => {
    expect(values(one('DequantizeLinear', [t('int8', [2], [-128, 127]), f32([], [0.5]), t('int8', [], [-1])]))).toEqual([-63.5, 64]);
    const y = one('DequantizeLinear', [t('uint8', [2, 2], [10, 20, 30, 40]), f32([2], [1, 0.5]), t('uint8', [2], [10, 0])], { axis: int(1) });
    expect(values(y)).toEqual([0, 10, 20, 20]);
  });

  it('handles int32 (bias) inputs without a zero point', () => {
    expect(values(one('DequantizeLinear', [t('int32', [2], [-100000, 7]), f32([], [0.25])]))).toEqual([-25000, 1.75]);
  });
});

describe('DynamicQuantizeLinear', () => {
  it('derives scale and zero point from the range including 0', () => {
    // min -1, max 2: scale 3/255, zp = round(1 / scale) = 85.
    const [y, scale, zp] = runOp('DynamicQuantizeLinear', [f32([4], [-1, 0, 1, 2])], {}, { outputs: 3 });
    expect(values(scale!)[0]).toBeCloseTo(3 / 255, 7);
    expect(values(zp!)).toEqual([85]);
    expect(values(y!)).toEqual([0, 85, 170, 255]);
  });

  it('keeps zero point 0 for non-negative inputs', () => {
    const [y, , zp] = runOp('DynamicQuantizeLinear', [f32([2], [0, 5.1])], {}, { outputs: 3 });
    expect(values(zp!)).toEqual([0]);
    expect(values(y!)).toEqual([0, 255]);
  });
});

describe('integer matmul and conv', () => {
  it('MatMulInteger subtracts zero points and accumulates exactly in int32', () => {
    const a = t('uint8', [2, 2], [11, 7, 3, 250]);
    const b = t('uint8', [2, 2], [1, 2, 3, 4]);
    const y = one('MatMulInteger', [a, b, t('uint8', [], [12]), t('uint8', [], [0])]);
    expect(y.dtype).toBe('int32');
    expect(values(y)).toEqual([-16, -22, 705, 934]);
  });

  it('MatMulInteger stays exact over a long int8 reduction', () => {
    const k = 4096;
    const y = one('MatMulInteger', [t('int8', [1, k], new Array(k).fill(-128)), t('int8', [k, 1], new Array(k).fill(-128))]);
    expect(values(y)).toEqual([128 * 128 * k]);
  });

  it('QLinearMatMul requantizes with ties to even and the output zero point', () => {
    const b = t('uint8', [2, 1], [1, 1]);
    const run = (a: number[]) =>
      values(one('QLinearMatMul', [t('uint8', [1, 2], a), f32([], [0.5]), t('uint8', [], [0]), b, f32([], [1]), t('uint8', [], [0]), f32([], [1]), t('uint8', [], [10])]));
    expect(run([2, 4])).toEqual([13]); // 6 * 0.5 = 3
    expect(run([2, 3])).toEqual([12]); // 5 * 0.5 = 2.5 -> 2
    expect(run([3, 4])).toEqual([14]); // 7 * 0.5 = 3.5 -> 4
    expect(run([255, 255])).toEqual([255]); // saturates
  });

  it('ConvInteger and QLinearConv shift by zero points, add the int32 bias and requantize', () => {
    const x = t('uint8', [1, 1, 2, 2], [1, 2, 3, 4]);
    const w = t('int8', [1, 1, 1, 1], [2]);
    expect(values(one('ConvInteger', [x, w, t('uint8', [], [1])]))).toEqual([0, 2, 4, 6]);
    const y = one('QLinearConv', [x, f32([], [1]), t('uint8', [], [1]), w, f32([1], [0.5]), t('int8', [1], [0]), f32([], [1]), t('uint8', [], [0]), t('int32', [1], [1])]);
    // (acc + 1) * 0.5 = 0.5, 1.5, 2.5, 3.5 -> ties to even.
    expect(values(y)).toEqual([0, 2, 2, 4]);
  });

  it('QLinearConv applies per-channel weight scales and zero points', () => {
    const x = t('uint8', [1, 1, 1, 2], [10, 20]);
    const w = t('int8', [2, 1, 1, 1], [3, 5]);
    const y = one('QLinearConv', [x, f32([], [1]), t('uint8', [], [0]), w, f32([2], [1, 0.1]), t('int8', [2], [1, 0]), f32([], [1]), t('uint8', [], [0])]);
    expect(values(y)).toEqual([20, 40, 5, 10]);
  });
});
