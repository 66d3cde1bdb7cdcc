/**
 * One adapter per op version step whose form or meaning changed (ONNX Changelog), keyed by op and
 * by the version that introduced the change. An adapter rewrites a node from the form of the
 * previous version into the form of that version, keeping what the node computes.
 *
 * Steps with no adapter here only widened type constraints, or added attributes/inputs whose
 * defaults keep the old meaning (ArgMax-12 select_last_index=0, AveragePool-7 count_include_pad=0,
 * MaxPool-8/10 storage_order/ceil_mode/dilations, DepthToSpace-11 mode=DCR, Reshape-14
 * allowzero=0, Shape-15 start/end, ScatterND/ScatterElements-16/18 reduction=none, Resize-18/19
 * antialias/axes/keep_aspect_ratio_policy, Pad-18 axes and -19 wrap, LpPool-18 ceil_mode,
 * GRU/LSTM/RNN-14 layout=0, Q/DQ-13/19/21 axis/saturate/block_size, Gemm-11 optional C, ...), or
 * gave meaning to inputs that were invalid before (negative indices of OneHot-11 and Gather-11,
 * negative axes from 11).
 *
 * A step that cannot be done exactly raises SlimcError('unsupported') naming node, op and field.
 */
import {
  type DType,
  type Graph,
  type Node,
  type Tensor,
  type Value,
  SlimcError,
  dtypeFromOnnx,
  makeTensor,
  shapeSize,
  tensorsEqual,
  toFloat64,
  toIntArray,
} from '@slimc/ir';
import { replaceValue } from '../core/pattern.js';
import { elementTypeOf, rankOf, type Memo } from './facts.js';

/** What an adapter did: false (nothing to do), true (rewrote the node in place), or the nodes it created. */
export type StepResult = boolean | Node[];
export type Adapter = (node: Node, cx: UpgradeContext) => StepResult;

/** Per-run state shared by adapters: constant interning and derived facts. */
export class UpgradeContext {
  private readonly constants = new Map<Graph, Map<string, Value>>();
  readonly dtypes: Memo<DType> = new Map();
  readonly ranks: Memo<number> = new Map();
  /** Resize nodes that were Upsample (scales >= 1 by definition). */
  readonly fromUpsample = new WeakSet<Node>();

  /** A constant in `g` holding `t`, shared with earlier requests for equal data. */
  constant(g: Graph, name: string, t: Tensor): Value {
    let byKey = this.constants.get(g);
    if (!byKey) this.constants.set(g, (byKey = new Map()));
    const key = `${t.dtype}[${t.shape.join(',')}]${Array.from(t.data as ArrayLike<unknown>).join(',')}`;
    const known = byKey.get(key);
    if (known && known.constant && tensorsEqual(known.constant, t)) return known;
    const v = g.addConstant(name, t);
    byKey.set(key, v);
    return v;
  }

  int64s(g: Graph, name: string, values: readonly number[]): Value {
    return this.constant(g, name, makeTensor('int64', [values.length], values.map((x) => BigInt(x))));
  }

  dtypeOf(n: Node, input: number, field: string): DType {
    const v = n.input(input);
    const t = v ? elementTypeOf(v, this.dtypes) : undefined;
    if (!t) throw fail(n, `the element type of input ${input} is not declared and cannot be derived`, field);
    return t;
  }

  rankOf(v: Value): number | undefined {
    return rankOf(v, this.ranks);
  }
}

export function fail(n: Node, detail: string, field?: string): SlimcError {
  return new SlimcError('unsupported', detail, { node: n.label, op: n.op, ...(field ? { field } : {}) });
}

function scalarOf(dtype: DType, x: number): Tensor {
  return makeTensor(dtype, [], [x]);
}

/** Moves integer-list attribute `attr` to operand `index` as an int64 constant (when present). */
function intsAttrToInput(n: Node, cx: UpgradeContext, attr: string, index: number): boolean {
  const values = n.getInts(attr);
  if (!values) return false;
  n.deleteAttr(attr);
  n.setInput(index, cx.int64s(n.graph, `${n.op.toLowerCase()}_${attr}`, values));
  return true;
}

function dropAttrs(n: Node, ...names: string[]): boolean {
  let changed = false;
  for (const name of names) changed = n.deleteAttr(name) || changed;
  return changed;
}

