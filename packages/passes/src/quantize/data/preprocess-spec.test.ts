/**
 * The preprocess spec text: fields map onto PreprocessSpec, presets and fields compose, formatting
 * parses back to an equal spec, bad text is a clear error, and a preset spelled out as fields
 * loads the same tensors from an image folder, bit for bit.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import type { Tensor } from '@slimc/ir';
import { collectSamples } from './samples.js';
import { formatPreprocessSpec, normalizePreprocessOption, parsePreprocessSpec } from './preprocess-spec.js';
import { PADDLE_OCR_CLS_PREPROCESS, PADDLE_OCR_DET_PREPROCESS, PADDLE_OCR_REC_PREPROCESS, type PreprocessSpec } from './preprocess.js';

const PRESETS = { 'paddle-rec': PADDLE_OCR_REC_PREPROCESS, 'paddle-cls': PADDLE_OCR_CLS_PREPROCESS, 'paddle-det': PADDLE_OCR_DET_PREPROCESS, none: undefined };
const parse = (text: string) => parsePreprocessSpec(text, PRESETS);
const CALIB_DIR = fileURLToPath(new URL('../../../../../test/data/ocr/calib', import.meta.url));

/** paddle-cls written out field by field. */
const PADDLE_CLS_FIELDS = 'height:48;width:192;pad-to:192;keep-aspect:true;scale:1/255;mean:0.5:0.5:0.5;std:0.5:0.5:0.5;channels:bgr;layout:nchw';

