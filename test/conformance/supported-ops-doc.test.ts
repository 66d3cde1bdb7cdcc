import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { supportedOps } from '@slimc/ir';
import { DOC_PATH, OP_LIMITS, renderSupportedOps } from './write-supported-ops.mjs';

test('docs/supported-ops.md lists exactly the supported ops (regenerate with write-supported-ops.mjs)', () => {
  expect(readFileSync(DOC_PATH, 'utf8')).toBe(renderSupportedOps(supportedOps()));
});

test('every documented limit names a supported op', () => {
  const ops = new Set(supportedOps());
  expect(Object.keys(OP_LIMITS).filter((op) => !ops.has(op))).toEqual([]);
});
