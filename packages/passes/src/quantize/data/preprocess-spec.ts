/**
 * `PreprocessSpec` as one line of text (the `preprocess` option of `quantize`), and back.
 *
 *   paddle-cls                                     a preset by name (`none`: no preprocessing)
 *   resize:32x100;mean:0.5;std:0.5;channels:bgr     fields, each `key:value`, separated by ';'
 *   paddle-cls;mean:0.4:0.4:0.4                    a preset first, amended by the fields after it
 *
 * None of ';', ':', '/', 'x' is reserved by the pipeline spec, so the text needs no quotes there.
 * Fields (list values are joined by ':'; unset fields keep the preset's value, else the default):
 *   resize:HxW        exact size (= height:H;width:W;keep-aspect:false)
 *   height:H          output height                                      (unset: image height)
 *   width:W           with keep-aspect the widest line, else the exact width
 *   keep-aspect:B     true | false: width from the aspect ratio          (default false)
 *   limit-side:N      without height: shrink so the longer side is <= N
 *   multiple-of:M     round each side to a multiple of M
 *   pad-to:W          pad the tensor's width on the right up to W; pad-to:none: no padding
 *                     (a preset's dropped: each image keeps its resized width)
 *   pad-value:V       value of the padded columns                        (default 0)
 *   scale:S           pixel multiplier, a number or a fraction like 1/255 (default 1/255)
 *   mean:M[:M:M]      per output channel, or one for all                 (default 0)
 *   std:S[:S:S]       per output channel, or one for all                 (default 1)
 *   channels:C        rgb | bgr, the order of the output channels        (default rgb)
 *   layout:L          nchw | nhwc                                        (default nchw)
 *   input:NAME        the model input fed                                (default: the model's first input)
 * The math of each field is in preprocess.ts.
 */
import { SlimcError } from '@slimc/ir';
import { checkPreprocessSpec, type PreprocessSpec, type ResizeSpec } from './preprocess.js';

export const PREPROCESS_SYNTAX = 'PRESET | KEY:VALUE;... | PRESET;KEY:VALUE;...';

/** The spec a field list starts from when no preset is named: x/255 in RGB, NCHW, image size kept. */
const BASE: PreprocessSpec = { resize: { keepAspect: false }, scale: 1 / 255, mean: [0], std: [1], channelOrder: 'rgb', layout: 'nchw' };

/** Text key -> ResizeSpec field, for the resize fields that take a positive integer. */
const RESIZE_FIELDS = { height: 'height', width: 'width', 'limit-side': 'limitSide', 'multiple-of': 'multipleOf', 'pad-to': 'padTo' } as const;

const SPEC_KEYS = ['inputName', 'resize', 'scale', 'mean', 'std', 'channelOrder', 'layout', 'padValue'];
const RESIZE_KEYS = ['height', 'width', 'keepAspect', 'padTo', 'multipleOf', 'limitSide'];

function fail(detail: string, value: string): never {
  throw new SlimcError('invalid-argument', detail, { value });
}

function oneOf<T extends string>(key: string, text: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(text)) fail(`${key}: expected ${values.join(' or ')}, got "${text}"`, text);
  return text as T;
}

function numberField(key: string, text: string): number {
  const fraction = /^([^/]+)\/([^/]+)$/.exec(text);
  const n = fraction ? Number(fraction[1]) / Number(fraction[2]) : text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n)) fail(`${key}: expected a number, got "${text}"`, text);
  return n;
}

function positiveInteger(key: string, text: string): number {
  const n = numberField(key, text);
  if (!Number.isInteger(n) || n <= 0) fail(`${key}: expected a positive integer, got "${text}"`, text);
  return n;
}

/**
 * The spec of `text` (see the module comment): a preset of `presets`, a field list, or a preset
 * followed by fields. `none` (or an empty text) gives undefined. Throws a SlimcError quoting the
 * bad field.
 */
