import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FolderConfig, Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Finding } from '../rules/finding.js';
import { renderDuplicateText, type DuplicateReport } from '../rules/report.js';
import type { ClaimResult, DocumentRow, IntakeRow, NewDocument, Store } from '../store/store.js';
import {
  holdWitnessed,
  JOURNAL_FILE,
  latestBySha256,
  readJournalFile,
  type AttemptRecord,
} from '../store/journal.js';
import {
  atomicCopy,
  atomicWrite,
  chooseOutputName,
  exists,
  fsyncDir,
  isTempName,
  sha256,
  sha256File,
} from '../util/fsx.js';
import { writeRejected } from '../pipeline/reports.js';
import { finding } from '../rules/finding.js';
import { renderReportText, type RejectionReport } from '../rules/report.js';
import { checkInput, fitName, isAcceptedEntryName, kindOf } from './accept.js';
import { openRegular, putBack, SPECIAL_KIND_IT, specialKind, type SpecialKind } from './special.js';
import { freeClaimedPath, freeName, intakeIdOf, moveNoReplace, originalNameOf, sameFile } from './spool.js';
import { canonicalDir, openForWriting } from './writers.js';
import { readZip, type ZipLimits } from './zip.js';

/**
 * Claims files from drop folders so that a crash at any instant leaves each file either still in
 * its folder or claimed exactly once:
 *
 *  1. intent: one transaction records every file of the batch as `claiming`, with the spool
 *     path derived from its row id;
 *  2. move: each file is fsynced and renamed into the spool (copy, fsync, verify, unlink across
 *     file systems), then the folders are fsynced;
 *  3. outcome: a claimed file that another name (a hard link) or an open descriptor could still
 *     change is first replaced by a private copy, so that the bytes hashed, validated and sent
 *     are the same; then each is hashed and judged (accepted, duplicate, rejected); copies and
 *     reports for rejected/ and duplicates/ are written atomically;
 *  4. commit: one transaction creates the documents, their first transitions, and closes the
 *     intents. Copies no longer needed are removed after it.
 *
 * On start, `recover()` finishes every intent left open: a file found in the spool is judged and
 * committed; a file still in the drop folder is left for the watcher; steps 3 and 4 are
 * idempotent (outputs are reused when they already hold the same bytes).
 *
 * A file fatturad cannot read stays in its folder with a report in rejected/ (once); a file whose
 * name is too long to keep is taken into the spool under a shortened name and rejected.
 */

export interface IntakeEvents {
  onOutcome?: (outcome: 'accepted' | 'duplicate' | 'rejected', documents: number) => void;
  onError?: () => void;
  /** Called with each accepted document, after the commit. */
  onDocument?: (doc: DocumentRow) => void;
}

interface Offer {
  folder: FolderConfig;
  file: string;
}

interface Judged {
  result: ClaimResult;
  /** Remove the claimed file after the commit (its bytes now live in rejected/ or duplicates/). */
  dropClaimed: boolean;
  /** Log lines to write after the commit, when ids are known. */
  log: (docIds: number[]) => void;
  /**
   * A spool file the store had forgotten, taken again (see adoptOrphans): documents (by index)
   * whose content the send journal says may be at SdI already, held in doubt in the commit.
   */
  holds?: [number, AttemptRecord][];
}

export class Intake {
  private readonly queue = new Map<string, Offer>();
  private readonly busy = new Set<string>();
  private draining: Promise<void> | null = null;
  private stopped = false;
  private folders: FolderConfig[];
  /** Files that could not be taken, by path: the reason logged last (each is logged once). */
  private readonly claimFailed = new Map<string, string>();
  /** The send journal's latest record per sha256, while recover() runs (null otherwise). */
  private witnessed: Map<string, AttemptRecord> | null = null;
  /** The cause of the last failed claim batch (logged once until a batch works). */
  private batchFailure: string | null = null;
  /**
   * Files left in their folder and already reported, by path and identity: unreadable ones (a
   * chmod makes them new) and entries that are not regular files.
   */
  private readonly unreadable = new Set<string>();

