import { parentPort } from 'node:worker_threads';
import { validateFile } from './validate.js';
import { toVerdict, type PoolItemResult, type PoolRequest, type PoolResponse } from './pool.js';

/** A validation worker thread: validates each batch the pool sends, one file after another. */
const port = parentPort;
if (port) {
  port.on('message', (req: PoolRequest) => {
    void (async (): Promise<void> => {
      const results: PoolItemResult[] = [];
      for (const item of req.items) {
        try {
          const { asOf, ...opts } = item.opts;
          const r = await validateFile(
            item.name,
            Buffer.from(item.bytes.buffer, item.bytes.byteOffset, item.bytes.byteLength),
            {
              ...opts,
              trustedCAs: opts.trustedCAs.map((b) => Buffer.from(b)),
              now: new Date(opts.now),
              ...(asOf !== undefined ? { asOf: new Date(asOf) } : {}),
            },
          );
          results.push({ ok: true, verdict: toVerdict(r) });
        } catch (err) {
          results.push({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        }
      }
      const res: PoolResponse = { id: req.id, results };
      port.postMessage(res);
    })();
  });
}
