/**
 * The log events that need a person, and the words of their alerts. An alert is one of these
 * events as the daemon logged it (src/log.ts tapLog): the pipeline never waits for an alert.
 */
export interface AlertKind {
  /** SdI's message or code, where one applies. */
  sdi?: string;
  title: string;
  titleIt: string;
  /** What the person receiving it should do. */
  action: string;
  actionIt: string;
}

export const ALERT_KINDS = {
  'invoice.rejected': {
    sdi: 'NS',
    title: 'SdI rejected invoices (NS, notifica di scarto)',
    titleIt: 'Fatture scartate dallo SdI (NS, notifica di scarto)',
    action:
      'Correct each invoice and send it again within five days of the NS, with the same number and date; the errors are in rejected/ and in "fatturad show <file>".',
    actionIt:
      'Correggere ogni fattura e inviarla di nuovo entro cinque giorni dalla NS, con lo stesso numero e la stessa data; gli errori sono in rejected/ e in "fatturad show <file>".',
  },
  'invoice.refused': {
    sdi: 'NE EC02',
    title: 'A public administration refused invoices (NE EC02)',
    titleIt: 'Fatture rifiutate dalla pubblica amministrazione (NE EC02)',
    action:
      'Read the reason in "fatturad show <file>"; issue a credit note (TD04) and, where due, a new invoice.',
    actionIt:
      'Leggere il motivo con "fatturad show <file>"; emettere una nota di credito (TD04) e, se dovuta, una nuova fattura.',
  },
  'invoice.available': {
    sdi: 'MC',
    title: "B2B invoices not deliverable (MC): available in the buyer's reserved area",
    titleIt: "Fatture B2B non recapitabili (MC): a disposizione nell'area riservata del cliente",
    action:
      'The invoice is issued; tell the buyer it is in their reserved area of the Agenzia delle Entrate and send them a copy.',
    actionIt:
      "La fattura è emessa; comunicare al cliente che è nella sua area riservata dell'Agenzia delle Entrate e inviargliene una copia.",
  },
  'send.in_doubt': {
    title: 'Sends in doubt: SdI may or may not have the file',
    titleIt: 'Invii incerti: lo SdI potrebbe avere o non avere il file',
    action:
      'Check with SdI (or the PEC mailbox) whether the file arrived; only if it did not, run "fatturad resend <id>".',
    actionIt:
      'Verificare presso lo SdI (o nella casella PEC) se il file è arrivato; solo se non è arrivato, eseguire "fatturad resend <id>".',
  },
  'send.integrity_mismatch': {
    title: 'Files changed after they were taken: not sent',
    titleIt: 'File modificati dopo la presa in carico: non inviati',
    action: 'Find what changes files in the spool folder; drop the invoice again.',
    actionIt: 'Individuare cosa modifica i file nella cartella spool; depositare di nuovo la fattura.',
  },
  'send.blocked': {
    title: 'Sending is held',
    titleIt: 'Invio sospeso',
    action: 'Read the reason; "fatturad credentials" if a certificate expired.',
    actionIt: 'Leggere il motivo; "fatturad credentials" se un certificato è scaduto.',
  },
  'send.gave_up': {
    title: 'Sends given up after every retry',
    titleIt: 'Invii abbandonati dopo tutti i tentativi',
    action: 'Read the last error in "fatturad show <file>" and drop the file again once fixed.',
    actionIt:
      'Leggere l\'ultimo errore con "fatturad show <file>" e depositare di nuovo il file dopo la correzione.',
  },
  'alerts.channel_down': {
    title: 'The channel to SdI has been down longer than the threshold',
    titleIt: 'Il canale verso lo SdI è fuori servizio da più della soglia',
    action: 'Check the network, the provider and /healthz; invoices wait and are sent when it is back.',
    actionIt:
      'Verificare la rete, il fornitore e /healthz; le fatture restano in attesa e partono al ripristino.',
  },
  'credentials.expiring': {
    title: 'Credentials about to expire',
    titleIt: 'Credenziali in scadenza',
    action: 'Renew them: "fatturad credentials" lists the steps.',
    actionIt: 'Rinnovarle: "fatturad credentials" elenca i passi.',
  },
  'credentials.expired': {
    title: 'Credentials expired',
    titleIt: 'Credenziali scadute',
    action: 'Renew them now: "fatturad credentials" lists the steps.',
    actionIt: 'Rinnovarle subito: "fatturad credentials" elenca i passi.',
  },
  'archive.integrity_failed': {
    title: 'Archive verification found an alteration',
    titleIt: "La verifica dell'archivio ha trovato un'alterazione",
    action: 'Run "fatturad archive verify" and restore the named files from a backup.',
    actionIt: 'Eseguire "fatturad archive verify" e ripristinare da un backup i file indicati.',
  },
  'archive.verify_error': {
    title: 'Archive verification failed to run',
    titleIt: "La verifica dell'archivio non è riuscita",
    action: 'Read the error; run "fatturad archive verify".',
    actionIt: 'Leggere l\'errore; eseguire "fatturad archive verify".',
  },
  'store.damaged': {
    title: 'The store is damaged',
    titleIt: 'Il database è danneggiato',
    action: 'Restore it from a backup (docs/operations.md, "A damaged store").',
    actionIt: 'Ripristinarlo da un backup (docs/operations.md, "A damaged store").',
  },
  'store.behind_journal': {
    title: 'The store lacks sends its journal witnessed: held in doubt',
    titleIt: 'Al database mancano invii registrati nel giornale: sospesi come incerti',
    action:
      'Check with SdI whether each file arrived, then "fatturad resend <id>" only for those that did not.',
    actionIt:
      'Verificare presso lo SdI se ogni file è arrivato, poi "fatturad resend <id>" solo per quelli non arrivati.',
  },
  'health.disk_low': {
    title: 'The data folder is nearly full',
    titleIt: 'La cartella dati è quasi piena',
    action: 'Free space or enlarge the file system.',
    actionIt: 'Liberare spazio o ampliare il file system.',
  },
  'health.store_commit_failed': {
    title: 'The store cannot commit',
    titleIt: 'Il database non riesce a salvare',
    action: 'Check the disk and the data folder; "fatturad store check".',
    actionIt: 'Verificare il disco e la cartella dati; "fatturad store check".',
  },
  'pec.quota_low': {
    title: 'The PEC mailbox is nearly full: SdI cannot deliver to a full mailbox',
    titleIt: 'La casella PEC è quasi piena: lo SdI non può consegnare a una casella piena',
    action: 'Delete or archive old messages in the mailbox, or ask the provider for more space.',
    actionIt: 'Eliminare o archiviare i messaggi vecchi della casella, o chiedere più spazio al gestore.',
  },
  'intake.folder_unavailable': {
    title: 'A drop folder cannot be read or written: files there are not taken',
    titleIt: 'Una cartella di deposito non è leggibile o scrivibile: i file non vengono presi in carico',
    action: "Check the folder's mount, owner and permissions; /healthz names it.",
    actionIt: 'Verificare montaggio, proprietario e permessi della cartella; /healthz la indica.',
  },
  'intake.orphan_kept': {
    title: 'Files the store forgot were kept aside (spool/orphans/)',
    titleIt: 'File dimenticati dal database messi da parte (spool/orphans/)',
    action: 'Read the report beside each file; check with SdI whether it was sent before dropping it again.',
    actionIt:
      'Leggere il rapporto accanto a ogni file; verificare presso lo SdI se è stato inviato prima di depositarlo di nuovo.',
  },
  'alerts.test': {
    title: 'Test alert from fatturad',
    titleIt: 'Avviso di prova da fatturad',
    action: 'Nothing to do: this checks that alerts reach you.',
    actionIt: 'Nessuna azione: serve a verificare che gli avvisi arrivino.',
  },
} as const satisfies Record<string, AlertKind>;

export type AlertKindName = keyof typeof ALERT_KINDS;
/** The kinds a configuration may list (the test alert is always sent by `fatturad alerts test`). */
export const ALERT_EVENTS = Object.keys(ALERT_KINDS).filter((k) => k !== 'alerts.test') as [
  AlertKindName,
  ...AlertKindName[],
];

export function alertKind(name: string): AlertKind | undefined {
  return (ALERT_KINDS as Record<string, AlertKind>)[name];
}
