import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, SPEC } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * scripts/fetch-spec.sh, offline: its downloads come from a file:// mirror with the layout of the
 * spec folder (the spec folder itself, or a tampered copy of it). Good files are kept; a file
 * whose SHA-256 is not the pinned one is refused and deleted, in a download or already in the
 * cache.
 */

const SCRIPT = path.join(ROOT, 'scripts', 'fetch-spec.sh');
const sha = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** The files the script lists (path under the spec folder), read from its manifest. */
function manifest(): string[] {
  const text = fs.readFileSync(SCRIPT, 'utf8');
  const body = text.slice(text.indexOf("<<'MANIFEST'\n") + 13, text.indexOf('\nMANIFEST\n'));
  return body
    .split('\n')
    .filter((l) => /^[0-9a-f]{64} /.test(l))
    .map((l) => l.split(' ')[1] as string);
}

function fetchSpec(base: string, dest: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [SCRIPT], {
    env: { ...process.env, FETCH_SPEC_BASE_URL: pathToFileURL(base).href, FETCH_SPEC_DIR: dest },
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const t = tempDir('fatturad-fetch-spec-');
afterAll(() => t.cleanup());

describe.skipIf(!SPEC)('scripts/fetch-spec.sh (file:// mirror)', () => {
  const files = manifest();
  const cache = path.join(t.dir, 'cache');
  const WSDL_TYPES = 'sdi/sdicoop/RicezioneTypes_v1.0.xsd';
  const VECTOR = 'preservation/merkle-testvectors/inclusion/1/modified-proof[0]-bit-@3.json';

  it('lists the files the tests read, each with its pinned checksum', () => {
    expect(files.length).toBe(224);
    for (const f of [
      'fatturapa/schema/v1.2.3/Schema_VFPR12_v1.2.3.xsd',
      'fatturapa/schema/xmldsig-core-schema.xsd',
      'fatturapa/schema-semplificata/v1.0.1/Schema_VFSM10.xsd',
      'fatturapa/samples/IT01234567890_FPR02.xml',
      'sdi/messaggi/MessaggiTypes_v1.1.xsd',
      'sdi/messaggi/samples/IT01234567890_11111_RC_001.xml',
      'sdi/sdicoop/TrasmissioneFatture_v1.1.wsdl',
      'preservation/sincro-v2-PIndex.xsd',
      VECTOR,
    ])
      expect(files).toContain(f);
  });

  it('downloads every file from the mirror, verified, in the same layout', () => {
    const r = fetchSpec(SPEC as string, cache);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${files.length} files verified (${files.length} downloaded now), 0 missing`);
    for (const f of files) expect(sha(path.join(cache, f)), f).toBe(sha(path.join(SPEC as string, f)));
    // Nothing else is left behind (no partial downloads).
    const all = fs.readdirSync(cache, { recursive: true }).map(String);
    expect(all.filter((f) => fs.statSync(path.join(cache, f)).isFile())).toHaveLength(files.length);
  });

  it('refuses a cached file that was changed, and fetches it again', () => {
    const f = path.join(cache, WSDL_TYPES);
    fs.appendFileSync(f, '<!-- changed -->');
    const r = fetchSpec(SPEC as string, cache);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${WSDL_TYPES}: checksum differs from the pinned one, refused (deleted)`);
    expect(r.stdout).toContain('(1 downloaded now), 0 missing');
    expect(sha(f)).toBe(sha(path.join(SPEC as string, WSDL_TYPES)));
  });

  it('keeps the good files of a tampered mirror and refuses (deletes) the tampered ones', () => {
    const mirror = path.join(t.dir, 'mirror');
    fs.cpSync(cache, mirror, { recursive: true });
    fs.appendFileSync(path.join(mirror, WSDL_TYPES), '\n<!-- tampered -->\n');
    fs.writeFileSync(path.join(mirror, VECTOR), '{"tampered": true}\n');
    const out = path.join(t.dir, 'from-mirror');
    const r = fetchSpec(mirror, out);
    expect(r.code).toBe(1);
    for (const bad of [WSDL_TYPES, VECTOR]) {
      expect(r.stderr).toMatch(
        new RegExp(`${bad.replace(/[[\]]/g, '\\$&')}: .* not the pinned [0-9a-f]{64}: refused`),
      );
      expect(fs.existsSync(path.join(out, bad)), bad).toBe(false);
      expect(fs.existsSync(path.join(out, `${bad}.part`)), bad).toBe(false);
    }
    expect(r.stdout).toContain(
      `${files.length - 2} files verified (${files.length - 2} downloaded now), 2 missing`,
    );
    for (const f of files.filter((x) => x !== WSDL_TYPES && x !== VECTOR))
      expect(sha(path.join(out, f)), f).toBe(sha(path.join(SPEC as string, f)));
  });
});
