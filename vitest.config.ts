import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Says once per run when the official spec files are missing (their oracle tests skip).
    globalSetup: ['test/global-setup.ts'],
    // Kills every daemon a test file started, even when a test failed (test/helpers/daemon.ts).
    setupFiles: ['test/helpers/children-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
