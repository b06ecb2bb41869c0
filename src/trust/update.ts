import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { atomicWrite, sha256 } from '../util/fsx.js';
import { VERSION } from '../version.js';
import { keptJsonPath, keptXmlPath, readKept, type KeptList } from './anchors.js';
import { readSignerCerts, TslRefused, verifyTrustedList, type SignerCert } from './verify.js';

/**
 * `fatturad trust update`: download (or read) the trusted list, verify it (verify.ts), check its
 * dates and sequence against the list kept, and keep it crash-safely: the XML as received, then
 * the compact JSON the validation reads, each through a temp file, fsync and rename. A list that
 * is refused changes nothing: the previous one stays in use.
 */

export type UpdateResult =
  | { ok: true; changed: boolean; kept: KeptList }
  | { ok: false; reason: string; message: string; previous: KeptList | null };

class DownloadError extends Error {
  override name = 'DownloadError';
}

/** GET with an idle timeout, an overall deadline, a size bound and at most 3 redirects (never https to http). */
export function download(
  url: string,
  o: { timeoutMs: number; maxBytes: number },
  redirects = 3,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (err) reject(err);
      else resolve(body as Buffer);
    };
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(
      url,
      {
        timeout: o.timeoutMs,
        headers: { 'user-agent': `fatturad/${VERSION}`, accept: 'application/xml, text/xml, */*' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && location) {
          res.resume();
          const next = new URL(location, url);
          if (redirects <= 0) return done(new DownloadError(`too many redirects (last to ${next.href})`));
          if (url.startsWith('https:') && next.protocol !== 'https:')
            return done(new DownloadError(`refused a redirect from https to ${next.href}`));
          download(next.href, o, redirects - 1).then(
            (b) => done(null, b),
            (e: Error) => done(e),
          );
          return;
        }
        if (status !== 200) {
          res.resume();
          return done(new DownloadError(`HTTP ${status} from ${url}`));
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > o.maxBytes) {
          req.destroy();
          return done(
            new TslRefused(
              `the list is ${declared} bytes, over validation.tsl.maxBytes (${o.maxBytes})`,
              'oversize',
            ),
          );
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > o.maxBytes) {
            req.destroy();
            done(
              new TslRefused(`the list is over validation.tsl.maxBytes (${o.maxBytes} bytes)`, 'oversize'),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(null, Buffer.concat(chunks)));
        res.on('error', (e) => done(e));
      },
    );
    const deadline = setTimeout(
      () => req.destroy(new DownloadError(`the download took longer than ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    req.on('timeout', () => req.destroy(new DownloadError(`no answer from ${url} within ${o.timeoutMs} ms`)));
    req.on('error', (e) => done(e));
  });
}

async function readBounded(file: string, maxBytes: number): Promise<Buffer> {
  const st = await fsp.stat(file);
  if (st.size > maxBytes)
    throw new TslRefused(
      `${file} is ${st.size} bytes, over validation.tsl.maxBytes (${maxBytes})`,
      'oversize',
    );
  return fsp.readFile(file);
}

export function configuredSigners(config: Config): SignerCert[] {
  return config.validation.tsl.signers.flatMap((f) => readSignerCerts(fs.readFileSync(f), f));
}

export async function updateTrustedList(
  config: Config,
  opts: { url?: string; file?: string; now?: Date },
  log: Logger,
): Promise<UpdateResult> {
  const now = opts.now ?? new Date();
  const tsl = config.validation.tsl;
  const source = opts.file ?? opts.url ?? tsl.url;
  let previous: KeptList | null = null;
  try {
    previous = readKept(config);
  } catch (err) {
    log.warn(
      { event: 'trust.update_failed', err },
      `the kept trusted list cannot be read (${(err as Error).message}); it will be replaced`,
    );
  }
  const refuse = (reason: string, message: string): UpdateResult => {
    const keeping = previous
      ? `the previous list (sequence ${previous.sequenceNumber}, kept ${previous.updatedAt}) stays in use`
      : 'no list is kept yet';
    log.error(
      { event: 'trust.update_refused', source, reason, previousSequence: previous?.sequenceNumber ?? null },
      `trusted list from ${source} refused: ${message}; ${keeping}`,
    );
    return { ok: false, reason, message, previous };
  };
  try {
    const signers = configuredSigners(config);
    const bytes = opts.file
      ? await readBounded(opts.file, tsl.maxBytes)
      : await download(source, { timeoutMs: tsl.timeoutMs, maxBytes: tsl.maxBytes });
    const v = verifyTrustedList(bytes, signers);
    const list = v.list;
    if (list.nextUpdate && Date.parse(list.nextUpdate) < now.getTime())
      throw new TslRefused(
        `the list is stale: its NextUpdate ${list.nextUpdate} has passed (issued ${list.issuedAt}, sequence ${list.sequenceNumber})`,
        'expired',
      );
    if (previous && list.sequenceNumber < previous.sequenceNumber)
      throw new TslRefused(
        `the list has sequence number ${list.sequenceNumber}, older than the kept one (${previous.sequenceNumber})`,
        'older',
      );
    const issued = Date.parse(list.issuedAt);
    const cert = v.signerCert;
    if (issued < Date.parse(cert.validFrom) || issued > Date.parse(cert.validTo))
      throw new TslRefused(
        `the list was issued ${list.issuedAt}, outside the validity of its signer certificate (${cert.validFrom} to ${cert.validTo})`,
        'signer',
      );
    const xmlSha256 = sha256(bytes);
    const changed = !previous || previous.xmlSha256 !== xmlSha256;
    const kept: KeptList = {
      format: 'fatturad-tsl/1',
      source,
      updatedAt: changed || !previous ? now.toISOString() : previous.updatedAt,
      checkedAt: now.toISOString(),
      xmlFile: 'tsl.xml',
      xmlSha256,
      signer: v.signer,
      territory: list.territory,
      sequenceNumber: list.sequenceNumber,
      issuedAt: list.issuedAt,
      nextUpdate: list.nextUpdate,
      operator: list.operator,
      cas: list.cas,
    };
    // The XML first: a crash between the two leaves the previous JSON (still consistent with
    // what the validation uses), and `trust status` names the mismatch.
    await atomicWrite(keptXmlPath(config), bytes, { mode: 0o644 });
    await atomicWrite(keptJsonPath(config), `${JSON.stringify(kept, null, 1)}\n`, { mode: 0o644 });
    const granted = kept.cas.filter((c) => c.status === 'granted').length;
    log.info(
      {
        event: 'trust.updated',
        source,
        changed,
        sequence: kept.sequenceNumber,
        issuedAt: kept.issuedAt,
        nextUpdate: kept.nextUpdate,
        cas: kept.cas.length,
        granted,
        signer: v.signer.subject,
        signerSha256: v.signer.sha256,
        keyInfo: v.keyInfo,
      },
      `trusted list ${kept.territory} sequence ${kept.sequenceNumber} ${changed ? 'kept' : 'unchanged'}: ${granted} qualified CA services granted of ${kept.cas.length}, next update by ${kept.nextUpdate ?? '(none)'}`,
    );
    return { ok: true, changed, kept };
  } catch (err) {
    if (err instanceof TslRefused) return refuse(err.reason, err.message);
    const message = (err as Error).message;
    log.error(
      { event: 'trust.update_failed', source, err },
      `the trusted list could not be updated from ${source}: ${message}; ${previous ? `the previous list (sequence ${previous.sequenceNumber}) stays in use` : 'no list is kept yet'}`,
    );
    return { ok: false, reason: 'failed', message, previous };
  }
}