export function parsePreprocessSpec(text: string, presets: Readonly<Record<string, PreprocessSpec | undefined>>): PreprocessSpec | undefined {
  const fields = text.split(';').map((f) => f.trim());
  if (fields.length === 1 && (fields[0] === '' || fields[0] === 'none')) return undefined;
  let spec: PreprocessSpec = BASE;
  if (!fields[0]!.includes(':')) {
    const name = fields.shift()!;
    const preset = Object.prototype.hasOwnProperty.call(presets, name) ? presets[name] : undefined;
    if (!preset) fail(`unknown preset "${name}" (presets: ${Object.keys(presets).filter((p) => presets[p]).join(', ')}; or fields like resize:32x100)`, name);
    spec = preset;
  }
  const resize: ResizeSpec = { ...spec.resize };
  const out: PreprocessSpec = { ...spec, resize };
  const seen = new Set<string>();
  for (const field of fields) {
    const colon = field.indexOf(':');
    const key = colon < 0 ? field : field.slice(0, colon);
    const value = colon < 0 ? '' : field.slice(colon + 1);
    if (colon < 0 || value === '') fail(`expected key:value, got "${field}"`, field);
    if (seen.has(key)) fail(`field "${key}" given twice`, field);
    seen.add(key);
    if (key === 'pad-to' && value === 'none') {
      delete resize.padTo;
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(RESIZE_FIELDS, key)) {
      resize[RESIZE_FIELDS[key as keyof typeof RESIZE_FIELDS]] = positiveInteger(key, value);
      continue;
    }
    switch (key) {
      case 'resize': {
        const m = /^(\d+)x(\d+)$/.exec(value);
        if (!m) fail(`resize: expected HxW (e.g. 32x100), got "${value}"`, field);
        Object.assign(resize, { height: positiveInteger('resize', m[1]!), width: positiveInteger('resize', m[2]!), keepAspect: false });
        break;
      }
      case 'keep-aspect':
        resize.keepAspect = oneOf(key, value, ['true', 'false']) === 'true';
        break;
      case 'pad-value':
        out.padValue = numberField(key, value);
        break;
      case 'scale':
        out.scale = numberField(key, value);
        break;
      case 'mean':
      case 'std':
        out[key] = value.split(':').map((v) => numberField(key, v));
        break;
      case 'channels':
        out.channelOrder = oneOf(key, value, ['rgb', 'bgr']);
        break;
      case 'layout':
        out.layout = oneOf(key, value, ['nchw', 'nhwc']);
        break;
      case 'input':
        out.inputName = value;
        break;
      default:
        fail(`unknown field "${key}" (fields: resize, height, width, keep-aspect, limit-side, multiple-of, pad-to, pad-value, scale, mean, std, channels, layout, input)`, field);
    }
  }
  if (seen.has('resize') && ['height', 'width', 'keep-aspect'].some((k) => seen.has(k))) fail('resize:HxW sets height, width and keep-aspect; give either', text);
  if (resize.height !== undefined && !resize.keepAspect && resize.width === undefined) fail('height without width needs keep-aspect:true', text);
  try {
    checkPreprocessSpec(out);
  } catch (e) {
    // The spec's field goes into the message, so that the caller can name the option as the field.
    if (e instanceof SlimcError && e.context.field) {
      const { field, ...context } = e.context;
      throw new SlimcError(e.kind, `${field}: ${e.detail}`, { ...context, value: text });
    }
    throw e;
  }
  return out;
}

/** `value` as a number, or 1/n when that prints the same number exactly (1/255). */
function numberText(value: number): string {
  const inverse = 1 / value;
  return Number.isInteger(inverse) && 1 / inverse === value && inverse !== 1 ? `1/${inverse}` : String(value);
}

/** The field list of `spec` (parsed back by `parsePreprocessSpec` to an equal spec). */
export function formatPreprocessSpec(spec: PreprocessSpec): string {
  const r = spec.resize;
  const fields: string[] = [];
  const add = (key: string, v: string | number | undefined) => {
    if (v !== undefined) fields.push(`${key}:${v}`);
  };
  for (const [key, field] of Object.entries(RESIZE_FIELDS)) add(key, r[field]);
  add('keep-aspect', String(r.keepAspect));
  add('pad-value', spec.padValue);
  add('scale', numberText(spec.scale));
  add('mean', spec.mean.join(':'));
  add('std', spec.std.join(':'));
  add('channels', spec.channelOrder);
  add('layout', spec.layout);
  add('input', spec.inputName);
  return fields.join(';');
}

/**
 * The `preprocess` option's canonical text: a text value is checked and kept; a `PreprocessSpec`
 * object (from the API) is checked and written as fields.
 */
export function normalizePreprocessOption(value: unknown, presets: Readonly<Record<string, PreprocessSpec | undefined>>): string {
  if (typeof value === 'string') {
    parsePreprocessSpec(value, presets);
    return value;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`expected ${PREPROCESS_SYNTAX}, or a PreprocessSpec object`, JSON.stringify(value));
  const spec = value as PreprocessSpec;
  const unknown = [...Object.keys(spec).filter((k) => !SPEC_KEYS.includes(k)), ...Object.keys(spec.resize ?? {}).filter((k) => !RESIZE_KEYS.includes(k)).map((k) => `resize.${k}`)];
  if (unknown.length) fail(`unknown PreprocessSpec field "${unknown[0]}"`, unknown[0]!);
  if (typeof spec.resize !== 'object' || spec.resize === null) fail('PreprocessSpec needs resize (e.g. { keepAspect: false })', 'resize');
  for (const key of ['mean', 'std'] as const) {
    if (spec[key] !== undefined && !(Array.isArray(spec[key]) && spec[key].every((v) => typeof v === 'number'))) fail(`${key}: expected an array of numbers`, key);
  }
  // Through the text so that the object meets exactly the checks a spec string meets.
  const text = formatPreprocessSpec({ ...BASE, ...spec, resize: { ...spec.resize } });
  parsePreprocessSpec(text, presets);
  return text;
}
