import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'fatturad-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // TEST_KEEP_DIRS=1 keeps the folders (logs, stores) of a failing run to look at.
  if (process.env.TEST_KEEP_DIRS) return { dir, cleanup: () => undefined };
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function writeYaml(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}
