import { describe, expect, it } from 'vitest';
import { Graph, type Attribute } from '../graph.js';
import { SlimcError } from '../errors.js';
import { makeTensor, type Tensor } from '../tensor.js';
import { interpret, runOp } from './interpret.js';
import { hasKernel, supportedOps } from './registry.js';

const f32 = (shape: number[], data: number[]) => makeTensor('float32', shape, data);
const i64 = (shape: number[], data: number[]) => makeTensor('int64', shape, data.map(BigInt));
const ints = (value: number[]): Attribute => ({ kind: 'ints', value });
const int = (value: number): Attribute => ({ kind: 'int', value });
const one = (op: string, inputs: (Tensor | null)[], attrs: Record<string, Attribute> = {}, opset?: number) => runOp(op, inputs, attrs, { opset })[0]!;
const values = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);

describe('elementwise', () => {
  it('broadcasts numpy style', () => {
    const y = one('Add', [f32([2, 1, 3], [1, 2, 3, 4, 5, 6]), f32([2, 1], [10, 20])]);
    expect(y.shape).toEqual([2, 2, 3]);
    expect(values(y)).toEqual([11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26]);
  });

  it('rejects shapes that do not broadcast, naming the node', () => {
    expect(() => one('Mul', [f32([2, 3], [1, 2, 3, 4, 5, 6]), f32([2], [1, 2])])).toThrow(SlimcError);
    expect(() => one('Mul', [f32([2, 3], [1, 2, 3, 4, 5, 6]), f32([2], [1, 2])])).toThrow(/\(Mul\).*do not broadcast/);
  });

  it('keeps int64 arithmetic exact beyond 2^53 and truncates integer division', () => {
    const big = 2n ** 60n + 1n;
    const y = one('Add', [makeTensor('int64', [1], [big]), i64([1], [1])]);
    expect((y.data as BigInt64Array)[0]).toBe(big + 1n);
    expect(values(one('Div', [i64([2], [-7, 7]), i64([2], [2, 2])]))).toEqual([-3, 3]);
    expect(values(one('Div', [makeTensor('int32', [2], [-7, 7]), makeTensor('int32', [1], [2])]))).toEqual([-3, 3]);
  });

  it('wraps int32 products like C', () => {
    const y = one('Mul', [makeTensor('int32', [1], [65536 * 3 + 7]), makeTensor('int32', [1], [65536 * 5 + 11])]);
    expect(values(y)[0]).toBe(Math.imul(65536 * 3 + 7, 65536 * 5 + 11));
  });

  it('Mod follows the divisor sign unless fmod', () => {
    expect(values(one('Mod', [makeTensor('int32', [2], [-7, 7]), makeTensor('int32', [2], [3, -3])]))).toEqual([2, -2]);
    expect(values(one('Mod', [f32([2], [-7, 7]), f32([2], [3, -3])], { fmod: int(1) }))).toEqual([-1, 1]);
  });

  it('Round rounds half to even', () => {
    expect(values(one('Round', [f32([6], [0.5, 1.5, 2.5, -0.5, -1.5, 2.4])]))).toEqual([0, 2, 2, -0, -2, 2]);
  });

  it('Clip reads attributes before opset 11 and inputs after', () => {
    const x = f32([3], [-5, 0.5, 5]);
    expect(values(one('Clip', [x], { min: { kind: 'float', value: -1 }, max: { kind: 'float', value: 1 } }, 6))).toEqual([-1, 0.5, 1]);
    expect(values(one('Clip', [x, f32([], [0]), null], {}, 13))).toEqual([0, 0.5, 5]);
  });

  it('Erf matches known values', () => {
    const y = values(one('Erf', [makeTensor('float64', [4], [0, 0.5, 1, -2])]));
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(0.5204998778130465, 14);
    expect(y[2]).toBeCloseTo(0.8427007929497149, 14);
    expect(y[3]).toBeCloseTo(-0.9953222650189527, 14);
  });

  it('Cast truncates floats and converts to float16 and int64', () => {
    expect(values(one('Cast', [f32([3], [-1.7, 2.9, 3])], { to: int(6) }))).toEqual([-1, 2, 3]);
    const h = one('Cast', [f32([1], [1.5])], { to: int(10) });
    expect(h.dtype).toBe('float16');
    expect((h.data as Uint16Array)[0]).toBe(0x3e00);
    expect(one('Cast', [f32([1], [4])], { to: int(7) }).data).toEqual(new BigInt64Array([4n]));
  });

  it('Where broadcasts three ways', () => {
    const c = makeTensor('bool', [2, 1], [1, 0]);
    const y = one('Where', [c, f32([2], [1, 2]), f32([], [9])]);
    expect(values(y)).toEqual([1, 2, 9, 9]);
  });
});

