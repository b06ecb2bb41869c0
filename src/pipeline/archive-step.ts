import fsp from 'node:fs/promises';
import type { Archive, Finding } from '../archive/archive.js';
import type { DepositDocument, DepositFile, Preservation } from '../archive/packages.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { ArchiveStore } from '../store/archive-store.js';
import type { Store } from '../store/store.js';

/**
 * The archiving step: every sent invoice whose flow has ended (a final state, or B2B delivered)
 * and every received invoice handed to the ERP goes into the archive with every message about
 * it (SdI's notifications, the MT, PEC envelopes and receipts), verbatim, as one PdV per pass;
 * then the open PdA is closed if a rule says so, a checkpoint is signed when due, and a slice of
 * the archive is re-hashed (the rolling verification).
 */
export interface ArchiveEvents {
  onPdv?: (documents: number) => void;
  onVerified?: (blobs: number, bytes: number) => void;
  onFindings?: (findings: Finding[]) => void;
}

export class ArchiveStep {
  private timer: NodeJS.Timeout | null = null;
  private verifyTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private lastCheckpointAt = 0;
  /** Findings of the rolling verification still standing (for health). */
  findings: Finding[] = [];

  constructor(
    private readonly store: Store,
    private readonly astore: ArchiveStore,
    readonly archive: Archive,
    readonly preservation: Preservation,
    private config: Config,
    private readonly log: Logger,
    private readonly events: ArchiveEvents = {},
  ) {}

  reconfigure(config: Config): void {
    this.config = config;
    this.preservation.reconfigure(config);
  }

