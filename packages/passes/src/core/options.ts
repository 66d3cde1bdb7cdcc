/**
 * Pass option schemas and their validation.
 *
 * A pass declares its options as data (type, default, description) so the CLI can list them and
 * pipeline strings can be checked before anything runs. Values arrive either as text from a
 * pipeline spec (`quantize(mode=static,exclude=[conv1,"a,b"])`) or as typed values from the API;
 * both go through `resolveOptions`, which fills defaults and rejects unknown names and bad values
 * with `SlimcError('invalid-argument')` quoting the offending text.
 */
import { SlimcError } from '@slimc/ir';

export type ScalarOptionType = 'number' | 'integer' | 'boolean' | 'string';

interface OptionBase<T> {
  readonly description: string;
  readonly default?: T;
}

export type OptionSpec =
  | (OptionBase<number> & { readonly type: 'number' | 'integer' })
  | (OptionBase<boolean> & { readonly type: 'boolean' })
  | (OptionBase<string> & { readonly type: 'string' })
  | (OptionBase<string> & { readonly type: 'enum'; readonly values: readonly string[] })
  | (OptionBase<readonly (string | number)[]> & { readonly type: 'list'; readonly of?: 'string' | 'number' | 'integer' })
  // Structured values: `normalize` checks text from a pipeline spec or a typed value from the API
  // (e.g. an object) and returns the equivalent spec text, so reports can print the pipeline back.
  | (OptionBase<string | readonly string[]> & {
      readonly type: 'custom';
      /** The accepted values, for messages and `slimc passes`. */
      readonly syntax: string;
      /** The canonical text of `value`; throws a SlimcError saying what is wrong. */
      readonly normalize: (value: unknown) => string | string[];
    });

export type OptionSchema = Readonly<Record<string, OptionSpec>>;

/** The TypeScript type of resolved options for a schema. */
export type OptionValues<S extends OptionSchema> = {
  -readonly [K in keyof S]: S[K] extends { type: 'number' | 'integer' }
    ? number
    : S[K] extends { type: 'boolean' }
      ? boolean
      : S[K] extends { type: 'list'; of: 'number' | 'integer' }
        ? number[]
        : S[K] extends { type: 'list' }
          ? string[]
          : S[K] extends { type: 'custom' }
            ? string | string[]
            : string;
};

/** A raw option value from a pipeline spec: bare/quoted text, or a bracketed list of them. */
export type RawOptionValue = string | RawOptionValue[];

/** Describes a spec's accepted values for messages and `slimc passes`. */
export function describeOptionType(spec: OptionSpec): string {
  switch (spec.type) {
    case 'enum':
      return spec.values.join('|');
    case 'list':
      return `list of ${spec.of ?? 'string'}`;
    case 'custom':
      return spec.syntax;
    default:
      return spec.type;
  }
}

/**
 * Checks `given` against `schema` and returns every option with its value (defaults filled in).
 * `where` names the pass for messages.
 */
export function resolveOptions(
  pass: string,
  schema: OptionSchema,
  given: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!Object.prototype.hasOwnProperty.call(schema, key)) {
      const known = Object.keys(schema);
      const hint = closestName(key, known);
      const list = known.length ? `known options: ${known.join(', ')}` : 'it takes no options';
      throw new SlimcError('invalid-argument', `unknown option "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; ${list}`, {
        pass,
        field: `option ${key}`,
      });
    }
  }
  for (const [key, spec] of Object.entries(schema)) {
    const value = given[key];
    if (value === undefined) {
      if (spec.default !== undefined) out[key] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
      continue;
    }
    out[key] = coerceOption(pass, key, spec, value as unknown);
  }
  return out;
}

function badValue(pass: string, key: string, spec: OptionSpec, value: unknown): SlimcError {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return new SlimcError('invalid-argument', `expected ${describeOptionType(spec)}, got "${text}"`, {
    pass,
    field: `option ${key}`,
  });
}

function coerceScalar(pass: string, key: string, spec: OptionSpec, type: ScalarOptionType | 'enum', value: unknown): string | number | boolean {
  switch (type) {
    case 'number':
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) throw badValue(pass, key, spec, value);
      return n;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      throw badValue(pass, key, spec, value);
    case 'string':
      if (typeof value !== 'string') throw badValue(pass, key, spec, value);
      return value;
    case 'enum':
      if (typeof value !== 'string' || spec.type !== 'enum' || !spec.values.includes(value)) throw badValue(pass, key, spec, value);
      return value;
  }
}

function coerceOption(pass: string, key: string, spec: OptionSpec, value: unknown): unknown {
  if (spec.type === 'custom') {
    try {
      return spec.normalize(value);
    } catch (e) {
      throw e instanceof SlimcError ? e.withContext({ pass, field: `option ${key}` }) : e;
    }
  }
  if (spec.type !== 'list') {
    if (Array.isArray(value)) throw badValue(pass, key, spec, value);
    return coerceScalar(pass, key, spec, spec.type, value);
  }
  // A single bare value is accepted as a one-element list: `exclude=conv1`.
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    if (Array.isArray(item)) throw badValue(pass, key, spec, value);
    return coerceScalar(pass, key, spec, spec.of ?? 'string', item);
  });
}

/** Levenshtein distance over Unicode code points (insert, delete, substitute: cost 1 each). */
export function editDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[y.length]!;
}

/** The candidate closest to `name`, if it is close enough to be a plausible typo. */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}
