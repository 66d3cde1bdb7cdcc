/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0) <-> `Tensor`.
 *
 * Layout: magic `\x93NUMPY`, major and minor version bytes, the header length (uint16 LE in v1,
 * uint32 LE in v2/v3), then a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a final
 * newline so the data starts on a 64-byte boundary, then the elements.
 *
 * Writing produces little-endian C-order data in v1 (v2 only if the header outgrows 64 KiB).
 * Reading also accepts big-endian descriptors (byte-swapped) and Fortran order (reordered to C).
 * Element types: the numeric and bool descriptors; strings as `<U{n}` (UTF-32, written) or `|S{n}`
 * (bytes, read as UTF-8). NumPy has no bfloat16: it is written as the 2-byte void type `<V2`, and
 * `V2` is read back as bfloat16. Object arrays (pickles) are refused.
 */
import {
  MAX_TENSOR_ELEMENTS,
  SlimcError,
  type DType,
  type Tensor,
  type TypedArray,
  bytesOf,
  dataFromBytes,
  dtypeByteSize,
} from '@slimc/ir';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGNMENT = 64;

const DESCR: Record<Exclude<DType, 'string'>, string> = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  bfloat16: '<V2',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  bool: '|b1',
};
/** kind+size (without byte order) -> dtype. */
const FROM_DESCR = new Map<string, DType>(Object.entries(DESCR).map(([d, s]) => [s.slice(1), d as DType]));

function invalid(detail: string, source: string | undefined, field = 'npy header'): SlimcError {
  return new SlimcError('invalid-model', detail, { model: source, field });
}

/** Reads a `.npy` file. */
export function readNpy(bytes: Uint8Array, source?: string): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw invalid('not a .npy file (bad magic)', source, 'npy magic');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw invalid(`unsupported .npy version ${major}.${bytes[7]}`, source, 'npy version');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthSize) throw invalid('file ends inside the header', source);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthSize + headerLength;
  if (dataStart > bytes.length) throw invalid('file ends inside the header', source);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthSize, dataStart));
  const { descr, fortranOrder, shape } = parseHeader(header, source);

  let size = 1;
  for (const d of shape) size *= d;
  if (size > MAX_TENSOR_ELEMENTS) throw invalid(`shape (${shape.join(', ')}) has ${size} elements, more than the limit of ${MAX_TENSOR_ELEMENTS}`, source, 'npy shape');

  const order = descr[0]!;
  const kind = descr.slice(1);
  const body = bytes.subarray(dataStart);
  const bigEndian = order === '>';
  let data: Tensor['data'];
  let dtype: DType;
  const stringMatch = /^([US])(\d+)$/.exec(kind);
  if (stringMatch) {
    dtype = 'string';
    const width = Number(stringMatch[2]);
    const unit = stringMatch[1] === 'U' ? 4 : 1;
    checkBodyLength(body, size * width * unit, source);
    data = readStrings(body, size, width, unit === 4, bigEndian);
  } else {
    const d = FROM_DESCR.get(kind);
    if (!d || !'<>|='.includes(order)) throw invalid(`element type '${descr}' is not supported`, source, 'npy descr');
    dtype = d;
    const n = size * dtypeByteSize(dtype);
    checkBodyLength(body, n, source);
    const raw = new Uint8Array(body.subarray(0, n)); // aligned private copy
    if (bigEndian) swapBytes(raw, dtypeByteSize(dtype));
    data = dataFromBytes(dtype, raw, size);
  }
  if (fortranOrder && shape.length > 1) data = fortranToC(data, shape);
  return { dtype, shape, data };
}

function checkBodyLength(body: Uint8Array, expected: number, source: string | undefined): void {
  if (body.length !== expected) throw invalid(`data has ${body.length} bytes, the header describes ${expected}`, source, 'npy data');
}

function parseHeader(header: string, source: string | undefined): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw invalid(`header is not a .npy dict with descr, fortran_order and shape: ${JSON.stringify(header.slice(0, 120))}`, source);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s);
      if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) throw invalid(`shape entry "${s}" is not a size`, source, 'npy shape');
      return n;
    });
  return { descr, fortranOrder: fortran === 'True', shape };
}

function readStrings(body: Uint8Array, size: number, width: number, utf32: boolean, bigEndian: boolean): string[] {
  const out: string[] = new Array<string>(size);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const decoder = new TextDecoder('utf-8');
  for (let i = 0; i < size; i++) {
    if (utf32) {
      const points: number[] = [];
      for (let k = 0; k < width; k++) {
        const cp = view.getUint32((i * width + k) * 4, !bigEndian);
        if (cp === 0) break;
        points.push(cp);
      }
      out[i] = String.fromCodePoint(...points);
    } else {
      const chunk = body.subarray(i * width, (i + 1) * width);
      const end = chunk.indexOf(0);
      out[i] = decoder.decode(end < 0 ? chunk : chunk.subarray(0, end));
    }
  }
  return out;
}

function swapBytes(raw: Uint8Array, size: number): void {
  for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
}

/** Reorders Fortran-order (first index fastest) elements into C order (last index fastest). */
function fortranToC(data: Tensor['data'], shape: readonly number[]): Tensor['data'] {
  const rank = shape.length;
  const n = data.length;
  const out = Array.isArray(data) ? new Array<string>(n) : (new (data.constructor as new (n: number) => TypedArray)(n) as TypedArray);
  const fStride: number[] = [];
  let s = 1;
  for (let k = 0; k < rank; k++) {
    fStride.push(s);
    s *= shape[k]!;
  }
  const index = new Array<number>(rank).fill(0);
  let f = 0;
  for (let c = 0; c < n; c++) {
    (out as unknown as unknown[])[c] = (data as unknown as unknown[])[f];
    // Advance the C-order multi-index, tracking the Fortran offset.
    for (let k = rank - 1; k >= 0; k--) {
      index[k]!++;
      f += fStride[k]!;
      if (index[k]! < shape[k]!) break;
      f -= fStride[k]! * shape[k]!;
      index[k] = 0;
    }
  }
  return out as Tensor['data'];
}

/** Writes a tensor as a `.npy` file (little-endian, C order). */
export function writeNpy(t: Tensor): Uint8Array {
  let descr: string;
  let body: Uint8Array;
  if (t.dtype === 'string') {
    const strings = t.data as string[];
    const points = strings.map((s) => Array.from(s, (ch) => ch.codePointAt(0)!));
    const width = Math.max(1, ...points.map((p) => p.length));
    descr = `<U${width}`;
    body = new Uint8Array(strings.length * width * 4);
    const view = new DataView(body.buffer);
    points.forEach((p, i) => p.forEach((cp, k) => view.setUint32((i * width + k) * 4, cp, true)));
  } else {
    descr = DESCR[t.dtype];
    body = bytesOf(t.data as TypedArray);
  }
  const shapeText = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let prefix = 10;
  let headerLength = Math.ceil((prefix + dict.length + 1) / ALIGNMENT) * ALIGNMENT - prefix;
  if (headerLength > 0xffff) {
    major = 2;
    prefix = 12;
    headerLength = Math.ceil((prefix + dict.length + 1) / ALIGNMENT) * ALIGNMENT - prefix;
  }
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  const out = new Uint8Array(prefix + headerLength + body.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(body, prefix + headerLength);
  return out;
}