/** Squeeze/Unsqueeze-13, ReduceSum-13, Reduce*-18: the `axes` attribute becomes input 1. */
const axesAttrToInput: Adapter = (n, cx) => {
  const axes = n.getInts('axes');
  if (!axes) return false;
  n.deleteAttr('axes');
  // An empty axes list meant "all axes", which is also what an absent axes input means (noop_with_empty_axes = 0).
  if (axes.length) n.setInput(1, cx.int64s(n.graph, `${n.op.toLowerCase()}_axes`, axes));
  return true;
};

/**
 * Softmax/LogSoftmax/Hardmax before 13 coerce the input to 2-D at `axis` ([d0*..*d(axis-1), rest])
 * and normalize each row; from 13 they normalize along `axis` alone. The two agree when `axis` is
 * the last dimension, so then only the (changed) default needs spelling out; otherwise:
 *   y = Reshape(op_13(Flatten(x, axis), axis=1), Shape(x))
 */
const coercedAxisTo13: Adapter = (n, cx) => {
  const x = n.input(0);
  if (!x) throw fail(n, 'missing input 0', 'input 0');
  const axis = n.getInt('axis', 1);
  const rank = cx.rankOf(x);
  if (rank !== undefined) {
    const normalized = axis < 0 ? axis + rank : axis;
    if (normalized === rank - 1 || rank === 0) {
      n.setAttr('axis', { kind: 'int', value: -1 });
      return true;
    }
  }
  const g = n.graph;
  const base = n.name || n.op.toLowerCase();
  const flat = g.addNode({ op: 'Flatten', name: `${base}_flatten`, inputs: [x], attrs: { axis: { kind: 'int', value: axis } } }, { before: n });
  const shape = g.addNode({ op: 'Shape', name: `${base}_shape`, inputs: [x] }, { before: n });
  n.setInput(0, flat.output(0));
  n.setAttr('axis', { kind: 'int', value: 1 });
  const y = n.output(0);
  const reshape = g.addNode({ op: 'Reshape', name: `${base}_reshape`, inputs: [], outputs: [`${y.name}_2d`] }, { after: n });
  const restored = reshape.output(0);
  replaceValue(y, restored); // the original name (maybe a graph output) moves to the reshaped result
  reshape.setInputs([y, shape.output(0)]);
  if (!restored.type && y.type) restored.type = y.type;
  y.type = undefined;
  return [flat, shape, reshape];
};

/**
 * Before 7, Add/Mul/... broadcast B only with broadcast=1, aligning B's dims with A's starting at
 * `axis` (default: B's dims are A's last ones); from 7, numpy broadcasting aligns trailing dims.
 * When B stops short of A's end, trailing 1-dims are appended to B:
 *   Add(A[2,3,4], B[3]) {broadcast=1, axis=1}  ==>  Add(A, Unsqueeze(B) {axes=[1]})   (B: [3,1])
 */
const legacyBroadcastTo7: Adapter = (n, cx) => {
  const axis = n.getInt('axis');
  const broadcast = n.getInt('broadcast', 0);
  const changed = dropAttrs(n, 'broadcast', 'axis');
  const a = n.input(0);
  const b = n.input(1);
  if (!broadcast || axis === undefined || !a || !b) return changed;
  const ra = cx.rankOf(a);
  const rb = cx.rankOf(b);
  if (ra === undefined || rb === undefined) throw fail(n, `broadcast at axis ${axis} needs the ranks of both inputs`, 'attribute axis');
  const missing = ra - (axis < 0 ? axis + ra : axis) - rb;
  if (missing < 0) throw fail(n, `B of rank ${rb} does not fit A of rank ${ra} at axis ${axis}`, 'attribute axis');
  if (missing === 0) return true;
  const axes = Array.from({ length: missing }, (_, k) => rb + k);
  const g = n.graph;
  const unsqueeze = g.addNode({ op: 'Unsqueeze', name: `${n.name || n.op.toLowerCase()}_align`, inputs: [b], attrs: { axes: { kind: 'ints', value: axes } } }, { before: n });
  n.setInput(1, unsqueeze.output(0));
  return [unsqueeze];
};

const ONNX_TYPE_NAMES: Record<string, number> = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11,
  UINT32: 12, UINT64: 13,
};

