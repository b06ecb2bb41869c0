import { isUtf8 } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { z } from 'zod';
import { fsyncDir, fsyncFile, tempNameFor } from '../util/fsx.js';
import { nameProblem, openZipReader } from '../watchers/zip.js';
import { buildBag, checkBag, readManifest, type BagInfo, type BagProblem } from './bagit.js';
import { openCheckpoint, parseVerifierKey, verifierKey, type NoteKey } from './checkpoint.js';
import { decodeEntry } from './entry.js';
import { decodeFacts, FACTS_VERSION, type FactsItem } from './facts.js';
import { leafHash, verifyInclusion } from './merkle.js';

/**
 * The PdD (pacchetto di distribuzione) handed to an auditor: a BagIt 1.0 bag in a zip that can be
 * checked offline, with nothing from fatturad, by `unzip`, `sha256sum`, `openssl` and `python3`
 * (the steps are in the bag's VERIFY.txt), or by `verifyPdd`.
 *
 *   bagit.txt, bag-info.txt, manifest-sha256.txt, manifest-sha512.txt,
 *   tagmanifest-sha256.txt, tagmanifest-sha512.txt, VERIFY.txt
 *   data/pdd.json                              index: documents, their leaves, the checkpoint
 *   data/documents/<name>                      the verbatim bytes as sent or received
 *   data/documents/<name>.metadata.json
 *   data/proofs/checkpoint.note                C2SP signed note (Ed25519) of the log
 *   data/proofs/log-key.pub, log-key.vkey      the log key, SPKI PEM and C2SP verifier key
 *   data/proofs/inclusion/<leafIndex>.json     {leafIndex, treeSize, entry, leafHash, hashes}
 *   data/packages/...                          PIndex.xml, RdV, their .p7m/.tsr when there are
 *
 * The bag proves that each document is, byte for byte, the blob named by an entry of the archive's
 * append-only log, and that this entry is in the tree the log key signed. It does not prove that
 * no document was left out, and it proves nothing about the key itself: the auditor compares the
 * key's fingerprint with one held from elsewhere (the manuale di conservazione).
 */

export interface PddDocument {
  /** e.g. 'IT01234567890_00001.xml': the verbatim bytes as sent/received, and its related messages. */
  name: string;
  bytes: Buffer;
  sha256: string;
  /** Written as data/documents/<name>.metadata.json. */
  metadata: Record<string, unknown>;
  /** The archive log entry of this blob and its inclusion proof into `checkpoint`. */
  leafIndex: number;
  entry: Buffer;
  proof: Buffer[];
}

export interface PddInput {
  id: string;
  documents: PddDocument[];
  /** The signed note text. */
  checkpointNote: string;
  treeSize: number;
  rootHex: string;
  logPublicKeyPem: string;
  verifierKey: string;
  origin: string;
  /** PIndex.xml, RdV, their .p7m/.tsr if any; paths relative to data/packages/. */
  packages?: { path: string; bytes: Buffer; leafIndex?: number; entry?: Buffer; proof?: Buffer[] }[];
  /**
   * The log's facts entries of the documents (fatturad-facts/1), with their inclusion proofs into
   * the same checkpoint: what the archive's log says each document holds (its files, their kinds
   * and hashes, its search keys). Given: the bag is a fatturad-pdd/2 bag, checked against them.
   */
  facts?: { leafIndex: number; entry: Buffer; proof: Buffer[] }[];
  info: BagInfo;
}

export interface PddFinding {
  code: string;
  path?: string;
  message: string;
}

export interface PddVerification {
  ok: boolean;
  findings: PddFinding[];
  /**
   * Archived documents in the bag: an invoice (sent or received) with its messages, counted by
   * the `document` each file of the index belongs to (a bag written before that field counts each
   * file as a document). The same count as `archive export` and `archive status`.
   */
  documents: number;
  /** Archived files in the bag's index (data/documents/): the invoices, SdI's messages, MT... */
  files: number;
  /** Size of the signed tree (of the index when the checkpoint cannot be opened; 0 when neither). */
  treeSize: number;
  /** SHA-256 of the log key (DER SubjectPublicKeyInfo), hex: compare it with the one held elsewhere. */
  logKeyFingerprint?: string;
}

export interface PddVerifyOptions {
  /** C2SP verifier keys the auditor trusts; when given, the bag's key must be one of them. */
  trustedKeys?: string[];
  limits?: Partial<PddZipLimits>;
}

export interface PddZipLimits {
  /** Size of the zip file itself. */
  maxZipBytes: number;
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  /** Uncompressed/compressed ratio above which an entry over `ratioMinBytes` is refused. */
  maxRatio: number;
  ratioMinBytes: number;
}

export const DEFAULT_PDD_LIMITS: PddZipLimits = {
  maxZipBytes: 1024 * 1024 * 1024,
  maxEntries: 200_000,
  maxEntryBytes: 256 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024 - 1,
  maxRatio: 1000,
  ratioMinBytes: 1024 * 1024,
};

export const PDD_FORMAT = 'fatturad-pdd/1';
/** A bag with the documents' facts entries, checked against them. */
export const PDD_FORMAT_FACTS = 'fatturad-pdd/2';

const DOCS = 'data/documents/';
const INCLUSION = 'data/proofs/inclusion/';
const PACKAGES = 'data/packages/';
const NOTE = 'data/proofs/checkpoint.note';
const KEY_PEM = 'data/proofs/log-key.pub';
const KEY_VKEY = 'data/proofs/log-key.vkey';
const INDEX = 'data/pdd.json';

/** File names the bag takes as they are: no spaces, quotes, '%' or anything a shell would read. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;

// ---------------------------------------------------------------------------------------------
// The index (data/pdd.json) and the inclusion proofs

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const pddIndexSchema = z.object({
  format: z.enum([PDD_FORMAT, PDD_FORMAT_FACTS]),
  id: z.string(),
  origin: z.string(),
  treeSize: index,
  root: hex64,
  verifierKey: z.string(),
  documents: z.array(
    z.object({
      name: z.string().regex(SAFE_NAME),
      path: z.string(),
      metadata: z.string(),
      sha256: hex64,
      size: index,
      leafIndex: index,
      inclusion: z.string(),
      /** The archived document this file belongs to (since fatturad 0.1.x; absent in older bags). */
      document: z.string().optional(),
    }),
  ),
  packages: z.array(z.string()),
  /** The log indexes of the documents' facts entries (fatturad-pdd/2). */
  facts: z.array(index).optional(),
  /** The log index of each package file's entry, by its path (fatturad-pdd/2). */
  packageLeaves: z.record(z.string(), index).optional(),
});
type PddIndex = z.infer<typeof pddIndexSchema>;

const inclusionSchema = z.object({
  leafIndex: index,
  treeSize: index,
  entry: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  leafHash: hex64,
  hashes: z.array(hex64),
});
type InclusionFile = z.infer<typeof inclusionSchema>;

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

