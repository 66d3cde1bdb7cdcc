/**
 * Per-tensor overrides of activation quantization (the `overrides` option of `quantize`, static
 * mode), keyed by the name of the activation in the float model:
 *
 *   text (pipeline spec):  overrides=[x:min:-1:max:1, conv3_out:scale:0.02:zp:128, y:dtype:int8, head_in:float]
 *   object (API):          overrides: { x: { min: -1, max: 1 }, conv3_out: { scale: 0.02, zeroPoint: 128 } }
 *
 * An entry is NAME followed by `:field:value` pairs (or the flag `:float`). Fields are read from
 * the right, so a name may itself contain ':' (`conv1:0:min:0:max:6`); quote an entry whose name
 * holds a character the pipeline spec reserves (`"a,b:float"`).
 *   min / max    replace the calibrated bound (either or both); the grid is then chosen as for a
 *                calibrated range, so it still includes 0;
 *   scale + zp   the grid itself, used as given (scale stored as float32);
 *   dtype        int8 | uint8 for this tensor instead of the `activations` setting;
 *   float        the tensor is not quantized (the layers around it read and write it in float).
 * An override wins over calibration. min/max and scale/zp exclude each other, and float excludes
 * everything else: one override says one thing. When overrides fix every activation's grid (and
 * target-sqnr is off) calibration does not run, so no samples are needed.
 */
import { SlimcError } from '@slimc/ir';
import { editDistance } from '../core/options.js';
import { chooseQuantParams, quantizedRange, type QuantDType, type QuantParams } from '../quantize/params.js';
import type { CalibrationRange } from '../quantize/calibration/index.js';

export interface ActivationOverride {
  min?: number;
  max?: number;
  scale?: number;
  zeroPoint?: number;
  dtype?: 'int8' | 'uint8';
  /** Keep the tensor float. */
  float?: boolean;
}

/** Text field name -> object field name, in the order entries are printed. */
const TEXT_FIELDS = { min: 'min', max: 'max', scale: 'scale', zp: 'zeroPoint', dtype: 'dtype', float: 'float' } as const;
type TextField = keyof typeof TEXT_FIELDS;
const OBJECT_FIELDS = Object.values(TEXT_FIELDS);
const OVERRIDE_DTYPES = ['int8', 'uint8'] as const;

export const OVERRIDES_SYNTAX = 'list of NAME:FIELD:VALUE...';

const isTextField = (t: string): t is TextField => Object.prototype.hasOwnProperty.call(TEXT_FIELDS, t);

/** `value` is the tensor name, or the text entry while there is no name yet. */
function fail(detail: string, value: string): never {
  throw new SlimcError('invalid-argument', detail, { value });
}

