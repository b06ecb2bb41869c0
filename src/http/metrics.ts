import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store/store.js';

/** The daemon's Prometheus metrics. Names are part of the operations contract: see docs/operations.md. */
export class Metrics {
  readonly registry = new Registry();
  readonly intakeFiles: Counter<'outcome'>;
  readonly intakeDocuments: Counter<'outcome'>;
  readonly intakeErrors: Counter;
  readonly configReloads: Counter<'result'>;
  readonly validations: Counter<'result'>;
  readonly validationErrors: Counter;
  readonly sends: Counter<'result'>;
  readonly notifications: Counter<'kind' | 'outcome'>;
  readonly passive: Counter;
  readonly transportReceipts: Counter;
  readonly archivedDocuments: Counter;
  readonly archiveVerifiedBlobs: Counter;
  readonly archiveVerifiedBytes: Counter;
  readonly archiveFindings: Counter<'code'>;
  readonly credentialDaysLeft: Gauge<'id' | 'kind'>;
  readonly credentialExpired: Gauge<'id' | 'kind'>;
  readonly sendBlocked: Counter<'channel'>;

  constructor(store: () => Store | null, queue: () => { queued: number; pending: number }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'fatturad_' });
    this.intakeFiles = new Counter({
      name: 'fatturad_intake_files_total',
      help: 'Files taken from drop folders, by outcome (accepted, duplicate, rejected).',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.intakeDocuments = new Counter({
      name: 'fatturad_intake_documents_total',
      help: 'Documents created by intake (one per file, one per zip entry), by outcome.',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.intakeErrors = new Counter({
      name: 'fatturad_intake_errors_total',
      help: 'Files that could not be claimed or judged (left in place and retried).',
      registers: [this.registry],
    });
    this.validations = new Counter({
      name: 'fatturad_validations_total',
      help: 'Documents validated, by result (validated, rejected).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.validationErrors = new Counter({
      name: 'fatturad_validation_errors_total',
      help: 'Validations that failed unexpectedly (the document stays received and is retried).',
      registers: [this.registry],
    });
    this.sends = new Counter({
      name: 'fatturad_sends_total',
      help: 'Attempts to send a document to SdI, by result (sent, retry, failed, held: its file changed after validation).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.notifications = new Counter({
      name: 'fatturad_notifications_total',
      help: 'Messages from SdI, by kind (RC, NS, MC, ...) and outcome (applied, unchanged, unmatched, duplicate).',
      labelNames: ['kind', 'outcome'],
      registers: [this.registry],
    });
    this.passive = new Counter({
      name: 'fatturad_received_invoices_total',
      help: 'Invoices received from SdI (passive cycle).',
      registers: [this.registry],
    });
    this.transportReceipts = new Counter({
      name: 'fatturad_transport_receipts_total',
      help: 'Receipts of the transport (PEC provider), by outcome (accepted, delivered, failed, warning) and effect.',
      labelNames: ['outcome', 'effect'],
      registers: [this.registry],
    });
    this.archivedDocuments = new Counter({
      name: 'fatturad_archived_documents_total',
      help: 'Documents (invoices with their messages) deposited in the archive.',
      registers: [this.registry],
    });
    this.archiveVerifiedBlobs = new Counter({
      name: 'fatturad_archive_verified_blobs_total',
      help: 'Archive blobs re-hashed by the rolling verification.',
      registers: [this.registry],
    });
    this.archiveVerifiedBytes = new Counter({
      name: 'fatturad_archive_verified_bytes_total',
      help: 'Bytes re-hashed by the rolling verification.',
      registers: [this.registry],
    });
    this.archiveFindings = new Counter({
      name: 'fatturad_archive_findings_total',
      help: 'Integrity findings of the rolling verification, by code (missing, changed, truncated...).',
      labelNames: ['code'],
      registers: [this.registry],
    });
    this.credentialDaysLeft = new Gauge({
      name: 'fatturad_credential_days_left',
      help: 'Days until each credential expires (negative: expired); credentials without expiry are not listed.',
      labelNames: ['id', 'kind'],
      registers: [this.registry],
    });
    this.credentialExpired = new Gauge({
      name: 'fatturad_credential_expired',
      help: '1 for each credential that has expired.',
      labelNames: ['id', 'kind'],
      registers: [this.registry],
    });
    this.sendBlocked = new Counter({
      name: 'fatturad_send_blocked_total',
      help: 'Sending passes skipped because the channel cannot be used (e.g. an expired client certificate).',
      labelNames: ['channel'],
      registers: [this.registry],
    });
    this.configReloads = new Counter({
      name: 'fatturad_config_reloads_total',
      help: 'Configuration reloads (SIGHUP), by result.',
      labelNames: ['result'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'fatturad_documents',
      help: 'Documents in the store, by current state.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const s = store();
        if (!s) return;
        this.reset();
        for (const [state, n] of Object.entries(s.countsByState())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'fatturad_intake_open_claims',
      help: 'Claims started and not yet committed (non-zero only briefly, or after a crash until recovery).',
      registers: [this.registry],
      collect() {
        const s = store();
        if (s) this.set(s.openClaimCount());
      },
    });
    new Gauge({
      name: 'fatturad_intake_waiting_files',
      help: 'Files seen in drop folders and not yet taken (waiting to be complete, or queued).',
      registers: [this.registry],
      collect() {
        const q = queue();
        this.set(q.queued + q.pending);
      },
    });
  }
}