/** Cast-6: `to` was a type name, now the TensorProto.DataType code. */
const castTo6: Adapter = (n) => {
  const to = n.attr('to');
  if (!to || to.kind !== 'string') return false;
  const code = ONNX_TYPE_NAMES[to.value.toUpperCase()];
  if (code === undefined || !dtypeFromOnnx(code)) throw fail(n, `unknown type name "${to.value}"`, 'attribute to');
  n.setAttr('to', { kind: 'int', value: code });
  return true;
};

/** Clip-11: min/max attributes become optional scalar inputs of the input's type. */
const clipTo11: Adapter = (n, cx) => {
  const min = n.getFloat('min');
  const max = n.getFloat('max');
  if (!dropAttrs(n, 'min', 'max')) return false;
  const dtype = cx.dtypeOf(n, 0, 'input 0');
  const g = n.graph;
  n.setInput(1, min === undefined ? null : cx.constant(g, 'clip_min', scalarOf(dtype, min)));
  n.setInput(2, max === undefined ? null : cx.constant(g, 'clip_max', scalarOf(dtype, max)));
  n.trimInputs();
  return true;
};

/** Pad-2 renamed `paddings` to `pads`. */
const padTo2: Adapter = (n) => {
  const paddings = n.getInts('paddings');
  if (!paddings) return false;
  n.deleteAttr('paddings');
  n.setAttr('pads', { kind: 'ints', value: paddings });
  return true;
};

/** Pad-11: pads and value attributes become inputs (int64 pads, constant_value of the data type). */
const padTo11: Adapter = (n, cx) => {
  const pads = n.getInts('pads');
  if (!pads) throw fail(n, 'missing required attribute pads', 'attribute pads');
  const value = n.getFloat('value', 0);
  dropAttrs(n, 'pads', 'value');
  n.setInput(1, cx.int64s(n.graph, 'pad_pads', pads));
  if (value !== 0 && n.getString('mode', 'constant') === 'constant') {
    n.setInput(2, cx.constant(n.graph, 'pad_value', scalarOf(cx.dtypeOf(n, 0, 'input 0'), value)));
  }
  return true;
};

/** Reshape-5: the shape attribute becomes input 1. */
const reshapeTo5: Adapter = (n, cx) => {
  if (n.input(1)) return false;
  if (!intsAttrToInput(n, cx, 'shape', 1)) throw fail(n, 'no shape attribute or input', 'attribute shape');
  return true;
};

/** Slice-10: starts/ends/axes attributes become inputs 1..3. */
const sliceTo10: Adapter = (n, cx) => {
  const starts = n.getInts('starts');
  const ends = n.getInts('ends');
  if (!starts || !ends) throw fail(n, 'missing starts or ends', 'attribute starts');
  intsAttrToInput(n, cx, 'starts', 1);
  intsAttrToInput(n, cx, 'ends', 2);
  intsAttrToInput(n, cx, 'axes', 3);
  return true;
};

/** TopK-10: the k attribute becomes a [1] int64 input. */
const topkTo10: Adapter = (n, cx) => {
  const k = n.getInt('k');
  if (k === undefined) throw fail(n, 'missing k', 'attribute k');
  n.deleteAttr('k');
  n.setInput(1, cx.int64s(n.graph, 'topk_k', [k]));
  return true;
};

/** Split-2 dropped the optional `split` input (a constant moves to the attribute). */
const splitTo2: Adapter = (n) => {
  const s = n.input(1);
  if (!s) return false;
  if (!s.constant) throw fail(n, 'split sizes given by a non-constant input', 'input 1');
  n.setAttr('split', { kind: 'ints', value: toIntArray(s.constant) });
  n.setInput(1, null);
  n.trimInputs();
  return true;
};

/** Split-13: the split attribute becomes input 1. */
const splitTo13: Adapter = (n, cx) => intsAttrToInput(n, cx, 'split', 1);

/** Split-18: without split sizes, the number of parts must be given as num_outputs. */
const splitTo18: Adapter = (n) => {
  if (n.input(1) || n.getInt('num_outputs') !== undefined) return false;
  n.setAttr('num_outputs', { kind: 'int', value: n.outputs.length });
  return true;
};

/** Concat-4 made axis required; Concat-1 defaulted to 1. */
const concatTo4: Adapter = (n) => {
  if (n.getInt('axis') !== undefined) return false;
  n.setAttr('axis', { kind: 'int', value: 1 });
  return true;
};

