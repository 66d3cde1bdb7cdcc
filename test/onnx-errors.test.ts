/**
 * Bad ONNX input: each case is a SlimcError('invalid-model') whose context names the field (and
 * node/op/value where there is one), never another exception, a hang or a huge allocation.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { type ErrorContext, SlimcError } from '@slimc/ir';
import { decodeOnnx, loadOnnx } from '@slimc/backends';
import { FLOAT, type ModelSpec, floatInit, modelBytes, node, tensorType, tinyModel, valueInfo } from './onnx-builders.js';
import { SILERO_LEGACY } from './fixtures/models.js';

function decodeError(bytes: Uint8Array, opts: { baseDir?: string } = {}): SlimcError {
  try {
    decodeOnnx(bytes, { source: 'bad.onnx', ...opts });
  } catch (e) {
    expect(e).toBeInstanceOf(SlimcError);
    return e as SlimcError;
  }
  throw new Error('decodeOnnx accepted the model');
}

function expectInvalid(spec: ModelSpec, context: ErrorContext, message?: RegExp): SlimcError {
  const e = decodeError(modelBytes(spec));
  expect(e.kind).toBe('invalid-model');
  expect(e.context).toMatchObject({ model: 'bad.onnx', ...context });
  if (message) expect(e.message).toMatch(message);
  return e;
}

describe('corrupt bytes', () => {
  const real = readFileSync(SILERO_LEGACY.path);

  test('truncated file', () => {
    const e = decodeError(real.subarray(0, Math.floor(real.length / 2)));
    expect(e.kind).toBe('invalid-model');
    expect(e.context.field).toBe('ModelProto');
    expect(e.message).toMatch(/^bad\.onnx, ModelProto: not a valid ONNX ModelProto/);
  });

  test('bit-flipped key byte (invalid wire type)', () => {
    const flipped = new Uint8Array(real);
    flipped[0]! ^= 0x77; // ir_version key 0x08 -> 0x7f: unknown field 15 with wire type 7, which does not exist
    const e = decodeError(flipped);
    expect(e.context.field).toBe('ModelProto');
  });

  test('random bytes', () => {
    const e = decodeError(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
    expect(e.kind).toBe('invalid-model');
  });

  test('no graph and no ir_version', () => {
    expect(decodeError(new Uint8Array(0)).context.field).toBe('ir_version');
  });
});

describe('structure', () => {
  test('cycle names the nodes on it', () => {
    const e = expectInvalid(
      {
        inputs: [valueInfo('x', tensorType(FLOAT, [1]))],
        outputs: [valueInfo('b')],
        nodes: [node('Add', ['x', 'b'], ['a'], { name: 'first' }), node('Relu', ['a'], ['b'], { name: 'second' }), node('Neg', ['x'], ['z'], { name: 'bystander' })],
      },
      { field: 'node inputs' },
      /cycle through nodes/,
    );
    expect(e.message).toContain('"first"');
    expect(e.message).toContain('"second"');
    expect(e.message).not.toContain('bystander');
    expect(['first', 'second']).toContain(e.context.node);
  });

  test('a node feeding itself is a cycle', () => {
    expectInvalid(
      { inputs: [valueInfo('x', tensorType(FLOAT, [1]))], outputs: [valueInfo('a')], nodes: [node('Add', ['x', 'a'], ['a'], { name: 'loop' })] },
      { node: 'loop', op: 'Add' },
      /cycle/,
    );
  });

  test('cycles closed through subgraph captures', () => {
    const AT_GRAPH = 5;
    const branch = (uses: string) => ({ name: `uses_${uses}`, node: [node('Identity', [uses], [`id_${uses}`])], output: [valueInfo(`id_${uses}`)] });
    const ifNode = (name: string, uses: string, out: string) =>
      node('If', ['c'], [out], { name, attribute: [{ name: 'then_branch', type: AT_GRAPH, g: branch(uses) }, { name: 'else_branch', type: AT_GRAPH, g: branch(uses) }] });
    const inputs = [valueInfo('c', tensorType(9, []))];
    // An If whose branch reads the If's own output.
    expectInvalid({ inputs, outputs: [valueInfo('y')], nodes: [ifNode('self', 'y', 'y')] }, { node: 'self', op: 'If' }, /cycle/);
    // Two nodes, one edge through a capture.
    const e = expectInvalid(
      { inputs, outputs: [valueInfo('z')], nodes: [ifNode('reads_z', 'z', 'y'), node('Neg', ['y'], ['z'], { name: 'neg' })] },
      { field: 'node inputs' },
      /cycle/,
    );
    expect(e.message).toContain('"reads_z"');
    expect(e.message).toContain('"neg"');
  });

  test('missing initializer', () => {
    const spec = tinyModel();
    spec.initializers = [];
    expectInvalid(spec, { node: 'add', op: 'Add', field: 'input 1', value: 'w' }, /not defined/);
  });

  test('name defined twice', () => {
    const spec = tinyModel();
    spec.nodes[0]!.output = ['w'];
    spec.nodes[1]!.input = ['w', 'w'];
    expectInvalid(spec, { field: 'node "relu" output 0', value: 'w' }, /defined twice/);
  });

  test('duplicate initializer and duplicate input', () => {
    const spec = tinyModel();
    spec.initializers!.push(floatInit('w', [3], [0, 0, 0]));
    expectInvalid(spec, { field: 'initializer "w"', value: 'w' }, /defined twice/);
    const spec2 = tinyModel();
    spec2.inputs!.push(valueInfo('x', tensorType(FLOAT, [3])));
    expectInvalid(spec2, { field: 'input "x"', value: 'x' }, /defined twice/);
  });

  test('undefined graph output', () => {
    const spec = tinyModel();
    spec.outputs = [valueInfo('nothing')];
    expectInvalid(spec, { field: 'output "nothing"' });
  });
});

describe('opsets', () => {
  test('opset version 0', () => {
    const spec = tinyModel();
    spec.opsets = [['', 0]];
    expectInvalid(spec, { field: 'opset_import "ai.onnx"' }, /version 0/);
  });

  test('absent default opset', () => {
    const spec = tinyModel();
    spec.opsets = [['com.example', 1]];
    expectInvalid(spec, { node: 'relu', op: 'Relu', field: 'domain' }, /opset_import/);
  });

  test('node in an unknown domain', () => {
    const spec = tinyModel();
    spec.nodes[0]!.domain = 'com.unknown';
    expectInvalid(spec, { node: 'relu', field: 'domain' }, /com\.unknown/);
  });
});

describe('tensors', () => {
  test('raw_data length does not match dims', () => {
    const spec = tinyModel();
    spec.initializers = [{ name: 'w', dims: [3], dataType: FLOAT, rawData: new Uint8Array(8) }];
    expectInvalid(spec, { field: 'initializer "w" raw_data' }, /8 bytes/);
  });

  test('typed field length does not match dims', () => {
    const spec = tinyModel();
    spec.initializers = [floatInit('w', [4], [1, 2, 3])];
    expectInvalid(spec, { field: 'initializer "w" float_data' }, /3 elements/);
  });

  test('a dim claiming 10^12 elements is refused before allocating', () => {
    const spec = tinyModel();
    spec.initializers = [{ name: 'w', dims: [1_000_000, 1_000_000], dataType: FLOAT, rawData: new Uint8Array(4) }];
    const before = process.memoryUsage().arrayBuffers;
    expectInvalid(spec, { field: 'initializer "w" dims' }, /1000000000000 elements/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  });

  test('negative dim', () => {
    const spec = tinyModel();
    spec.initializers = [{ name: 'w', dims: [-3], dataType: FLOAT, floatData: [1, 2, 3] }];
    expectInvalid(spec, { field: 'initializer "w" dims' });
  });

  test('unknown data type', () => {
    const spec = tinyModel();
    spec.initializers = [{ name: 'w', dims: [1], dataType: 99, rawData: new Uint8Array(4) }];
    expectInvalid(spec, { field: 'initializer "w" data_type' });
  });

  test('bad tensor inside a Constant node names the node and attribute', () => {
    const spec = tinyModel();
    spec.nodes.push(node('Constant', [], ['k'], { name: 'konst', attribute: [{ name: 'value', type: 4, t: { dims: [2], dataType: FLOAT, floatData: [1] } }] }));
    expectInvalid(spec, { node: 'konst', op: 'Constant', field: 'attribute value float_data' });
  });
});

describe('external data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slimc-ext-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function externalSpec(location: string, offset = 0, length = 12): ModelSpec {
    const spec = tinyModel();
    spec.initializers = [
      {
        name: 'w',
        dims: [3],
        dataType: FLOAT,
        dataLocation: 1,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(length) },
        ],
      },
    ];
    return spec;
  }

  test('reads data relative to the model directory', () => {
    writeFileSync(join(dir, 'w.bin'), new Uint8Array(new Float32Array([0, 7, 8, 9]).buffer));
    writeFileSync(join(dir, 'm.onnx'), modelBytes(externalSpec('w.bin', 4)));
    const m = loadOnnx(join(dir, 'm.onnx'));
    expect(m.graph.initializers[0]!.constant!.data).toEqual(new Float32Array([7, 8, 9]));
  });

  test.each([['../escape.bin'], ['/etc/passwd'], ['sub/../../escape.bin']])('path %s escaping the directory', (location) => {
    const e = decodeError(modelBytes(externalSpec(location)), { baseDir: dir });
    expect(e.context.field).toBe('initializer "w" external_data location');
    expect(e.message).toMatch(/escapes the model directory/);
  });

  test('range beyond the end of the file', () => {
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(8));
    const e = decodeError(modelBytes(externalSpec('short.bin')), { baseDir: dir });
    expect(e.context.field).toBe('initializer "w" external_data offset');
  });

  test('length not matching dims', () => {
    const e = decodeError(modelBytes(externalSpec('w.bin', 0, 8)), { baseDir: dir });
    expect(e.context.field).toBe('initializer "w" external_data length');
  });

  test('missing file', () => {
    const e = decodeError(modelBytes(externalSpec('nope.bin')), { baseDir: dir });
    expect(e.message).toMatch(/cannot open external data/);
  });
});