function sha256Hex(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Strict base64: decodes, and only if encoding back gives the same text. */
function strictBase64(text: string): Buffer | null {
  const b = Buffer.from(text, 'base64');
  return b.toString('base64') === text ? b : null;
}

function keyFingerprint(key: crypto.KeyObject): string {
  return sha256Hex(key.export({ type: 'spki', format: 'der' }));
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Builds the bag, checks it with the same code as `verifyPdd` (a PdD that would not verify is
 * never written: this throws instead), and writes the zip via a temporary name, fsync and rename.
 */
export async function writePdd(input: PddInput, outFile: string): Promise<{ files: number; bytes: number }> {
  const files = buildPddFiles(input);
  const check = verifyPddFiles(new Map(files.map((f) => [f.path, f.bytes])));
  if (!check.ok) {
    throw new Error(
      `PdD ${input.id} would not verify: ${check.findings.map((f) => `${f.code} ${f.message}`).join('; ')}`,
    );
  }

  const dir = path.dirname(outFile);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = tempNameFor(outFile);
  // Same bytes for the same input: fixed times, fixed order.
  const mtime = new Date(`${input.info.baggingDate}T12:00:00Z`);
  const zip = new yazl.ZipFile();
  for (const f of files) zip.addBuffer(f.bytes, f.path, { mtime, mode: 0o100644, compress: true });
  zip.end();
  try {
    await pipeline(zip.outputStream, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    await fsyncFile(tmp);
    await fsp.rename(tmp, outFile);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
  const { size } = await fsp.stat(outFile);
  return { files: files.length, bytes: size };
}

/** All the files of the PdD bag (no I/O): what `writePdd` zips. Throws on input it cannot take. */
export function buildPddFiles(input: PddInput): { path: string; bytes: Buffer }[] {
  if (input.documents.length === 0) throw new Error(`PdD ${input.id}: no documents`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(input.id)) throw new Error('PdD id contains control characters');
  if (!Number.isSafeInteger(input.treeSize) || input.treeSize < 1) {
    throw new Error(`PdD ${input.id}: tree size ${input.treeSize} is not a positive integer`);
  }
  if (!/^[0-9a-f]{64}$/.test(input.rootHex))
    throw new Error(`PdD ${input.id}: root is not 64 lowercase hex digits`);

  const payload: { path: string; bytes: Buffer }[] = [];
  const proofs = new Map<number, InclusionFile>();
  const documents: PddIndex['documents'] = [];
  for (const d of input.documents) {
    if (!SAFE_NAME.test(d.name)) {
      throw new Error(`document name ${JSON.stringify(d.name)} is not a plain file name ([A-Za-z0-9._+-])`);
    }
    if (sha256Hex(d.bytes) !== d.sha256)
      throw new Error(`document ${d.name}: its bytes do not hash to ${d.sha256}`);
    if (!Number.isSafeInteger(d.leafIndex) || d.leafIndex < 0 || d.leafIndex >= input.treeSize) {
      throw new Error(
        `document ${d.name}: leaf index ${d.leafIndex} is not in a tree of size ${input.treeSize}`,
      );
    }
    const proof: InclusionFile = {
      leafIndex: d.leafIndex,
      treeSize: input.treeSize,
      entry: d.entry.toString('base64'),
      leafHash: leafHash(d.entry).toString('hex'),
      hashes: d.proof.map((h) => h.toString('hex')),
    };
    const same = proofs.get(d.leafIndex);
    if (same && JSON.stringify(same) !== JSON.stringify(proof)) {
      throw new Error(`document ${d.name}: leaf ${d.leafIndex} is given two different entries or proofs`);
    }
    proofs.set(d.leafIndex, proof);
    payload.push({ path: `documents/${d.name}`, bytes: d.bytes });
    payload.push({ path: `documents/${d.name}.metadata.json`, bytes: json(d.metadata) });
    documents.push({
      name: d.name,
      path: `documents/${d.name}`,
      metadata: `documents/${d.name}.metadata.json`,
      sha256: d.sha256,
      size: d.bytes.length,
      leafIndex: d.leafIndex,
      inclusion: `proofs/inclusion/${d.leafIndex}.json`,
      ...(typeof d.metadata.document === 'string' ? { document: d.metadata.document } : {}),
    });
  }
  for (const f of input.facts ?? []) {
    if (!Number.isSafeInteger(f.leafIndex) || f.leafIndex < 0 || f.leafIndex >= input.treeSize)
      throw new Error(`facts entry ${f.leafIndex} is not in a tree of size ${input.treeSize}`);
    if (proofs.has(f.leafIndex)) throw new Error(`facts entry ${f.leafIndex} is also a document's entry`);
    proofs.set(f.leafIndex, {
      leafIndex: f.leafIndex,
      treeSize: input.treeSize,
      entry: f.entry.toString('base64'),
      leafHash: leafHash(f.entry).toString('hex'),
      hashes: f.proof.map((h) => h.toString('hex')),
    });
  }

  const packages = (input.packages ?? []).map((p) => {
    const segments = p.path.split('/');
    if (segments.length > 8 || !segments.every((s) => SAFE_NAME.test(s))) {
      throw new Error(`package path ${JSON.stringify(p.path)} is not made of plain names ([A-Za-z0-9._+-])`);
    }
    return p;
  });
  const packageLeaves: Record<string, number> = {};
  for (const p of packages) {
    payload.push({ path: `packages/${p.path}`, bytes: p.bytes });
    if (p.leafIndex === undefined || !p.entry || !p.proof) continue;
    if (!Number.isSafeInteger(p.leafIndex) || p.leafIndex < 0 || p.leafIndex >= input.treeSize)
      throw new Error(
        `package ${p.path}: leaf index ${p.leafIndex} is not in a tree of size ${input.treeSize}`,
      );
    packageLeaves[`packages/${p.path}`] = p.leafIndex;
    const proof: InclusionFile = {
      leafIndex: p.leafIndex,
      treeSize: input.treeSize,
      entry: p.entry.toString('base64'),
      leafHash: leafHash(p.entry).toString('hex'),
      hashes: p.proof.map((h) => h.toString('hex')),
    };
    const same = proofs.get(p.leafIndex);
    if (same && JSON.stringify(same) !== JSON.stringify(proof))
      throw new Error(`package ${p.path}: leaf ${p.leafIndex} is given two different entries or proofs`);
    proofs.set(p.leafIndex, proof);
  }
  for (const [leaf, proof] of [...proofs].sort((a, b) => a[0] - b[0]))
    payload.push({ path: `proofs/inclusion/${leaf}.json`, bytes: json(proof) });

  const pem = crypto.createPublicKey(input.logPublicKeyPem);
  const vkey = input.verifierKey.trim();
  payload.push({ path: 'proofs/checkpoint.note', bytes: Buffer.from(input.checkpointNote, 'utf8') });
  payload.push({ path: 'proofs/log-key.pub', bytes: pem.export({ type: 'spki', format: 'pem' }) as Buffer });
  payload.push({ path: 'proofs/log-key.vkey', bytes: Buffer.from(`${vkey}\n`, 'utf8') });

  const pddIndex: PddIndex = {
    format: input.facts ? PDD_FORMAT_FACTS : PDD_FORMAT,
    id: input.id,
    origin: input.origin,
    treeSize: input.treeSize,
    root: input.rootHex,
    verifierKey: vkey,
    documents,
    packages: packages.map((p) => `packages/${p.path}`).sort(),
    ...(input.facts ? { facts: input.facts.map((f) => f.leafIndex).sort((a, b) => a - b) } : {}),
    ...(input.facts ? { packageLeaves } : {}),
  };
  payload.push({ path: 'pdd.json', bytes: json(pddIndex) });

  const verify = verifyTxt({
    id: input.id,
    info: input.info,
    origin: input.origin,
    treeSize: input.treeSize,
    rootHex: input.rootHex,
    vkey,
    fingerprint: keyFingerprint(pem),
    documents: documentCount(documents),
    files: documents.length,
    packages: packages.map((p) => p.path).sort(),
  });
  return buildBag(payload, input.info, [{ path: 'VERIFY.txt', bytes: Buffer.from(verify, 'utf8') }]);
}

// ---------------------------------------------------------------------------------------------
// VERIFY.txt

interface VerifyContext {
  id: string;
  info: BagInfo;
  origin: string;
  treeSize: number;
  rootHex: string;
  vkey: string;
  fingerprint: string;
  documents: number;
  files: number;
  packages: string[];
}

/** Archived documents among the index's files: by their `document`, or one per file without it. */
function documentCount(entries: { name: string; document?: string | undefined }[]): number {
  return new Set(entries.map((e) => (e.document !== undefined ? `d:${e.document}` : `f:${e.name}`))).size;
}

/**
 * The Python check of VERIFY.txt. Kept in this module (not a file of its own) because it is
 * part of the bag: what the auditor reads is what the tests run.
 */
const PYTHON_CHECK = String.raw`import base64, hashlib, json, os, sys

# Checks, with the Python standard library only, run from the bag root (or: python3 check.py BAGDIR):
#  - every data/proofs/inclusion/*.json: its entry hashes to its leafHash, and its inclusion proof
#    leads from that leaf to the root hash of data/proofs/checkpoint.note (RFC 9162, 2.1.3.2);
#  - every document of data/pdd.json: its SHA-256 and size are the ones its log entry names.
# It does not check the checkpoint's signature: that is the openssl step.

bag = sys.argv[1] if len(sys.argv) > 1 else "."
def path(*p): return os.path.join(bag, "data", *p)
def H(b): return hashlib.sha256(b).digest()
failures = []
def fail(msg): failures.append(msg); print("FAIL", msg)

note = open(path("proofs", "checkpoint.note"), "rb").read().decode("utf-8")
body = note.split("\n\n", 1)[0].split("\n")       # origin, tree size, base64 root hash
origin, size, root = body[0], int(body[1]), base64.b64decode(body[2], validate=True)

def root_from_proof(index, size, leaf, proof):    # RFC 9162, section 2.1.3.2
    if index >= size: return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != 32: return None
        if fn & 1 or fn == sn:
            r = H(b"\x01" + p + r)
            while (fn & 1) == 0 and fn != 0:
                fn >>= 1; sn >>= 1
        else:
            r = H(b"\x01" + r + p)
        fn >>= 1; sn >>= 1
    return r if sn == 0 else None

entries = {}
for name in sorted(os.listdir(path("proofs", "inclusion"))):
    p = json.load(open(path("proofs", "inclusion", name), "rb"))
    i, entry = p["leafIndex"], base64.b64decode(p["entry"], validate=True)
    leaf = H(b"\x00" + entry)
    if name != "%d.json" % i: fail("%s holds the proof of leaf %d" % (name, i))
    elif p["treeSize"] != size: fail("%s proves into a tree of size %d, the checkpoint's is %d" % (name, p["treeSize"], size))
    elif leaf.hex() != p["leafHash"]: fail("%s: the entry does not hash to its leafHash" % name)
    elif root_from_proof(i, size, leaf, [bytes.fromhex(h) for h in p["hashes"]]) != root:
        fail("%s: the inclusion proof does not lead to the checkpoint's root" % name)
    else:
        entries[i] = entry.decode("utf-8").split("\n"); print("OK   log entry", i, "is in the signed tree")

index = json.load(open(path("pdd.json"), "rb"))
for d in index["documents"]:
    data = open(path(d["path"]), "rb").read()
    lines = entries.get(d["leafIndex"], [])
    want = ["seq %d" % d["leafIndex"], "sha256 " + hashlib.sha256(data).hexdigest(), "size %d" % len(data)]
    if d["leafIndex"] not in entries: fail("%s: no verified proof for log entry %d" % (d["path"], d["leafIndex"]))
    elif not all(w in lines for w in want): fail("%s is not the file that log entry %d names" % (d["path"], d["leafIndex"]))
    else: print("OK  ", d["path"], "is log entry", d["leafIndex"])

# fatturad-pdd/2: each document is what the log's facts entry of its document says (document,
# kind, search keys), and every file those facts list is in the bag.
facts = {}
for i in index.get("facts", []):
    lines = entries.get(i, [])
    if len(lines) < 4 or lines[0] != "fatturad-facts/1" or not lines[3].startswith("facts "):
        fail("log entry %d is not a proven facts entry" % i); continue
    f = json.loads(lines[3][len("facts "):])
    for it in f["items"]: facts[it["leaf"]] = (f["document"], it)
if index.get("format") == "fatturad-pdd/2":
    listed = set()
    for d in index["documents"]:
        listed.add(d["leafIndex"])
        doc, it = facts.get(d["leafIndex"], (None, None))
        meta = json.load(open(path(d["metadata"]), "rb"))
        keys = it["keys"] if it and it["kind"] == "invoice" else None
        if it is None: fail("%s: no facts entry names log entry %d" % (d["path"], d["leafIndex"]))
        elif meta.get("document") != doc or meta.get("kind") != it["kind"] or meta.get("keys") != keys:
            fail("%s: its document, kind or search keys are not what the log's facts entry says" % d["path"])
    for leaf, (doc, it) in sorted(facts.items()):
        if leaf not in listed: fail("%s/%s (log entry %d) is in the log's facts but not in this bag" % (doc, it["name"], leaf))
    if facts and not failures: print("OK   every document is what the log's facts entries say, and every file they list is here")

if not index["documents"] or not entries: fail("nothing to check")
print("checkpoint: origin %s, tree size %d, root %s" % (origin, size, root.hex()))
print("%d problem(s)" % len(failures) if failures else "all inclusion proofs and documents check out")
sys.exit(1 if failures else 0)`;

function fence(kind: 'sh' | 'python', id: string, body: string): string {
  return `\n\`\`\`${kind} id=${id}\n${body.trimEnd()}\n\`\`\`\n`;
}

function packageCommands(packages: string[]): string {
  const present = new Set(packages);
  const certs = packages.filter((p) => /\.(pem|crt|cer)$/i.test(p));
  const lines: string[] = [];
  lines.push(
    certs.length > 0
      ? `CA=data/packages/${certs[0]}   # shipped in this bag; better: your own copy of the signer's CA`
      : 'CA=/path/to/trusted-ca.pem   # the CA certificate(s) of the signer / TSA, from your own records',
  );
  lines.push('T=$(mktemp -d)');
  for (const p of packages) {
    if (/\.p7m$/i.test(p)) {
      const content = p.slice(0, -4);
      const out = `"$T/${path.posix.basename(content)}"`;
      lines.push(`openssl cms -verify -binary -inform DER -in data/packages/${p} -CAfile "$CA" -out ${out}`);
      if (present.has(content)) lines.push(`cmp ${out} data/packages/${content}`);
    } else if (/\.tsr$/i.test(p)) {
      const data = p.slice(0, -4);
      if (present.has(data)) {
        lines.push(`openssl ts -verify -in data/packages/${p} -data data/packages/${data} -CAfile "$CA"`);
      } else {
        lines.push(`# ${p}: the file it time-stamps (${data}) is not in this bag`);
      }
    }
  }
  return lines.join('\n');
}

function verifyTxt(c: VerifyContext): string {
  const signed = c.packages.filter((p) => /\.(p7m|tsr)$/i.test(p));
  const oxumNote = 'bag-info.txt gives the Payload-Oxum (octets.files of data/)';
  const out: string[] = [];
  out.push(`HOW TO VERIFY THIS PACKAGE OFFLINE
==================================

Pacchetto di distribuzione (PdD) ${c.id}
Made by fatturad for ${c.info.sourceOrganization} on ${c.info.baggingDate}.

This zip is a BagIt 1.0 bag (RFC 8493). It holds ${c.documents} document(s) (invoices with their
messages), ${c.files} file(s) under data/documents/, each as the exact bytes that were sent or received, and for each one the proof that the archive's
append-only log (a Merkle tree, RFC 9162) holds an entry naming that file's SHA-256. The log's
state, its tree size and root hash, is signed with the log's Ed25519 key in
data/proofs/checkpoint.note (a C2SP signed note). data/pdd.json lists which document is which log
entry; ${oxumNote}.

  checkpoint origin : ${c.origin}
  tree size         : ${c.treeSize}
  root hash (hex)   : ${c.rootHex}
  log key (C2SP)    : ${c.vkey}
  log key SHA-256   : ${c.fingerprint}
                      (of the DER public key: openssl pkey -pubin -in data/proofs/log-key.pub -outform DER | sha256sum)

Compare the log key's SHA-256 with the one you hold from elsewhere: the manuale di conservazione,
an earlier PdD, the operator's records. Not with the line above: whoever could change this bag
could change that line too. Every check below shows that the files are what the key signed; only
that comparison shows that the key is the archive's.

What you need: unzip, GNU coreutils (sha256sum, sha512sum), OpenSSL 3.0 or later (for
"pkeyutl -rawin"; LibreSSL will not do), Python 3 (standard library only), bash.

Each block below is for bash, run from the bag root (the folder holding this file). Paste it into
a shell, or save it to a file and run "bash -e FILE" so that it stops at the first failure.


STEP 1. UNPACK

  unzip pdd.zip -d pdd && cd pdd       (use this zip file's name)


STEP 2. THE BAG: EVERY FILE IS THERE, UNCHANGED, AND NOTHING IS ADDED

manifest-sha256.txt and manifest-sha512.txt list every payload file (data/...) with its hash;
tagmanifest-sha256.txt lists the other files, this one included. Each "sha*sum -c" line must
print OK for every file and exit with status 0; the diff must print nothing (a line starting
with ">" is a file that no manifest lists, "<" a listed file that is missing).
`);
  out.push(
    fence(
      'sh',
      'bag',
      `sha256sum -c manifest-sha256.txt
sha512sum -c manifest-sha512.txt
sha256sum -c tagmanifest-sha256.txt
T=$(mktemp -d)
cut -c67- manifest-sha256.txt | LC_ALL=C sort > "$T/listed"
find data -type f | LC_ALL=C sort > "$T/present"
diff "$T/listed" "$T/present"
echo "bag: complete and valid"`,
    ),
  );
  out.push(`

STEP 3. THE CHECKPOINT IS SIGNED BY THE LOG KEY

checkpoint.note is text: the signed lines (origin, tree size, base64 root hash), a blank line,
then one signature line per key, "— <key name> <base64>", where the base64 decodes to a 4-byte
key ID followed by the 64-byte Ed25519 signature of the signed lines (each with its newline).
log-key.vkey is the same key as log-key.pub written as "<name>+<key ID hex>+<base64 of 0x01 and
the 32-byte key>". The block checks that both files hold the same key, that the signature line
carries that key's ID, and the signature; openssl must print "Signature Verified Successfully".
`);
  out.push(
    fence(
      'sh',
      'checkpoint',
      `T=$(mktemp -d)
cut -d+ -f3- data/proofs/log-key.vkey | base64 -d | tail -c +2 > "$T/vkey.raw"
openssl pkey -pubin -in data/proofs/log-key.pub -outform DER | tail -c 32 > "$T/pem.raw"
cmp "$T/vkey.raw" "$T/pem.raw"
NAME=$(cut -d+ -f1 data/proofs/log-key.vkey)
sed '/^$/,$d' data/proofs/checkpoint.note > "$T/body.txt"
awk -v name="$NAME" '$1 == "—" && $2 == name { print $3; exit }' data/proofs/checkpoint.note | base64 -d > "$T/sigline.bin"
head -c 4 "$T/sigline.bin" | od -An -tx1 | tr -d ' \\n' > "$T/keyid.hex"
cut -d+ -f2 data/proofs/log-key.vkey | tr -d '\\n' | cmp - "$T/keyid.hex"
tail -c +5 "$T/sigline.bin" > "$T/sig.bin"
cat "$T/body.txt"
openssl pkeyutl -verify -pubin -inkey data/proofs/log-key.pub -rawin -in "$T/body.txt" -sigfile "$T/sig.bin"`,
    ),
  );
  out.push(`

STEP 4. EACH DOCUMENT IS IN THE SIGNED TREE

data/proofs/inclusion/<N>.json holds, for log entry N: leafIndex (N), treeSize, entry (the log
entry's bytes, base64), leafHash (hex) and hashes (the inclusion proof, hex, from the leaf up).
A log entry is a short text, for example:

  fatturad-leaf/1
  seq 41
  kind invoice
  sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  size 4275
  ref IT01234567890_00001.xml
  time 2026-11-29T10:00:00.000Z

Its leaf hash is SHA-256(0x00 || entry bytes); an inner node is SHA-256(0x01 || left || right).
"sha256" and "size" name the document's bytes, "seq" is N itself. The proof is checked as in
RFC 9162, section 2.1.3.2, with index = leafIndex, size = the checkpoint's tree size, hash = the
leaf hash, root = the checkpoint's root hash:

   1. If index >= size, fail.
   2. fn = index, sn = size - 1, r = hash.
   3. For each p in hashes, in order:
        a. If sn = 0, fail.
        b. If fn is odd, or fn = sn:
              r = SHA-256(0x01 || p || r)
              while fn is even and fn != 0: fn = fn >> 1, sn = sn >> 1
           otherwise:
              r = SHA-256(0x01 || r || p)
        c. fn = fn >> 1, sn = sn >> 1.
   4. The proof holds if and only if sn = 0 and r = root.

Every hash in the proof must be 32 bytes; every step is done, none skipped. The script below does
exactly this for every file in data/proofs/inclusion/, and checks each document of data/pdd.json
against its entry. Save it as check.py and run "python3 check.py" from the bag root; it prints
one OK line per entry and per document and exits with status 0, or prints FAIL lines and exits 1.
`);
  out.push(fence('python', 'inclusion', PYTHON_CHECK));
  out.push(`

STEP 5. SIGNED AND TIME-STAMPED PACKAGE INDEXES
`);
  if (signed.length === 0) {
    out.push(`
This PdD carries no signed (.p7m) or time-stamped (.tsr) package index${c.packages.length > 0 ? ': the files under data/packages/ are covered by steps 2 to 4 only' : ''}.
`);
  } else {
    out.push(`
The files under data/packages/ include CAdES signatures (.p7m, verified with "openssl cms
-verify", which must print "CMS Verification successful") and RFC 3161 timestamp responses
(.tsr, verified with "openssl ts -verify", which must print "Verification: OK"). Set CA to a PEM
file with the certificate authorities you trust for the signer and the TSA: the Italian trusted
list cannot be fetched offline, and a CA certificate shipped inside this bag proves only what
the bag says. If a .p7m is base64 text rather than DER, decode it first (base64 -d). If the TSA
certificate is not inside the .tsr, add "-untrusted tsa.pem".
`);
    out.push(fence('sh', 'packages', packageCommands(c.packages)));
  }
  out.push(`

WHAT A SUCCESSFUL CHECK SHOWS

Steps 2 to 4 together show that every document in this bag is, byte for byte, a file that the
archive logged as entry N, and that the log key signed a tree of ${c.treeSize} entries holding
those entries. Once the checkpoint is signed, the archive cannot change, reorder or
remove an entry without every later checkpoint disagreeing with this one. The bag does not show
that no document was left out of it; compare data/pdd.json with what you asked for.
`);
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Reading the zip

class ZipReadError extends Error {}

/**
 * A yauzl reader over the zip's bytes in memory. Every range is checked first, so that an offset
 * in a hostile central directory becomes an error handed to yauzl rather than an exception thrown
 * inside one of its callbacks (see src/watchers/zip.ts).
 */
class BufferReader extends yauzl.RandomAccessReader {
  constructor(private readonly buf: Buffer) {
    super();
  }

  private badRange(start: number, end: number): Error | null {
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > this.buf.length
    ) {
      return new ZipReadError(
        `it points to bytes ${start}..${end}, outside the file (${this.buf.length} bytes)`,
      );
    }
    return null;
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null, bytesRead?: number) => void,
  ): void {
    const bad =
      this.badRange(position, position + length) ??
      (offset < 0 || offset + length > buffer.length
        ? new ZipReadError('read outside the target buffer')
        : null);
    if (bad) {
      setImmediate(() => callback(bad));
      return;
    }
    this.buf.copy(buffer, offset, position, position + length);
    setImmediate(() => callback(null, length));
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const bad = this.badRange(start, end);
    if (bad) {
      const s = new Readable({ read: () => undefined });
      setImmediate(() => s.destroy(bad));
      return s;
    }
    return Readable.from([this.buf.subarray(start, end)], { objectMode: false });
  }
}

/** One entry's bytes, counting the real stream against the limits; a finding when over. */
async function readEntryBytes(
  zip: yauzl.ZipFile,
  e: yauzl.Entry,
  name: string,
  limits: PddZipLimits,
  totalBefore: number,
): Promise<Buffer | PddFinding> {
  const stream = await zip.openReadStreamPromise(e);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > e.uncompressedSize) {
      return {
        code: 'ZIP-SIZE-MISMATCH',
        path: name,
        message: `${name} holds more bytes than its header declares (${e.uncompressedSize})`,
      };
    }
    if (n > limits.maxEntryBytes || totalBefore + n > limits.maxTotalBytes) {
      return {
        code: 'ZIP-TOO-LARGE',
        path: name,
        message: `${name}: the zip expands past the limits (${limits.maxEntryBytes} bytes per file, ${limits.maxTotalBytes} in all)`,
      };
    }
    chunks.push(chunk);
  }
  if (n !== e.uncompressedSize) {
    return {
      code: 'ZIP-SIZE-MISMATCH',
      path: name,
      message: `${name} holds ${n} bytes, its header declares ${e.uncompressedSize}`,
    };
  }
  const data = Buffer.concat(chunks, n);
  if (zlib.crc32(data) !== e.crc32) {
    return { code: 'ZIP-CORRUPT', path: name, message: `${name}: CRC-32 mismatch, the data is damaged` };
  }
  return data;
}

/**
 * Reads every file of the zip into memory, refusing what would be unsafe to unpack: absolute
 * paths, "..", backslashes, control characters, duplicate names (also ones that differ only in
 * case or Unicode normalisation), symbolic links, encryption, unknown compression, and sizes past
 * the limits, counted on the real bytes. Folders are skipped; hidden files are not.
 */
async function readZipFiles(
  buf: Buffer,
  limits: PddZipLimits,
): Promise<{ files: Map<string, Buffer>; findings: PddFinding[] }> {
  const files = new Map<string, Buffer>();
  const findings: PddFinding[] = [];
  const zip = await openZipReader(new BufferReader(buf), buf.length);
  if (zip instanceof Error) {
    return { files, findings: [{ code: 'ZIP-CORRUPT', message: `the zip cannot be read: ${zip.message}` }] };
  }
  try {
    if (zip.entryCount > limits.maxEntries) {
      findings.push({
        code: 'ZIP-TOO-MANY-ENTRIES',
        message: `the zip holds ${zip.entryCount} entries, over the limit of ${limits.maxEntries}`,
      });
      return { files, findings };
    }
    const keys = new Map<string, string>();
    let total = 0;
    for await (const e of zip.eachEntry()) {
      const raw = e.fileNameRaw;
      const name = yauzl.getFileNameLowLevel(e.generalPurposeBitFlag, raw, e.extraFields, true);
      const bad =
        (e.generalPurposeBitFlag & 0x800) !== 0 && !isUtf8(raw)
          ? `Zip entry name ${JSON.stringify(name)} is not valid UTF-8.`
          : raw.some((b) => b < 0x20 || b === 0x7f)
            ? `Zip entry name ${JSON.stringify(name)} contains control characters.`
            : null;
      const problem = bad ? { code: 'ZIP-INVALID-NAME', message: bad } : nameProblem(name);
      if (problem) {
        findings.push({ code: problem.code, path: name, message: problem.message });
        continue;
      }
      if (name.endsWith('/')) continue;
      const key = name.normalize('NFC').toLowerCase();
      const other = keys.get(key);
      if (other !== undefined) {
        findings.push({
          code: 'ZIP-DUPLICATE-ENTRY',
          path: name,
          message: `zip entries ${JSON.stringify(other)} and ${JSON.stringify(name)} have the same name`,
        });
        continue;
      }
      keys.set(key, name);
      const type = (e.externalFileAttributes >>> 16) & 0o170000;
      if (type !== 0 && type !== 0o100000) {
        findings.push({
          code: 'ZIP-NOT-A-FILE',
          path: name,
          message: `${name} is not a regular file in the zip (a symbolic link or a device)`,
        });
        continue;
      }
      if (e.isEncrypted()) {
        findings.push({ code: 'ZIP-ENCRYPTED', path: name, message: `${name} is encrypted` });
        continue;
      }
      if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
        findings.push({
          code: 'ZIP-UNSUPPORTED-METHOD',
          path: name,
          message: `${name} uses compression method ${e.compressionMethod}; only stored and deflate are read`,
        });
        continue;
      }
      const ratio = e.uncompressedSize / Math.max(e.compressedSize, 1);
      if (e.uncompressedSize > limits.ratioMinBytes && ratio > limits.maxRatio) {
        findings.push({
          code: 'ZIP-BOMB',
          path: name,
          message: `${name} expands ${Math.round(ratio)} times: it looks like a zip bomb`,
        });
        continue;
      }
      if (e.uncompressedSize > limits.maxEntryBytes || total + e.uncompressedSize > limits.maxTotalBytes) {
        findings.push({
          code: 'ZIP-TOO-LARGE',
          path: name,
          message: `${name}: the zip expands past the limits (${limits.maxEntryBytes} bytes per file, ${limits.maxTotalBytes} in all)`,
        });
        break;
      }
      const data = await readEntryBytes(zip, e, name, limits, total);
      if (!Buffer.isBuffer(data)) {
        findings.push(data);
        if (data.code === 'ZIP-TOO-LARGE') break;
        continue;
      }
      total += data.length;
      files.set(name, data);
    }
  } catch (err) {
    if (err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string') throw err;
    findings.push({
      code: 'ZIP-CORRUPT',
      message: `the zip cannot be read: ${err instanceof Error ? err.message : String(err)}`,
    });
  } finally {
    zip.close();
  }
  return { files, findings };
}

// ---------------------------------------------------------------------------------------------
// Verifying

/**
 * Verifies a PdD zip offline: the zip is safe to unpack; the bag is complete and valid (both
 * payload manifests, the tag manifests, Payload-Oxum) and every tag file is in the tag manifest;
 * the two key files hold one Ed25519 key (and one of `trustedKeys`, when given); the checkpoint
 * is signed by it; every inclusion proof's entry hashes to its leaf and the proof leads to the
 * checkpoint's root; every document hashes to the SHA-256 its log entry names. Every problem is
 * reported, not only the first. Rejects only on I/O errors reading `zipFile`.
 */
export async function verifyPdd(zipFile: string, opts: PddVerifyOptions = {}): Promise<PddVerification> {
  const limits = { ...DEFAULT_PDD_LIMITS, ...opts.limits };
  const { size } = await fsp.stat(zipFile);
  if (size > limits.maxZipBytes) {
    return {
      ok: false,
      findings: [
        {
          code: 'ZIP-TOO-LARGE',
          message: `the zip is ${size} bytes, over the limit of ${limits.maxZipBytes}`,
        },
      ],
      documents: 0,
      files: 0,
      treeSize: 0,
    };
  }
  const { files, findings } = await readZipFiles(await fsp.readFile(zipFile), limits);
  const result = verifyPddFiles(files, opts);
  return { ...result, ok: result.ok && findings.length === 0, findings: [...findings, ...result.findings] };
}

const BAG_CODES: Record<BagProblem['kind'], string> = {
  'bagit-txt': 'BAG-BAGIT-TXT',
  'no-manifest': 'BAG-NO-MANIFEST',
  manifest: 'BAG-MANIFEST',
  missing: 'BAG-MISSING',
  extra: 'BAG-EXTRA',
  changed: 'BAG-CHANGED',
  oxum: 'BAG-OXUM',
  'bag-info': 'BAG-INFO',
  fetch: 'BAG-FETCH',
};

const REQUIRED = [
  'bagit.txt',
  'bag-info.txt',
  'manifest-sha256.txt',
  'manifest-sha512.txt',
  'tagmanifest-sha256.txt',
  'tagmanifest-sha512.txt',
  'VERIFY.txt',
  INDEX,
  NOTE,
  KEY_PEM,
  KEY_VKEY,
];

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** `verifyPdd` on a bag already in memory, keyed by path in the bag. */
export function verifyPddFiles(
  files: Map<string, Buffer>,
  opts: Pick<PddVerifyOptions, 'trustedKeys'> = {},
): PddVerification {
  const findings: PddFinding[] = [];
  const add = (code: string, message: string, p?: string): void => {
    findings.push(p === undefined ? { code, message } : { code, path: p, message });
  };

  // 1. The bag.
  const bag = checkBag(files);
  for (const d of bag.details) add(BAG_CODES[d.kind], d.message, d.path);
  for (const p of REQUIRED) if (!files.has(p)) add('PDD-MISSING-FILE', `${p} is missing from the PdD`, p);
  const tagManifest = files.get('tagmanifest-sha256.txt');
  if (tagManifest) {
    const listed = new Set(readManifest('tagmanifest-sha256.txt', tagManifest).lines.map((l) => l.path));
    for (const p of [...files.keys()].sort()) {
      if (p.startsWith('data/') || /^tagmanifest-[a-z0-9]+\.txt$/.test(p) || listed.has(p)) continue;
      add('BAG-UNTRACKED', `${p} is in the bag but not in tagmanifest-sha256.txt`, p);
    }
  }

  // 2. The index.
  let pddIndex: PddIndex | null = null;
  const indexBytes = files.get(INDEX);
  if (indexBytes) {
    const parsed = pddIndexSchema.safeParse(parseJson(indexBytes));
    if (parsed.success) pddIndex = parsed.data;
    else
      add(
        'PDD-INDEX',
        `${INDEX} is not a ${PDD_FORMAT} index: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        INDEX,
      );
  }

  // 3. The key: one Ed25519 key in both files, trusted when the caller says which to trust.
  let noteKey: NoteKey | null = null;
  let fingerprint: string | undefined;
  const pemBytes = files.get(KEY_PEM);
  const vkeyBytes = files.get(KEY_VKEY);
  let pem: crypto.KeyObject | null = null;
  if (pemBytes) {
    try {
      pem = crypto.createPublicKey(pemBytes);
      if (pem.asymmetricKeyType !== 'ed25519') {
        add('PDD-KEY', `${KEY_PEM} is a ${pem.asymmetricKeyType ?? 'unknown'} key, not Ed25519`, KEY_PEM);
        pem = null;
      } else {
        fingerprint = keyFingerprint(pem);
      }
    } catch (err) {
      add(
        'PDD-KEY',
        `${KEY_PEM} is not a PEM public key: ${err instanceof Error ? err.message : String(err)}`,
        KEY_PEM,
      );
    }
  }
  const vkey = vkeyBytes?.toString('utf8').trim();
  if (vkey !== undefined) {
    const parsed = parseVerifierKey(vkey);
    if (!parsed)
      add('PDD-KEY', `${KEY_VKEY} is not a C2SP Ed25519 verifier key (<name>+<key ID>+<key>)`, KEY_VKEY);
    else {
      noteKey = parsed;
      if (pem && verifierKey(parsed.name, pem) !== vkey) {
        add('PDD-KEY-MISMATCH', `${KEY_PEM} and ${KEY_VKEY} hold different keys`, KEY_PEM);
      }
      if (opts.trustedKeys && !opts.trustedKeys.some((k) => k.trim() === vkey)) {
        add('PDD-KEY-UNTRUSTED', `the bag's log key ${vkey} is not one of the trusted keys`, KEY_VKEY);
      }
      if (pddIndex && pddIndex.verifierKey !== vkey) {
        add(
          'PDD-INDEX-MISMATCH',
          `${INDEX} names the log key ${pddIndex.verifierKey}, ${KEY_VKEY} holds ${vkey}`,
          INDEX,
        );
      }
    }
  }

  // 4. The checkpoint.
  let treeSize = pddIndex?.treeSize ?? 0;
  let root: Buffer | null = pddIndex ? Buffer.from(pddIndex.root, 'hex') : null;
  const noteBytes = files.get(NOTE);
  if (noteBytes && noteKey) {
    const opened = openCheckpoint(noteBytes, [noteKey]);
    if (!opened.ok) {
      add('PDD-CHECKPOINT', `${NOTE} does not verify with the log key: ${opened.reason}`, NOTE);
    } else {
      const cp = opened.checkpoint;
      treeSize = cp.size;
      root = cp.root;
      if (
        pddIndex &&
        (pddIndex.treeSize !== cp.size ||
          pddIndex.root !== cp.root.toString('hex') ||
          pddIndex.origin !== cp.origin)
      ) {
        add(
          'PDD-INDEX-MISMATCH',
          `${INDEX} names a different checkpoint (origin, size or root) than ${NOTE}`,
          INDEX,
        );
      }
    }
  }

  // 5. The inclusion proofs, all of them.
  const entries = new Map<number, Buffer>();
  const proofFiles = [...files.keys()].filter((p) => p.startsWith(INCLUSION)).sort();
  for (const p of proofFiles) {
    const m = /^data\/proofs\/inclusion\/(0|[1-9][0-9]*)\.json$/.exec(p);
    const parsed = inclusionSchema.safeParse(parseJson(files.get(p) as Buffer));
    if (!m || !parsed.success || Number(m[1]) !== parsed.data.leafIndex) {
      add(
        'PDD-PROOF',
        `${p} is not <leafIndex>.json holding {leafIndex, treeSize, entry, leafHash, hashes}`,
        p,
      );
      continue;
    }
    const proof = parsed.data;
    const entry = strictBase64(proof.entry);
    if (!entry) {
      add('PDD-PROOF', `${p}: entry is not canonical base64`, p);
      continue;
    }
    if (!leafHash(entry).equals(Buffer.from(proof.leafHash, 'hex'))) {
      add('PDD-LEAF-HASH', `${p}: the entry does not hash to leafHash ${proof.leafHash}`, p);
      continue;
    }
    if (proof.treeSize !== treeSize) {
      add(
        'PDD-TREE-SIZE',
        `${p} proves into a tree of size ${proof.treeSize}, the checkpoint's is ${treeSize}`,
        p,
      );
      continue;
    }
    if (!root) continue;
    const v = verifyInclusion(
      proof.leafIndex,
      treeSize,
      leafHash(entry),
      proof.hashes.map((h) => Buffer.from(h, 'hex')),
      root,
    );
    if (!v.ok) {
      add('PDD-INCLUSION', `${p}: the inclusion proof of leaf ${proof.leafIndex} fails: ${v.reason}`, p);
      continue;
    }
    entries.set(proof.leafIndex, entry);
  }

  // 6. The documents: each one is the file its log entry names.
  const indexed = new Set<string>();
  const referenced = new Set<string>();
  for (const d of pddIndex?.documents ?? []) {
    const docPath = `data/documents/${d.name}`;
    const metaPath = `${docPath}.metadata.json`;
    const proofPath = `${INCLUSION}${d.leafIndex}.json`;
    indexed.add(docPath).add(metaPath);
    referenced.add(proofPath);
    if (
      `data/${d.path}` !== docPath ||
      `data/${d.metadata}` !== metaPath ||
      `data/${d.inclusion}` !== proofPath
    ) {
      add('PDD-INDEX', `${INDEX}: document ${d.name} has paths that are not the bag's layout`, INDEX);
      continue;
    }
    const bytes = files.get(docPath);
    if (!bytes) {
      add('PDD-DOCUMENT-MISSING', `${docPath} is listed in ${INDEX} but is not in the bag`, docPath);
      continue;
    }
    const actual = sha256Hex(bytes);
    if (actual !== d.sha256 || bytes.length !== d.size) {
      add(
        'PDD-DOCUMENT-HASH',
        `${docPath}: sha256 ${actual} (${bytes.length} bytes), ${INDEX} says ${d.sha256} (${d.size} bytes)`,
        docPath,
      );
    }
    const meta = files.get(metaPath);
    const metaJson = meta ? parseJson(meta) : undefined;
    if (typeof metaJson !== 'object' || metaJson === null || Array.isArray(metaJson)) {
      add('PDD-METADATA', `${metaPath} is missing or not a JSON object`, metaPath);
    }
    const entry = entries.get(d.leafIndex);
    if (!entry) {
      if (!files.has(proofPath))
        add('PDD-PROOF-MISSING', `${docPath}: no inclusion proof ${proofPath}`, docPath);
      else
        add(
          'PDD-NOT-PROVEN',
          `${docPath}: log entry ${d.leafIndex} is not proven to be in the signed tree`,
          docPath,
        );
      continue;
    }
    const e = decodeEntry(entry);
    if (!e) {
      add(
        'PDD-ENTRY',
        `${proofPath}: log entry ${d.leafIndex} is not a canonical fatturad-leaf/1 entry`,
        proofPath,
      );
      continue;
    }
    if (e.seq !== d.leafIndex || e.sha256 !== actual || e.size !== bytes.length) {
      add(
        'PDD-ENTRY-MISMATCH',
        `${docPath} (sha256 ${actual}, ${bytes.length} bytes) is not the file log entry ${d.leafIndex} names (seq ${e.seq}, sha256 ${e.sha256}, ${e.size} bytes)`,
        docPath,
      );
    }
  }
  if (pddIndex?.format === PDD_FORMAT_FACTS || pddIndex?.facts) {
    for (const leaf of pddIndex.facts ?? []) referenced.add(`${INCLUSION}${leaf}.json`);
    for (const leaf of Object.values(pddIndex.packageLeaves ?? {}))
      referenced.add(`${INCLUSION}${leaf}.json`);
    checkFacts(pddIndex, files, entries, add);
  }
  for (const p of files.keys()) {
    if (p.startsWith(DOCS) && !indexed.has(p)) add('PDD-UNINDEXED', `${p} is not a document of ${INDEX}`, p);
    if (p.startsWith(INCLUSION) && !referenced.has(p))
      add('PDD-UNINDEXED', `${p} is the proof of no document of ${INDEX}`, p);
  }
  for (const p of pddIndex?.packages ?? []) {
    if (!p.startsWith('packages/') || !files.has(`data/${p}`)) {
      add('PDD-PACKAGE-MISSING', `${INDEX} lists ${p}, which is not in the bag`, `data/${p}`);
    }
  }
  for (const p of files.keys()) {
    if (p.startsWith(PACKAGES) && !pddIndex?.packages.includes(p.slice('data/'.length))) {
      add('PDD-UNINDEXED', `${p} is not a package file of ${INDEX}`, p);
    }
  }
  for (const p of files.keys()) {
    const known = p === INDEX || p === NOTE || p === KEY_PEM || p === KEY_VKEY;
    if (
      p.startsWith('data/') &&
      !known &&
      !p.startsWith(DOCS) &&
      !p.startsWith(INCLUSION) &&
      !p.startsWith(PACKAGES)
    ) {
      add('PDD-UNINDEXED', `${p} is not part of the PdD layout`, p);
    }
  }

  const result: PddVerification = {
    ok: findings.length === 0,
    findings,
    documents: documentCount(pddIndex?.documents ?? []),
    files: pddIndex?.documents.length ?? 0,
    treeSize,
  };
  if (fingerprint !== undefined) result.logKeyFingerprint = fingerprint;
  return result;
}

