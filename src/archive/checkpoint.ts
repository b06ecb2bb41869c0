import crypto from 'node:crypto';
import { HASH_SIZE, emptyRoot } from './merkle.js';

/**
 * Signed tree heads of the archive log as C2SP checkpoints (c2sp.org/tlog-checkpoint) in C2SP
 * signed notes (c2sp.org/signed-note) with Ed25519 keys:
 *
 *   fatturad/0123abcd/archive          origin
 *   1234                               tree size
 *   <base64 root hash>                 RFC 9162 root at that size
 *                                      blank line
 *   — fatturad/0123abcd/archive <base64(4-byte key ID || 64-byte Ed25519 signature)>
 *
 * The signature covers the note text (the body, with its final newline, without the blank
 * line) as UTF-8 bytes, so `openssl pkeyutl -verify -rawin` checks it too. Verifier keys use
 * the `<name>+<hex key ID>+<base64(0x01 || public key)>` form of golang.org/x/mod/sumdb/note,
 * which the Go transparency tooling reads.
 */

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** Opaque extension lines after the root (C2SP: optional, non-empty, not recommended). */
  extensions?: string[];
}

/** A trusted verification key: a signature line counts only when both name and key ID match. */
export interface NoteKey {
  name: string;
  publicKey: crypto.KeyObject;
}

/** A signing key and the name its signature lines carry. */
export interface NoteSigner {
  name: string;
  privateKey: crypto.KeyObject;
}

export type OpenNoteResult = { ok: true; text: string; signedBy: string[] } | { ok: false; reason: string };
export type OpenCheckpointResult =
  { ok: true; checkpoint: Checkpoint; signedBy: string[] } | { ok: false; reason: string };

/** C2SP signed-note signature type byte for Ed25519. */
const ED25519_TYPE = 0x01;
const ED25519_SIG_SIZE = 64;
const EM_DASH = '\u2014';
/** C2SP: verifiers must accept at least 16 signatures; more than this is treated as an attack. */
const MAX_SIGNATURES = 100;
/** SPKI DER of an Ed25519 public key is this 12-byte header and the 32-byte key. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// ---- keys ----------------------------------------------------------------------------------

/** A fresh Ed25519 key pair for signing checkpoints. */
export function generateLogKey(): { privateKey: crypto.KeyObject; publicKey: crypto.KeyObject } {
  return crypto.generateKeyPairSync('ed25519');
}

