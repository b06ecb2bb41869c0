import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * The simulator's drop folder of invoices to deliver to the daemon as received invoices (both
 * transports). A dropped file waits in `.queued/` until the daemon took it: a simulator that
 * stops before that delivers it again at its next start (`first`).
 */
export type DeliverFn = (name: string, bytes: Buffer, done: () => Promise<void>) => Promise<unknown>;

export async function scanDeliverFolder(dir: string, first: boolean, deliver: DeliverFn): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  const queued = path.join(dir, '.queued');
  await fsp.mkdir(queued, { recursive: true });
  const send = async (n: string): Promise<void> => {
    const file = path.join(queued, n);
    await deliver(n, await fsp.readFile(file), () => fsp.rm(file, { force: true }));
  };
  if (first) for (const n of await fsp.readdir(queued)) await send(n);
  for (const n of names) {
    if (n.startsWith('.') || !/\.(xml|p7m)$/i.test(n)) continue;
    await fsp.rename(path.join(dir, n), path.join(queued, n));
    await send(n);
  }
}
