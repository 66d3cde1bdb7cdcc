import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { SlimcError } from '@slimc/ir';
import { formatPipeline, parsePipeline } from './pipeline-spec.js';
import { Compiler } from './compiler.js';
import { definePass } from './pass.js';
import { PatternSet } from './pattern.js';

describe('parsePipeline', () => {
  test('names, options, quoted and nested list values', () => {
    expect(parsePipeline('fold-constants, fold-batchnorm ,quantize(mode=static,calibration=entropy,exclude=[conv1,"a,b",[x,\'y)\']])')).toEqual([
      { name: 'fold-constants', options: {} },
      { name: 'fold-batchnorm', options: {} },
      { name: 'quantize', options: { mode: 'static', calibration: 'entropy', exclude: ['conv1', 'a,b', ['x', 'y)']] } },
    ]);
    expect(parsePipeline('')).toEqual([]);
    expect(parsePipeline('a()')).toEqual([{ name: 'a', options: {} }]);
    expect(parsePipeline('a(s="say \\"hi\\"")')).toEqual([{ name: 'a', options: { s: 'say "hi"' } }]);
  });

  test.each([
    ['a,,b', 'expected a pass name at column 3'],
    ['a(x=1', 'expected ")"'],
    ['a(x)', 'expected "="'],
    ['a(x=[1,2)', 'expected "," or "]" in list'],
    ['a(x="open)', 'unterminated quoted string'],
    ['a b', 'expected "," between passes'],
    ['a(x=1,x=2)', 'option "x" given twice'],
  ])('rejects %s', (spec, message) => {
    expect(() => parsePipeline(spec)).toThrow(SlimcError);
    expect(() => parsePipeline(spec)).toThrow(message);
  });

  const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
  const text = fc.string({ maxLength: 8 });
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, text, fc.array(tie('v'), { maxLength: 3 })),
  })).v;
  propTest.prop([fc.array(fc.record({ name: word, options: fc.dictionary(word, value, { maxKeys: 3 }) }), { maxLength: 4 })])(
    'formatPipeline and parsePipeline round-trip',
    (steps) => {
      expect(parsePipeline(formatPipeline(steps))).toEqual(steps);
    },
  );
});

describe('pipeline validation against option schemas', () => {
  const compiler = new Compiler();
  compiler.registerPass(
    definePass({
      name: 'quantize-demo',
      description: 'test pass',
      kind: 'pattern',
      options: {
        mode: { type: 'enum', values: ['static', 'dynamic'], default: 'static', description: 'mode' },
        bits: { type: 'integer', default: 8, description: 'bits' },
        ratio: { type: 'number', description: 'ratio' },
        perChannel: { type: 'boolean', default: true, description: 'per channel' },
        exclude: { type: 'list', default: [], description: 'node names' },
        sizes: { type: 'list', of: 'integer', description: 'sizes' },
      },
      patterns: () => PatternSet.empty,
    }),
  );

  test('fills defaults and converts text to the declared types', () => {
    const [step] = compiler.resolvePipeline('quantize-demo(bits=4,ratio=0.5,perChannel=false,exclude=[conv1,"a,b"],sizes=[1,2])');
    expect(step!.options).toEqual({ mode: 'static', bits: 4, ratio: 0.5, perChannel: false, exclude: ['conv1', 'a,b'], sizes: [1, 2] });
    expect(compiler.resolvePipeline([{ name: 'quantize-demo', options: { bits: 2, exclude: 'x' } }])[0]!.options).toMatchObject({ bits: 2, exclude: ['x'] });
  });

  test.each([
    ['quantise-demo', 'unknown pass "quantise-demo" (did you mean "quantize-demo"?)'],
    ['quantize-demo(mod=static)', 'unknown option "mod" (did you mean "mode"?)'],
    ['quantize-demo(mode=fast)', 'option mode: expected static|dynamic, got "fast"'],
    ['quantize-demo(bits=2.5)', 'option bits: expected integer, got "2.5"'],
    ['quantize-demo(perChannel=yes)', 'expected boolean, got "yes"'],
    ['quantize-demo(sizes=[1,x])', 'expected list of integer'],
    ['quantize-demo(bits=[1])', 'expected integer, got "["1"]"'],
  ])('%s is an invalid-argument error quoting the text', (spec, message) => {
    let err: unknown;
    try {
      compiler.resolvePipeline(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SlimcError);
    expect((err as SlimcError).kind).toBe('invalid-argument');
    expect((err as SlimcError).message).toContain(message);
  });
});
