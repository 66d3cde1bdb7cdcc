/**
 * The op schema table: the ONNX ops real models use plus the quantization ops, as data.
 *
 * Each op lists its signature versions keyed by `since` (the opset where the signature changed);
 * a later version states only what changed from the one before it. Ports are written
 * `name:T` (single), `name?:T` (optional), `name*:T` (variadic, one or more) or `name*0:T`
 * (variadic, zero or more); the type is a type variable of `types`, a dtype list like
 * `int64|int32`, or `any` (heterogeneous: each operand its own type). Attributes are written
 * `name:kind` and `name!:kind` when required.
 *
 * Signatures follow the ONNX operator changelog. Type sets are the union over the versions an
 * entry covers (a verifier should not reject what some covered version allows).
 */
import { ALL_DTYPES, isDType, type DType } from '../dtype.js';
import type { AttributeKind } from '../graph.js';
import type { AttributeSpec, InferFn, OpSchema, PortSpec } from './types.js';
import * as infer from './infer-ops.js';

const FLOAT: readonly DType[] = ['float16', 'float32', 'float64', 'bfloat16'];
const SIGNED_INT: readonly DType[] = ['int8', 'int16', 'int32', 'int64'];
const INT: readonly DType[] = [...SIGNED_INT, 'uint8', 'uint16', 'uint32', 'uint64'];
const NUMERIC: readonly DType[] = [...INT, ...FLOAT];
const SIGNED_NUMERIC: readonly DType[] = [...SIGNED_INT, ...FLOAT];
const ANY: readonly DType[] = ALL_DTYPES;
const INDEX: readonly DType[] = ['int32', 'int64'];
const QUANT: readonly DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32'];
const EIGHT_BIT: readonly DType[] = ['int8', 'uint8'];
const BOOL: readonly DType[] = ['bool'];

interface OpVersionText {
  inputs?: string;
  outputs?: string;
  attrs?: string;
  types?: Record<string, readonly DType[]>;
  infer?: InferFn;
}

function parsePorts(text: string): PortSpec[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => {
      const m = /^(\w+)(\?|\*0?)?:(.+)$/.exec(word);
      if (!m) throw new Error(`op schema: bad port "${word}"`);
      const [, name, mark, type] = m as unknown as [string, string, string | undefined, string];
      const arity = mark === '?' ? 'optional' : mark?.startsWith('*') ? 'variadic' : 'single';
      const min = mark === '*0' || mark === '?' ? 0 : 1;
      if (type === 'any') return { name, arity, min };
      const parts = type.split('|');
      if (parts.every(isDType)) return { name, arity, min, dtypes: parts as DType[] };
      return { name, arity, min, typeVar: type };
    });
}

function parseAttributes(text: string): Record<string, AttributeSpec> {
  const out: Record<string, AttributeSpec> = {};
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const m = /^(\w+)(!)?:(\w+)$/.exec(word);
    if (!m) throw new Error(`op schema: bad attribute "${word}"`);
    out[m[1]!] = { kind: m[3] as AttributeKind, required: m[2] === '!' };
  }
  return out;
}

function arity(ports: readonly PortSpec[]): [number, number] {
  let min = 0;
  let max = 0;
  for (const p of ports) {
    if (p.arity === 'single') min++;
    if (p.arity === 'variadic') min += p.min;
    max = p.arity === 'variadic' ? Infinity : max + 1;
  }
  return [min, max];
}

const table = new Map<string, OpSchema[]>();