describe('parsePreprocessSpec', () => {
  it('maps each field onto the spec, from x/255 RGB NCHW defaults', () => {
    expect(parse('resize:32x100;mean:0.5;std:0.25;channels:bgr;layout:nhwc;scale:2/510;pad-value:-1;input:image')).toEqual({
      inputName: 'image',
      resize: { height: 32, width: 100, keepAspect: false },
      scale: 2 / 510,
      mean: [0.5],
      std: [0.25],
      channelOrder: 'bgr',
      layout: 'nhwc',
      padValue: -1,
    });
    expect(parse('limit-side:960;multiple-of:32')).toEqual({ resize: { keepAspect: false, limitSide: 960, multipleOf: 32 }, scale: 1 / 255, mean: [0], std: [1], channelOrder: 'rgb', layout: 'nchw' });
    expect(parse(' height:48 ; keep-aspect:true ')!.resize).toEqual({ height: 48, keepAspect: true });
  });

  it('resolves presets and amends them with the fields after the name', () => {
    expect(parse('paddle-rec')).toEqual(PADDLE_OCR_REC_PREPROCESS);
    expect(parse('none')).toBeUndefined();
    expect(parse('')).toBeUndefined();
    expect(parse('paddle-cls;mean:0.4:0.45:0.5;channels:rgb')).toEqual({ ...PADDLE_OCR_CLS_PREPROCESS, mean: [0.4, 0.45, 0.5], channelOrder: 'rgb' });
    expect(parse('paddle-cls;resize:32x100')!.resize).toEqual({ height: 32, width: 100, keepAspect: false, padTo: 192 });
    expect(parse(PADDLE_CLS_FIELDS)).toEqual({ ...PADDLE_OCR_CLS_PREPROCESS, inputName: undefined });
    // pad-to:none drops the preset's padding: lines keep their resized width
    const { padTo, ...unpadded } = PADDLE_OCR_REC_PREPROCESS.resize;
    expect(padTo).toBe(320);
    expect(parse('paddle-rec;pad-to:none')).toEqual({ ...PADDLE_OCR_REC_PREPROCESS, resize: unpadded });
    expect(parse('paddle-rec;pad-to:none')!.resize).not.toHaveProperty('padTo');
  });

  it.each([
    ['paddle', /unknown preset "paddle" \(presets: paddle-rec, paddle-cls, paddle-det/],
    ['resize:32', /resize: expected HxW/],
    ['resize:32x100;height:48', /resize:HxW sets height, width and keep-aspect; give either/],
    ['height:48', /height without width needs keep-aspect:true/],
    ['height:0;keep-aspect:true', /height: expected a positive integer, got "0"/],
    ['width:1.5;height:2', /width: expected a positive integer/],
    ['mean:0.5:0.5', /needs 1 or 3 values, got 2/],
    ['std:0', /std must not be 0/],
    ['scale:1/0', /scale: expected a number, got "1\/0"/],
    ['channels:rbg', /channels: expected rgb or bgr, got "rbg"/],
    ['layout:chw', /layout: expected nchw or nhwc/],
    ['keep-aspect:yes', /keep-aspect: expected true or false/],
    ['mean:0.5;mean:0.4', /field "mean" given twice/],
    ['paddle-cls;mean', /expected key:value, got "mean"/],
    ['mean', /unknown preset "mean"/],
    ['paddle-cls;colour:rgb', /unknown field "colour"/],
  ])('rejects "%s"', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
});

const arbSpec: fc.Arbitrary<PreprocessSpec> = fc
  .record({
    height: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
    width: fc.integer({ min: 1, max: 320 }),
    keepAspect: fc.boolean(),
    padTo: fc.option(fc.integer({ min: 1, max: 320 }), { nil: undefined }),
    multipleOf: fc.option(fc.constantFrom(8, 32), { nil: undefined }),
    scale: fc.oneof(fc.constant(1 / 255), fc.double({ min: 1e-4, max: 4, noNaN: true })),
    // -0 prints as 0 (the same normalization)
    mean: fc.array(fc.double({ min: -2, max: 2, noNaN: true }).map((v) => v + 0), { minLength: 3, maxLength: 3 }),
    std: fc.array(fc.double({ min: 0.01, max: 2, noNaN: true }), { minLength: 1, maxLength: 1 }),
    channelOrder: fc.constantFrom('rgb' as const, 'bgr' as const),
    layout: fc.constantFrom('nchw' as const, 'nhwc' as const),
  })
  .map(({ height, width, keepAspect, padTo, multipleOf, ...rest }) => ({
    ...rest,
    resize: { height, width, keepAspect, ...(padTo && { padTo }), ...(multipleOf && { multipleOf }) },
  }));

describe('formatPreprocessSpec', () => {
  test.prop([arbSpec])('parses back to an equal spec', (spec) => {
    const text = formatPreprocessSpec(spec);
    const back = parse(text)!;
    expect({ ...back, resize: { ...back.resize } }).toEqual({ ...spec, resize: JSON.parse(JSON.stringify(spec.resize)) });
  });

  it('writes the presets as fields that load the same spec, and 1/255 as a fraction', () => {
    for (const preset of [PADDLE_OCR_REC_PREPROCESS, PADDLE_OCR_CLS_PREPROCESS, PADDLE_OCR_DET_PREPROCESS]) expect(parse(formatPreprocessSpec(preset))).toEqual(preset);
    expect(formatPreprocessSpec(PADDLE_OCR_CLS_PREPROCESS)).toBe(`${PADDLE_CLS_FIELDS};input:x`);
  });

  it('normalizes option values: text is checked and kept, an object becomes fields', () => {
    expect(normalizePreprocessOption('paddle-det', PRESETS)).toBe('paddle-det');
    expect(normalizePreprocessOption(PADDLE_OCR_CLS_PREPROCESS, PRESETS)).toBe(formatPreprocessSpec(PADDLE_OCR_CLS_PREPROCESS));
    expect(() => normalizePreprocessOption('paddle-cls;std:0', PRESETS)).toThrow(/std must not be 0/);
    expect(() => normalizePreprocessOption({ ...PADDLE_OCR_CLS_PREPROCESS, colour: 'rgb' }, PRESETS)).toThrow(/unknown PreprocessSpec field "colour"/);
    expect(() => normalizePreprocessOption({ ...PADDLE_OCR_CLS_PREPROCESS, mean: 0.5 }, PRESETS)).toThrow(/mean: expected an array of numbers/);
    expect(() => normalizePreprocessOption(3, PRESETS)).toThrow(/or a PreprocessSpec object/);
  });
});

describe('image folders', () => {
  const bytes = (samples: Record<string, Tensor>[]) => samples.map((s) => Buffer.from((s.x!.data as Float32Array).buffer));

  it('paddle-cls spelled out as fields loads the same tensors, bit for bit', async () => {
    const options = { inputName: 'x', limit: 4 };
    const preset = await collectSamples(CALIB_DIR, PADDLE_OCR_CLS_PREPROCESS, options);
    const spelled = await collectSamples(CALIB_DIR, parse(PADDLE_CLS_FIELDS), options);
    expect(preset).toHaveLength(4);
    expect(spelled.map((s) => s.x!.shape)).toEqual(preset.map((s) => s.x!.shape));
    expect(bytes(spelled)).toEqual(bytes(preset));
    // one field changed changes the tensors
    const rgb = await collectSamples(CALIB_DIR, parse(`${PADDLE_CLS_FIELDS.replace('channels:bgr', 'channels:rgb')}`), options);
    expect(bytes(rgb)).not.toEqual(bytes(preset));
  });
});