describe('shape ops', () => {
  it('Slice clamps and steps backwards', () => {
    const x = f32([6], [0, 1, 2, 3, 4, 5]);
    expect(values(one('Slice', [x, i64([1], [-1]), i64([1], [-1000]), i64([1], [0]), i64([1], [-2])]))).toEqual([5, 3, 1]);
    expect(values(one('Slice', [x, i64([1], [1]), makeTensor('int64', [1], [2n ** 63n - 1n])]))).toEqual([1, 2, 3, 4, 5]);
    expect(values(one('Slice', [x], { starts: ints([2]), ends: ints([4]) }, 9))).toEqual([2, 3]);
  });

  it('Squeeze/Unsqueeze take axes from attributes before opset 13', () => {
    const x = f32([1, 3, 1], [1, 2, 3]);
    expect(one('Squeeze', [x], { axes: ints([0]) }, 11).shape).toEqual([3, 1]);
    expect(one('Squeeze', [x, i64([1], [-1])], {}, 13).shape).toEqual([1, 3]);
    expect(one('Unsqueeze', [x], { axes: ints([0, 4]) }, 11).shape).toEqual([1, 1, 3, 1, 1]);
    expect(() => one('Squeeze', [x, i64([1], [1])], {}, 13)).toThrow(/cannot squeeze axis 1/);
  });

  it('Reshape copies 0 dims and infers -1', () => {
    const x = f32([2, 3, 4], new Array(24).fill(0));
    expect(one('Reshape', [x, i64([3], [0, -1, 2])]).shape).toEqual([2, 6, 2]);
    expect(() => one('Reshape', [x, i64([2], [5, -1])])).toThrow(SlimcError);
  });

  it('Transpose, Concat, Split and Gather move data', () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(values(one('Transpose', [x]))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(values(one('Concat', [x, x], { axis: int(1) }))).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    const parts = runOp('Split', [x, i64([2], [1, 2])], { axis: int(1) }, { outputs: 2 });
    expect(parts.map((t) => values(t!))).toEqual([[1, 4], [2, 3, 5, 6]]);
    const g = one('Gather', [x, i64([2], [-1, 0])], { axis: int(1) });
    expect(g.shape).toEqual([2, 2]);
    expect(values(g)).toEqual([3, 1, 6, 4]);
  });

  it('Pad handles constant, reflect and edge modes', () => {
    const x = f32([1, 3], [1, 2, 3]);
    const pads = i64([4], [0, 2, 0, 1]);
    expect(values(one('Pad', [x, pads, f32([], [9])]))).toEqual([9, 9, 1, 2, 3, 9]);
    expect(values(one('Pad', [x, pads], { mode: { kind: 'string', value: 'reflect' } }))).toEqual([3, 2, 1, 2, 3, 2]);
    expect(values(one('Pad', [x, pads], { mode: { kind: 'string', value: 'edge' } }))).toEqual([1, 1, 1, 2, 3, 3]);
  });

  it('Shape, Expand, Tile, Range, ConstantOfShape', () => {
    const x = f32([2, 1], [1, 2]);
    expect(values(one('Shape', [x]))).toEqual([2, 1]);
    expect(values(one('Expand', [x, i64([2], [2, 3])]))).toEqual([1, 1, 1, 2, 2, 2]);
    expect(values(one('Tile', [x, i64([2], [2, 2])]))).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
    expect(values(one('Range', [i64([], [10]), i64([], [3]), i64([], [-3])]))).toEqual([10, 7, 4]);
    const c = one('ConstantOfShape', [i64([2], [2, 2])], { value: { kind: 'tensor', value: i64([1], [7]) } });
    expect(c.dtype).toBe('int64');
    expect(values(c)).toEqual([7, 7, 7, 7]);
  });
});

