/**
 * TensorProto <-> `Tensor`.
 *
 * Reading accepts every ONNX data encoding: `raw_data` (little-endian), the typed fields
 * (`float_data`; `int32_data`, which also carries int8/uint8/int16/uint16/bool and the 16-bit
 * patterns of float16/bfloat16; `int64_data`; `double_data`; `uint64_data`, which also carries
 * uint32; `string_data`) and external data (`data_location = EXTERNAL`). Element counts are checked
 * against `MAX_TENSOR_ELEMENTS` and against the bytes actually present BEFORE anything is allocated,
 * so a corrupt dim cannot trigger a huge allocation. Data always lands in a private, aligned typed
 * array: no view into the model file survives the import.
 *
 * Writing always uses `raw_data` (strings: `string_data`). The raw payload is emitted as a separate
 * fragment (see `Piece`), so a weight is never copied into an intermediate protobuf buffer.
 *
 * slimc assumes a little-endian host (x86, Arm), where typed-array bytes are the ONNX raw bytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import {
  MAX_TENSOR_ELEMENTS,
  SlimcError,
  allocData,
  bytesOf,
  dataFromBytes,
  dtypeByteSize,
  dtypeFromOnnx,
  dtypeToOnnx,
  type DType,
  type ErrorContext,
  type Tensor,
  type TensorData,
  type TypedArray,
} from '@slimc/ir';
import { FIELD, type LongLike, type OnnxTypes, type Piece, fieldHeader, longToBigInt, longToNumber, onnx } from './proto.js';
import { MODEL_FILE_LOCATION } from './skeleton.js';

const EXTERNAL = 1;
const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

export function utf8(bytes: Uint8Array | null | undefined): string {
  return bytes && bytes.length ? utf8Decoder.decode(bytes) : '';
}

export function utf8Bytes(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** `Object.hasOwn` for protobufjs messages, whose absent scalar fields come from the prototype. */
export function hasField(msg: object, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(msg, field);
}

function invalid(detail: string, where: ErrorContext): SlimcError {
  return new SlimcError('invalid-model', detail, where);
}

/** Shape from TensorProto dims, validated, with the element count checked against the allocation limit. */
export function checkedShape(dims: readonly LongLike[] | null | undefined, where: ErrorContext): { shape: number[]; size: number } {
  const shape: number[] = [];
  let size = 1;
  for (const d of dims ?? []) {
    const n = longToNumber(d);
    if (!Number.isSafeInteger(n) || n < 0) throw invalid(`dims [${(dims ?? []).map(longToNumber).join(',')}]: dim ${n} is not a valid size`, where);
    shape.push(n);
    size *= n;
  }
  if (size > MAX_TENSOR_ELEMENTS) {
    throw invalid(`dims [${shape.join(',')}] describe ${size} elements, more than the limit of ${MAX_TENSOR_ELEMENTS}`, where);
  }
  return { shape, size };
}

/**
 * Reads external tensor data for one import: one open file per location, read per tensor with
 * `readSync` (the side file is never loaded whole). Paths must stay inside `baseDir`.
 */
export class ExternalDataReader {
  private readonly files = new Map<string, { fd: number; size: number }>();

  /**
   * `modelFile`: the path that `MODEL_FILE_LOCATION` stands for, when the ModelProto is a
   * skeleton whose large payloads stayed in the model file (see skeleton.ts).
   */
  constructor(
    private readonly baseDir: string | undefined,
    private readonly modelFile?: string,
  ) {}

  read(tp: OnnxTypes.ITensorProto, dtype: DType, size: number, where: ErrorContext): TypedArray {
    const entries = new Map<string, string>();
    for (const e of tp.externalData ?? []) entries.set(e.key ?? '', e.value ?? '');
    const location = entries.get('location');
    if (!location) throw invalid('external data has no location', { ...where, field: fieldOf(where, 'external_data') });
    const offset = parseExternalInt(entries.get('offset') ?? '0', 'offset', where);
    const wanted = size * dtypeByteSize(dtype);
    const length = entries.has('length') ? parseExternalInt(entries.get('length')!, 'length', where) : wanted;
    if (length !== wanted) {
      throw invalid(`external data length ${length} does not match dims (${size} elements of ${dtype} = ${wanted} bytes)`, {
        ...where,
        field: fieldOf(where, 'external_data length'),
      });
    }
    const file = this.open(location, where);
    if (offset + length > file.size) {
      throw invalid(`external data [${offset}, ${offset + length}) lies beyond the end of "${location}" (${file.size} bytes)`, {
        ...where,
        field: fieldOf(where, 'external_data offset'),
      });
    }
    const data = allocData(dtype, size) as TypedArray;
    const target = bytesOf(data);
    let done = 0;
    while (done < length) {
      const n = readSync(file.fd, target, done, length - done, offset + done);
      if (n <= 0) throw invalid(`external data file "${location}" ended early`, where);
      done += n;
    }
    return data;
  }

