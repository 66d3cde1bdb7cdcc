/**
 * Errors are values with context. Every error slimc raises about a model carries where it happened
 * (model file, graph, node, op, field, value) so the CLI can turn it into one clear line.
 */
export interface ErrorContext {
  /** The model file or name. */
  model?: string;
  /** The pass that was running. */
  pass?: string;
  /** Node name (or `#index` when unnamed). */
  node?: string;
  op?: string;
  /** The field, attribute or input that is wrong (e.g. `attribute kernel_shape`, `input 1`). */
  field?: string;
  /** The value involved. */
  value?: string;
}

/** Kinds: `invalid-model` (bad input, CLI exit 2), `unsupported` (valid but not handled, exit 2), `internal` (a bug, exit 1). */
export type ErrorKind = 'invalid-model' | 'unsupported' | 'invalid-argument' | 'internal';

export class SlimcError extends Error {
  readonly kind: ErrorKind;
  readonly context: ErrorContext;
  readonly detail: string;

  constructor(kind: ErrorKind, detail: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(formatError(detail, context), options);
    this.name = 'SlimcError';
    this.kind = kind;
    this.detail = detail;
    this.context = { ...context };
  }

  /** The same error with more context filled in (fields already set win). */
  withContext(extra: ErrorContext): SlimcError {
    const merged = { ...extra, ...this.context };
    const e = new SlimcError(this.kind, this.detail, merged, { cause: this.cause });
    e.stack = this.stack;
    return e;
  }
}

/** One line: `model.onnx: node "conv1" (Conv), attribute pads: expected 4 ints, got 3`. */
export function formatError(detail: string, c: ErrorContext): string {
  const where: string[] = [];
  if (c.model) where.push(c.model);
  if (c.pass) where.push(`pass ${c.pass}`);
  if (c.node !== undefined || c.op) {
    const n = c.node !== undefined ? `node "${c.node}"` : 'node';
    where.push(c.op ? `${n} (${c.op})` : n);
  }
  if (c.field) where.push(c.field);
  if (c.value) where.push(`value "${c.value}"`);
  return where.length ? `${where.join(', ')}: ${detail}` : detail;
}

export function invalidModel(detail: string, context: ErrorContext = {}): SlimcError {
  return new SlimcError('invalid-model', detail, context);
}

export function unsupported(detail: string, context: ErrorContext = {}): SlimcError {
  return new SlimcError('unsupported', detail, context);
}

export function isSlimcError(e: unknown): e is SlimcError {
  return e instanceof SlimcError;
}
