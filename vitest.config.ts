import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests import the packages' TypeScript sources directly, so a test run never sees stale builds.
export default defineConfig({
  resolve: {
    alias: {
      '@slimc/ir': src('ir'),
      '@slimc/passes': src('passes'),
      '@slimc/backends': src('backends'),
      '@slimc/cli': src('cli'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