  close(): void {
    for (const f of this.files.values()) closeSync(f.fd);
    this.files.clear();
  }

  private open(location: string, where: ErrorContext): { fd: number; size: number } {
    const cached = this.files.get(location);
    if (cached) return cached;
    const field = fieldOf(where, 'external_data location');
    if (location === MODEL_FILE_LOCATION && this.modelFile !== undefined) return this.openFile(location, this.modelFile, { ...where, field });
    if (this.baseDir === undefined) throw invalid(`external data "${location}" needs the model's directory (baseDir)`, { ...where, field });
    const base = resolve(this.baseDir);
    const path = resolve(base, location);
    const rel = relative(base, path);
    if (isAbsolute(location) || rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw invalid(`external data path "${location}" escapes the model directory`, { ...where, field });
    }
    return this.openFile(location, path, { ...where, field });
  }

  private openFile(location: string, path: string, where: ErrorContext): { fd: number; size: number } {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new SlimcError('invalid-model', `cannot open external data "${location}": ${(e as Error).message}`, where, { cause: e });
    }
    const file = { fd, size: fstatSync(fd).size };
    this.files.set(location, file);
    return file;
  }
}

function fieldOf(where: ErrorContext, sub: string): string {
  return where.field ? `${where.field} ${sub}` : sub;
}

function parseExternalInt(s: string, key: string, where: ErrorContext): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) throw invalid(`external data ${key} "${s}" is not a byte count`, { ...where, field: fieldOf(where, `external_data ${key}`) });
  return n;
}

/** Decodes a TensorProto. `where` names the tensor in errors (field such as `initializer "w"`). */
export function tensorFromProto(tp: OnnxTypes.ITensorProto, where: ErrorContext, external?: ExternalDataReader): Tensor {
  const code = tp.dataType ?? 0;
  const dtype = dtypeFromOnnx(code);
  if (!dtype) {
    if (code > 0 && code <= 23) throw new SlimcError('unsupported', `tensor data type ${code} is not supported`, { ...where, field: fieldOf(where, 'data_type') });
    throw invalid(`tensor data type ${code} is not a valid ONNX data type`, { ...where, field: fieldOf(where, 'data_type') });
  }
  if (tp.segment) throw new SlimcError('unsupported', 'segmented tensors are not supported', { ...where, field: fieldOf(where, 'segment') });
  const { shape, size } = checkedShape(tp.dims, { ...where, field: fieldOf(where, 'dims') });
  let data: TensorData;
  if (tp.dataLocation === EXTERNAL) {
    if (dtype === 'string') throw invalid('string tensors cannot use external data', { ...where, field: fieldOf(where, 'data_location') });
    if (!external) throw invalid('external data is not allowed here', { ...where, field: fieldOf(where, 'data_location') });
    data = external.read(tp, dtype, size, where);
  } else if (tp.rawData && tp.rawData.length > 0 && dtype !== 'string') {
    const expected = size * dtypeByteSize(dtype);
    if (tp.rawData.length !== expected) {
      throw invalid(`raw_data has ${tp.rawData.length} bytes, dims [${shape.join(',')}] of ${dtype} need ${expected}`, {
        ...where,
        field: fieldOf(where, 'raw_data'),
      });
    }
    data = dataFromBytes(dtype, tp.rawData, size, true);
  } else {
    data = typedFieldData(tp, dtype, size, shape, where);
  }
  return { dtype, shape, data };
}

