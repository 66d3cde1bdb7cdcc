/**
 * Corrupted ONNX bytes (truncated, bit-flipped, spliced with random bytes) of a real model and of
 * random structure-heavy models: decoding yields a Model or a SlimcError('invalid-model' or
 * 'unsupported'), never another exception; a Model that decodes also re-encodes.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { SlimcError } from '@slimc/ir';
import { decodeOnnx, encodeOnnx } from '@slimc/backends';
import { SILERO_V5 } from './fixtures/models.js';
import { arbModelRecipe, buildModel } from './onnx-arbitraries.js';

type Mutation = { kind: 'truncate'; at: number } | { kind: 'flip'; bits: number[] } | { kind: 'splice'; at: number; bytes: Uint8Array };

const arbMutation = (length: number): fc.Arbitrary<Mutation> =>
  fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: length - 1 }) }),
    fc.record({ kind: fc.constant('flip' as const), bits: fc.array(fc.integer({ min: 0, max: length * 8 - 1 }), { minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('splice' as const), at: fc.integer({ min: 0, max: length - 1 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  );

function mutate(original: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === 'truncate') return original.subarray(0, m.at);
  const out = new Uint8Array(original);
  if (m.kind === 'flip') for (const b of m.bits) out[b >> 3]! ^= 1 << (b & 7);
  else out.set(m.bytes.subarray(0, out.length - m.at), m.at);
  return out;
}

function decodeOrSlimcError(bytes: Uint8Array): void {
  let model;
  try {
    model = decodeOnnx(bytes, { source: 'fuzzed.onnx' });
  } catch (e) {
    if (!(e instanceof SlimcError)) throw e;
    expect(['invalid-model', 'unsupported']).toContain(e.kind);
    expect(e.context.model).toBe('fuzzed.onnx');
    return;
  }
  encodeOnnx(model);
}

const real = new Uint8Array(readFileSync(SILERO_V5.path));
// Most of a real model's bytes are weights, where any flip is valid; aim half the mutations at
// the first 64 KiB, which is graph structure.
const structure = real.subarray(0, 64 * 1024);

test.prop([fc.oneof(arbMutation(real.length), arbMutation(structure.length))], { numRuns: 40 })('mutated real model', (m) => {
  decodeOrSlimcError(mutate(real, m));
});

test.prop([arbModelRecipe.chain((r) => {
  const bytes = encodeOnnx(buildModel(r));
  return fc.tuple(fc.constant(bytes), arbMutation(bytes.length));
})], { numRuns: 300 })('mutated random model', ([bytes, m]) => {
  decodeOrSlimcError(mutate(bytes, m));
});

test.prop([fc.uint8Array({ maxLength: 512 })], { numRuns: 300 })('random bytes', (bytes) => {
  decodeOrSlimcError(bytes);
});
