import { parentPort } from 'node:worker_threads';
import { validateFile } from './validate.js';
import { toVerdict, type PoolRequest, type PoolResponse } from './pool.js';

/** A validation worker thread: validates the files the pool sends, one at a time. */
const port = parentPort;
if (port) {
  port.on('message', (req: PoolRequest) => {
    void (async (): Promise<void> => {
      let res: PoolResponse;
      try {
        const r = await validateFile(req.name, Buffer.from(req.bytes), {
          ...req.opts,
          trustedCAs: req.opts.trustedCAs.map((b) => Buffer.from(b)),
          now: new Date(req.opts.now),
        });
        res = { id: req.id, ok: true, verdict: toVerdict(r) };
      } catch (err) {
        res = {
          id: req.id,
          ok: false,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        };
      }
      port.postMessage(res);
    })();
  });
}
