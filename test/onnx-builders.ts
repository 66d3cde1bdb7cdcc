/**
 * Small builders of ONNX protobuf messages for tests: they write ModelProto bytes the way other
 * exporters would (typed fields, unsorted nodes, old IR versions), independently of `encodeOnnx`.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const onnx = onnxProto.onnx;

export const FLOAT = 1;
export const INT64 = 7;

export function tensorType(elemType: number, dims?: (number | string | null)[]): OnnxTypes.ITypeProto {
  const t: OnnxTypes.TypeProto.ITensor = { elemType };
  if (dims) t.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) };
  return { tensorType: t };
}

export function valueInfo(name: string, type?: OnnxTypes.ITypeProto): OnnxTypes.IValueInfoProto {
  return type ? { name, type } : { name };
}

export function floatInit(name: string, dims: number[], values: number[]): OnnxTypes.ITensorProto {
  return { name, dims, dataType: FLOAT, floatData: values };
}

export function node(op: string, input: string[], output: string[], extra: Partial<OnnxTypes.INodeProto> = {}): OnnxTypes.INodeProto {
  return { opType: op, input, output, ...extra };
}

export interface ModelSpec {
  nodes: OnnxTypes.INodeProto[];
  inputs?: OnnxTypes.IValueInfoProto[];
  outputs?: OnnxTypes.IValueInfoProto[];
  initializers?: OnnxTypes.ITensorProto[];
  valueInfo?: OnnxTypes.IValueInfoProto[];
  opsets?: [string, number][];
  irVersion?: number;
  model?: Partial<OnnxTypes.IModelProto>;
}

export function modelProto(spec: ModelSpec): OnnxTypes.IModelProto {
  return {
    irVersion: spec.irVersion ?? 8,
    opsetImport: (spec.opsets ?? [['', 17]]).map(([domain, version]) => ({ domain, version })),
    producerName: 'test',
    graph: {
      name: 'g',
      node: spec.nodes,
      input: spec.inputs ?? [],
      output: spec.outputs ?? [],
      initializer: spec.initializers ?? [],
      valueInfo: spec.valueInfo ?? [],
    },
    ...spec.model,
  };
}

export function modelBytes(spec: ModelSpec): Uint8Array {
  return onnx.ModelProto.encode(modelProto(spec)).finish();
}

/** x[2,3] -> Relu -> Add(w) -> y: a minimal valid model. */
export function tinyModel(): ModelSpec {
  return {
    inputs: [valueInfo('x', tensorType(FLOAT, ['N', 3]))],
    outputs: [valueInfo('y', tensorType(FLOAT, ['N', 3]))],
    initializers: [floatInit('w', [3], [1, 2, 3])],
    nodes: [node('Relu', ['x'], ['r'], { name: 'relu' }), node('Add', ['r', 'w'], ['y'], { name: 'add' })],
  };
}
