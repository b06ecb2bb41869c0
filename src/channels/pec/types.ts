/**
 * The PEC channel's shared vocabulary: what one message of the PEC mailbox turns out to be once
 * its transport envelope is opened (envelope.ts), the bounds that reading obeys, and the durable
 * state the mailbox reader keeps (mailbox.ts). The channel (pec.ts) maps these onto the
 * channel-neutral InboundMessage of ../channel.ts.
 */

/** Bounds on reading one mailbox message: anything beyond them is skipped and logged, never a crash. */
export interface PecLimits {
  /** The whole raw message as the IMAP server reports its size (SdI's limit is 30 MB of attachment). */
  maxMessageBytes: number;
  /** Nested layers: message/rfc822 parts and S/MIME (pkcs7-mime) wrappers, counted together. */
  maxDepth: number;
  /** Attachments in one MIME message (each layer counted on its own). */
  maxAttachments: number;
  /** One attachment, decoded. */
  maxAttachmentBytes: number;
}

export const DEFAULT_PEC_LIMITS: PecLimits = {
  maxMessageBytes: 50 * 1024 * 1024,
  maxDepth: 4,
  maxAttachments: 50,
  maxAttachmentBytes: 40 * 1024 * 1024,
};

/** The `tipo` of a PEC receipt (DPR 68/2005, DM 2 novembre 2005), from daticert.xml or X-Ricevuta. */
export type PecReceiptType =
  | 'accettazione'
  | 'non-accettazione'
  | 'presa-in-carico'
  | 'avvenuta-consegna'
  | 'errore-consegna'
  | 'preavviso-errore-consegna'
  | 'rilevazione-virus';

/** What daticert.xml says (fields absent from the file are undefined). */
export interface Daticert {
  /** postacert/@tipo: posta-certificata, accettazione, avvenuta-consegna, errore-consegna... */
  tipo: string;
  /** postacert/@errore: nessuno, no-dest, no-dominio, virus, altro. */
  errore: string;
  /** dati/errore-esteso: the provider's explanation of an error. */
  erroreEsteso?: string;
  /** intestazione/mittente: the certified sender. */
  mittente?: string;
  /** intestazione/destinatari. */
  destinatari: string[];
  /** intestazione/risposte (Reply-To). */
  risposte?: string;
  /** intestazione/oggetto. */
  oggetto?: string;
  /** dati/gestore-emittente. */
  gestoreEmittente?: string;
  /** dati/data as an ISO 8601 instant, when it can be read (zona + giorno + ora). */
  data?: string;
  /** dati/identificativo: the provider's id of the certified message. */
  identificativo?: string;
  /** dati/msgid: the Message-ID of the original message (receipts refer to it). */
  msgid?: string;
  /** dati/ricevuta/@tipo: completa, breve, sintetica. */
  ricevuta?: string;
  /** dati/consegna: the address a delivery receipt is about. */
  consegna?: string;
}

/** One file carried by SdI's message inside postacert.eml, bytes decoded exactly. */
export interface PecAttachment {
  fileName: string;
  contentType: string;
  bytes: Buffer;
}

/** The S/MIME signature of the PEC provider over the envelope, checked best effort. */
export type EnvelopeSignature =
  { status: 'valid'; signer: string } | { status: 'invalid'; reason: string } | { status: 'unsigned' };

/** What one mailbox message is. */
export type PecMessage =
  /** A receipt of the PEC layer itself (ACCETTAZIONE, CONSEGNA, errors): not an SdI message. */
  | {
      kind: 'receipt';
      receipt: PecReceiptType;
      /** Message-ID (angle brackets removed) of the message sent from here this receipt is about. */
      ref: string | null;
      subject: string;
      daticert: Daticert | null;
      /** For the failure types: the provider's reason (errore + errore-esteso), else null. */
      reason: string | null;
      signature: EnvelopeSignature;
    }
  /** A certified message whose certified sender is SdI (…@pec.fatturapa.it). */
  | {
      kind: 'sdi';
      /** The SdI mailbox that sent it, lower case, e.g. sdi03@pec.fatturapa.it. */
      sender: string;
      /** Subject of the inner SdI message, e.g. "Ricevuta di consegna 6782414". */
      subject: string;
      /** The number at the end of the inner subject (SdI puts the IdentificativoSdI there). */
      identificativoSdI: string | null;
      /** Every file of the inner message (notification XML, received invoice, its MT). */
      attachments: PecAttachment[];
      daticert: Daticert | null;
      signature: EnvelopeSignature;
    }
  /** Readable mail that is neither a PEC receipt nor a certified message from SdI: left alone. */
  | { kind: 'unrelated'; reason: string; from?: string; subject?: string }
  /** Mail that cannot be read safely (broken MIME, over a bound, too deep): left alone. */
  | { kind: 'malformed'; reason: string; from?: string; subject?: string };

/**
 * A durable key/value map the mailbox reader keeps its high-water marks in (UIDVALIDITY and the
 * last UID handled, per mailbox). Backed by the SQLite store: `set` is committed when it returns.
 * `lazy` may skip the sync to disk of that commit: the value survives a crash of the process at
 * once and a power failure from the store's next durable commit on. Only for values that point at
 * data already stored durably, whose last value can be lost at a power failure without harm.
 */
export interface ChannelState {
  get(key: string): string | undefined;
  set(key: string, value: string, opts?: { lazy?: boolean }): void;
}
