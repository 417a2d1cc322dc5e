// The end-to-end suite: real systemd guests booted with systemd-nspawn (root only).
//   npx vitest run --config test/e2e/vitest.e2e.config.ts
// One test file at a time, each in its own forked process with its own guest.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/e2e/**/*.e2e.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // The first run on a machine builds the guest tree (debootstrap) in the global setup.
    testTimeout: 5 * 60_000,
    hookTimeout: 20 * 60_000,
    teardownTimeout: 2 * 60_000,
    // A failing step leaves the guest in a state the next steps of that file build on.
    sequence: { concurrent: false },
  },
});
