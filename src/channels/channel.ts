/**
 * One interface for every way of talking to SdI (SDICoop, PEC, SDIFTP). A channel only moves
 * bytes: it sends a file and hands whatever SdI sends back to the pipeline. It holds no invoice
 * state; the pipeline decides what a send result or a message means.
 */

/** A file to send, under the SdI file name the pipeline assigned. */
export interface OutgoingFile {
  documentId: number;
  sdiName: string;
  bytes: Buffer;
  /** 1 for the first attempt; a channel may build its transport reference from it. */
  attempt: number;
}

/** What sending one file gave. */
export type SendResult =
  /** SdI took the file (SDICoop answers at once with its IdentificativoSdI). */
  | { kind: 'accepted'; identificativoSdI: string; dataOraRicezione?: string; raw?: Buffer }
  /** The channel handed the file over; SdI's IdentificativoSdI comes with its first answer (PEC, SDIFTP). */
  | {
      kind: 'handed-over';
      detail: string;
      /** The transport's reference of this attempt (PEC: the Message-ID), to match its receipts. */
      ref?: string;
    }
  /** SdI refused to take it for good (e.g. EI01 empty file, EI03 user not enabled). */
  | { kind: 'refused'; code: string; reason: string; raw?: Buffer }
  /** A temporary failure (EI02, network, timeout): try again later. */
  | { kind: 'retry'; reason: string; code?: string };

/** Something SdI sent: a notification (RC, NS, MC, NE, DT, AT, SE...) or a received invoice. */
export type InboundMessage =
  | {
      type: 'notification';
      channel: string;
      /** The message file name, e.g. IT01234567890_00001_RC_001.xml (may be absent on SDICoop). */
      fileName: string;
      bytes: Buffer;
      /** The IdentificativoSdI the transport carried beside the file, if any. */
      identificativoSdI?: string;
      /** The transport envelope the file came in (PEC: the whole certified mail), kept verbatim. */
      envelope?: TransportEnvelope;
    }
  | {
      type: 'invoice';
      channel: string;
      identificativoSdI: string;
      fileName: string;
      bytes: Buffer;
      metadataName: string;
      metadata: Buffer;
      envelope?: TransportEnvelope;
    }
  /** What the transport itself says about a file sent (PEC receipts), not a message of SdI's. */
  | {
      type: 'transport-receipt';
      channel: string;
      /** The transport's word for it, e.g. accettazione, avvenuta-consegna, errore-consegna. */
      transportType: string;
      /**
       * accepted: the transport took the file; delivered: it reached SdI's mailbox; failed: it
       * never will (send again or report); warning: a delay the transport reports.
       */
      outcome: 'accepted' | 'delivered' | 'failed' | 'warning';
      /** The reference of the attempt it is about (OutgoingFile -> SendResult.ref). */
      ref: string | null;
      /** The subject it carries (names the SdI file when the reference is unknown). */
      subject: string;
      reason: string | null;
      at: string | null;
      /** The whole receipt, kept verbatim. */
      bytes: Buffer;
    };

/** A transport envelope (e.g. a PEC message) kept beside what it carried. */
export interface TransportEnvelope {
  name: string;
  bytes: Buffer;
}

/**
 * Where a channel hands inbound messages. It resolves once the message is stored durably, so the
 * channel may then acknowledge it to SdI (SOAP response, IMAP flag, SFTP delete); it rejects when
 * the message could not be stored, and the channel must then let SdI send it again.
 */
export type InboundSink = (message: InboundMessage) => Promise<void>;

export interface ChannelHealth {
  ok: boolean;
  detail: string;
}

export interface Channel {
  /** Stable name, used in the store and the logs: 'sdicoop', 'pec', 'sdiftp'. */
  readonly name: string;
  /** Starts receiving (servers, mailbox polling); messages go to `sink`. */
  start(sink: InboundSink): Promise<void>;
  send(file: OutgoingFile): Promise<SendResult>;
  health(): ChannelHealth;
  /**
   * Why the channel must not be used now (e.g. its client certificate expired), or null. Documents
   * then wait instead of failing at SdI with an unclear error.
   */
  blocked?(now: Date): string | null;
  stop(): Promise<void>;
}
