import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Child processes rather than worker threads: the napi addon is loaded once per
    // process and never shared between threads.
    pool: 'forks',
    // Tests call `global.gc()` to check that native memory is released.
    execArgv: ['--expose-gc'],
    server: {
      deps: {
        // `import * as ft from 'ferrite-ml'` resolves via package.json "exports" (self-reference)
        // to dist/esm/index.mjs. Load dist/ with Node's own loader instead of Vite's module
        // runner so tests exercise the real published ESM wrapper -> CJS build -> addon
        // chain, with a single module instance.
        external: [/\/dist\/(esm|cjs)\//],
      },
    },
  },
});
