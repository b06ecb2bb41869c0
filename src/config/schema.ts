import path from 'node:path';
import { z } from 'zod';
import { SCENARIOS } from '../sim/scenarios.js';
import { CREDENTIAL_KINDS } from '../credentials/model.js';
import { ALERT_EVENTS } from '../alerts/kinds.js';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().min(1);

export const folderSchema = z.strictObject({
  /** The folder the ERP drops files into. */
  path: z.string().min(1),
  /** Where rejected files and their reports go; default <dataDir>/rejected. */
  rejectedDir: z.string().min(1).optional(),
  /** Where files whose content was already taken go; default <dataDir>/duplicates. */
  duplicatesDir: z.string().min(1).optional(),
});

const configShape = z.strictObject({
  dataDir: z.string().min(1),
  log: z.strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    format: z.enum(['auto', 'json', 'pretty']),
  }),
  http: z.strictObject({
    enabled: z.boolean().default(true),
    host: z.string().min(1),
    port,
  }),
  intake: z.strictObject({
    folders: z.array(folderSchema).min(1),
    stableMs: z.number().int().min(0),
    trustRename: z.boolean(),
    rescanMs: positiveMs,
    maxFileBytes: z.number().int().min(1),
    batchSize: z.number().int().min(1).max(10_000),
    fsync: z.boolean(),
    zip: z.strictObject({
      maxEntries: z.number().int().min(1),
      maxEntryBytes: z.number().int().min(1),
      maxTotalBytes: z.number().int().min(1),
      maxRatio: z.number().min(1),
      ratioMinBytes: z.number().int().min(0),
    }),
  }),
  validation: z.strictObject({
    enabled: z.boolean(),
    /** CA certificate files, and/or 'tsl' for the kept trusted list (`tsl` alone is a list of one). */
    trustedCAs: z
      .union([z.literal('tsl'), z.array(z.string().min(1))])
      .transform((v) => (typeof v === 'string' ? [v] : v)),
    fileName: z.enum(['error', 'warning', 'off']),
    /** 0: in the main thread, except files over 64 KB, still on one worker within the budget. */
    workers: z.union([z.literal('auto'), z.number().int().min(0).max(64)]),
    /** Per file, on a worker: past either, the file gets 00200 "too complex" (src/rules/pool.ts). */
    budget: z.strictObject({
      timeMs: positiveMs,
      memoryMb: z.number().int().min(64),
    }),
    /** The trusted list of qualified CAs (ETSI TS 119 612) that `fatturad trust update` keeps. */
    tsl: z.strictObject({
      url: z.string().regex(/^https?:\/\//, 'an http(s) URL'),
      /** Certificates (PEM or DER files) whose keys may sign the list. */
      signers: z.array(z.string().min(1)),
      maxBytes: z.number().int().min(1024),
      timeoutMs: positiveMs,
      /** Days past NextUpdate the kept list is still used (with a warning). */
      maxStaleDays: z.number().int().min(0),
    }),
  }),
  sending: z.strictObject({
    /** Send validated documents to SdI. Off: they stay validated. */
    enabled: z.boolean(),
    /** How often the step looks for work it was not told about. */
    pollMs: positiveMs,
    /** Files in flight to SdI at once. */
    concurrency: z.number().int().min(1).max(64),
    retry: z.strictObject({
      initialMs: positiveMs,
      maxMs: positiveMs,
      /** 0: retry for ever (temporary failures only). */
      maxAttempts: z.number().int().min(0),
    }),
  }),
  channel: z.strictObject({
    type: z.enum(['sdicoop', 'pec', 'none']),
    sdicoop: z.strictObject({
      /** Run the built-in SdI simulator on loopback and talk to it (the embedded default). */
      simulator: z.boolean(),
      /** SdI's RiceviFile endpoint (given at accreditation). Ignored with the simulator. */
      endpoint: z.string(),
      /** fatturad's client certificate for calling SdI: PEM cert + key, or a PKCS#12 file. */
      clientCert: z.string(),
      clientKey: z.string(),
      clientPfx: z.string(),
      /** The environment variable holding the PKCS#12 password (never the password itself). */
      passphraseEnv: z.string(),
      /** CA certificates that SdI's server and client certificates chain to. */
      sdiCAs: z.array(z.string().min(1)),
      /** Where fatturad's TrasmissioneFatture and RicezioneFatture endpoints listen. */
      listen: z.strictObject({ host: z.string().min(1), port }),
      /** The certificate those endpoints present (default: the client certificate). */
      serverCert: z.string(),
      serverKey: z.string(),
      timeoutMs: positiveMs,
      /** Send the file as an MTOM/XOP attachment instead of inline base64. */
      mtom: z.boolean(),
    }),
    pec: z.strictObject({
      /** Send through the built-in SdI simulator's SMTP server; the mailbox is still read from imap. */
      simulator: z.boolean(),
      /** fatturad's PEC address: the sender, and the mailbox SdI answers to. */
      address: z.string(),
      /** SdI's reception mailbox for the first file (SdI's first answer names the one to use next). */
      firstSdiAddress: z.string().min(3),
      /** Always send to this address, never learn another (empty: learn from SdI's first answer). */
      sdiAddress: z.string(),
      /** The largest PEC message SdI takes (30 MB); bigger files are refused before sending. */
      maxMessageBytes: z.number().int().min(1024),
      smtp: z.strictObject({
        host: z.string(),
        port,
        /** true: implicit TLS (port 465); false: STARTTLS (port 587 or 25). */
        secure: z.boolean(),
        /** With secure false: refuse to send unless STARTTLS succeeds. */
        requireTls: z.boolean(),
        /** Login name (empty: the PEC address). */
        user: z.string(),
        /** The environment variable holding the mailbox password (never the password itself). */
        passwordEnv: z.string(),
        /** A file holding the password (systemd credentials, Docker secrets); wins over passwordEnv. */
        passwordFile: z.string(),
        /** Extra CA certificates (PEM) for the provider's server certificate. */
        ca: z.array(z.string().min(1)),
        timeoutMs: positiveMs,
      }),
      imap: z.strictObject({
        host: z.string(),
        port,
        /** true: implicit TLS (IMAPS, port 993); false: STARTTLS when offered (port 143). */
        secure: z.boolean(),
        /** Login name (empty: the SMTP one). */
        user: z.string(),
        /** Password source (empty: the SMTP ones). */
        passwordEnv: z.string(),
        passwordFile: z.string(),
        ca: z.array(z.string().min(1)),
        /** The folder SdI's messages arrive in. */
        mailbox: z.string().min(1),
        /** IMAP keyword set on every message fatturad processed. */
        flag: z.string().regex(/^[^\s()[\]{}%*"\\]+$/, 'an IMAP keyword: no spaces or ()[]{}%*"\\'),
        /** Also mark processed messages as read. */
        markSeen: z.boolean(),
        /** Move processed messages to this folder (empty: leave them where they are, flagged). */
        moveTo: z.string(),
        /** Use IMAP IDLE to hear of new mail at once. */
        idle: z.boolean(),
        /** A full look at the mailbox at least this often (and the fallback without IDLE). */
        pollMs: positiveMs,
        reconnect: z.strictObject({ initialMs: positiveMs, maxMs: positiveMs }),
        timeoutMs: positiveMs,
        /** The mailbox quota (IMAP QUOTA), looked at every checkMs (0: never); warned at warnPercent. */
        quota: z.strictObject({
          checkMs: z.number().int().min(0),
          warnPercent: z.number().min(1).max(100),
        }),
      }),
      /** Bounds on reading one mailbox message; anything beyond is left in the mailbox and logged. */
      limits: z.strictObject({
        maxMessageBytes: z.number().int().min(1024),
        maxDepth: z.number().int().min(1).max(16),
        maxAttachments: z.number().int().min(1),
        maxAttachmentBytes: z.number().int().min(1024),
      }),
    }),
  }),
  passive: z.strictObject({
    /** Where received invoices are written for the ERP, with their metadata (MT) beside them. */
    importDir: z.string().min(1),
    /** A received .p7m is also written unwrapped, as .xml, beside it (signature checked and recorded). */
    unwrapP7m: z.boolean(),
  }),
  outcomes: z.strictObject({
    /** Write one file per state change of each document for the ERP (docs/outcomes.md). */
    enabled: z.boolean(),
    /** The outcomes folder (empty: <dataDir>/outcomes). */
    dir: z.string(),
    /** Also append one line per state change to <dir>/outcomes.csv. */
    csv: z.boolean(),
  }),
  archive: z.strictObject({
    /** Archive every invoice and SdI message once its flow has ended (see docs/archive.md). */
    enabled: z.boolean(),
    /** The archive folder (default <dataDir>/archive). */
    dir: z.string(),
    /** The checkpoints' origin line: which archive this is (default fatturad/<installation id>). */
    origin: z.string(),
    /** An Ed25519 PKCS#8 PEM key for checkpoints (empty: one made at first start in <dir>/keys). */
    keyFile: z.string(),
    /** How often the step looks for documents to archive. */
    pollMs: positiveMs,
    /** Documents per PdV at most. */
    batchSize: z.number().int().min(1).max(10_000),
    /** A signed checkpoint at least this often while the log grows (and at every PdA closed). */
    checkpointEveryMs: positiveMs,
    /** Years the documents must be kept (metadata TempoDiConservazione). */
    retentionYears: z.number().int().min(1).max(100),
    holder: z.strictObject({
      /** The titolare: denominazione and partita IVA (with country, e.g. IT01234567890). */
      name: z.string(),
      vat: z.string(),
      /** The responsabile della conservazione (name and codice fiscale), for the PdA index. */
      responsabile: z.string(),
      responsabileCf: z.string(),
    }),
    pda: z.strictObject({
      /** Close the PdA when it holds more files than this. */
      maxFiles: z.number().int().min(1),
      /** ... or when the last PdA was closed longer ago than this. */
      maxAgeDays: z.number().int().min(1),
      /** ... or when a fiscal year's preservation deadline is this near. */
      deadlineMarginDays: z.number().int().min(0),
    }),
    fiscal: z.strictObject({
      /** Income-tax return due dates that differ from 31 October of the next year, by fiscal year. */
      returnDueDates: z.record(
        z.string().regex(/^[0-9]{4}$/),
        z.string().regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/),
      ),
      /** The preservation deadline: this many months after the return's due date. */
      monthsAfterReturn: z.number().int().min(0).max(24),
    }),
    verify: z.strictObject({
      /** Every blob is re-hashed at least once in this many days (rolling verification). */
      windowDays: z.number().positive(),
      /** How often a slice of the archive is verified. */
      intervalMs: positiveMs,
    }),
    /** RFC 3161 timestamps on each PdA index and checkpoint (empty url: none). */
    tsa: z.strictObject({
      url: z.string(),
      timeoutMs: positiveMs,
      policy: z.string(),
      /** Basic authentication: user, and the environment variable holding the password. */
      user: z.string(),
      passwordEnv: z.string(),
      ca: z.array(z.string().min(1)),
    }),
    /** A CAdES signature on each PdA index (empty: none): PEM cert + key, or PKCS#12. */
    signing: z.strictObject({
      cert: z.string(),
      key: z.string(),
      pfx: z.string(),
      passphraseEnv: z.string(),
    }),
  }),
  credentials: z.strictObject({
    /** How often every credential is looked at again (and at start). */
    checkEveryMs: positiveMs,
    /** Days before expiry at which to warn. */
    thresholds: z.array(z.number().int().min(0)).min(1),
    /** The intermediary's Entratel security environment (empty dir and generatedAt: not watched). */
    entratel: z.strictObject({
      /** The folder (or USB medium) holding the environment's keystores: read by content. */
      dir: z.string(),
      /** When it was generated or last renewed, Europe/Rome: 'YYYY-MM-DD HH:mm'. */
      generatedAt: z.string(),
    }),
    /** The PEC mailbox password: when it was last changed and its maximum age at the provider. */
    pec: z.strictObject({
      rotatedAt: z.string(),
      /** 0: the provider does not expire it. */
      maxAgeDays: z.number().int().min(0),
    }),
    /** Other files to watch: SDIFTP keystores, SdI's encryption certificate, a qualified signature certificate... */
    files: z.array(
      z.strictObject({
        kind: z.enum(CREDENTIAL_KINDS),
        path: z.string().min(1),
        label: z.string().optional(),
        /** The variable holding the password of a PKCS#12 file. */
        passwordEnv: z.string().optional(),
      }),
    ),
  }),
  /** The store's checks and its send journal (docs/operations.md, "A damaged store"). */
  store: z
    .strictObject({
      /** A full PRAGMA integrity_check this often while running (0: never); a quick_check runs at every start. */
      fullCheckEveryMs: z.number().int().min(0),
      /** Send-journal records whose outcome the store holds are dropped at a start once this old. */
      journalKeepDays: z.number().int().min(1),
    })
    .default({ fullCheckEveryMs: 604_800_000, journalKeepDays: 400 }),
  /** What /healthz watches besides the steps (docs/operations.md, "Health"). */
  health: z
    .strictObject({
      /** How often the data folder's free space and the store's commits are looked at. */
      checkMs: positiveMs,
      /** The data folder is nearly full below this many free bytes... */
      minFreeBytes: z.number().int().min(0),
      /** ...or below this percentage of its file system (0: no percentage). */
      minFreePercent: z.number().min(0).max(100),
    })
    .default({ checkMs: 10_000, minFreeBytes: 268_435_456, minFreePercent: 1 }),
  /** Messages to people on the events that need one (docs/alerts.md). */
  alerts: z
    .strictObject({
      enabled: z.boolean(),
      /** The log events that raise an alert. */
      events: z.array(z.enum(ALERT_EVENTS)),
      /** The first event of a kind waits this long for others before its message goes. */
      groupWaitMs: z.number().int().min(0),
      /** At most one message per event kind this often; what comes in between is grouped in the next. */
      intervalMs: positiveMs,
      /** A channel down this long raises alerts.channel_down. */
      channelDownMs: positiveMs,
      /** Items listed in one message; the rest are counted. */
      maxItems: z.number().int().min(1).max(1000),
      /** Messages kept waiting for a target at most; past it the oldest are dropped (alerts.dropped). */
      maxQueue: z.number().int().min(1),
      /** Retries with exponential backoff, for ever while the message is in the queue. */
      retry: z.strictObject({ initialMs: positiveMs, maxMs: positiveMs }),
      email: z.strictObject({
        /** SMTP server (empty: no e-mail); a normal or a PEC account. */
        host: z.string(),
        port,
        /** true: implicit TLS (465); false: STARTTLS when offered (587, 25). */
        secure: z.boolean(),
        /** With secure false: refuse to send unless STARTTLS succeeds. */
        requireTls: z.boolean(),
        /** Login name (empty: no login). */
        user: z.string(),
        /** The environment variable holding the password (never the password itself). */
        passwordEnv: z.string(),
        /** A file holding the password; wins over passwordEnv. */
        passwordFile: z.string(),
        from: z.string(),
        to: z.array(z.string().min(3)),
        /** Extra CA certificates (PEM) for the server's certificate. */
        ca: z.array(z.string().min(1)),
        timeoutMs: positiveMs,
      }),
      webhook: z.strictObject({
        /** JSON POST here (empty: no webhook). */
        url: z.union([z.literal(''), z.string().regex(/^https?:\/\//, 'an http(s) URL')]),
        /** The HMAC-SHA256 key: an environment variable or a file (file wins). */
        secretEnv: z.string(),
        secretFile: z.string(),
        timeoutMs: positiveMs,
      }),
    })
    .default({
      enabled: false,
      events: [...ALERT_EVENTS],
      groupWaitMs: 30_000,
      intervalMs: 900_000,
      channelDownMs: 900_000,
      maxItems: 50,
      maxQueue: 1000,
      retry: { initialMs: 5_000, maxMs: 3_600_000 },
      email: {
        host: '',
        port: 587,
        secure: false,
        requireTls: true,
        user: '',
        passwordEnv: '',
        passwordFile: '',
        from: '',
        to: [],
        ca: [],
        timeoutMs: 30_000,
      },
      webhook: { url: '', secretEnv: '', secretFile: '', timeoutMs: 10_000 },
    }),
  simulator: z.strictObject({
    /** What the built-in SdI simulator does with each file (see docs/channels.md). */
    scenario: z.enum(SCENARIOS),
    /** Delay before each notification, to watch the states change. */
    delayMs: z.number().int().min(0),
    /** PEC: the SdI mailbox the simulator assigns in its first answer. */
    sdiMailbox: z.string().regex(/^sdi[0-9]{1,3}@pec\.fatturapa\.it$/, 'sdiNN@pec.fatturapa.it'),
  }),
});

/** The trusted list needs its signers: required as soon as trustedCAs names it. */
export const configSchema = configShape.superRefine((c, ctx) => {
  if (c.validation.trustedCAs.includes('tsl') && c.validation.tsl.signers.length === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['validation', 'tsl', 'signers'],
      message:
        'required with trustedCAs: tsl: the certificates that sign the trusted list (see docs/validation.md)',
    });
  const a = c.alerts;
  if (a.enabled && !a.email.host && !a.webhook.url)
    ctx.addIssue({
      code: 'custom',
      path: ['alerts'],
      message: 'enabled without a target: set alerts.email.host or alerts.webhook.url (see docs/alerts.md)',
    });
  if (a.email.host && (!a.email.from || a.email.to.length === 0))
    ctx.addIssue({
      code: 'custom',
      path: ['alerts', 'email', a.email.from ? 'to' : 'from'],
      message: 'required with alerts.email.host: the sender (from) and at least one recipient (to)',
    });
  if (a.webhook.url && !a.webhook.secretEnv && !a.webhook.secretFile)
    ctx.addIssue({
      code: 'custom',
      path: ['alerts', 'webhook', 'secretEnv'],
      message: 'required with alerts.webhook.url: the HMAC key, in secretEnv or secretFile',
    });
});

/** The configuration as written (relative paths, optional folders). */
export type RawConfig = z.infer<typeof configSchema>;

export interface FolderConfig {
  path: string;
  rejectedDir: string;
  duplicatesDir: string;
}

/** The configuration the daemon runs with: every path absolute, every default applied. */
export interface Config extends Omit<RawConfig, 'intake'> {
  intake: Omit<RawConfig['intake'], 'folders'> & { folders: FolderConfig[] };
  /** Derived locations inside dataDir. */
  paths: {
    db: string;
    spool: string;
    claimed: string;
    rejected: string;
    duplicates: string;
  };
  /** The file the configuration was read from, if any. */
  source: string | null;
}

export function resolveConfig(raw: RawConfig, cwd: string, source: string | null): Config {
  const abs = (p: string): string => path.resolve(cwd, p);
  const dataDir = abs(raw.dataDir);
  const paths = {
    db: path.join(dataDir, 'fatturad.db'),
    spool: path.join(dataDir, 'spool'),
    claimed: path.join(dataDir, 'spool', 'claimed'),
    rejected: path.join(dataDir, 'rejected'),
    duplicates: path.join(dataDir, 'duplicates'),
  };
  return {
    ...raw,
    dataDir,
    paths,
    source,
    validation: {
      ...raw.validation,
      trustedCAs: raw.validation.trustedCAs.map((f) => (f === 'tsl' ? f : abs(f))),
      tsl: { ...raw.validation.tsl, signers: raw.validation.tsl.signers.map(abs) },
    },
    channel: {
      ...raw.channel,
      sdicoop: {
        ...raw.channel.sdicoop,
        clientCert: raw.channel.sdicoop.clientCert && abs(raw.channel.sdicoop.clientCert),
        clientKey: raw.channel.sdicoop.clientKey && abs(raw.channel.sdicoop.clientKey),
        clientPfx: raw.channel.sdicoop.clientPfx && abs(raw.channel.sdicoop.clientPfx),
        serverCert: raw.channel.sdicoop.serverCert && abs(raw.channel.sdicoop.serverCert),
        serverKey: raw.channel.sdicoop.serverKey && abs(raw.channel.sdicoop.serverKey),
        sdiCAs: raw.channel.sdicoop.sdiCAs.map(abs),
      },
      pec: {
        ...raw.channel.pec,
        smtp: {
          ...raw.channel.pec.smtp,
          passwordFile: raw.channel.pec.smtp.passwordFile && abs(raw.channel.pec.smtp.passwordFile),
          ca: raw.channel.pec.smtp.ca.map(abs),
        },
        imap: {
          ...raw.channel.pec.imap,
          passwordFile: raw.channel.pec.imap.passwordFile && abs(raw.channel.pec.imap.passwordFile),
          ca: raw.channel.pec.imap.ca.map(abs),
        },
      },
    },
    passive: { ...raw.passive, importDir: abs(raw.passive.importDir) },
    outcomes: { ...raw.outcomes, dir: abs(raw.outcomes.dir || path.join(raw.dataDir, 'outcomes')) },
    alerts: {
      ...raw.alerts,
      email: {
        ...raw.alerts.email,
        passwordFile: raw.alerts.email.passwordFile && abs(raw.alerts.email.passwordFile),
        ca: raw.alerts.email.ca.map(abs),
      },
      webhook: {
        ...raw.alerts.webhook,
        secretFile: raw.alerts.webhook.secretFile && abs(raw.alerts.webhook.secretFile),
      },
    },
    credentials: {
      ...raw.credentials,
      entratel: {
        ...raw.credentials.entratel,
        dir: raw.credentials.entratel.dir && abs(raw.credentials.entratel.dir),
      },
      files: raw.credentials.files.map((f) => ({ ...f, path: abs(f.path) })),
    },
    archive: {
      ...raw.archive,
      dir: abs(raw.archive.dir || path.join(raw.dataDir, 'archive')),
      keyFile: raw.archive.keyFile && abs(raw.archive.keyFile),
      tsa: { ...raw.archive.tsa, ca: raw.archive.tsa.ca.map(abs) },
      signing: {
        ...raw.archive.signing,
        cert: raw.archive.signing.cert && abs(raw.archive.signing.cert),
        key: raw.archive.signing.key && abs(raw.archive.signing.key),
        pfx: raw.archive.signing.pfx && abs(raw.archive.signing.pfx),
      },
    },
    intake: {
      ...raw.intake,
      folders: raw.intake.folders.map((f) => ({
        path: abs(f.path),
        rejectedDir: f.rejectedDir ? abs(f.rejectedDir) : paths.rejected,
        duplicatesDir: f.duplicatesDir ? abs(f.duplicatesDir) : paths.duplicates,
      })),
    },
  };
}