/** PKCS#8 PEM of the private key and SPKI PEM of the public key (unencrypted: protect the file). */
export function exportKeyPair(keys: { privateKey: crypto.KeyObject; publicKey?: crypto.KeyObject }): {
  privateKeyPem: string;
  publicKeyPem: string;
} {
  assertEd25519(keys.privateKey, 'private');
  const publicKey = keys.publicKey ?? crypto.createPublicKey(keys.privateKey);
  assertEd25519(publicKey, 'public');
  return {
    privateKeyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Reads a PKCS#8 PEM Ed25519 private key; throws on anything else. */
export function importPrivateKey(pem: string | Buffer): crypto.KeyObject {
  const key = crypto.createPrivateKey({ key: pem, format: 'pem' });
  assertEd25519(key, 'private');
  return key;
}

/** Reads an SPKI PEM Ed25519 public key (or derives it from a PKCS#8 private key PEM); throws on anything else. */
export function importPublicKey(pem: string | Buffer): crypto.KeyObject {
  const key = crypto.createPublicKey({ key: pem, format: 'pem' });
  assertEd25519(key, 'public');
  return key;
}

/** The 32-byte RFC 8032 encoding of an Ed25519 public key. */
export function rawPublicKey(publicKey: crypto.KeyObject): Buffer {
  assertEd25519(publicKey, 'public');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  if (
    der.length !== ED25519_SPKI_PREFIX.length + 32 ||
    !der.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX)
  )
    throw new TypeError('unexpected SPKI encoding of an Ed25519 key');
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
}

/** The Ed25519 public key whose RFC 8032 encoding is `raw` (32 bytes). */
export function publicKeyFromRaw(raw: Uint8Array): crypto.KeyObject {
  if (raw.length !== 32) throw new RangeError(`an Ed25519 public key is 32 bytes, not ${raw.length}`);
  return crypto.createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
}

/** C2SP key ID: SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]. Throws on an invalid name or a non-Ed25519 key. */
export function keyId(name: string, publicKey: crypto.KeyObject): Buffer {
  assertKeyName(name);
  return keyIdOfRaw(name, rawPublicKey(publicKey));
}

/** `<name>+<8 hex digits key ID>+<base64(0x01 || public key)>`, the verifier key form of sumdb/note. */
export function verifierKey(name: string, publicKey: crypto.KeyObject): string {
  const raw = rawPublicKey(publicKey);
  assertKeyName(name);
  const id = keyIdOfRaw(name, raw).toString('hex');
  return `${name}+${id}+${Buffer.concat([Buffer.from([ED25519_TYPE]), raw]).toString('base64')}`;
}

/** Parses a verifier key written by `verifierKey` (or any sumdb/note Ed25519 vkey); null unless it is valid and its key ID matches. */
export function parseVerifierKey(vkey: string): NoteKey | null {
  if (typeof vkey !== 'string') return null;
  const m = /^([^+]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  if (!m) return null;
  const [, name, idHex, b64] = m as unknown as [string, string, string, string];
  if (keyNameProblem(name)) return null;
  const data = decodeBase64Strict(b64);
  if (!data || data.length !== 33 || data[0] !== ED25519_TYPE) return null;
  const raw = data.subarray(1);
  if (!keyIdOfRaw(name, raw).equals(Buffer.from(idHex, 'hex'))) return null;
  try {
    return { name, publicKey: publicKeyFromRaw(raw) };
  } catch {
    return null;
  }
}

// ---- checkpoints ---------------------------------------------------------------------------

/** The checkpoint note text: origin, size, base64 root, extension lines, each ending in a newline. Throws on invalid fields. */
export function formatCheckpointBody(c: Checkpoint): string {
  const lineProblem = (what: string, line: unknown): string | null => {
    if (typeof line !== 'string' || line === '') return `${what} must be a non-empty string`;
    const bad = textProblem(line, false);
    return bad ? `${what} ${bad}` : null;
  };
  const bad =
    lineProblem('origin', c.origin) ??
    (Number.isSafeInteger(c.size) && c.size >= 0
      ? null
      : `size must be a non-negative safe integer, got ${c.size}`) ??
    (c.root instanceof Uint8Array && c.root.length === HASH_SIZE
      ? null
      : `root must be ${HASH_SIZE} bytes`) ??
    (c.size === 0 && !Buffer.from(c.root).equals(emptyRoot())
      ? 'a tree of size 0 has the empty-tree root'
      : null) ??
    (c.extensions ?? []).map((e, i) => lineProblem(`extension line ${i + 1}`, e)).find((p) => p !== null) ??
    null;
  if (bad) throw new RangeError(`checkpoint: ${bad}`);
  const lines = [c.origin, String(c.size), Buffer.from(c.root).toString('base64'), ...(c.extensions ?? [])];
  return lines.map((l) => `${l}\n`).join('');
}

/** The signed note of a checkpoint: body, blank line, one Ed25519 signature line by `name`. */
export function signCheckpoint(c: Checkpoint, name: string, privateKey: crypto.KeyObject): string {
  return signNote(formatCheckpointBody(c), [{ name, privateKey }]);
}

/**
 * Verifies a checkpoint note and parses it strictly. Signatures by keys not in `keys` are ignored
 * (a key is known when name and key ID both match); every signature by a known key must verify,
 * and at least one must be there. `opts.origin`, when given, must equal the origin line: a key
 * that signs for several logs would otherwise vouch for the wrong one.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  keys: readonly NoteKey[],
  opts: { origin?: string } = {},
): OpenCheckpointResult {
  const opened = openNote(note, keys);
  if (!opened.ok) return opened;
  const parsed = parseCheckpointBody(opened.text);
  if (!parsed.ok) return parsed;
  if (opts.origin !== undefined && parsed.checkpoint.origin !== opts.origin)
    return {
      ok: false,
      reason: `checkpoint: origin ${JSON.stringify(parsed.checkpoint.origin)}, want ${JSON.stringify(opts.origin)}`,
    };
  return { ok: true, checkpoint: parsed.checkpoint, signedBy: opened.signedBy };
}

// ---- signed notes --------------------------------------------------------------------------

/**
 * Signs `text` (which must end in a newline and hold no control characters but newlines) with
 * every signer, in order: text, blank line, one signature line each. Throws on invalid input.
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (typeof text !== 'string' || !text.endsWith('\n'))
    throw new RangeError('note text must end with a newline');
  const bad = textProblem(text, true);
  if (bad) throw new RangeError(`note text ${bad}`);
  if (signers.length === 0) throw new RangeError('a note needs at least one signer');
  const msg = Buffer.from(text, 'utf8');
  const lines = signers.map(({ name, privateKey }) => {
    assertKeyName(name);
    assertEd25519(privateKey, 'private');
    const id = keyIdOfRaw(name, rawPublicKey(crypto.createPublicKey(privateKey)));
    const sig = crypto.sign(null, msg, privateKey);
    return `${EM_DASH} ${name} ${Buffer.concat([id, sig]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

/**
 * Verifies a signed note and returns its text. Strict: valid UTF-8, no control characters but
 * newlines, the text separated from the signatures by the last blank line, every signature line
 * `— <name> <base64>` with canonical base64 of key ID and signature, nothing after the last one.
 * Unknown keys are ignored; a signature by a known key that does not verify rejects the note;
 * no verified signature by a known key rejects it. Never throws.
 */
export function openNote(note: string | Uint8Array, keys: readonly NoteKey[]): OpenNoteResult {
  try {
    return openNoteUnsafe(note, keys);
  } catch (err) {
    return { ok: false, reason: `note: cannot verify: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function openNoteUnsafe(note: string | Uint8Array, keys: readonly NoteKey[]): OpenNoteResult {
  const fail = (reason: string): OpenNoteResult => ({ ok: false, reason: `note: ${reason}` });
  let s: string;
  if (typeof note === 'string') {
    if (hasLoneSurrogate(note)) return fail('not valid UTF-8 text');
    s = note;
  } else if (note instanceof Uint8Array) {
    try {
      s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
    } catch {
      return fail('not valid UTF-8 text');
    }
  } else {
    return fail('not a string');
  }
  const ctl = textProblem(s, true);
  if (ctl) return fail(ctl);
  if (!s.endsWith('\n')) return fail('does not end with a newline (truncated, or junk after the signatures)');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) return fail('no blank line between the text and the signatures');
  const text = s.slice(0, split + 1);
  const sigLines = s.slice(split + 2, -1);
  if (sigLines === '') return fail('no signature lines after the blank line');
  const lines = sigLines.split('\n');
  if (lines.length > MAX_SIGNATURES) return fail(`more than ${MAX_SIGNATURES} signatures`);

  // Known keys by "name\0keyid"; distinct keys under one name and ID make a signature ambiguous.
  const known = new Map<string, { name: string; raw: Buffer; key: crypto.KeyObject }[]>();
  for (const [i, k] of keys.entries()) {
    let raw: Buffer;
    try {
      if (keyNameProblem(k.name)) throw new Error(keyNameProblem(k.name) ?? '');
      raw = rawPublicKey(k.publicKey);
    } catch (err) {
      return fail(`trusted key ${i + 1} is unusable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const tag = `${k.name}\0${keyIdOfRaw(k.name, raw).toString('hex')}`;
    const list = known.get(tag) ?? [];
    if (!list.some((e) => e.raw.equals(raw))) list.push({ name: k.name, raw, key: publicKeyFromRaw(raw) });
    known.set(tag, list);
  }

  const msg = Buffer.from(text, 'utf8');
  const signedBy: string[] = [];
  const unknown: string[] = [];
  for (const [i, line] of lines.entries()) {
    const where = `signature line ${i + 1}`;
    if (!line.startsWith(`${EM_DASH} `)) return fail(`${where} does not start with "${EM_DASH} "`);
    const rest = line.slice(2);
    const sp = rest.indexOf(' ');
    if (sp < 0) return fail(`${where} has no space between key name and signature`);
    const name = rest.slice(0, sp);
    const b64 = rest.slice(sp + 1);
    const nameBad = keyNameProblem(name);
    if (nameBad) return fail(`${where}: ${nameBad}`);
    const blob = decodeBase64Strict(b64);
    if (!blob) return fail(`${where}: the signature is not canonical base64`);
    if (blob.length < 5)
      return fail(`${where}: the signature is ${blob.length} bytes, too short for a key ID and a signature`);
    const id = blob.subarray(0, 4).toString('hex');
    const matches = known.get(`${name}\0${id}`);
    if (!matches) {
      unknown.push(`${name}+${id}`);
      continue;
    }
    if (matches.length > 1)
      return fail(`${where}: more than one trusted key has name ${name} and key ID ${id}`);
    const sig = blob.subarray(4);
    if (sig.length !== ED25519_SIG_SIZE)
      return fail(
        `${where}: signature by ${name}+${id} is ${sig.length} bytes, an Ed25519 signature is ${ED25519_SIG_SIZE}`,
      );
    if (!crypto.verify(null, msg, (matches[0] as { key: crypto.KeyObject }).key, sig))
      return fail(
        `${where}: the signature by trusted key ${name}+${id} does not verify (the text or the signature was altered)`,
      );
    if (!signedBy.includes(name)) signedBy.push(name);
  }
  if (signedBy.length === 0)
    return fail(
      unknown.length > 0
        ? `no signature by a trusted key (signed only by unknown keys ${unknown.join(', ')})`
        : 'no signature by a trusted key',
    );
  return { ok: true, text, signedBy };
}

// ---- internals -----------------------------------------------------------------------------

function parseCheckpointBody(
  text: string,
): { ok: true; checkpoint: Checkpoint } | { ok: false; reason: string } {
  const fail = (reason: string): { ok: false; reason: string } => ({
    ok: false,
    reason: `checkpoint: ${reason}`,
  });
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3)
    return fail(`the text has ${lines.length} line(s), a checkpoint needs origin, size and root`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === '') return fail('the origin line is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText))
    return fail(`tree size ${JSON.stringify(sizeText)} is not a decimal number without leading zeros`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return fail(`tree size ${sizeText} is too large`);
  const root = decodeBase64Strict(rootText);
  if (!root) return fail(`root hash ${JSON.stringify(rootText)} is not canonical base64`);
  if (root.length !== HASH_SIZE) return fail(`root hash is ${root.length} bytes, want ${HASH_SIZE}`);
  if (size === 0 && !root.equals(emptyRoot()))
    return fail('tree size 0 with a root that is not the empty-tree hash');
  const emptyExt = extensions.findIndex((e) => e === '');
  if (emptyExt >= 0) return fail(`extension line ${emptyExt + 1} (line ${emptyExt + 4}) is empty`);
  const checkpoint: Checkpoint = { origin, size, root };
  if (extensions.length > 0) checkpoint.extensions = extensions;
  return { ok: true, checkpoint };
}

function keyIdOfRaw(name: string, raw: Uint8Array): Buffer {
  return crypto
    .createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519_TYPE]))
    .update(raw)
    .digest()
    .subarray(0, 4);
}

/** C2SP: non-empty, no Unicode spaces, no "+" (and, being in a note, no control characters). */
function keyNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name === '') return 'the key name is empty';
  if (/[\s\u0085+]/u.test(name)) return `key name ${JSON.stringify(name)} contains a space or "+"`;
  if (/\p{Cc}/u.test(name)) return `key name ${JSON.stringify(name)} contains a control character`;
  if (hasLoneSurrogate(name)) return 'the key name is not valid UTF-8';
  return null;
}

