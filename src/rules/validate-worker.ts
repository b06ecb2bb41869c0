import { parentPort, workerData } from 'node:worker_threads';
import { parseNotification } from '../notifications/parse.js';
import { validateFile } from './validate.js';
import {
  toVerdict,
  type PoolItemResult,
  type PoolRequest,
  type PoolResponse,
  type WorkerSetup,
} from './pool.js';

/**
 * A validation worker thread: validates each batch the pool sends, one file after another (or
 * reads an SdI message). Before each file it counts one more started in shared memory, so that the
 * pool knows which file it is on when the file goes past its budget.
 */
const port = parentPort;
const setup = workerData as WorkerSetup | null;
const progress = setup?.progress ? new Int32Array(setup.progress) : null;
if (port) {
  port.on('message', (req: PoolRequest) => {
    void (async (): Promise<void> => {
      const results: PoolItemResult[] = [];
      for (const item of req.items) {
        if (progress) Atomics.add(progress, 0, 1);
        try {
          const bytes = Buffer.from(item.bytes.buffer, item.bytes.byteOffset, item.bytes.byteLength);
          if (item.task === 'notification') {
            results.push({ ok: true, notification: parseNotification(bytes) });
            continue;
          }
          const { asOf, ...opts } = item.opts;
          const r = await validateFile(item.name, bytes, {
            ...opts,
            trustedCAs: opts.trustedCAs.map((b) => Buffer.from(b)),
            now: new Date(opts.now),
            ...(asOf !== undefined ? { asOf: new Date(asOf) } : {}),
          });
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
