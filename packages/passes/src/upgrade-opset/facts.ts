/**
 * What the opset upgrade needs to know about values that carry no type: their element type (Clip
 * and Pad bounds become tensors of the input's type) and their rank (a Softmax whose axis is the
 * last one needs no reshaping). Both are read from declared types where present, else derived
 * from producers through a small table of ops whose result type or rank follows from their
 * operands. Unknown stays unknown (undefined): callers fall back to a rank-free rewrite or raise
 * an error, never guess.
 */
import { dtypeFromOnnx, type DType, type Node, type Value } from '@slimc/ir';

/** Results already derived, per value (null: being derived or underivable). */
export type Memo<T> = Map<Value, T | null>;

function memoized<T>(v: Value, memo: Memo<T>, derive: () => T | undefined): T | undefined {
  if (memo.has(v)) return memo.get(v) ?? undefined;
  memo.set(v, null); // a value reached again while deriving it would be a cycle: unknown
  const r = derive();
  memo.set(v, r ?? null);
  return r;
}

/** Ops whose output 0 has the element type of input 0. */
const SAME_TYPE_AS_INPUT0 = new Set([
  'Abs', 'Acos', 'Acosh', 'Add', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'BatchNormalization', 'Ceil', 'Celu',
  'Clip', 'Concat', 'Conv', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'Div', 'Dropout', 'Elu', 'Erf',
  'Exp', 'Expand', 'Flatten', 'Floor', 'GRU', 'Gather', 'GatherElements', 'GatherND', 'Gelu', 'Gemm',
  'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'GroupNormalization', 'HardSigmoid', 'HardSwish', 'Hardmax',
  'Identity', 'InstanceNormalization', 'LRN', 'LSTM', 'LayerNormalization', 'LeakyRelu', 'Log', 'LogSoftmax',
  'LpNormalization', 'LpPool', 'MatMul', 'Max', 'MaxPool', 'MaxUnpool', 'Mean', 'MeanVarianceNormalization', 'Min',
  'Mish', 'Mod', 'Mul', 'Neg', 'PRelu', 'Pad', 'Pow', 'RNN', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum',
  'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare', 'Relu',
  'Reshape', 'Resize', 'ReverseSequence', 'Round', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Slice',
  'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tan', 'Tanh',
  'ThresholdedRelu', 'Tile', 'TopK', 'Transpose', 'Trilu', 'Unsqueeze', 'Upsample', 'Compress', 'ScatterElements',
  'ScatterND', 'Scatter', 'CenterCropPad', 'Col2Im', 'DeformConv', 'Range',
]);
const INT64_RESULT = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);
const BOOL_RESULT = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);

/** Element type of `v`, or undefined when neither declared nor derivable. */
export function elementTypeOf(v: Value, memo: Memo<DType> = new Map()): DType | undefined {
  if (v.type) return v.type.dtype;
  if (v.constant) return v.constant.dtype;
  return memoized(v, memo, () => derivedElementType(v, memo));
}

function derivedElementType(v: Value, memo: Memo<DType>): DType | undefined {
  const p = v.producer;
  if (!p || (p.domain !== '' && p.domain !== 'ai.onnx')) return undefined;
  const index = v.producerIndex;
  if (p.op === 'Constant') return constantNodeType(p);
  if (p.op === 'Cast') return dtypeFromOnnx(p.getInt('to') ?? -1);
  if (p.op === 'CastLike') return operandType(p, 1, memo);
  if (p.op === 'ConstantOfShape') return p.getTensor('value')?.dtype ?? 'float32';
  if (INT64_RESULT.has(p.op)) return 'int64';
  if (BOOL_RESULT.has(p.op)) return 'bool';
  if ((p.op === 'TopK' || p.op === 'MaxPool') && index === 1) return 'int64';
  if (p.op === 'Dropout' && index === 1) return undefined; // T before opset 10, bool after
  if (p.op === 'Where') return operandType(p, 1, memo);
  if (p.op === 'DequantizeLinear') return operandType(p, 1, memo);
  if (SAME_TYPE_AS_INPUT0.has(p.op)) return operandType(p, 0, memo);
  return undefined;
}