function typedFieldData(tp: OnnxTypes.ITensorProto, dtype: DType, size: number, shape: number[], where: ErrorContext): TensorData {
  const check = (field: string, got: number) => {
    if (got !== size) throw invalid(`${field} has ${got} elements, dims [${shape.join(',')}] need ${size}`, { ...where, field: fieldOf(where, field) });
  };
  switch (dtype) {
    case 'float32': {
      const src = tp.floatData ?? [];
      check('float_data', src.length);
      return Float32Array.from(src);
    }
    case 'float64': {
      const src = tp.doubleData ?? [];
      check('double_data', src.length);
      return Float64Array.from(src);
    }
    case 'int32':
    case 'int16':
    case 'int8':
    case 'uint16':
    case 'uint8':
    case 'bool':
    case 'float16':
    case 'bfloat16': {
      const src = tp.int32Data ?? [];
      check('int32_data', src.length);
      // Narrower types are stored widened; typed-array assignment keeps the low bits, which for
      // float16/bfloat16 are the 16-bit patterns.
      const out = allocData(dtype, size) as Exclude<TypedArray, BigInt64Array | BigUint64Array>;
      for (let i = 0; i < size; i++) out[i] = src[i]!;
      return out;
    }
    case 'int64': {
      const src = tp.int64Data ?? [];
      check('int64_data', src.length);
      const out = new BigInt64Array(size);
      for (let i = 0; i < size; i++) out[i] = longToBigInt(src[i]! as LongLike);
      return out;
    }
    case 'uint32': {
      const src = tp.uint64Data ?? [];
      check('uint64_data', src.length);
      const out = new Uint32Array(size);
      for (let i = 0; i < size; i++) out[i] = longToNumber(src[i]! as LongLike);
      return out;
    }
    case 'uint64': {
      const src = tp.uint64Data ?? [];
      check('uint64_data', src.length);
      const out = new BigUint64Array(size);
      for (let i = 0; i < size; i++) out[i] = longToBigInt(src[i]! as LongLike, true);
      return out;
    }
    case 'string': {
      const src = tp.stringData ?? [];
      check('string_data', src.length);
      return src.map(utf8);
    }
  }
}

/** Where a tensor's bytes live when written to an external data file. */
export interface ExternalRef {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** The TensorProto without its payload: name, dims, type, doc string, and for strings the string data. */
export function tensorProtoHeader(t: Tensor, name: string, external?: ExternalRef, docString?: string): OnnxTypes.ITensorProto {
  const tp: OnnxTypes.ITensorProto = { dims: [...t.shape], dataType: dtypeToOnnx(t.dtype) };
  if (name) tp.name = name;
  if (docString !== undefined) tp.docString = docString;
  if (t.dtype === 'string') tp.stringData = (t.data as string[]).map(utf8Bytes);
  if (external) {
    tp.dataLocation = EXTERNAL;
    tp.externalData = [
      { key: 'location', value: external.location },
      { key: 'offset', value: String(external.offset) },
      { key: 'length', value: String(external.length) },
    ];
  }
  return tp;
}

/** Raw little-endian bytes of a tensor (a view of its data, no copy). */
export function tensorPayload(t: Tensor): Uint8Array {
  if (t.dtype === 'string') throw new Error('tensorPayload: string tensors have no raw encoding');
  return bytesOf(t.data as TypedArray);
}

/** A TensorProto as field `field` of its parent message, with the payload as a separate fragment. */
export function tensorPiece(field: number, t: Tensor, name: string, external?: ExternalRef, docString?: string): Piece {
  const head = onnx.TensorProto.encode(tensorProtoHeader(t, name, external, docString)).finish();
  if (external || t.dtype === 'string') return { field, parts: [head] };
  const payload = tensorPayload(t);
  return { field, parts: [head, fieldHeader(FIELD.tensorRawData, payload.byteLength), payload] };
}

/** Reads a serialized TensorProto (a `.pb` file as written by onnx.numpy_helper). */
export function readTensorProto(bytes: Uint8Array, source?: string): { name: string; tensor: Tensor } {
  let tp: OnnxTypes.TensorProto;
  try {
    tp = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new SlimcError('invalid-model', `not a valid TensorProto: ${(e as Error).message}`, { model: source }, { cause: e });
  }
  const name = tp.name ?? '';
  return { name, tensor: tensorFromProto(tp, { model: source, field: name ? `tensor "${name}"` : 'tensor' }) };
}

/** Serializes a tensor as a TensorProto with raw_data (string_data for strings). */
export function writeTensorProto(tensor: Tensor, name: string): Uint8Array {
  const tp = tensorProtoHeader(tensor, name);
  if (tensor.dtype !== 'string') tp.rawData = tensorPayload(tensor);
  return onnx.TensorProto.encode(tp).finish();
}