  constructor(
    private readonly store: Store,
    private config: Config,
    private readonly log: Logger,
    private readonly events: IntakeEvents = {},
  ) {
    this.folders = config.intake.folders;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** Applies a reloaded configuration to later batches. */
  reconfigure(config: Config): void {
    this.config = config;
    this.folders = config.intake.folders;
  }

  /** A watcher says `file` in `folder` is complete. Taken in the next batch. */
  offer(folder: FolderConfig, file: string): void {
    if (this.stopped || this.busy.has(file) || this.queue.has(file)) return;
    this.queue.set(file, { folder, file });
    this.kick();
  }

  private kick(): void {
    if (this.draining || this.stopped) return;
    this.draining = this.drainLoop().finally(() => {
      this.draining = null;
      if (this.queue.size > 0 && !this.stopped) this.kick();
    });
  }

  private async drainLoop(): Promise<void> {
    while (this.queue.size > 0 && !this.stopped) {
      const batch: Offer[] = [];
      for (const [file, offer] of this.queue) {
        this.queue.delete(file);
        this.busy.add(file);
        batch.push(offer);
        if (batch.length >= this.config.intake.batchSize) break;
      }
      try {
        await this.claimBatch(batch);
        this.batchFailure = null;
      } catch (err) {
        this.events.onError?.();
        // Once per cause (a full disk fails every batch at every scan): again after a batch worked.
        const cause = (err as Error).message;
        if (this.batchFailure !== cause) {
          this.batchFailure = cause;
          this.log.error({ event: 'intake.error', err }, 'claim batch failed; files stay where they are');
        }
      } finally {
        for (const o of batch) this.busy.delete(o.file);
      }
    }
  }

  /** Resolves when every file offered so far has been handled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Stops taking new files and waits for the batch in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    if (this.draining) await this.draining;
  }

  private folderFor(row: IntakeRow): FolderConfig {
    return (
      this.folders.find((f) => f.path === row.sourceDir) ?? {
        path: row.sourceDir,
        rejectedDir: this.config.paths.rejected,
        duplicatesDir: this.config.paths.duplicates,
      }
    );
  }

  private async claimBatch(batch: Offer[]): Promise<void> {
    const { fsync } = this.config.intake;
    const claimedDir = this.config.paths.claimed;
    await fsp.mkdir(claimedDir, { recursive: true });

    // A file that vanished since it was offered is not ours; one fatturad cannot read, or that is
    // not a regular file (a FIFO, a socket, a device, a symbolic link), stays where it is, with a
    // report. Opened without blocking and without following a link, whatever it became meanwhile.
    const present: Offer[] = [];
    await mapLimit(batch, 16, async (o) => {
      let st;
      try {
        st = await fsp.lstat(o.file);
      } catch {
        return; /* gone */
      }
      if (st.isDirectory()) return;
      const kind = specialKind(st);
      if (kind) return this.reportSpecial(o, st, kind);
      let opened;
      try {
        opened = await openRegular(o.file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM') await this.reportUnreadable(o, st, code);
        return;
      }
      if ('special' in opened) return this.reportSpecial(o, opened.st, opened.special);
      try {
        if (fsync) await opened.fh.sync().catch(() => undefined);
      } finally {
        await opened.fh.close();
      }
      this.unreadable.delete(`${o.file}\0${st.ino}\0${st.ctimeMs}`);
      present.push(o);
    });
    if (present.length === 0) return;

    // 1. intent
    const rows = this.store.beginClaims(
      present.map((o) => ({
        sourceDir: o.folder.path,
        originalName: path.basename(o.file),
        sourcePath: o.file,
      })),
      // Never a name that holds a file already (one the store forgot: spool.ts).
      (id, i) => freeClaimedPath(claimedDir, id, fitName(i.originalName)),
    );

    // 2. move
    const moved: IntakeRow[] = [];
    const abandoned: number[] = [];
    await mapLimit(rows, 8, async (row) => {
      try {
        await moveNoReplace(row.sourcePath, row.claimedPath, { fsync });
        // Turned into a FIFO, a device or a link since it was looked at: back where it was.
        const st = await fsp.lstat(row.claimedPath);
        const kind = specialKind(st);
        if (kind || !st.isFile()) {
          await putBack(row.claimedPath, row.sourcePath);
          abandoned.push(row.id);
          if (kind) await this.reportSpecial({ folder: this.folderFor(row), file: row.sourcePath }, st, kind);
          return;
        }
        moved.push(row);
        this.claimFailed.delete(row.sourcePath);
      } catch (err) {
        abandoned.push(row.id);
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') {
          this.events.onError?.();
          // Once per file and reason: a folder that cannot be written is the health check's
          // (intake.folder_unavailable), not a warning per file at every scan.
          const reason = code ?? (err as Error).message;
          if (this.claimFailed.get(row.sourcePath) !== reason) {
            this.claimFailed.set(row.sourcePath, reason);
            this.log.warn(
              { event: 'intake.claim_failed', file: row.sourcePath, err },
              'could not take the file; it stays in the folder and is retried at the next scan',
            );
          }
        }
      }
    });
    if (fsync && moved.length > 0) {
      await fsyncDir(claimedDir);
      for (const dir of new Set(moved.map((r) => r.sourceDir))) await fsyncDir(dir).catch(() => undefined);
    }
    if (abandoned.length > 0) this.store.abandonClaims(abandoned);

    // 3 + 4
    await this.judgeAndCommit(moved.sort((a, b) => a.id - b.id));
  }

  /** Judges claimed files and commits them; content repeated inside the batch waits for a later round. */
  private async judgeAndCommit(rows: IntakeRow[]): Promise<void> {
    let pending = rows;
    while (pending.length > 0) {
      const seen = new Set<string>();
      const adopted = new Set(pending.filter((r) => this.isAdoption(r)).map((r) => r.id));
      const judged: Judged[] = [];
      const later: IntakeRow[] = [];
      await this.makePrivate(pending);
      // Hashing reads every file: done in parallel; the decisions below stay in order.
      const hashes = new Map<number, Promise<{ sha256: string; size: number }>>();
      await mapLimit(pending, 16, async (row) => {
        const p = sha256File(row.claimedPath);
        hashes.set(row.id, p);
        await p.catch(() => undefined);
      });
      for (const row of pending) {
        try {
          const j = await this.judge(row, seen, await (hashes.get(row.id) ?? sha256File(row.claimedPath)));
          if (j === 'later') later.push(row);
          else judged.push(j);
        } catch (err) {
          // Left open: retried by recover() at the next start or rescan.
          this.events.onError?.();
          this.log.error(
            { event: 'intake.error', file: row.claimedPath, intakeId: row.id, err },
            'could not judge a claimed file; the claim stays open and is retried',
          );
        }
      }
      if (judged.length > 0) {
        let ids: Map<number, number[]>;
        try {
          ids = this.commit(judged);
        } catch (err) {
          // Left open: retried by recover() at the next start; nothing was committed.
          this.events.onError?.();
          this.log.error(
            { event: 'intake.error', intakeIds: judged.map((j) => j.result.intakeId), err },
            'could not commit claimed files; the claims stay open and are retried at the next start',
          );
          return;
        }
        for (const j of judged) {
          const docIds = ids.get(j.result.intakeId) ?? [];
          if (j.dropClaimed)
            await fsp.rm(this.store.getIntake(j.result.intakeId)?.claimedPath ?? '', { force: true });
          j.log(docIds);
          if (adopted.has(j.result.intakeId)) this.logAdopted(j, docIds);
          this.events.onOutcome?.(j.result.outcome, docIds.length);
          if (this.events.onDocument) {
            for (const id of docIds) {
              const doc = this.store.getDocument(id);
              if (doc?.state === 'received') this.events.onDocument(doc);
            }
          }
        }
      }
      pending = later;
    }
  }

  /**
   * Creates the documents and closes the claims in one transaction, with the holds of files the
   * send journal says may be at SdI already (never sent on their own).
   */
  private commit(judged: readonly Judged[]): Map<number, number[]> {
    return this.store.transaction(() => {
      const ids = this.store.finishClaims(judged.map((j) => j.result));
      for (const j of judged)
        for (const [i, record] of j.holds ?? []) {
          const id = ids.get(j.result.intakeId)?.[i];
          if (id !== undefined && !holdWitnessed(this.store, id, record))
            throw new Error(
              `the send journal says ${record.sdiName} (sha256 ${record.sha256}) may be at SdI, and the store uses that name for another document`,
            );
        }
      return ids;
    });
  }

  /** A claim of a spool file the store had forgotten (adoptOrphans), not of a dropped file. */
  private isAdoption(row: IntakeRow): boolean {
    return row.sourceDir === this.config.paths.claimed;
  }

  private logAdopted(j: Judged, docIds: number[]): void {
    const held = new Map((j.holds ?? []).map(([i, r]) => [docIds[i], r.sdiName]));
    const file = this.store.getIntake(j.result.intakeId)?.originalName ?? '';
    this.log.warn(
      {
        event: 'intake.orphan_adopted',
        intakeId: j.result.intakeId,
        documentIds: docIds,
        file,
        sha256: j.result.sha256,
        outcome: j.result.outcome,
        ...(held.size
          ? { inDoubt: [...held].map(([documentId, sdiName]) => ({ documentId, sdiName })) }
          : {}),
      },
      `${file}: a file in the spool the store did not know (the store lost it: WAL deleted, an older backup) ` +
        `was taken again as a new file (${j.result.outcome})` +
        (held.size
          ? `; the send journal says it may be at SdI already as ${[...held.values()].join(', ')}: held in doubt, not sent again`
          : ''),
    );
  }

  private async judge(
    row: IntakeRow,
    batchSeen: Set<string>,
    hashed: { sha256: string; size: number },
  ): Promise<Judged | 'later'> {
    const folder = this.folderFor(row);
    const { sha256: sha, size } = hashed;
    const name = row.originalName;
    const at = new Date().toISOString();
    const problems = checkInput(name, size, this.config.intake.maxFileBytes);
    if (problems.length > 0) {
      return this.reject(row, folder, { sha, size, at }, problems);
    }
    if (kindOf(name) === 'zip') return this.judgeZip(row, folder, { sha, size, at }, batchSeen);

    if (batchSeen.has(sha)) return 'later';
    const original = this.store.findLiveBySha256(sha);
    if (original) {
      const out = await this.writeDuplicate(
        folder,
        row,
        { name, sha, size, at, original },
        { copyFrom: row.claimedPath },
      );
      return {
        result: {
          intakeId: row.id,
          sha256: sha,
          size,
          outcome: 'duplicate',
          documents: [
            {
              entry: '',
              originalName: name,
              sha256: sha,
              size,
              state: 'duplicate',
              path: out,
              duplicateOf: original.id,
              reason: `same content as document ${original.id}`,
            },
          ],
        },
        dropClaimed: true,
        log: ([id]) =>
          this.log.info(
            {
              event: 'intake.duplicate',
              documentId: id,
              file: name,
              folder: folder.path,
              duplicateOf: original.id,
              sha256: sha,
              output: out,
            },
            `duplicate of document ${original.id}, moved to ${out}`,
          ),
      };
    }
    batchSeen.add(sha);
    const witnessed = this.isAdoption(row) ? this.witnessed?.get(sha) : undefined;
    return {
      ...(witnessed ? { holds: [[0, witnessed] as [number, AttemptRecord]] } : {}),
      result: {
        intakeId: row.id,
        sha256: sha,
        size,
        outcome: 'accepted',
        documents: [
          {
            entry: '',
            originalName: name,
            sha256: sha,
            size,
            state: 'received',
            path: row.claimedPath,
            reason: 'claimed',
          },
        ],
      },
      dropClaimed: false,
      log: ([id]) =>
        this.log.info(
          { event: 'intake.claimed', documentId: id, file: name, folder: folder.path, sha256: sha, size },
          `claimed ${name}`,
        ),
    };
  }

  private zipLimits(): ZipLimits {
    return this.config.intake.zip;
  }

  private async judgeZip(
    row: IntakeRow,
    folder: FolderConfig,
    meta: { sha: string; size: number; at: string },
    batchSeen: Set<string>,
  ): Promise<Judged | 'later'> {
    const read = await readZip(row.claimedPath, this.zipLimits(), isAcceptedEntryName);
    const entryDir = `${row.claimedPath}.d`;
    if (!read.ok) {
      await fsp.rm(entryDir, { recursive: true, force: true });
      return this.reject(row, folder, meta, read.problems);
    }
    const entries = read.entries.map(({ info, data }) => ({
      info,
      sha: sha256(data),
      size: data.length,
      data,
    }));
    if (entries.some((e) => batchSeen.has(e.sha))) return 'later';

    const docs: NewDocument[] = [];
    const logs: ((id: number | undefined) => void)[] = [];
    const inZip = new Map<string, string>();
    for (const e of entries) {
      const entryName = e.info.name;
      const docName = e.info.baseName;
      const original = this.store.findLiveBySha256(e.sha);
      const sameZip = inZip.get(e.sha);
      if (original || sameZip) {
        const out = await this.writeDuplicate(
          folder,
          row,
          {
            name: docName,
            sha: e.sha,
            size: e.size,
            at: meta.at,
            original,
            sameZipEntry: sameZip,
            entry: entryName,
          },
          { data: e.data },
        );
        docs.push({
          entry: entryName,
          originalName: docName,
          sha256: e.sha,
          size: e.size,
          state: 'duplicate',
          path: out,
          duplicateOf: original?.id ?? null,
          reason: original ? `same content as document ${original.id}` : `same content as entry ${sameZip}`,
        });
        logs.push((id) =>
          this.log.info(
            {
              event: 'intake.duplicate',
              documentId: id,
              file: row.originalName,
              entry: entryName,
              folder: folder.path,
              duplicateOf: original?.id,
              sha256: e.sha,
              output: out,
            },
            `zip entry ${entryName} is a duplicate, moved to ${out}`,
          ),
        );
        continue;
      }
      inZip.set(e.sha, entryName);
      const target = path.join(entryDir, `${String(e.info.index).padStart(4, '0')}-${fitName(docName)}`);
      await atomicWrite(target, e.data, { fsync: this.config.intake.fsync });
      docs.push({
        entry: entryName,
        originalName: docName,
        sha256: e.sha,
        size: e.size,
        state: 'received',
        path: target,
        reason: `claimed from ${row.originalName}`,
      });
      logs.push((id) =>
        this.log.info(
          {
            event: 'intake.claimed',
            documentId: id,
            file: docName,
            entry: entryName,
            zip: row.originalName,
            folder: folder.path,
            sha256: e.sha,
            size: e.size,
          },
          `claimed ${docName} from ${row.originalName}`,
        ),
      );
    }
    for (const e of entries)
      if (docs.find((d) => d.sha256 === e.sha)?.state === 'received') batchSeen.add(e.sha);
    const anyAccepted = docs.some((d) => d.state === 'received');
    const holds: [number, AttemptRecord][] = [];
    if (this.isAdoption(row))
      docs.forEach((d, i) => {
        const w = d.state === 'received' ? this.witnessed?.get(d.sha256) : undefined;
        if (w) holds.push([i, w]);
      });
    return {
      ...(holds.length ? { holds } : {}),
      result: {
        intakeId: row.id,
        sha256: meta.sha,
        size: meta.size,
        outcome: anyAccepted ? 'accepted' : 'duplicate',
        documents: docs,
      },
      dropClaimed: false,
      log: (ids) => logs.forEach((l, i) => l(ids[i])),
    };
  }

  private async reject(
    row: IntakeRow,
    folder: FolderConfig,
    meta: { sha: string; size: number; at: string },
    problems: Finding[],
  ): Promise<Judged> {
    const out = await writeRejected({
      dir: folder.rejectedDir,
      name: fitName(row.originalName),
      sha256: meta.sha,
      tag: String(row.id),
      from: row.claimedPath,
      fsync: this.config.intake.fsync,
      report: {
        source: { folder: folder.path, name: row.originalName },
        sha256: meta.sha,
        size: meta.size,
        at: meta.at,
        stage: 'intake',
        valid: false,
        errors: problems,
        warnings: [],
      },
    });
    const reason = problems.map((p) => `${p.code}: ${p.message}`).join('; ');
    return {
      result: {
        intakeId: row.id,
        sha256: meta.sha,
        size: meta.size,
        outcome: 'rejected',
        documents: [
          {
            entry: '',
            originalName: row.originalName,
            sha256: meta.sha,
            size: meta.size,
            state: 'rejected',
            path: out,
            reason,
            findings: problems,
          },
        ],
      },
      dropClaimed: true,
      log: ([id]) =>
        this.log.warn(
          {
            event: 'intake.rejected',
            documentId: id,
            file: row.originalName,
            folder: folder.path,
            codes: problems.map((p) => p.code),
            output: out,
          },
          `rejected ${row.originalName}: ${reason}`,
        ),
    };
  }

  private async writeDuplicate(
    folder: FolderConfig,
    row: IntakeRow,
    d: {
      name: string;
      sha: string;
      size: number;
      at: string;
      original: DocumentRow | undefined;
      sameZipEntry?: string | undefined;
      entry?: string;
    },
    bytes: { copyFrom: string } | { data: Buffer },
  ): Promise<string> {
    const { fsync } = this.config.intake;
    const out = await chooseOutputName(folder.duplicatesDir, fitName(d.name), d.sha, String(row.id));
    if (!(await exists(out))) {
      if ('copyFrom' in bytes) await atomicCopy(bytes.copyFrom, out, { fsync });
      else await atomicWrite(out, bytes.data, { fsync });
    }
    const report: DuplicateReport = {
      file: path.basename(out),
      source: { folder: folder.path, name: row.originalName, ...(d.entry ? { entry: d.entry } : {}) },
      sha256: d.sha,
      size: d.size,
      at: d.at,
      duplicateOf: d.original
        ? {
            documentId: d.original.id,
            originalName: d.original.originalName,
            receivedAt: d.original.receivedAt,
            state: d.original.state,
          }
        : {
            documentId: 0,
            originalName: `${row.originalName}:${d.sameZipEntry ?? ''}`,
            receivedAt: d.at,
            state: 'received',
          },
    };
    await atomicWrite(`${out}.duplicate.json`, `${JSON.stringify(report, null, 2)}\n`, { fsync });
    await atomicWrite(`${out}.duplicate.txt`, renderDuplicateText(report), { fsync });
    return out;
  }

  /**
   * What is validated is what is sent: a claimed file that has another name (a hard link, whose
   * other name may be rewritten later) or that a process holds open for writing (a writer that
   * appends later) is replaced by a private copy before it is hashed. Only that copy is hashed,
   * validated and sent; the other name or descriptor keeps the old inode.
   */
  private async makePrivate(rows: readonly IntakeRow[]): Promise<void> {
    if (rows.length === 0) return;
    const { fsync } = this.config.intake;
    // The folders as /proc names them (symbolic links resolved).
    const canonical = new Map(
      [...new Set(rows.map((r) => path.dirname(r.claimedPath)))].map((d) => [d, canonicalDir(d)]),
    );
    const open = openForWriting([...canonical.values()]);
    await mapLimit(rows, 8, async (row) => {
      let st;
      try {
        st = await fsp.lstat(row.claimedPath);
      } catch {
        return; // judged (and reported) by the caller
      }
      const why =
        st.nlink > 1
          ? 'it has other names (hard links)'
          : open.has(
                path.join(canonical.get(path.dirname(row.claimedPath)) ?? '', path.basename(row.claimedPath)),
              )
            ? 'a process holds it open for writing'
            : null;
      if (!why) return;
      await atomicCopy(row.claimedPath, row.claimedPath, { fsync });
      this.log.info(
        {
          event: 'intake.private_copy',
          intakeId: row.id,
          file: row.originalName,
          links: st.nlink,
          reason: why,
        },
        `${row.originalName}: ${why}; the copy taken is what is checked and sent`,
      );
    });
  }

  /**
   * Not a regular file (a FIFO, a socket, a device, a symbolic link): never opened, never
   * followed; it stays in its folder, with a report in rejected/ and one event (once per entry:
   * a FIFO's times change with each write, so they are not part of what makes it new).
   */
  private async reportSpecial(o: Offer, st: fs.Stats, kind: SpecialKind): Promise<void> {
    const key = `${o.file}\0${st.ino}\0${kind}`;
    if (this.unreadable.has(key)) return;
    const name = path.basename(o.file);
    let target: string | undefined;
    if (kind === 'symbolic link') target = await fsp.readlink(o.file).catch(() => undefined);
    const link = target === undefined ? '' : ` (it points to ${target})`;
    const problem = finding(
      'NOT-A-FILE',
      `"${name}" is a ${kind}${link}, not a regular file: fatturad does not open it${kind === 'symbolic link' ? ' nor follow it' : ''} and leaves it in the folder. Put the invoice file itself in the folder (written under a temporary name, then renamed), and remove this entry.`,
      `"${name}" è di tipo «${SPECIAL_KIND_IT[kind]}»${target === undefined ? '' : ` (punta a ${target})`}, non un file regolare: fatturad non lo apre${kind === 'symbolic link' ? ' né lo segue' : ''} e lo lascia nella cartella. Mettere nella cartella il file della fattura stesso (scritto con un nome temporaneo, poi rinominato) e togliere questa voce.`,
    );
    const report = await this.writeReportInPlace(o, st.size, problem);
    if (!report) return;
    this.unreadable.add(key);
    this.events.onOutcome?.('rejected', 0);
    this.log.warn(
      {
        event: 'intake.not_a_file',
        file: o.file,
        folder: o.folder.path,
        kind,
        ...(target === undefined ? {} : { target }),
        report,
      },
      `${name} is a ${kind}${link}, not a regular file: not taken, left in the folder; report ${report}`,
    );
  }

  /** The report of a file left in its folder (its bytes are not copied): where it is, or null. */
  private async writeReportInPlace(o: Offer, size: number, problem: Finding): Promise<string | null> {
    const name = path.basename(o.file);
    const base = fitName(name);
    const report: RejectionReport = {
      file: base,
      source: { folder: o.folder.path, name },
      sha256: '',
      size,
      at: new Date().toISOString(),
      stage: 'intake',
      valid: false,
      errors: [problem],
      warnings: [],
    };
    const out = path.join(o.folder.rejectedDir, base);
    try {
      const { fsync } = this.config.intake;
      await atomicWrite(`${out}.errors.json`, `${JSON.stringify(report, null, 2)}\n`, { fsync });
      await atomicWrite(`${out}.errors.txt`, renderReportText(report), { fsync });
    } catch (err) {
      this.events.onError?.();
      this.log.error(
        { event: 'intake.error', file: o.file, err },
        'could not write the report of a file left in its folder; retried at the next scan',
      );
      return null;
    }
    return `${out}.errors.txt`;
  }

  /** A file fatturad may not read: it stays in its folder, with a report in rejected/ (once). */
  private async reportUnreadable(
    o: Offer,
    st: { ino: number; ctimeMs: number; size: number },
    code: string,
  ): Promise<void> {
    const key = `${o.file}\0${st.ino}\0${st.ctimeMs}`;
    if (this.unreadable.has(key)) return;
    const name = path.basename(o.file);
    const problem = finding(
      'UNREADABLE',
      `fatturad may not read this file (${code}): it stays in the folder and is taken as soon as it can be read. Give the user fatturad runs as read permission on it.`,
      `fatturad non ha il permesso di leggere questo file (${code}): resta nella cartella e sarà preso appena leggibile. Dare il permesso di lettura all'utente con cui gira fatturad.`,
    );
    // The report only: the file stays (its bytes cannot be read, so not copied).
    const report = await this.writeReportInPlace(o, st.size, problem);
    if (!report) return;
    this.unreadable.add(key);
    this.events.onOutcome?.('rejected', 0);
    this.log.warn(
      { event: 'intake.unreadable', file: o.file, folder: o.folder.path, code, report },
      `cannot read ${name} (${code}); it stays in the folder: report ${report}`,
    );
  }

  /**
   * Finishes what a crash interrupted: open intents, and spool files that are no longer needed.
   * Safe to call at any time when no batch is running.
   */
  async recover(): Promise<{ resumed: number; abandoned: number; vanished: number }> {
    // What the send journal witnessed, for spool files the store had forgotten (adoptOrphans).
    this.witnessed = latestBySha256(readJournalFile(path.join(this.config.dataDir, JOURNAL_FILE)).records);
    try {
      return await this.recoverClaims();
    } finally {
      this.witnessed = null;
    }
  }

  private async recoverClaims(): Promise<{ resumed: number; abandoned: number; vanished: number }> {
    const open = this.store.openClaims();
    const resume: IntakeRow[] = [];
    const abandon: number[] = [];
    let vanished = 0;
    for (const row of open) {
      const inSpool = await exists(row.claimedPath);
      const inFolder = await exists(row.sourcePath);
      if (inSpool && !(await isRegular(row.claimedPath))) {
        // Not a regular file (swapped in before the move, then a crash): back, never opened.
        await putBack(row.claimedPath, row.sourcePath).catch((err: unknown) =>
          this.log.error(
            { event: 'intake.error', file: row.claimedPath, err },
            'an entry of the spool that is not a regular file could not be put back; it is left there, never opened',
          ),
        );
        abandon.push(row.id);
      } else if (inSpool) {
        // A move that linked (or copied across file systems) into place but did not unlink yet;
        // a name in the folder that holds another file now (dropped again since) is left alone.
        if (inFolder && (await sameFile(row.sourcePath, row.claimedPath))) await fsp.unlink(row.sourcePath);
        resume.push(row);
      } else if (inFolder) {
        abandon.push(row.id);
      } else {
        vanished++;
        this.store.markVanished(row.id);
        this.log.error(
          { event: 'intake.vanished', intakeId: row.id, file: row.sourcePath },
          'a file being claimed is neither in its folder nor in the spool (removed by someone else?)',
        );
      }
    }
    if (abandon.length) this.store.abandonClaims(abandon);
    if (resume.length) {
      this.log.info(
        { event: 'intake.recovered', count: resume.length },
        `resuming ${resume.length} interrupted claims`,
      );
      await this.judgeAndCommit(resume);
    }
    await this.sweepSpool();
    await this.adoptOrphans();
    return { resumed: resume.length, abandoned: abandon.length, vanished };
  }

  /**
   * Spool files the store does not know: the store lost their claims (its WAL deleted after a
   * crash, restored from an older backup) while the files stayed. Each is taken again as a new
   * file (an intake whose folder is the spool), judged as any file: a duplicate of a document the
   * store has, rejected, or a new document. One whose content the send journal says may be at SdI
   * already is held in doubt in the same commit, never sent again on its own; one that cannot be
   * held (the store gives that SdI name to another document) is moved to spool/orphans/ with a
   * report. The entries of a zip taken again are made again from it.
   */
  private async adoptOrphans(): Promise<void> {
    const dir = this.config.paths.claimed;
    const names = await listDir(dir);
    if (names.length === 0) return;
    const known = this.store.pathsUnder(dir);
    const present = new Set(names);
    const found: { path: string; name: string }[] = [];
    const entryDirs: string[] = [];
    for (const n of names) {
      if (isTempName(n) || intakeIdOf(n) === null) continue;
      // As the store writes them (path.join of the same folder), without normalizing each again.
      const p = `${dir}${path.sep}${n}`;
      if (n.endsWith('.d')) {
        // The entries of a zip whose file is gone: each one the store does not know.
        if (present.has(n.slice(0, -2))) continue;
        for (const e of await listDir(p)) {
          const ep = path.join(p, e);
          if (!isTempName(e) && !known.has(ep) && (await isRegular(ep)))
            found.push({ path: ep, name: e.replace(/^\d{4}-/, '') });
        }
        continue;
      }
      if (known.has(p) || !(await isRegular(p))) continue;
      found.push({ path: p, name: originalNameOf(n) });
      if (present.has(`${n}.d`)) entryDirs.push(`${p}.d`);
    }
    if (found.length === 0) return;

    const adopt: { path: string; name: string }[] = [];
    for (const o of found) {
      const { sha256: sha } = await sha256File(o.path);
      const w = this.witnessed?.get(sha);
      if (w && !this.store.findLiveBySha256(sha) && this.store.findOutboundBySdiName(w.sdiName))
        await this.keepAside(o, sha, w);
      else adopt.push(o);
    }
    const { fsync } = this.config.intake;
    const rows = this.store.beginClaims(
      adopt.map((o) => ({ sourceDir: dir, originalName: o.name, sourcePath: o.path })),
      (id, i) => freeClaimedPath(dir, id, fitName(i.originalName)),
    );
    const moved: IntakeRow[] = [];
    const abandoned: number[] = [];
    for (const row of rows) {
      try {
        await moveNoReplace(row.sourcePath, row.claimedPath, { fsync });
        moved.push(row);
      } catch (err) {
        abandoned.push(row.id);
        this.events.onError?.();
        this.log.error(
          { event: 'intake.error', file: row.sourcePath, err },
          'could not take again a spool file the store did not know; it stays and is tried at the next start',
        );
      }
    }
    if (fsync && moved.length > 0)
      for (const d of new Set(moved.flatMap((r) => [path.dirname(r.sourcePath), dir]))) await fsyncDir(d);
    if (abandoned.length > 0) this.store.abandonClaims(abandoned);
    if (moved.length === 0) return;
    this.log.warn(
      { event: 'intake.orphans_found', count: moved.length, folder: dir },
      `${moved.length} file(s) in ${dir} that the store did not know are taken again as new files`,
    );
    await this.judgeAndCommit(moved.sort((a, b) => a.id - b.id));
    // The entries of zips taken again were made again from them: the old copies go, unless used.
    const used = this.store.pathsUnder(dir);
    for (const d of entryDirs) {
      if (await exists(d.slice(0, -2))) continue;
      for (const e of await listDir(d))
        if (!used.has(path.join(d, e))) await fsp.rm(path.join(d, e), { force: true });
      await fsp.rmdir(d).catch(() => undefined);
    }
  }

  /** A spool file that cannot be taken again safely: to spool/orphans/, with a report and an event. */
  private async keepAside(o: { path: string; name: string }, sha: string, w: AttemptRecord): Promise<void> {
    const dir = path.join(this.config.paths.spool, ORPHANS_DIR);
    await fsp.mkdir(dir, { recursive: true });
    const out = freeName(dir, path.basename(o.path));
    const { fsync } = this.config.intake;
    const problem = finding(
      'ORPHAN-IN-DOUBT',
      `The store had lost this file (its claim gone: WAL deleted, an older backup). The send journal says it may have reached SdI as ${w.sdiName} (${w.at}), a name the store now gives to another document: it is not sent again. Ask SdI whether ${w.sdiName} arrived; if not, drop the file again.`,
      `Lo store aveva perso questo file (WAL cancellato, backup più vecchio). Il giornale degli invii dice che potrebbe essere arrivato allo SdI come ${w.sdiName} (${w.at}), nome che lo store ora dà a un altro documento: non viene inviato di nuovo. Chiedere allo SdI se ${w.sdiName} è arrivato; se no, rimettere il file nella cartella.`,
    );
    await moveNoReplace(o.path, out, { fsync });
    if (fsync) await fsyncDir(dir);
    const report: RejectionReport = {
      file: path.basename(out),
      source: { folder: path.dirname(o.path), name: o.name },
      sha256: sha,
      size: (await fsp.stat(out)).size,
      at: new Date().toISOString(),
      stage: 'intake',
      valid: false,
      errors: [problem],
      warnings: [],
    };
    await atomicWrite(`${out}.errors.json`, `${JSON.stringify(report, null, 2)}\n`, { fsync });
    await atomicWrite(`${out}.errors.txt`, renderReportText(report), { fsync });
    this.log.error(
      { event: 'intake.orphan_kept', file: o.name, output: out, sha256: sha, sdiName: w.sdiName },
      `${o.name}: a spool file the store did not know, which the send journal says may be at SdI as ${w.sdiName}; kept in ${out}, not sent: report ${out}.errors.txt`,
    );
  }

  /**
   * Removes what a crash can leave: temp files (ours only, by their name pattern) in the spool,
   * in zip entry folders and in the rejected/ and duplicates/ folders, and the spool copies of
   * rejected or duplicate inputs whose commit happened but whose cleanup did not.
   */
  private async sweepSpool(): Promise<void> {
    const claimed = this.config.paths.claimed;
    const dirs = new Set<string>([claimed]);
    for (const f of this.folders) {
      dirs.add(f.rejectedDir);
      dirs.add(f.duplicatesDir);
    }
    for (const n of await listDir(claimed)) if (n.endsWith('.d')) dirs.add(path.join(claimed, n));
    for (const dir of dirs) {
      for (const n of await listDir(dir)) {
        if (isTempName(n)) await fsp.rm(path.join(dir, n), { force: true, recursive: true });
      }
    }
    for (const n of await listDir(claimed)) {
      const id = intakeIdOf(n);
      if (id === null || n.endsWith('.d')) continue;
      const p = path.join(claimed, n);
      const row = this.store.getIntake(id);
      if (row?.status !== 'done' || row.claimedPath !== p) continue;
      // Rejected or duplicate at intake, or rejected later by validation (its bytes moved to rejected/).
      const movedAway =
        row.outcome === 'rejected' ||
        row.outcome === 'duplicate' ||
        (kindOf(row.originalName) !== 'zip' &&
          this.store.documentsOfIntake(row.id).every((d) => d.path !== p));
      if (movedAway) await fsp.rm(p, { force: true });
    }
  }
}

/** The folder beside spool/claimed/ where spool files that cannot be taken again safely are kept. */
export const ORPHANS_DIR = 'orphans';

async function isRegular(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    (st) => st.isFile(),
    () => false,
  );
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
