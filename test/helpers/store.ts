import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../../src/store/store.js';

/** Claims `bytes` as `<dir>/<name>` into `store` and validates it: the document id, ready to send. */
export function validatedDocument(store: Store, dir: string, name: string, bytes: Buffer): number {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  const [row] = store.beginClaims([{ sourceDir: dir, originalName: name, sourcePath: file }], () => file);
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  const ids = store.finishClaims([
    {
      intakeId: row?.id ?? 0,
      sha256: sha,
      size: bytes.length,
      outcome: 'accepted',
      documents: [
        {
          entry: '',
          originalName: name,
          sha256: sha,
          size: bytes.length,
          state: 'received',
          path: file,
          reason: 'test',
        },
      ],
    },
  ]);
  const d = ids.get(row?.id ?? 0)?.[0] ?? 0;
  store.markValidated(d, [], 'valid');
  return d;
}
