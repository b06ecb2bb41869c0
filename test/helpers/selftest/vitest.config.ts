import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Runs only failing-daemon.fixture.ts, a test that fails on purpose with a daemon running: used by
 * test/integration/daemon-helper.test.ts to prove the helper kills it. Not part of the suite.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: {
    include: ['test/helpers/selftest/failing-daemon.fixture.ts'],
    setupFiles: ['test/helpers/children-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