/** Adds an op with its versions (`since` ascending; each version overrides fields of the previous). */
function op(name: string, versions: Record<number, OpVersionText>, domain = ''): void {
  const list: OpSchema[] = [];
  let acc: OpVersionText = {};
  for (const since of Object.keys(versions).map(Number).sort((a, b) => a - b)) {
    acc = { ...acc, ...versions[since] };
    const inputs = parsePorts(acc.inputs ?? '');
    const outputs = parsePorts(acc.outputs ?? '');
    const [minInputs, maxInputs] = arity(inputs);
    const [minOutputs, maxOutputs] = arity(outputs);
    const types = acc.types ?? {};
    for (const p of [...inputs, ...outputs]) {
      if (p.typeVar && !types[p.typeVar]) throw new Error(`op schema ${name}-${since}: type variable ${p.typeVar} has no constraint`);
    }
    list.push(
      Object.freeze({
        op: name,
        domain,
        since,
        inputs,
        outputs,
        minInputs,
        maxInputs,
        minOutputs,
        maxOutputs,
        attributes: parseAttributes(acc.attrs ?? ''),
        types,
        infer: acc.infer,
      }),
    );
  }
  table.set(`${domain}:${name}`, list);
}

// ---- elementwise ----

const UNARY_FLOAT = { inputs: 'X:T', outputs: 'Y:T', types: { T: FLOAT }, infer: infer.sameAsInput };
for (const name of ['Sigmoid', 'Tanh', 'Sqrt', 'Log', 'Exp']) op(name, { 6: UNARY_FLOAT });
op('Erf', { 9: { ...UNARY_FLOAT, types: { T: NUMERIC } } });
op('Relu', { 6: { ...UNARY_FLOAT, types: { T: SIGNED_NUMERIC } } });
op('Neg', { 6: { ...UNARY_FLOAT, types: { T: SIGNED_NUMERIC } } });
op('Abs', { 6: { ...UNARY_FLOAT, types: { T: NUMERIC } } });
op('HardSigmoid', { 6: { ...UNARY_FLOAT, attrs: 'alpha:float beta:float' } });
op('HardSwish', { 14: UNARY_FLOAT });
op('LeakyRelu', { 6: { ...UNARY_FLOAT, attrs: 'alpha:float' } });
op('PRelu', { 7: { inputs: 'X:T slope:T', outputs: 'Y:T', types: { T: NUMERIC }, infer: infer.sameAsInput } });
op('Not', { 1: { inputs: 'X:T', outputs: 'Y:T', types: { T: BOOL }, infer: infer.not } });
for (const name of ['Reciprocal', 'Floor', 'Ceil']) op(name, { 6: UNARY_FLOAT });
op('Round', { 11: UNARY_FLOAT });
for (const name of ['Sin', 'Cos']) op(name, { 7: UNARY_FLOAT });
op('Sign', { 9: { ...UNARY_FLOAT, types: { T: NUMERIC } } });
op('Softplus', { 1: UNARY_FLOAT });
op('Elu', { 6: { ...UNARY_FLOAT, attrs: 'alpha:float' } });
op('Selu', { 6: { ...UNARY_FLOAT, attrs: 'alpha:float gamma:float' } });
op('Mish', { 18: UNARY_FLOAT });
op('Gelu', { 20: { ...UNARY_FLOAT, attrs: 'approximate:string' } });
const VARIADIC_BROADCAST = { inputs: 'data_0*:T', outputs: 'result:T', types: { T: NUMERIC }, infer: infer.broadcastAll };
for (const name of ['Max', 'Min', 'Sum', 'Mean']) op(name, { 8: VARIADIC_BROADCAST });

const BINARY = { inputs: 'A:T B:T', outputs: 'C:T', types: { T: NUMERIC }, infer: infer.broadcastBinary };
for (const name of ['Add', 'Sub', 'Mul', 'Div']) op(name, { 7: BINARY });
op('Pow', { 7: { inputs: 'X:T Y:T1', outputs: 'Z:T', types: { T: NUMERIC, T1: NUMERIC }, infer: infer.broadcastBinary } });
const COMPARE = { inputs: 'A:T B:T', outputs: 'C:T1', types: { T: ANY, T1: BOOL }, infer: infer.broadcastCompare };
for (const name of ['Equal', 'Less', 'Greater']) op(name, { 7: COMPARE });
for (const name of ['And', 'Or']) op(name, { 7: { ...COMPARE, types: { T: BOOL, T1: BOOL } } });
op('Where', { 9: { inputs: 'condition:B X:T Y:T', outputs: 'output:T', types: { B: BOOL, T: ANY }, infer: infer.where } });
op('Clip', {
  6: { inputs: 'input:T', outputs: 'output:T', attrs: 'min:float max:float', types: { T: NUMERIC }, infer: infer.sameAsInput },
  11: { inputs: 'input:T min?:T max?:T', attrs: '' },
});