/** Direct 2-D convolution from the definition, for checking the im2col path. */
function naiveConv2d(x: Tensor, w: Tensor, stride: number, pad: number, dil: number, group: number): number[] {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [m, cg, kh, kw] = w.shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * pad - (dil * (kh - 1) + 1)) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - (dil * (kw - 1) + 1)) / stride) + 1;
  const xv = x.data as Float32Array;
  const wv = w.data as Float32Array;
  const out: number[] = [];
  const mg = m / group;
  for (let b = 0; b < n; b++)
    for (let o = 0; o < m; o++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = 0;
          const g = Math.floor(o / mg);
          for (let ci = 0; ci < cg; ci++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const y = i * stride - pad + p * dil;
                const xx = j * stride - pad + q * dil;
                if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
                s += xv[((b * c + g * cg + ci) * h + y) * wd + xx]! * wv[((o * cg + ci) * kh + p) * kw + q]!;
              }
          out.push(s);
        }
  return out;
}

function seq(n: number, scale = 0.1): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * scale * 10);
}

describe('matmul and conv', () => {
  it('MatMul batches with broadcasting and promotes 1-D operands', () => {
    const a = f32([2, 1, 2, 3], seq(12));
    const b = f32([3, 3, 2], seq(18));
    const y = one('MatMul', [a, b]);
    expect(y.shape).toEqual([2, 3, 2, 2]);
    const av = values(a);
    const bv = values(b);
    // Element [1, 2, 1, 0] = sum_k a[1,0,1,k] * b[2,k,0]
    const expected = [0, 1, 2].reduce((s, k) => s + av[6 + 3 + k]! * bv[12 + k * 2]!, 0);
    expect(values(y)[((1 * 3 + 2) * 2 + 1) * 2]).toBeCloseTo(expected, 5);
    expect(one('MatMul', [f32([3], [1, 2, 3]), f32([3], [4, 5, 6])]).shape).toEqual([]);
  });

  it('Gemm applies transposes, alpha, beta and a broadcast C', () => {
    const a = f32([3, 2], [1, 2, 3, 4, 5, 6]); // A^T = [[1,3,5],[2,4,6]]
    const b = f32([2, 3], [1, 0, 0, 0, 1, 0]); // B^T = [[1,0],[0,1],[0,0]]
    const y = one('Gemm', [a, b, f32([2], [100, 200])], { transA: int(1), transB: int(1), alpha: { kind: 'float', value: 2 } });
    expect(values(y)).toEqual([102, 206, 104, 208]);
  });

  it.each([
    [1, 0, 1, 1],
    [2, 1, 1, 1],
    [1, 2, 2, 1],
    [2, 1, 1, 2],
    [1, 1, 1, 4],
  ])('Conv matches the direct definition (stride %i pad %i dilation %i group %i)', (stride, pad, dil, group) => {
    const x = f32([2, 4, 7, 6], seq(2 * 4 * 7 * 6));
    const w = f32([4, 4 / group, 3, 3], seq(4 * (4 / group) * 9, 0.05));
    const y = one('Conv', [x, w], {
      strides: ints([stride, stride]),
      pads: ints([pad, pad, pad, pad]),
      dilations: ints([dil, dil]),
      group: int(group),
    });
    const ref = naiveConv2d(x, w, stride, pad, dil, group);
    const got = values(y);
    expect(got.length).toBe(ref.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 4));
  });

  it('Conv SAME_UPPER keeps ceil(in/stride) outputs', () => {
    const y = one('Conv', [f32([1, 1, 5, 5], seq(25)), f32([1, 1, 3, 3], seq(9))], { auto_pad: { kind: 'string', value: 'SAME_UPPER' }, strides: ints([2, 2]) });
    expect(y.shape).toEqual([1, 1, 3, 3]);
  });

  it('ConvTranspose inverts the geometry of a strided conv', () => {
    // 1x1 input, 2x2 kernel of ones, stride 2: each input scatters into its own 2x2 block.
    const y = one('ConvTranspose', [f32([1, 1, 2, 1], [1, 2]), f32([1, 1, 2, 2], [1, 1, 1, 1])], { strides: ints([2, 2]) });
    expect(y.shape).toEqual([1, 1, 4, 2]);
    expect(values(y)).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
  });
});

