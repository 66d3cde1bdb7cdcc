import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { ALL_DTYPES, type DType, SlimcError, type Tensor, makeTensor, tensorsEqual } from '@slimc/ir';
import { readNpy, readTensorProto, writeNpy, writeTensorProto } from '@slimc/backends';
import { arbTensor } from './onnx-arbitraries.js';

/** A .npy file with the given header dict and body, laid out as NumPy does (v1, 64-byte aligned). */
function npyBytes(dict: string, body: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const headerLength = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  const out = new Uint8Array(prefix + headerLength + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  out.set(new TextEncoder().encode(header), prefix);
  out.set(body, prefix + headerLength);
  return out;
}

describe('.npy', () => {
  propTest.prop([fc.constantFrom(...ALL_DTYPES).chain((d) => arbTensor(d as DType))], { numRuns: 200 })('round-trips every dtype', (t) => {
    const bytes = writeNpy(t);
    const headerEnd = new DataView(bytes.buffer).getUint16(8, true) + 10;
    expect(headerEnd % 64).toBe(0);
    expect(tensorsEqual(readNpy(bytes), t)).toBe(true);
  });

  test('writes the NumPy header form', () => {
    const bytes = writeNpy(makeTensor('int16', [2, 3], [1, 2, 3, 4, 5, 6]));
    const header = new TextDecoder('latin1').decode(bytes.subarray(10, 10 + new DataView(bytes.buffer).getUint16(8, true)));
    expect(header.trimEnd()).toBe("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }");
    expect(header.endsWith('\n')).toBe(true);
    const vector = new TextDecoder('latin1').decode(writeNpy(makeTensor('bool', [3], [1, 0, 1])).subarray(10, 70));
    expect(vector).toContain("'descr': '|b1'");
    expect(vector).toContain("'shape': (3,)");
  });

  test('reads big-endian data', () => {
    const body = new Uint8Array([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]);
    const t = readNpy(npyBytes("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", body));
    expect(t.data).toEqual(new Int32Array([1, -2]));
  });

  test('reads Fortran order into C order', () => {
    // The 2x3 matrix [[1,2,3],[4,5,6]] stored column by column.
    const body = new Uint8Array(new Float64Array([1, 4, 2, 5, 3, 6]).buffer);
    const t = readNpy(npyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", body));
    expect(t.shape).toEqual([2, 3]);
    expect(t.data).toEqual(new Float64Array([1, 2, 3, 4, 5, 6]));
  });

  test('reads version 2 headers and byte strings', () => {
    const body = new TextEncoder().encode('ab\0cde');
    const t: Tensor = readNpy(npyBytes("{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }", body, 2));
    expect(t.data).toEqual(['ab', 'cde']);
  });

  test.each([
    ['bad magic', new Uint8Array(20), 'npy magic'],
    ['object arrays', npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'npy descr'],
    ['short data', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8)), 'npy data'],
    ['huge shape', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", new Uint8Array(8)), 'npy shape'],
    ['garbled header', npyBytes('{descr: nonsense}', new Uint8Array(0)), 'npy header'],
  ])('refuses %s', (_label, bytes, field) => {
    const e = (() => {
      try {
        readNpy(bytes, 'x.npy');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(SlimcError);
    expect((e as SlimcError).context).toMatchObject({ model: 'x.npy', field });
  });
});

describe('TensorProto files', () => {
  propTest.prop([arbTensor(), fc.string({ maxLength: 8 })], { numRuns: 200 })('round-trip every dtype', (t, name) => {
    const back = readTensorProto(writeTensorProto(t, name));
    expect(back.name).toBe(name);
    expect(tensorsEqual(back.tensor, t)).toBe(true);
  });

  test('corrupt bytes are an invalid-model error', () => {
    const bytes = writeTensorProto(makeTensor('float32', [4], [1, 2, 3, 4]), 'w');
    expect(() => readTensorProto(bytes.subarray(0, bytes.length - 3), 'w.pb')).toThrow(SlimcError);
  });
});
