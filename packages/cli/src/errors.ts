/**
 * Turns any failure into one line on stderr and an exit code: 2 for bad input (an invalid model,
 * argument or unsupported feature), 1 for internal errors. Stack traces only with --verbose.
 */
import { isSlimcError } from '@slimc/ir';

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_BAD_INPUT = 2;

export function exitCodeOf(e: unknown): number {
  if (isSlimcError(e)) return e.kind === 'internal' ? EXIT_INTERNAL : EXIT_BAD_INPUT;
  if (isNodeFsError(e)) return EXIT_BAD_INPUT;
  return EXIT_INTERNAL;
}

export function formatFailure(e: unknown, verbose: boolean): string {
  let line: string;
  if (isSlimcError(e)) line = e.message;
  else if (isNodeFsError(e)) line = `${e.path ?? ''}: ${fsReason(e.code)}`;
  else if (e instanceof Error) line = `internal error: ${e.message}`;
  else line = `internal error: ${String(e)}`;
  let out = `slimc: ${line}`;
  if (verbose && e instanceof Error && e.stack) out += `\n${e.stack}`;
  else if (exitCodeOf(e) === EXIT_INTERNAL) out += '\n(run with --verbose for the stack trace)';
  return out;
}

interface FsError extends Error {
  code: string;
  path?: string;
}

function isNodeFsError(e: unknown): e is FsError {
  return e instanceof Error && typeof (e as FsError).code === 'string' && /^E[A-Z]+$/.test((e as FsError).code) && 'syscall' in e;
}

function fsReason(code: string): string {
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, expected a file';
    case 'ENOTDIR':
      return 'not a directory';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return code;
  }
}