/** The file name a document's file gets in the bag: `<document>--<name>`, plain characters only. */
export function bagName(document: string, name: string): string {
  return `${document}--${name}`.replace(/[^A-Za-z0-9._+-]/g, '-');
}

/**
 * A fatturad-pdd/2 bag against the log's facts entries it carries (each proven into the signed
 * checkpoint): every file of the bag is an item of its document's facts, with the document,
 * kind, SHA-256, size, name and search keys the log says; every item the facts list is in the
 * bag. What the bag says that the log does not is named, field by field.
 */
function checkFacts(
  pddIndex: PddIndex,
  files: Map<string, Buffer>,
  entries: Map<number, Buffer>,
  add: (code: string, message: string, p?: string) => void,
): void {
  const items = new Map<number, { document: string; item: FactsItem; facts: number }>();
  for (const leaf of pddIndex.facts ?? []) {
    const proofPath = `${INCLUSION}${leaf}.json`;
    const entry = entries.get(leaf);
    if (!entry) {
      add('PDD-FACTS-NOT-PROVEN', `facts entry ${leaf} is not proven to be in the signed tree`, proofPath);
      continue;
    }
    const f = decodeFacts(entry);
    if (!f || f.seq !== leaf) {
      add(
        'PDD-FACTS',
        `${proofPath}: log entry ${leaf} is not a canonical ${FACTS_VERSION} entry`,
        proofPath,
      );
      continue;
    }
    for (const item of f.facts.items) items.set(item.leaf, { document: f.facts.document, item, facts: leaf });
  }
  if (pddIndex.format === PDD_FORMAT_FACTS && !pddIndex.facts)
    add('PDD-INDEX', `${INDEX}: a ${PDD_FORMAT_FACTS} bag lists its facts entries`, INDEX);
  const inBag = new Set<number>();
  for (const d of pddIndex.documents) {
    const docPath = `data/documents/${d.name}`;
    inBag.add(d.leafIndex);
    const known = items.get(d.leafIndex);
    if (!known) {
      add(
        'PDD-FACTS-MISSING',
        `${docPath}: no facts entry in the bag says which document log entry ${d.leafIndex} belongs to`,
        docPath,
      );
      continue;
    }
    const { document, item } = known;
    const meta = parseJson(files.get(`${docPath}.metadata.json`) ?? Buffer.alloc(0)) as
      { document?: unknown; kind?: unknown; keys?: unknown } | undefined;
    const checks: [string, unknown, unknown][] = [
      ['document', document, d.document ?? document],
      ['name', bagName(document, item.name), d.name],
      ['sha256', item.sha256, d.sha256],
      ['size', item.size, d.size],
      ['metadata document', document, meta?.document],
      ['metadata kind', item.kind, meta?.kind],
      [
        'metadata keys',
        JSON.stringify(item.kind === 'invoice' ? item.keys : undefined),
        JSON.stringify(meta?.keys),
      ],
    ];
    for (const [field, want, got] of checks)
      if (want !== got)
        add(
          'PDD-FACTS-MISMATCH',
          `${docPath}: ${field} is ${typeof got === 'string' ? got : JSON.stringify(got)} in the bag, the log's facts entry ${known.facts} says ${typeof want === 'string' ? want : JSON.stringify(want)}`,
          docPath,
        );
  }
  // Package files: each one the file its own log entry names (a rapporto, an index, its signature
  // or timestamp, by the package's name).
  for (const p of pddIndex.packages) {
    const bytes = files.get(`data/${p}`);
    const leaf = pddIndex.packageLeaves?.[p];
    const entry = leaf === undefined ? undefined : entries.get(leaf);
    if (!bytes) continue;
    if (leaf === undefined || !entry) {
      add(
        'PDD-PACKAGE-NOT-PROVEN',
        `data/${p}: ${leaf === undefined ? 'no log entry is given for it' : `log entry ${leaf} is not proven to be in the signed tree`}`,
        `data/${p}`,
      );
      continue;
    }
    const e = decodeEntry(entry);
    const want = path.posix.basename(p);
    if (
      !e ||
      !['rdv', 'pindex', 'signature', 'timestamp'].includes(e.kind) ||
      e.ref !== want ||
      e.sha256 !== sha256Hex(bytes) ||
      e.size !== bytes.length
    )
      add(
        'PDD-PACKAGE-MISMATCH',
        `data/${p} (sha256 ${sha256Hex(bytes)}, ${bytes.length} bytes) is not the package file log entry ${leaf} names` +
          (e ? ` (${e.kind} ${e.ref}, sha256 ${e.sha256}, ${e.size} bytes)` : ''),
        `data/${p}`,
      );
  }
  for (const [leaf, { document, item, facts }] of items)
    if (!inBag.has(leaf))
      add(
        'PDD-ITEM-MISSING',
        `${document}/${item.name} (log entry ${leaf}, ${item.kind}, sha256 ${item.sha256}) is in the log's facts entry ${facts} but not in the bag`,
      );
}