/** BatchNormalization-7 dropped is_test (slimc models are inference graphs). */
const dropIsTest: Adapter = (n) => dropAttrs(n, 'is_test');

/** BatchNormalization-9 dropped `spatial` (1, per-channel statistics, is the only meaning kept). */
const batchNormTo9: Adapter = (n) => {
  if (n.getInt('spatial', 1) !== 1) throw fail(n, 'spatial=0 (per-element statistics) has no equivalent', 'attribute spatial');
  return dropAttrs(n, 'spatial');
};

/** BatchNormalization-14: in inference mode (training_mode=0) only Y is produced. */
const batchNormTo14: Adapter = (n) => {
  if (n.outputs.length <= 1) return false;
  for (let i = 1; i < n.outputs.length; i++) {
    if (n.outputs[i]?.hasUses) throw fail(n, `training output ${i} is used`, `output ${i}`);
  }
  n.outputs.length = 1;
  return true;
};

/** Dropout-10: the mask output became bool (it was of the data type). */
const dropoutTo10: Adapter = (n) => {
  if (n.outputs[1]?.hasUses) throw fail(n, 'the mask output is used and changes type at opset 10', 'output 1');
  return false;
};

/** Dropout-12: ratio attribute becomes an optional float input (inference ignores it either way). */
const dropoutTo12: Adapter = (n, cx) => {
  const ratio = n.getFloat('ratio');
  if (ratio === undefined) return false;
  n.deleteAttr('ratio');
  n.setInput(1, cx.constant(n.graph, 'dropout_ratio', scalarOf('float32', ratio)));
  return true;
};

/** Upsample-7: width_scale/height_scale (NCHW) become `scales`; 'bilinear' is now 'linear'. */
const upsampleTo7: Adapter = (n) => {
  const h = n.getFloat('height_scale');
  const w = n.getFloat('width_scale');
  let changed = false;
  if (h !== undefined || w !== undefined) {
    n.setAttr('scales', { kind: 'floats', value: [1, 1, h ?? 1, w ?? 1] });
    dropAttrs(n, 'height_scale', 'width_scale');
    changed = true;
  }
  if (n.getString('mode') === 'bilinear') {
    n.setAttr('mode', { kind: 'string', value: 'linear' });
    changed = true;
  }
  return changed;
};

/** Upsample-9: the scales attribute becomes input 1. */
const upsampleTo9: Adapter = (n, cx) => {
  const scales = n.getFloats('scales');
  if (!scales) return false;
  n.deleteAttr('scales');
  n.setInput(1, cx.constant(n.graph, 'upsample_scales', makeTensor('float32', [scales.length], scales)));
  return true;
};

/** Upsample was removed at 10; Resize-10 has the same inputs, attributes and meaning. */
const upsampleToResize10: Adapter = (n, cx) => {
  n.op = 'Resize';
  cx.fromUpsample.add(n);
  return true;
};

/**
 * Resize-11 inserted `roi` before `scales` and added coordinate_transformation_mode (default
 * half_pixel) and nearest_mode (default round_prefer_floor). Resize-10 maps output x to input
 * x / scale (asymmetric); for nearest it takes the floor when upsampling and the ceiling when
 * downsampling (onnxruntime, and the ONNX backend test resize_downsample_nearest: [1,2,3,4] at
 * scale 0.6 gives [1,3]). Resize-11 has one nearest_mode for all axes, so the scales must be
 * known to pick it, unless the node was an Upsample (whose scales are >= 1).
 */
const resizeTo11: Adapter = (n, cx) => {
  const scales = n.input(1);
  if (n.getString('mode', 'nearest') === 'nearest') {
    const values = scales?.constant ? Array.from(toFloat64(scales.constant)) : undefined;
    let rounding: 'floor' | 'ceil' | undefined;
    if (cx.fromUpsample.has(n) || (values && values.every((s) => s >= 1))) rounding = 'floor';
    else if (values && values.every((s) => s <= 1)) rounding = 'ceil';
    else throw fail(n, 'nearest resize with scales that are not constant, or that both grow and shrink axes', 'input 1');
    n.setAttr('nearest_mode', { kind: 'string', value: rounding });
  }
  n.setInputs([n.input(0), cx.constant(n.graph, 'resize_roi', makeTensor('float32', [0])), scales]);
  n.setAttr('coordinate_transformation_mode', { kind: 'string', value: 'asymmetric' });
  return true;
};