  async start(): Promise<void> {
    await this.preservation.resume();
    this.lastCheckpointAt = Date.parse(this.archive.latestCheckpoint()?.issuedAt ?? '1970-01-01T00:00:00Z');
    this.kick();
    this.scheduleVerify(Math.min(5000, this.config.archive.verify.intervalMs));
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pass()
        .catch((err: unknown) =>
          this.log.error({ event: 'archive.error', err }, 'the archiving step failed; retrying'),
        )
        .finally(() => {
          this.running = null;
          const again = this.again;
          this.again = false;
          if (again) this.kick();
          else if (!this.stopped) {
            this.timer = setTimeout(() => this.kick(), this.config.archive.pollMs);
            this.timer.unref();
          }
        });
    }, 0);
    this.timer.unref();
  }

  /** One pass: deposit what is pending, close the PdA if due, checkpoint if due. */
  async pass(): Promise<void> {
    const limit = this.config.archive.batchSize;
    for (;;) {
      if (this.stopped) return;
      const docs: DepositDocument[] = [];
      for (const id of this.astore.pendingDocuments(limit)) docs.push(await this.outbound(id));
      for (const id of this.astore.documentsWithNewMessages(Math.max(0, limit - docs.length)))
        docs.push(await this.outbound(id));
      for (const id of this.astore.pendingPassive(Math.max(0, limit - docs.length)))
        docs.push(await this.passive(id));
      if (docs.length === 0) break;
      const pdv = await this.preservation.deposit(docs);
      if (!pdv) break;
      this.events.onPdv?.(docs.length);
    }
    await this.preservation.resume();
    await this.preservation.maybeClose();
    if (Date.now() - this.lastCheckpointAt >= this.config.archive.checkpointEveryMs) {
      const cp = await this.archive.checkpoint();
      this.lastCheckpointAt = Date.now();
      if (cp)
        this.log.info(
          { event: 'archive.checkpoint', size: cp.size, root: cp.root.toString('hex') },
          `archive checkpoint signed: ${cp.size} entries`,
        );
    }
  }

  private async read(path: string | null | undefined): Promise<Buffer | null> {
    if (!path) return null;
    try {
      return await fsp.readFile(path);
    } catch {
      return null;
    }
  }

  private async outbound(id: number): Promise<DepositDocument> {
    const doc = this.store.getDocument(id);
    const out = this.store.getOutbound(id);
    const files: DepositFile[] = [];
    const bytes = await this.read(doc?.path);
    if (doc && bytes)
      files.push({
        source: 'documents',
        sourceId: id,
        kind: 'invoice',
        name: out?.sdiName ?? doc.originalName,
        bytes,
      });
    for (const n of this.store.notificationsOf(id)) {
      const b = await this.read(n.path);
      if (b)
        files.push({
          source: 'notifications',
          sourceId: n.id,
          kind: 'notification',
          name: n.fileName || `${n.kind}.xml`,
          bytes: b,
        });
      const env = await this.read(n.envelopePath);
      if (env)
        files.push({
          source: 'notification-envelopes',
          sourceId: n.id,
          kind: 'envelope',
          name: `${n.fileName || n.kind}.eml`,
          bytes: env,
        });
    }
    for (const r of this.store.transportReceiptsOf(id)) {
      const b = await this.read(r.path);
      if (b)
        files.push({
          source: 'transport_receipts',
          sourceId: r.id,
          kind: 'receipt',
          name: `${r.type}-${r.id}.eml`,
          bytes: b,
        });
    }
    return {
      document: `out:${id}`,
      flow: 'active',
      identificativoSdI: out?.identificativoSdI ?? null,
      files,
      record: {
        flow: 'active',
        originalName: doc?.originalName,
        state: doc?.state,
        sdiName: out?.sdiName,
        channel: out?.channel,
        identificativoSdI: out?.identificativoSdI,
        timeline: this.store
          .timeline(id)
          .map((t) => ({ at: t.at, from: t.from, to: t.to, reason: t.reason })),
      },
    };
  }

  private async passive(id: number): Promise<DepositDocument> {
    const p = this.store.getPassive(id);
    const files: DepositFile[] = [];
    const inv = await this.read(p?.path);
    if (p && inv)
      files.push({ source: 'passive', sourceId: id, kind: 'invoice', name: p.nomeFile, bytes: inv });
    const mt = await this.read(p?.metadataPath);
    if (p && mt)
      files.push({
        source: 'passive-metadata',
        sourceId: id,
        kind: 'metadata',
        name: p.metadataName ?? 'MT.xml',
        bytes: mt,
      });
    const env = await this.read(p?.envelopePath);
    if (p && env)
      files.push({
        source: 'passive-envelopes',
        sourceId: id,
        kind: 'envelope',
        name: `${p.nomeFile}.eml`,
        bytes: env,
      });
    return {
      document: `in:${id}`,
      flow: 'passive',
      identificativoSdI: p?.identificativoSdI ?? null,
      files,
      record: {
        flow: 'passive',
        nomeFile: p?.nomeFile,
        identificativoSdI: p?.identificativoSdI,
        channel: p?.channel,
        receivedAt: p?.receivedAt,
        deliveredTo: p?.deliveredPath,
      },
    };
  }

  /** The rolling verification: each tick re-hashes the share of blobs that covers them all within the window. */
  private scheduleVerify(ms: number): void {
    if (this.stopped) return;
    this.verifyTimer = setTimeout(() => {
      void this.verifyTick().finally(() => this.scheduleVerify(this.config.archive.verify.intervalMs));
    }, ms);
    this.verifyTimer.unref();
  }

  async verifyTick(): Promise<void> {
    const v = this.config.archive.verify;
    const total = this.astore.objectCount();
    if (total === 0) return;
    const share = Math.max(1, Math.ceil((total * v.intervalMs) / (v.windowDays * 86_400_000)));
    try {
      const r = await this.archive.verifySome(share);
      this.events.onVerified?.(r.checked, r.bytes);
      this.findings = r.findings;
      if (r.findings.length) this.events.onFindings?.(r.findings);
      for (const f of r.findings)
        this.log.error(
          { event: 'archive.integrity_failed', code: f.code, sha256: f.sha256, file: f.file, idx: f.idx },
          `archive integrity: ${f.message}; run "fatturad archive verify"`,
        );
      this.log.debug(
        { event: 'archive.verified', blobs: r.checked, bytes: r.bytes },
        `re-hashed ${r.checked} archive blobs`,
      );
    } catch (err) {
      this.log.error({ event: 'archive.verify_error', err }, 'the rolling archive verification failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.verifyTimer) clearTimeout(this.verifyTimer);
    await this.running;
  }
}