/** Parses one text entry `NAME:field:value...` into the name and the (checked) override. */
export function parseOverride(entry: string): [string, ActivationOverride] {
  const tokens = entry.split(':');
  const fields: Partial<Record<TextField, string>> = {};
  let end = tokens.length;
  // Consume `:float` flags and `:field:value` pairs from the right; what remains is the name.
  for (;;) {
    const last = tokens[end - 1];
    const key = tokens[end - 2];
    let field: TextField;
    let text: string;
    if (end >= 2 && last === 'float') [field, text, end] = ['float', 'true', end - 1];
    else if (end >= 3 && key !== undefined && isTextField(key) && key !== 'float') [field, text, end] = [key, last!, end - 2];
    else break;
    if (fields[field] !== undefined) fail(`field "${field}" given twice`, entry);
    fields[field] = text;
  }
  const name = tokens.slice(0, end).join(':');
  if (!name || Object.keys(fields).length === 0) {
    fail(`expected NAME:field:value... with fields ${Object.keys(TEXT_FIELDS).join(', ')} (e.g. x:min:-1:max:1)`, entry);
  }
  const number = (f: TextField): number | undefined => {
    const t = fields[f];
    if (t === undefined) return undefined;
    const n = t.trim() === '' ? NaN : Number(t);
    if (!Number.isFinite(n)) fail(`field ${f}: expected a number, got "${t}"`, entry);
    return n;
  };
  const o: ActivationOverride = {};
  const set = <K extends keyof ActivationOverride>(k: K, v: ActivationOverride[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('min', number('min'));
  set('max', number('max'));
  set('scale', number('scale'));
  set('zeroPoint', number('zp'));
  set('dtype', fields.dtype as ActivationOverride['dtype']);
  if (fields.float) o.float = true;
  return [name, checkOverride(name, o)];
}

/** Checks that `o` is one consistent override of tensor `name`; returns it. */
export function checkOverride(name: string, o: ActivationOverride): ActivationOverride {
  const has = (k: keyof ActivationOverride) => o[k] !== undefined;
  const bad = (detail: string) => fail(detail, name);
  for (const k of ['min', 'max', 'scale', 'zeroPoint'] as const) {
    if (has(k) && !(typeof o[k] === 'number' && Number.isFinite(o[k]))) bad(`${k} must be a finite number, got ${String(o[k])}`);
  }
  if (has('dtype') && !OVERRIDE_DTYPES.includes(o.dtype!)) bad(`dtype must be ${OVERRIDE_DTYPES.join(' or ')}, got "${String(o.dtype)}"`);
  if (has('float') && typeof o.float !== 'boolean') bad(`float must be true or false, got ${String(o.float)}`);
  if (o.float && Object.keys(o).some((k) => k !== 'float' && has(k as keyof ActivationOverride))) bad('float excludes every other field');
  if (has('scale') !== has('zeroPoint')) bad('scale and zp go together');
  if (has('scale') && (has('min') || has('max'))) bad('give min/max or scale/zp, not both');
  if (has('scale') && !(o.scale! > 0)) bad(`scale must be positive, got ${o.scale}`);
  if (has('zeroPoint') && !(Number.isInteger(o.zeroPoint) && o.zeroPoint! >= -128 && o.zeroPoint! <= 255)) {
    bad(`zp must be an integer of int8 or uint8, got ${o.zeroPoint}`);
  }
  if (has('min') && has('max') && o.min! > o.max!) bad(`min ${o.min} is above max ${o.max}`);
  if (!Object.values(o).some((v) => v !== undefined && v !== false)) bad(`no field given (fields: ${OBJECT_FIELDS.join(', ')})`);
  return o;
}

/** The text entry of an override (inverse of `parseOverride`). */
export function formatOverride(name: string, o: ActivationOverride): string {
  const parts = [name];
  for (const [text, key] of Object.entries(TEXT_FIELDS)) {
    const v = o[key];
    if (v === undefined || v === false) continue;
    parts.push(key === 'float' ? 'float' : `${text}:${v}`);
  }
  return parts.join(':');
}

/**
 * The option's value in canonical text form: a list of entries (or one bare entry) from a
 * pipeline spec, or an object keyed by tensor name from the API.
 */
export function normalizeOverrides(value: unknown): string[] {
  if (typeof value === 'string') value = [value];
  if (Array.isArray(value)) {
    return value.map((entry) => {
      if (typeof entry !== 'string') fail(`expected ${OVERRIDES_SYNTAX}, got ${JSON.stringify(entry)}`, JSON.stringify(entry));
      return formatOverride(...parseOverride(entry));
    });
  }
  if (value === null || typeof value !== 'object') fail(`expected ${OVERRIDES_SYNTAX} or an object keyed by tensor name`, String(value));
  return Object.entries(value as Record<string, unknown>).map(([name, o]) => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) fail('expected an object like { min: -1, max: 1 }', name);
    const unknown = Object.keys(o).filter((k) => !(OBJECT_FIELDS as readonly string[]).includes(k));
    if (unknown.length) fail(`unknown field "${unknown[0]}" (fields: ${OBJECT_FIELDS.join(', ')})`, name);
    return formatOverride(name, checkOverride(name, { ...(o as ActivationOverride) }));
  });
}