/**
 * Resize-13 removed coordinate_transformation_mode 'tf_half_pixel_for_nn' (x_in = (x_out + 0.5) /
 * scale). With nearest_mode floor that is half_pixel ((x_out + 0.5) / scale - 0.5) rounded half
 * up: floor(z) = round_prefer_ceil(z - 0.5).
 */
const resizeTo13: Adapter = (n) => {
  if (n.getString('coordinate_transformation_mode') !== 'tf_half_pixel_for_nn') return false;
  if (n.getString('mode', 'nearest') !== 'nearest' || n.getString('nearest_mode') !== 'floor') {
    throw fail(n, "'tf_half_pixel_for_nn' is exact only with nearest_mode floor", 'attribute coordinate_transformation_mode');
  }
  n.setAttr('coordinate_transformation_mode', { kind: 'string', value: 'half_pixel' });
  n.setAttr('nearest_mode', { kind: 'string', value: 'round_prefer_ceil' });
  return true;
};

/** Scatter was removed at 11; ScatterElements-11 is the same op. */
const scatterToScatterElements11: Adapter = (n) => {
  n.op = 'ScatterElements';
  return true;
};

/** RoiAlign-16 added coordinate_transformation_mode, defaulting to half_pixel; RoiAlign-10 behaved as output_half_pixel. */
const roiAlignTo16: Adapter = (n) => {
  if (n.getString('coordinate_transformation_mode') !== undefined) return false;
  n.setAttr('coordinate_transformation_mode', { kind: 'string', value: 'output_half_pixel' });
  return true;
};

/** GridSample-20 renamed modes bilinear -> linear and bicubic -> cubic. */
const gridSampleTo20: Adapter = (n) => {
  const renamed = { bilinear: 'linear', bicubic: 'cubic' }[n.getString('mode', 'bilinear')];
  if (!renamed) return false;
  n.setAttr('mode', { kind: 'string', value: renamed });
  return true;
};

/** DFT-20: the axis attribute (default 1) becomes an optional int64 scalar input 2 (default -2). */
const dftTo20: Adapter = (n, cx) => {
  const axis = n.getInt('axis', 1);
  n.deleteAttr('axis');
  n.setInput(2, cx.constant(n.graph, 'dft_axis', scalarOf('int64', axis)));
  return true;
};

/**
 * GroupNormalization-21: scale and bias are per channel (C) instead of per group (G). Each group's
 * value is repeated for its C/G channels; needs constant scale/bias and a static channel count.
 */
const groupNormTo21: Adapter = (n, cx) => {
  const groups = n.getInt('num_groups');
  const x = n.input(0);
  const channels = x?.type?.shape?.[1];
  if (groups === undefined || typeof channels !== 'number' || channels % groups !== 0) {
    throw fail(n, 'per-group scale/bias need a static channel count divisible by num_groups', 'input 0');
  }
  for (const i of [1, 2]) {
    const v = n.input(i);
    const t = v?.constant;
    if (!t || shapeSize(t.shape) !== groups) throw fail(n, `input ${i} is not a constant of ${groups} values`, `input ${i}`);
    const perGroup = toFloat64(t);
    const perChannel = Array.from({ length: channels }, (_, c) => perGroup[Math.floor(c / (channels / groups))]!);
    n.setInput(i, cx.constant(n.graph, i === 1 ? 'groupnorm_scale' : 'groupnorm_bias', makeTensor(t.dtype, [channels], perChannel)));
  }
  return true;
};

/** GlobalLpPool-2 / LpPool-2: p changed from float to int. */
const lpPoolTo2: Adapter = (n) => {
  const p = n.attr('p');
  if (n.op === 'LpPool' && !n.getInts('kernel_shape')) throw fail(n, 'kernel_shape is required from opset 2', 'attribute kernel_shape');
  if (!p || p.kind !== 'float') return false;
  if (!Number.isInteger(p.value)) throw fail(n, `p=${p.value} is not an integer`, 'attribute p');
  n.setAttr('p', { kind: 'int', value: p.value });
  return true;
};

/** Selu-6 changed the default alpha and gamma (to more digits): spell out the old ones. */
const seluTo6: Adapter = (n) => {
  let changed = false;
  if (n.getFloat('alpha') === undefined) {
    n.setAttr('alpha', { kind: 'float', value: 1.673200011253357 });
    changed = true;
  }
  if (n.getFloat('gamma') === undefined) {
    n.setAttr('gamma', { kind: 'float', value: 1.0506999492645264 });
    changed = true;
  }
  return changed;
};

