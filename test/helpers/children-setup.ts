import { afterAll } from 'vitest';
import { killTrackedChildren, killTrackedChildrenSync } from './daemon.js';

/**
 * vitest setup file: the daemons a test file started (test/helpers/daemon.ts runCli) are killed
 * when the file is done, whether its tests passed or failed, and when the test process exits.
 * Tests stop their daemons themselves first (cleanly, to check the stop); this is the safety net.
 */
afterAll(async () => {
  await killTrackedChildren();
});

process.once('exit', killTrackedChildrenSync);
