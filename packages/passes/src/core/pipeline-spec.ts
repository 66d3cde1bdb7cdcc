/**
 * Pipeline spec strings, the same in the CLI and the API:
 *
 *   fold-constants,fold-batchnorm,quantize(mode=static,calibration=entropy,exclude=[conv1,"a,b"])
 *
 * Grammar (whitespace between tokens is ignored):
 *   pipeline := step (',' step)*
 *   step     := name ('(' (arg (',' arg)*)? ')')?
 *   arg      := key '=' value
 *   value    := bare | quoted | '[' (value (',' value)*)? ']'
 *   bare     := run of characters other than , ( ) [ ] = " ' and whitespace
 *   quoted   := "..." or '...' with backslash escapes
 *
 * Parsing yields raw text values; `Compiler.resolvePipeline` checks them against each pass's
 * option schema. Errors quote the offending text and its column.
 */
import { SlimcError } from '@slimc/ir';
import type { RawOptionValue } from './options.js';

export interface PipelineStepSpec {
  readonly name: string;
  readonly options: Readonly<Record<string, RawOptionValue>>;
}

const SPECIAL = new Set([',', '(', ')', '[', ']', '=', '"', "'"]);

export function parsePipeline(spec: string): PipelineStepSpec[] {
  let pos = 0;
  const fail = (what: string): never => {
    const near = spec.slice(pos, pos + 20) || 'end of text';
    throw new SlimcError('invalid-argument', `pipeline "${spec}": ${what} at column ${pos + 1} (near "${near}")`, {
      field: 'pipeline',
    });
  };
  const skipSpace = () => {
    while (pos < spec.length && /\s/.test(spec[pos]!)) pos++;
  };
  const peek = () => (skipSpace(), spec[pos]);
  const expect = (ch: string) => {
    if (peek() !== ch) fail(`expected "${ch}"`);
    pos++;
  };
  const bare = (what: string): string => {
    skipSpace();
    const start = pos;
    while (pos < spec.length && !SPECIAL.has(spec[pos]!) && !/\s/.test(spec[pos]!)) pos++;
    if (pos === start) fail(`expected ${what}`);
    return spec.slice(start, pos);
  };
  const quoted = (): string => {
    const q = spec[pos++]!;
    let out = '';
    while (pos < spec.length && spec[pos] !== q) {
      if (spec[pos] === '\\' && pos + 1 < spec.length) pos++;
      out += spec[pos++];
    }
    if (pos >= spec.length) fail('unterminated quoted string');
    pos++;
    return out;
  };
  const value = (): RawOptionValue => {
    const ch = peek();
    if (ch === '"' || ch === "'") return quoted();
    if (ch === '[') {
      pos++;
      const items: RawOptionValue[] = [];
      if (peek() === ']') {
        pos++;
        return items;
      }
      for (;;) {
        items.push(value());
        const next = peek();
        if (next === ',') pos++;
        else if (next === ']') {
          pos++;
          return items;
        } else fail('expected "," or "]" in list');
      }
    }
    return bare('a value');
  };

  const steps: PipelineStepSpec[] = [];
  if (peek() === undefined) return steps;
  for (;;) {
    const name = bare('a pass name');
    const options: Record<string, RawOptionValue> = {};
    if (peek() === '(') {
      pos++;
      if (peek() !== ')') {
        for (;;) {
          const key = bare('an option name');
          if (Object.prototype.hasOwnProperty.call(options, key)) fail(`option "${key}" given twice`);
          expect('=');
          options[key] = value();
          if (peek() === ',') pos++;
          else break;
        }
      }
      expect(')');
    }
    steps.push({ name, options });
    const next = peek();
    if (next === undefined) return steps;
    if (next !== ',') fail('expected "," between passes');
    pos++;
  }
}

/** The spec text of steps (inverse of `parsePipeline` for values it produced). */
export function formatPipeline(steps: readonly { name: string; options: Readonly<Record<string, unknown>> }[]): string {
  const text = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(text).join(',')}]`;
    const s = String(v);
    return s === '' || [...s].some((c) => SPECIAL.has(c) || /\s/.test(c)) ? JSON.stringify(s) : s;
  };
  return steps
    .map((s) => {
      const args = Object.entries(s.options).map(([k, v]) => `${k}=${text(v)}`);
      return args.length ? `${s.name}(${args.join(',')})` : s.name;
    })
    .join(',');
}