/** GRU/LSTM/RNN-7 dropped output_sequence (Y is an optional output either way). */
const dropOutputSequence: Adapter = (n) => dropAttrs(n, 'output_sequence');

/** PRelu-7 broadcasts slope numpy-style; before, a slope had one value or the shape of X. */
const preluTo7: Adapter = (n, cx) => {
  const x = n.input(0);
  const slope = n.input(1);
  const size = slope?.constant ? shapeSize(slope.constant.shape) : undefined;
  if (size === 1) return false;
  const rx = x ? cx.rankOf(x) : undefined;
  const rs = slope ? cx.rankOf(slope) : undefined;
  if (rx === undefined || rs === undefined || rx !== rs) throw fail(n, 'slope shape has no exact opset-7 equivalent', 'input 1');
  return false;
};

/**
 * ConvTranspose-11 swapped which side of an odd total padding SAME_UPPER/SAME_LOWER put the extra
 * element on (before 11, SAME_UPPER padded the start by the larger half). onnxruntime applies the
 * opset-11 rule to every version, so the two readings of an old model disagree: refuse rather than
 * pick one. Explicit pads, VALID and NOTSET are unaffected.
 */
const convTransposeTo11: Adapter = (n) => {
  const autoPad = n.getString('auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    throw fail(n, `auto_pad ${autoPad} changed meaning at opset 11 (use explicit pads)`, 'attribute auto_pad');
  }
  return false;
};

const unsupportedStep = (what: string): Adapter => (n) => {
  throw fail(n, what);
};

const REDUCE_18 = ['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare'];
const LEGACY_BROADCAST_7 = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less'];

/** op -> version -> adapter for the step into that version. */
export const ADAPTERS: Readonly<Record<string, Readonly<Record<number, Adapter>>>> = Object.freeze({
  Softmax: { 13: coercedAxisTo13 },
  LogSoftmax: { 13: coercedAxisTo13 },
  Hardmax: { 13: coercedAxisTo13 },
  Slice: { 10: sliceTo10 },
  Squeeze: { 13: axesAttrToInput },
  Unsqueeze: { 13: axesAttrToInput },
  ReduceSum: { 13: axesAttrToInput },
  ...Object.fromEntries(REDUCE_18.map((op) => [op, { 18: axesAttrToInput }])),
  Split: { 2: splitTo2, 13: splitTo13, 18: splitTo18 },
  Pad: { 2: padTo2, 11: padTo11 },
  Clip: { 11: clipTo11 },
  Upsample: { 7: upsampleTo7, 9: upsampleTo9, 10: upsampleToResize10 },
  Resize: { 11: resizeTo11, 13: resizeTo13 },
  Scatter: { 11: scatterToScatterElements11 },
  BatchNormalization: { 7: dropIsTest, 9: batchNormTo9, 14: batchNormTo14 },
  Dropout: { 7: dropIsTest, 10: dropoutTo10, 12: dropoutTo12 },
  Cast: { 6: castTo6 },
  TopK: { 10: topkTo10 },
  Reshape: { 5: reshapeTo5 },
  Concat: { 4: concatTo4 },
  ...Object.fromEntries(LEGACY_BROADCAST_7.map((op) => [op, { 7: legacyBroadcastTo7 }])),
  Gemm: { 7: (n: Node) => dropAttrs(n, 'broadcast') },
  PRelu: { 7: preluTo7 },
  Selu: { 6: seluTo6 },
  GRU: { 7: dropOutputSequence },
  LSTM: { 7: dropOutputSequence },
  RNN: { 7: dropOutputSequence },
  GlobalLpPool: { 2: lpPoolTo2 },
  LpPool: { 2: lpPoolTo2 },
  RoiAlign: { 16: roiAlignTo16 },
  GridSample: { 20: gridSampleTo20 },
  DFT: { 20: dftTo20 },
  GroupNormalization: { 21: groupNormTo21 },
  ConvTranspose: { 11: convTransposeTo11 },
  Tile: { 6: unsupportedStep('Tile-1 (tiles, axis inputs) is not upgraded') },
  Scan: { 9: unsupportedStep('Scan-8 (batch axis, sequence_lens) is not upgraded') },
});
