import { describe, expect, test } from 'vitest';
import { allSchemas, getSchema, knownOps } from './table.js';

describe('op schema table', () => {
  test('covers the ops real models and quantization use', () => {
    const required =
      'Conv ConvTranspose BatchNormalization Mul Add Sub Div Pow Sqrt Clip Relu HardSigmoid HardSwish Sigmoid Tanh GlobalAveragePool AveragePool MaxPool Resize Upsample Concat Shape Cast Slice Reshape Transpose ReduceMean ReduceSum ReduceMax ReduceMin MatMul Gemm Squeeze Unsqueeze Softmax LogSoftmax Gather Equal Less Greater Not And Or Where If Loop Scan Pad Identity Dropout Log Exp Neg Abs Erf ConstantOfShape Constant LSTM GRU Size Split Expand Flatten Tile Range ArgMax LeakyRelu PRelu LayerNormalization QuantizeLinear DequantizeLinear DynamicQuantizeLinear QLinearConv QLinearMatMul MatMulInteger ConvInteger'.split(' ');
    const known = new Set(knownOps());
    expect(required.filter((op) => !known.has(op))).toEqual([]);
  });

  test('picks the version in force at an opset', () => {
    expect(getSchema('Clip', '', 9)!.since).toBe(6);
    expect(Object.keys(getSchema('Clip', '', 9)!.attributes).sort()).toEqual(['max', 'min']);
    expect(getSchema('Clip', '', 13)!.since).toBe(11);
    expect(getSchema('Clip', '', 13)!.maxInputs).toBe(3);
    expect(getSchema('Slice', 'ai.onnx', 9)!.attributes.starts).toEqual({ kind: 'ints', required: true });
    expect(getSchema('Slice', '', 10)!.minInputs).toBe(3);
    expect(getSchema('Unsqueeze', '', 13)!.minInputs).toBe(2);
    expect(getSchema('Squeeze', '', 13)!.minInputs).toBe(1);
    expect(getSchema('ReduceMean', '', 17)!.attributes.axes).toBeDefined();
    expect(getSchema('ReduceMean', '', 18)!.attributes.axes).toBeUndefined();
    expect(getSchema('Split', '', 18)!.attributes.num_outputs).toEqual({ kind: 'int', required: false });
  });

  test('unknown ops, other domains and opsets before the first version have no schema', () => {
    expect(getSchema('FancyOp', '', 17)).toBeUndefined();
    expect(getSchema('Conv', 'com.microsoft', 1)).toBeUndefined();
    expect(getSchema('HardSwish', '', 13)).toBeUndefined();
  });

  test('arity follows the ports: optional and variadic', () => {
    const lstm = getSchema('LSTM', '', 14)!;
    expect([lstm.minInputs, lstm.maxInputs, lstm.minOutputs, lstm.maxOutputs]).toEqual([3, 8, 0, 3]);
    const concat = getSchema('Concat', '', 13)!;
    expect([concat.minInputs, concat.maxInputs]).toEqual([1, Infinity]);
    const loop = getSchema('Loop', '', 16)!;
    expect([loop.minInputs, loop.maxInputs, loop.minOutputs]).toEqual([0, Infinity, 1]);
  });

  test('type variables are shared and constrained', () => {
    const add = getSchema('Add', '', 14)!;
    expect(add.inputs.map((p) => p.typeVar)).toEqual(['T', 'T']);
    expect(add.types.T).toContain('int64');
    expect(add.types.T).not.toContain('bool');
    const q = getSchema('QuantizeLinear', '', 13)!;
    expect(q.inputs[2]!.typeVar).toBe(q.outputs[0]!.typeVar);
    expect(q.types[q.outputs[0]!.typeVar!]).toEqual(['int8', 'uint8']);
    expect(getSchema('Shape', '', 15)!.outputs[0]!.dtypes).toEqual(['int64']);
    // QuantizeLinear-19/21 tie x and y_scale to one type; 23 separates them.
    expect(getSchema('QuantizeLinear', '', 21)!.inputs.map((p) => p.typeVar)).toEqual(['T1', 'T1', 'T2']);
    expect(getSchema('QuantizeLinear', '', 23)!.inputs.map((p) => p.typeVar)).toEqual(['T1', 'S', 'T2']);
    expect(getSchema('DequantizeLinear', '', 23)!.attributes.output_dtype).toEqual({ kind: 'int', required: false });
  });

  test('every schema version is well formed', () => {
    for (const s of allSchemas()) {
      for (const p of [...s.inputs, ...s.outputs]) if (p.typeVar) expect(s.types[p.typeVar], `${s.op}-${s.since} ${p.name}`).toBeDefined();
      expect(s.minInputs).toBeLessThanOrEqual(s.maxInputs);
      expect(s.minOutputs).toBeLessThanOrEqual(s.maxOutputs);
    }
  });
});