// ---- normalization and activations over axes ----

op('BatchNormalization', {
  7: {
    inputs: 'X:T scale:T B:T mean:T var:T',
    outputs: 'Y:T mean?:T var?:T saved_mean?:T saved_var?:T',
    attrs: 'epsilon:float momentum:float spatial:int',
    types: { T: FLOAT },
    infer: infer.batchNormalization,
  },
  9: { attrs: 'epsilon:float momentum:float' },
  14: {
    inputs: 'X:T scale:T1 B:T1 input_mean:T2 input_var:T2',
    outputs: 'Y:T running_mean?:T2 running_var?:T2',
    attrs: 'epsilon:float momentum:float training_mode:int',
    types: { T: FLOAT, T1: FLOAT, T2: FLOAT },
  },
});
op('LayerNormalization', {
  17: {
    inputs: 'X:T Scale:T B?:T',
    outputs: 'Y:T Mean?:U InvStdDev?:U',
    attrs: 'axis:int epsilon:float stash_type:int',
    types: { T: FLOAT, U: ['float32', 'bfloat16'] },
    infer: infer.layerNormalization,
  },
});
op('InstanceNormalization', {
  6: { inputs: 'input:T scale:T B:T', outputs: 'output:T', attrs: 'epsilon:float', types: { T: FLOAT }, infer: infer.sameAsInput },
});
const SOFTMAX = { inputs: 'input:T', outputs: 'output:T', attrs: 'axis:int', types: { T: FLOAT }, infer: infer.sameAsInput };
op('Softmax', { 1: SOFTMAX });
op('LogSoftmax', { 1: SOFTMAX });

// ---- convolution and pooling ----

const CONV_ATTRS = 'auto_pad:string dilations:ints group:int kernel_shape:ints pads:ints strides:ints';
op('Conv', { 1: { inputs: 'X:T W:T B?:T', outputs: 'Y:T', attrs: CONV_ATTRS, types: { T: FLOAT }, infer: infer.conv } });
op('ConvTranspose', {
  1: {
    inputs: 'X:T W:T B?:T',
    outputs: 'Y:T',
    attrs: `${CONV_ATTRS} output_padding:ints output_shape:ints`,
    types: { T: FLOAT },
    infer: infer.convTranspose,
  },
});
op('ConvInteger', {
  10: {
    inputs: 'x:T1 w:T2 x_zero_point?:T1 w_zero_point?:T2',
    outputs: 'y:T3',
    attrs: CONV_ATTRS,
    types: { T1: EIGHT_BIT, T2: EIGHT_BIT, T3: ['int32'] },
    infer: infer.convInteger,
  },
});
op('QLinearConv', {
  10: {
    inputs: 'x:T1 x_scale:S x_zero_point:T1 w:T2 w_scale:S w_zero_point:T2 y_scale:S y_zero_point:T3 B?:T4',
    outputs: 'y:T3',
    attrs: CONV_ATTRS,
    types: { T1: EIGHT_BIT, T2: EIGHT_BIT, T3: EIGHT_BIT, T4: ['int32'], S: ['float32'] },
    infer: infer.qlinearConv,
  },
});
const POOL_ATTRS = 'auto_pad:string kernel_shape!:ints pads:ints strides:ints';
op('AveragePool', {
  7: { inputs: 'X:T', outputs: 'Y:T', attrs: `${POOL_ATTRS} count_include_pad:int`, types: { T: FLOAT }, infer: infer.pool },
  10: { attrs: `${POOL_ATTRS} count_include_pad:int ceil_mode:int` },
  19: { attrs: `${POOL_ATTRS} count_include_pad:int ceil_mode:int dilations:ints` },
});
op('MaxPool', {
  8: {
    inputs: 'X:T',
    outputs: 'Y:T Indices?:I',
    attrs: `${POOL_ATTRS} storage_order:int`,
    types: { T: [...FLOAT, 'int8', 'uint8'], I: ['int64'] },
    infer: infer.pool,
  },
  10: { attrs: `${POOL_ATTRS} storage_order:int ceil_mode:int dilations:ints` },
});
op('GlobalAveragePool', { 1: { inputs: 'X:T', outputs: 'Y:T', types: { T: FLOAT }, infer: infer.globalPool } });
op('GlobalMaxPool', { 1: { inputs: 'X:T', outputs: 'Y:T', types: { T: FLOAT }, infer: infer.globalPool } });

