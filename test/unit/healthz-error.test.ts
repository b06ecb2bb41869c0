import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/http/metrics.js';
import { OpsServer } from '../../src/http/server.js';

/** A health report that cannot be made is still an answer in words, never a bare 500. */
describe('/healthz when the report itself fails', () => {
  it('answers 500 with a JSON body naming the error', async () => {
    const server = new OpsServer(
      () => {
        throw new Error('database disk image is malformed');
      },
      new Metrics(
        () => null,
        () => ({ queued: 0, pending: 0 }),
      ),
      pino({ level: 'silent' }),
    );
    const { port } = await server.listen('127.0.0.1', 0);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual({ status: 'error', error: 'database disk image is malformed' });
    } finally {
      await server.close();
    }
  });
});