function operandType(n: Node, i: number, memo: Memo<DType>): DType | undefined {
  const v = n.input(i);
  return v ? elementTypeOf(v, memo) : undefined;
}

function constantNodeType(n: Node): DType | undefined {
  const t = n.getTensor('value');
  if (t) return t.dtype;
  if (n.attr('value_float') || n.attr('value_floats')) return 'float32';
  if (n.attr('value_int') || n.attr('value_ints')) return 'int64';
  if (n.attr('value_string') || n.attr('value_strings')) return 'string';
  return undefined;
}

/** Ops whose output 0 has the rank of input 0. */
const SAME_RANK_AS_INPUT0 = new Set([
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'BatchNormalization', 'Cast', 'CastLike',
  'Ceil', 'Celu', 'Clip', 'Conv', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'Dropout', 'Elu', 'Erf',
  'Exp', 'Floor', 'Gelu', 'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'GroupNormalization', 'HardSigmoid',
  'HardSwish', 'Hardmax', 'Identity', 'InstanceNormalization', 'IsInf', 'IsNaN', 'LRN', 'LayerNormalization',
  'LeakyRelu', 'Log', 'LogSoftmax', 'LpNormalization', 'LpPool', 'MaxPool', 'MeanVarianceNormalization', 'Mish', 'Neg',
  'Not', 'Pad', 'Reciprocal', 'Relu', 'Resize', 'Round', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Slice',
  'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Tan', 'Tanh', 'ThresholdedRelu', 'Tile', 'TopK',
  'Trilu', 'Upsample', 'QuantizeLinear', 'DequantizeLinear',
]);
/** Ops with numpy broadcasting over all inputs: the output rank is the largest input rank. */
const BROADCAST_RANK = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Max', 'Min', 'Sum', 'Mean', 'Equal', 'Greater', 'Less', 'GreaterOrEqual',
  'LessOrEqual', 'And', 'Or', 'Xor', 'Where', 'PRelu', 'BitShift',
]);
const REDUCE_OPS = new Set([
  'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd',
  'ReduceSum', 'ReduceSumSquare',
]);

/** Rank of `v`, or undefined when neither declared nor derivable. */
export function rankOf(v: Value, memo: Memo<number> = new Map()): number | undefined {
  if (v.type?.shape) return v.type.shape.length;
  if (v.constant) return v.constant.shape.length;
  return memoized(v, memo, () => derivedRank(v, memo));
}

function derivedRank(v: Value, memo: Memo<number>): number | undefined {
  const p = v.producer;
  if (!p || (p.domain !== '' && p.domain !== 'ai.onnx')) return undefined;
  const rank = (i: number): number | undefined => {
    const x = p.input(i);
    return x ? rankOf(x, memo) : undefined;
  };
  if (SAME_RANK_AS_INPUT0.has(p.op)) return v.producerIndex === 0 || p.op === 'Split' || p.op === 'TopK' || p.op === 'MaxPool' ? rank(0) : undefined;
  if (BROADCAST_RANK.has(p.op)) {
    let r = 0;
    for (let i = 0; i < p.inputs.length; i++) {
      const ri = rank(i);
      if (ri === undefined) return undefined;
      r = Math.max(r, ri);
    }
    return r;
  }
  switch (p.op) {
    case 'Constant':
      return p.getTensor('value')?.shape.length;
    case 'Shape':
      return 1;
    case 'Size':
      return 0;
    case 'Flatten':
    case 'Gemm':
      return 2;
    case 'Concat': {
      for (let i = 0; i < p.inputs.length; i++) {
        const ri = rank(i);
        if (ri !== undefined) return ri;
      }
      return undefined;
    }
    case 'Transpose':
      return p.getInts('perm')?.length ?? rank(0);
    case 'MatMul': {
      const a = rank(0);
      const b = rank(1);
      if (a === undefined || b === undefined) return undefined;
      if (a === 1 && b === 1) return 0;
      if (a === 1) return b - 1;
      if (b === 1) return a - 1;
      return Math.max(a, b);
    }
    case 'Reshape': {
      const attrShape = p.getInts('shape');
      if (attrShape) return attrShape.length;
      const s = p.input(1);
      return s ? vectorLengthOf(s, memo) : undefined;
    }
    case 'Expand': {
      const a = rank(0);
      const s = p.input(1);
      const b = s ? vectorLengthOf(s, memo) : undefined;
      return a === undefined || b === undefined ? undefined : Math.max(a, b);
    }
    case 'Unsqueeze': {
      const r = rank(0);
      const axes = axesOf(p);
      return r === undefined || !axes ? undefined : r + axes.length;
    }
    case 'Squeeze': {
      const r = rank(0);
      const axes = axesOf(p);
      return r === undefined || !axes ? undefined : r - axes.length;
    }
    case 'Gather': {
      const r = rank(0);
      const q = rank(1);
      return r === undefined || q === undefined ? undefined : r + q - 1;
    }
    case 'ArgMax':
    case 'ArgMin': {
      const r = rank(0);
      return r === undefined ? undefined : p.getInt('keepdims', 1) ? r : r - 1;
    }
  }
  if (REDUCE_OPS.has(p.op)) {
    const r = rank(0);
    if (r === undefined) return undefined;
    if (p.getInt('keepdims', 1)) return r;
    const axes = axesOf(p);
    if (!axes) return undefined;
    // No axes (and noop_with_empty_axes unset) reduces every axis.
    if (axes.length === 0) return p.getInt('noop_with_empty_axes', 0) ? r : 0;
    return r - axes.length;
  }
  return undefined;
}