// ---- resampling and padding ----

op('Upsample', {
  7: { inputs: 'X:T', outputs: 'Y:T', attrs: 'mode:string scales!:floats', types: { T: ANY }, infer: infer.resize },
  9: { inputs: 'X:T scales:float32', attrs: 'mode:string' },
});
const RESIZE_ATTRS =
  'coordinate_transformation_mode:string cubic_coeff_a:float exclude_outside:int extrapolation_value:float mode:string nearest_mode:string';
op('Resize', {
  10: { inputs: 'X:T scales:float32', outputs: 'Y:T', attrs: 'mode:string', types: { T: ANY }, infer: infer.resize },
  11: { inputs: 'X:T1 roi:T2 scales:float32 sizes?:int64', outputs: 'Y:T1', attrs: RESIZE_ATTRS, types: { T1: ANY, T2: FLOAT } },
  13: { inputs: 'X:T1 roi?:T2 scales?:float32 sizes?:int64' },
  18: { attrs: `${RESIZE_ATTRS} antialias:int axes:ints keep_aspect_ratio_policy:string` },
});
op('Pad', {
  2: { inputs: 'data:T', outputs: 'output:T', attrs: 'mode:string pads!:ints value:float', types: { T: ANY }, infer: infer.pad },
  11: { inputs: 'data:T pads:int64 constant_value?:T', attrs: 'mode:string' },
  18: { inputs: 'data:T pads:int64 constant_value?:T axes?:Tind', types: { T: ANY, Tind: INDEX } },
});

// ---- shape manipulation ----