/** The overrides of canonical entries, by tensor name; a name given twice is an error. */
export function parseOverrides(entries: readonly string[]): Map<string, ActivationOverride> {
  const out = new Map<string, ActivationOverride>();
  for (const entry of entries) {
    const [name, o] = parseOverride(entry);
    if (out.has(name)) fail('tensor overridden twice', name);
    out.set(name, o);
  }
  return out;
}

/** Up to `count` candidates nearest to `name` by edit distance (ties in candidate order). */
export function nearestNames(name: string, candidates: readonly string[], count: number): string[] {
  return candidates
    .map((c, i) => ({ c, i, d: editDistance(name, c) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, count)
    .map((x) => x.c);
}

/**
 * Throws when an override names a tensor that is not among `quantized` (the activations the pass
 * would quantize); `exists` tells a missing tensor from one that is not quantized.
 */
export function checkOverrideNames(overrides: ReadonlyMap<string, ActivationOverride>, quantized: readonly string[], exists: (name: string) => boolean, pass: string): void {
  for (const name of overrides.keys()) {
    if (quantized.includes(name)) continue;
    // Names are those after canonicalization: a BatchNormalization folded into its Conv leaves the Conv's output name.
    const why = exists(name) ? 'not an activation this pass quantizes (an input or output of a targeted Conv/MatMul/Gemm)' : 'no such tensor (after BatchNormalization and constant folding)';
    const near = nearestNames(name, quantized, 3);
    const hint = near.length ? `; quantized tensors near it: ${near.map((n) => `"${n}"`).join(', ')}` : '';
    throw new SlimcError('invalid-argument', `${why}${hint}`, { pass, field: 'option overrides', value: name });
  }
}

/**
 * The grid of one activation: the calibrated range under the default dtype, as amended by its
 * override; undefined when the override keeps it float.
 */
export function activationGrid(calibrated: CalibrationRange, dtype: QuantDType, o: ActivationOverride | undefined, name: string): QuantParams | undefined {
  if (o?.float) return undefined;
  const type = o?.dtype ?? dtype;
  if (o?.scale !== undefined && o.zeroPoint !== undefined) {
    const [qmin, qmax] = quantizedRange({ dtype: type });
    if (o.zeroPoint < qmin || o.zeroPoint > qmax) {
      throw new SlimcError('invalid-argument', `zp ${o.zeroPoint} is outside ${type} [${qmin}, ${qmax}]`, { field: 'option overrides', value: name });
    }
    return { dtype: type, scale: o.scale, zeroPoint: o.zeroPoint };
  }
  const [min, max] = [o?.min ?? calibrated.min, o?.max ?? calibrated.max];
  if (min > max) {
    throw new SlimcError('invalid-argument', `range [${min}, ${max}] is empty (the other bound is calibrated)`, { field: 'option overrides', value: name });
  }
  return chooseQuantParams({ dtype: type, symmetric: false, min, max });
}

/**
 * Ranges for `names` when overrides fix the grid of every one of them (min and max, scale and zp,
 * or float), so calibration has nothing to add; else undefined. A tensor with a scale/zp grid or
 * kept float gets [0, 0], which `activationGrid` does not read.
 */
export function fixedRanges(names: readonly string[], overrides: ReadonlyMap<string, ActivationOverride>): Map<string, CalibrationRange> | undefined {
  if (overrides.size === 0) return undefined;
  const out = new Map<string, CalibrationRange>();
  for (const name of names) {
    const o = overrides.get(name);
    if (!o) return undefined;
    if (o.min !== undefined && o.max !== undefined) out.set(name, { min: o.min, max: o.max });
    else if (o.float || o.scale !== undefined) out.set(name, { min: 0, max: 0 });
    else return undefined;
  }
  return out;
}