function assertKeyName(name: string): void {
  const bad = keyNameProblem(name);
  if (bad) throw new RangeError(bad);
}

function assertEd25519(key: unknown, type: 'public' | 'private'): asserts key is crypto.KeyObject {
  if (!(key instanceof crypto.KeyObject) || key.type !== type || key.asymmetricKeyType !== 'ed25519')
    throw new TypeError(`not an Ed25519 ${type} key`);
}

/**
 * Why `s` cannot be (part of) a note text: C2SP forbids ASCII control characters except newline
 * (so CR from a Windows checkout is caught here). `newlines` allows U+000A.
 */
function textProblem(s: string, newlines: boolean): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0a && newlines) continue;
    if (c < 0x20) {
      const what =
        c === 0x0d
          ? 'a carriage return (CRLF line ends?)'
          : c === 0x0a
            ? 'a newline'
            : `control character U+${c.toString(16).padStart(4, '0')}`;
      return `contains ${what} at offset ${i}`;
    }
  }
  return hasLoneSurrogate(s) ? 'is not valid UTF-8 (lone surrogate)' : null;
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** RFC 4648 §4 base64 with padding, canonical (re-encodes to the same text); null otherwise. */
function decodeBase64Strict(s: string): Buffer | null {
  if (s === '' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : null;
}