op('Shape', {
  1: { inputs: 'data:T', outputs: 'shape:int64', types: { T: ANY }, infer: infer.shape },
  15: { attrs: 'end:int start:int' },
});
op('Size', { 1: { inputs: 'data:T', outputs: 'size:int64', types: { T: ANY }, infer: infer.size } });
op('Reshape', {
  1: { inputs: 'data:T', outputs: 'reshaped:T', attrs: 'shape:ints', types: { T: ANY }, infer: infer.reshape },
  5: { inputs: 'data:T shape:int64', attrs: '' },
  14: { attrs: 'allowzero:int' },
});
op('Flatten', { 1: { inputs: 'input:T', outputs: 'output:T', attrs: 'axis:int', types: { T: ANY }, infer: infer.flatten } });
op('Transpose', { 1: { inputs: 'data:T', outputs: 'transposed:T', attrs: 'perm:ints', types: { T: ANY }, infer: infer.transpose } });
op('Squeeze', {
  1: { inputs: 'data:T', outputs: 'squeezed:T', attrs: 'axes:ints', types: { T: ANY }, infer: infer.squeeze },
  13: { inputs: 'data:T axes?:int64', attrs: '' },
});
op('Unsqueeze', {
  1: { inputs: 'data:T', outputs: 'expanded:T', attrs: 'axes!:ints', types: { T: ANY }, infer: infer.unsqueeze },
  13: { inputs: 'data:T axes:int64', attrs: '' },
});
op('Concat', { 4: { inputs: 'inputs*:T', outputs: 'concat_result:T', attrs: 'axis!:int', types: { T: ANY }, infer: infer.concat } });
op('Split', {
  2: { inputs: 'input:T', outputs: 'outputs*:T', attrs: 'axis:int split:ints', types: { T: ANY }, infer: infer.split },
  13: { inputs: 'input:T split?:int64', attrs: 'axis:int' },
  18: { attrs: 'axis:int num_outputs:int' },
});
op('Slice', {
  1: { inputs: 'data:T', outputs: 'output:T', attrs: 'axes:ints ends!:ints starts!:ints', types: { T: ANY }, infer: infer.slice },
  10: { inputs: 'data:T starts:Tind ends:Tind axes?:Tind steps?:Tind', attrs: '', types: { T: ANY, Tind: INDEX } },
});
op('GatherElements', {
  11: { inputs: 'data:T indices:Tind', outputs: 'output:T', attrs: 'axis:int', types: { T: ANY, Tind: INDEX }, infer: infer.gatherElements },
});
op('ScatterND', {
  11: { inputs: 'data:T indices:int64 updates:T', outputs: 'output:T', types: { T: ANY }, infer: infer.sameAsInput },
  16: { attrs: 'reduction:string' },
});
op('DepthToSpace', {
  1: { inputs: 'input:T', outputs: 'output:T', attrs: 'blocksize!:int', types: { T: ANY }, infer: infer.depthToSpace },
  11: { attrs: 'blocksize!:int mode:string' },
});
op('SpaceToDepth', { 1: { inputs: 'input:T', outputs: 'output:T', attrs: 'blocksize!:int', types: { T: ANY }, infer: infer.spaceToDepth } });
op('Trilu', { 14: { inputs: 'input:T k?:int64', outputs: 'output:T', attrs: 'upper:int', types: { T: ANY }, infer: infer.sameAsInput } });
op('CumSum', {
  11: { inputs: 'x:T axis:T2', outputs: 'y:T', attrs: 'exclusive:int reverse:int', types: { T: NUMERIC, T2: INDEX }, infer: infer.sameAsInput },
});
op('NonZero', { 9: { inputs: 'X:T', outputs: 'Y:int64', types: { T: ANY }, infer: infer.nonZero } });
op('TopK', {
  1: { inputs: 'X:T', outputs: 'Values:T Indices:I', attrs: 'axis:int k!:int', types: { T: NUMERIC, I: ['int64'] }, infer: infer.topK },
  10: { inputs: 'X:T K:int64', attrs: 'axis:int' },
  11: { attrs: 'axis:int largest:int sorted:int' },
});
op('Gather', {
  1: { inputs: 'data:T indices:Tind', outputs: 'output:T', attrs: 'axis:int', types: { T: ANY, Tind: INDEX }, infer: infer.gather },
});
op('Expand', { 8: { inputs: 'input:T shape:int64', outputs: 'output:T', types: { T: ANY }, infer: infer.expand } });
op('Tile', { 6: { inputs: 'input:T repeats:int64', outputs: 'output:T', types: { T: ANY }, infer: infer.tile } });
op('Identity', { 1: { inputs: 'input:T', outputs: 'output:T', types: { T: ANY }, infer: infer.identity } });
op('Cast', {
  6: { inputs: 'input:T1', outputs: 'output:T2', attrs: 'to!:int', types: { T1: ANY, T2: ANY }, infer: infer.cast },
  19: { attrs: 'saturate:int to!:int' },
});
op('Dropout', {
  7: { inputs: 'data:T', outputs: 'output:T mask?:T', attrs: 'ratio:float', types: { T: FLOAT }, infer: infer.dropout },
  10: { outputs: 'output:T mask?:T1', types: { T: FLOAT, T1: BOOL } },
  12: { inputs: 'data:T ratio?:T1 training_mode?:T2', outputs: 'output:T mask?:T2', attrs: 'seed:int', types: { T: FLOAT, T1: FLOAT, T2: BOOL } },
});

// ---- constants and generators ----