/** Axes of a Squeeze/Unsqueeze/Reduce node from its attribute or constant input 1; [] when given by neither. */
function axesOf(n: Node): readonly number[] | undefined {
  const attr = n.getInts('axes');
  if (attr) return attr;
  const input = n.input(1);
  return input ? constantInts(input) : [];
}

/** Length of a 1-D value (a shape vector), when known. */
function vectorLengthOf(v: Value, memo: Memo<number>): number | undefined {
  const shape = v.type?.shape ?? v.constant?.shape;
  if (shape) return shape.length === 1 && typeof shape[0] === 'number' ? shape[0] : undefined;
  const p = v.producer;
  if (!p) return undefined;
  switch (p.op) {
    case 'Constant': {
      const t = p.getTensor('value');
      return t && t.shape.length === 1 ? t.shape[0] : p.getInts('value_ints')?.length;
    }
    case 'Shape': {
      const x = p.input(0);
      const r = x ? rankOf(x, memo) : undefined;
      if (r === undefined) return undefined;
      const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + r : i, 0), r);
      return Math.max(0, clamp(p.getInt('end', r)) - clamp(p.getInt('start', 0)));
    }
    case 'Cast':
    case 'Identity': {
      const x = p.input(0);
      return x ? vectorLengthOf(x, memo) : undefined;
    }
    case 'Concat': {
      let total = 0;
      for (const x of p.inputs) {
        const len = x ? vectorLengthOf(x, memo) : undefined;
        if (len === undefined) return undefined;
        total += len;
      }
      return total;
    }
    case 'Unsqueeze': {
      const x = p.input(0);
      return x && rankOf(x, memo) === 0 && axesOf(p)?.length === 1 ? 1 : undefined;
    }
    case 'Slice': {
      // A slice of a shape vector (Slice-1 attributes or Slice-10 constant inputs, step 1).
      const x = p.input(0);
      const length = x ? vectorLengthOf(x, memo) : undefined;
      const starts = p.getInts('starts') ?? constantInts(p.input(1));
      const ends = p.getInts('ends') ?? constantInts(p.input(2));
      const steps = constantInts(p.input(4));
      if (length === undefined || starts?.length !== 1 || ends?.length !== 1 || (steps && steps[0] !== 1)) return undefined;
      const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + length : i, 0), length);
      return Math.max(0, clamp(ends[0]!) - clamp(starts[0]!));
    }
  }
  return undefined;
}

function constantInts(v: Value | null): number[] | undefined {
  const t = v?.constant ?? (v?.producer?.op === 'Constant' ? v.producer.getTensor('value') : undefined);
  return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
}
