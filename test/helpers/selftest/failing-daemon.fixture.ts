import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runCli, waitForEvent, writeDaemonConfig } from '../daemon.js';

/**
 * A test that fails on purpose while its daemon runs, without stopping it (run only by
 * test/integration/daemon-helper.test.ts, through ./vitest.config.ts).
 */
it('fails with a daemon running', async () => {
  const dir = process.env.FAILING_DAEMON_DIR;
  if (!dir) throw new Error('FAILING_DAEMON_DIR is not set');
  const cfg = writeDaemonConfig(dir, path.join(dir, 'outbox'));
  const logFile = path.join(dir, 'daemon.log');
  const d = runCli(['start', '--config', cfg], logFile);
  await waitForEvent(logFile, 'daemon.ready');
  fs.writeFileSync(path.join(dir, 'daemon.pid'), String(d.child.pid));
  expect('this test').toBe('failing on purpose');
});