op('Constant', {
  1: { outputs: 'output:T', attrs: 'value!:tensor', types: { T: ANY }, infer: infer.constant },
  11: { attrs: 'value:tensor sparse_value:opaque' },
  12: {
    attrs:
      'value:tensor sparse_value:opaque value_float:float value_floats:floats value_int:int value_ints:ints value_string:string value_strings:strings',
  },
});
op('ConstantOfShape', {
  9: { inputs: 'input:int64', outputs: 'output:T2', attrs: 'value:tensor', types: { T2: ANY }, infer: infer.constantOfShape },
});
op('Range', {
  11: { inputs: 'start:T limit:T delta:T', outputs: 'output:T', types: { T: [...SIGNED_INT, 'float32', 'float64'] }, infer: infer.range },
});

// ---- reductions and matrix products ----

const REDUCE_TYPES = { T: NUMERIC };
for (const name of ['ReduceMean', 'ReduceMax', 'ReduceMin']) {
  op(name, {
    1: { inputs: 'data:T', outputs: 'reduced:T', attrs: 'axes:ints keepdims:int', types: REDUCE_TYPES, infer: infer.reduce },
    18: { inputs: 'data:T axes?:int64', attrs: 'keepdims:int noop_with_empty_axes:int' },
  });
}
for (const name of ['ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare']) {
  op(name, {
    1: { inputs: 'data:T', outputs: 'reduced:T', attrs: 'axes:ints keepdims:int', types: REDUCE_TYPES, infer: infer.reduce },
    18: { inputs: 'data:T axes?:int64', attrs: 'keepdims:int noop_with_empty_axes:int' },
  });
}
op('ReduceSum', {
  1: { inputs: 'data:T', outputs: 'reduced:T', attrs: 'axes:ints keepdims:int', types: REDUCE_TYPES, infer: infer.reduce },
  13: { inputs: 'data:T axes?:int64', attrs: 'keepdims:int noop_with_empty_axes:int' },
});
op('ArgMax', {
  1: { inputs: 'data:T', outputs: 'reduced:int64', attrs: 'axis:int keepdims:int', types: { T: NUMERIC }, infer: infer.argReduce },
  12: { attrs: 'axis:int keepdims:int select_last_index:int' },
});
op('MatMul', { 1: { inputs: 'A:T B:T', outputs: 'Y:T', types: { T: NUMERIC }, infer: infer.matMul } });
op('MatMulInteger', {
  10: {
    inputs: 'A:T1 B:T2 a_zero_point?:T1 b_zero_point?:T2',
    outputs: 'Y:T3',
    types: { T1: EIGHT_BIT, T2: EIGHT_BIT, T3: ['int32'] },
    infer: infer.matMulInteger,
  },
});
op('QLinearMatMul', {
  10: {
    inputs: 'a:T1 a_scale:S a_zero_point:T1 b:T2 b_scale:S b_zero_point:T2 y_scale:S y_zero_point:T3',
    outputs: 'y:T3',
    types: { T1: EIGHT_BIT, T2: EIGHT_BIT, T3: EIGHT_BIT, S: FLOAT },
    infer: infer.qlinearMatMul,
  },
});
op('Gemm', {
  7: { inputs: 'A:T B:T C:T', outputs: 'Y:T', attrs: 'alpha:float beta:float transA:int transB:int', types: { T: NUMERIC }, infer: infer.gemm },
  11: { inputs: 'A:T B:T C?:T' },
});

// ---- quantization ----

