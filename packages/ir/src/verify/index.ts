/**
 * The verifier: runs the rule table (`rules.ts`) over a model or graph and returns diagnostics,
 * or throws them as one SlimcError. Run after every pass; a pass that breaks the IR is named.
 */
import { SlimcError } from '../errors.js';
import { Model, type Graph } from '../graph.js';
import { RULES, VerifyScope, type Diagnostic } from './rules.js';

export { RULES, type Diagnostic, type Rule } from './rules.js';

export interface VerifyOptions {
  /**
   * Opset of the default domain. Defaults to the model's opset imports; a bare Graph without
   * this option is checked for structure only (schema rules need an opset to pick a signature).
   */
  opset?: number;
}

export function verify(target: Model | Graph, opts: VerifyOptions = {}): Diagnostic[] {
  const model = target instanceof Model ? target : undefined;
  const root = model ? model.graph : (target as Graph);
  const opsetOf = (domain: string): number | undefined => {
    const d = domain === 'ai.onnx' ? '' : domain;
    if (d === '' && opts.opset !== undefined) return opts.opset;
    return model?.opsetImports.get(d) ?? (d === '' ? model?.opset : undefined);
  };
  const scope = new VerifyScope(root, opsetOf);
  const out: Diagnostic[] = [];
  for (const rule of RULES) rule.check(scope, (d) => out.push({ rule: rule.name, ...d }));
  return out;
}

/** How many diagnostics an error message lists. */
const LISTED = 5;

/**
 * Throws when `verify` finds anything: kind `internal` when `context.pass` is set (the pass broke
 * the IR), else `invalid-model`. The error's context names the first diagnostic's node/op/value.
 */
export function verifyOrThrow(target: Model | Graph, context: { pass?: string; model?: string } | string = {}): void {
  const ctx = typeof context === 'string' ? { pass: context } : context;
  const diagnostics = verify(target);
  if (!diagnostics.length) return;
  const first = diagnostics[0]!;
  // The first diagnostic's place goes into the error context; the others are listed with theirs.
  const others = diagnostics.slice(1, LISTED).map(diagnosticText);
  const more = diagnostics.length > LISTED ? `, and ${diagnostics.length - LISTED} more` : '';
  const detail = `[${first.rule}] ${first.message}${others.length ? ` (also: ${others.join('; ')}${more})` : ''}`;
  const model = ctx.model ?? (target instanceof Model ? target.source : undefined);
  throw new SlimcError(ctx.pass ? 'internal' : 'invalid-model', detail, {
    model,
    pass: ctx.pass,
    node: first.node,
    op: first.op,
    value: first.value,
    field: first.field,
  });
}

/** `[rule] node "n" (Op), value "v", field: message`. */
export function diagnosticText(d: Diagnostic): string {
  const where: string[] = [];
  if (d.node !== undefined) where.push(d.op ? `node "${d.node}" (${d.op})` : `node "${d.node}"`);
  if (d.value) where.push(`value "${d.value}"`);
  if (d.field) where.push(d.field);
  return `[${d.rule}] ${where.length ? where.join(', ') + ': ' : ''}${d.message}`;
}