describe('pooling', () => {
  const x = f32([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  it('MaxPool with ceil_mode and indices', () => {
    const [y, idx] = runOp('MaxPool', [x], { kernel_shape: ints([2, 2]), strides: ints([2, 2]), ceil_mode: int(1) }, { outputs: 2 });
    expect(values(y!)).toEqual([5, 6, 8, 9]);
    expect(values(idx!)).toEqual([4, 5, 7, 8]);
  });
  it('AveragePool divides by valid or padded counts', () => {
    const attrs = { kernel_shape: ints([2, 2]), pads: ints([1, 1, 0, 0]), strides: ints([2, 2]) };
    expect(values(one('AveragePool', [x], attrs))).toEqual([1, 2.5, 5.5, 7]);
    expect(values(one('AveragePool', [x], { ...attrs, count_include_pad: int(1) }))).toEqual([0.25, 1.25, 2.75, 7]);
  });
  it('GlobalAveragePool keeps rank', () => {
    const y = one('GlobalAveragePool', [x]);
    expect(y.shape).toEqual([1, 1, 1, 1]);
    expect(values(y)).toEqual([5]);
  });
});

describe('interpret', () => {
  it('runs a graph, observes every computed value and reports unsupported ops', () => {
    const g = new Graph('m');
    const x = g.addInput('x', { dtype: 'float32', shape: ['N', 2] });
    const w = g.addConstant('w', f32([2, 2], [1, 0, 0, 2]));
    const mm = g.addNode({ op: 'MatMul', inputs: [x, w] });
    const r = g.addNode({ op: 'Relu', inputs: [mm.output(0)] });
    g.addOutput(r.output(0));
    const seen: string[] = [];
    const out = interpret(g, { x: f32([1, 2], [3, -4]) }, { observe: (v) => seen.push(v.name) });
    expect(values(out[r.output(0).name]!)).toEqual([3, 0]);
    expect(seen).toEqual([mm.output(0).name, r.output(0).name]);
    expect(() => interpret(g, { x: f32([1, 3], [1, 2, 3]) })).toThrow(/expected shape/);
    g.addNode({ op: 'NoSuchOp', name: 'odd', inputs: [x] });
    expect(() => interpret(g, { x: f32([1, 2], [3, -4]) })).toThrow(/node "odd" \(NoSuchOp\)/);
  });

  it('lists supported ops sorted', () => {
    const ops = supportedOps();
    expect(ops).toEqual([...ops].sort());
    expect(hasKernel('Conv')).toBe(true);
    expect(hasKernel('Conv', 'ai.onnx')).toBe(true);
    expect(hasKernel('Conv', 'com.example')).toBe(false);
  });
});

describe('dtypes', () => {
  it('computes float16 tensors through float and rounds once on output', () => {
    const a = makeTensor('float16', [1, 2], [1.5, 2]);
    const b = makeTensor('float16', [2, 1], [0.25, 3]);
    const y = one('MatMul', [a, b]);
    expect(y.dtype).toBe('float16');
    expect(values(one('Cast', [y], { to: int(1) }))).toEqual([6.375]);
  });

  it('compares int64 exactly and returns bool', () => {
    const big = 2n ** 62n;
    const y = one('Equal', [makeTensor('int64', [2], [big, big + 1n]), makeTensor('int64', [1], [big + 1n])]);
    expect(y.dtype).toBe('bool');
    expect(values(y)).toEqual([0, 1]);
  });

  it('moves strings through data-movement ops unchanged', () => {
    const s = makeTensor('string', [2, 2], ['a', 'b', 'c', 'd']);
    expect(Array.from(one('Transpose', [s]).data as string[])).toEqual(['a', 'c', 'b', 'd']);
    expect(Array.from(one('Gather', [s, i64([1], [1])], { axis: int(0) }).data as string[])).toEqual(['c', 'd']);
  });
});