op('QuantizeLinear', {
  10: { inputs: 'x:T1 y_scale:S y_zero_point?:T2', outputs: 'y:T2', types: { T1: ['float32', 'int32'], S: ['float32'], T2: EIGHT_BIT }, infer: infer.quantizeLinear },
  13: { attrs: 'axis:int' },
  // 19 and 21: x and y_scale share one type.
  19: { inputs: 'x:T1 y_scale:T1 y_zero_point?:T2', types: { T1: [...FLOAT, 'int32'], T2: QUANT }, attrs: 'axis:int saturate:int' },
  21: { attrs: 'axis:int block_size:int output_dtype:int saturate:int' },
  23: {
    inputs: 'x:T1 y_scale:S y_zero_point?:T2',
    types: { T1: [...FLOAT, 'int32'], S: [...FLOAT, 'int32'], T2: QUANT },
    attrs: 'axis:int block_size:int output_dtype:int precision:int saturate:int',
  },
});
op('DequantizeLinear', {
  10: { inputs: 'x:T x_scale:S x_zero_point?:T', outputs: 'y:S', types: { T: [...EIGHT_BIT, 'int32'], S: ['float32'] }, infer: infer.dequantizeLinear },
  13: { attrs: 'axis:int' },
  19: { types: { T: QUANT, S: FLOAT } },
  21: { attrs: 'axis:int block_size:int' },
  23: { outputs: 'y:U', types: { T: QUANT, S: FLOAT, U: FLOAT }, attrs: 'axis:int block_size:int output_dtype:int' },
});
op('DynamicQuantizeLinear', {
  11: { inputs: 'x:T1', outputs: 'y:T2 y_scale:float32 y_zero_point:T2', types: { T1: ['float32'], T2: ['uint8'] }, infer: infer.dynamicQuantizeLinear },
});

// ---- recurrent ----

const RNN_ATTRS = 'activation_alpha:floats activation_beta:floats activations:strings clip:float direction:string hidden_size:int';
op('LSTM', {
  7: {
    inputs: 'X:T W:T R:T B?:T sequence_lens?:T1 initial_h?:T initial_c?:T P?:T',
    outputs: 'Y?:T Y_h?:T Y_c?:T',
    attrs: `${RNN_ATTRS} input_forget:int`,
    types: { T: FLOAT, T1: ['int32'] },
    infer: infer.recurrent,
  },
  14: { attrs: `${RNN_ATTRS} input_forget:int layout:int` },
});
op('GRU', {
  7: {
    inputs: 'X:T W:T R:T B?:T sequence_lens?:T1 initial_h?:T',
    outputs: 'Y?:T Y_h?:T',
    attrs: `${RNN_ATTRS} linear_before_reset:int`,
    types: { T: FLOAT, T1: ['int32'] },
    infer: infer.recurrent,
  },
  14: { attrs: `${RNN_ATTRS} linear_before_reset:int layout:int` },
});

// ---- control flow ----

op('If', { 1: { inputs: 'cond:B', outputs: 'outputs*:any', attrs: 'else_branch!:graph then_branch!:graph', types: { B: BOOL }, infer: infer.ifBranches } });
op('Loop', { 1: { inputs: 'M?:int64 cond?:bool v_initial*0:any', outputs: 'v_final_and_scan_outputs*:any', attrs: 'body!:graph', infer: infer.loop } });
op('Scan', {
  9: {
    inputs: 'initial_state_and_scan_inputs*:any',
    outputs: 'final_state_and_scan_outputs*:any',
    attrs: 'body!:graph num_scan_inputs!:int scan_input_axes:ints scan_input_directions:ints scan_output_axes:ints scan_output_directions:ints',
    infer: infer.scan,
  },
});

/** The schema of `op` in effect at `opset` (the newest version with since <= opset), or undefined when unknown. */
export function getSchema(opName: string, domain: string, opset: number): OpSchema | undefined {
  const list = table.get(`${domain === 'ai.onnx' ? '' : domain}:${opName}`);
  if (!list) return undefined;
  let found: OpSchema | undefined;
  for (const s of list) if (s.since <= opset) found = s;
  return found;
}

/** Every op the table knows, as `op` for the default domain and `domain:op` otherwise, sorted. */
export function knownOps(): string[] {
  return [...table.keys()].map((k) => (k.startsWith(':') ? k.slice(1) : k)).sort();
}

/** Every schema version of every op (for tests and documentation). */
export function allSchemas(): OpSchema[] {
  return [...table.values()].flat();
}
