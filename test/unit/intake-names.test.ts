import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkInput, fitName, MAX_NAME_BYTES } from '../../src/watchers/accept.js';
import { canonicalDir, openForWriting } from '../../src/watchers/writers.js';
import { waitFor } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('names too long to keep', () => {
  it('are refused with NAME-TOO-LONG, in English and Italian', () => {
    const long = `${'é'.repeat(100)}.xml`; // 204 bytes in UTF-8, 104 characters
    expect(checkInput(long, 10, 5_000_000).map((f) => f.code)).toEqual(['NAME-TOO-LONG']);
    expect(checkInput(long, 10, 5_000_000)[0]?.messageIt).toMatch(/Il nome del file è lungo 204 byte/);
    expect(checkInput(`${'a'.repeat(MAX_NAME_BYTES - 4)}.xml`, 10, 5_000_000)).toEqual([]);
  });

  it('fitName keeps short names, shortens long ones within the limit, distinct and with their extension', () => {
    expect(fitName('IT01234567890_00001.xml')).toBe('IT01234567890_00001.xml');
    const a = fitName(`${'é'.repeat(200)}a.xml.p7m`);
    const b = fitName(`${'é'.repeat(200)}b.xml.p7m`);
    for (const n of [a, b]) {
      expect(Buffer.byteLength(n)).toBeLessThanOrEqual(MAX_NAME_BYTES);
      expect(n.endsWith('.xml.p7m')).toBe(true);
      expect(n).not.toContain('\uFFFD'); // no character cut in half
    }
    expect(a).not.toBe(b);
  });
});

describe('files open for writing', () => {
  it('a process writing a file is seen; one reading it, or a closed file, is not', async () => {
    const t = tempDir('fatturad-writers-');
    cleanups.push(t.cleanup);
    const dir = canonicalDir(t.dir);
    const w = path.join(dir, 'w.xml');
    const r = path.join(dir, 'r.xml');
    fs.writeFileSync(r, 'x');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs'); fs.openSync(process.argv[1], 'a'); fs.openSync(process.argv[2], 'r'); console.log('open'); setTimeout(() => {}, 60000)`,
        w,
        r,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => child.kill('SIGKILL'));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const open = openForWriting([dir]);
    expect(open.has(w)).toBe(true);
    expect(open.has(r)).toBe(false);
    expect(openForWriting([path.join(dir, 'elsewhere')]).size).toBe(0);
    child.kill('SIGKILL');
    await waitFor('closed', () => !openForWriting([dir]).has(w));
  });
});
