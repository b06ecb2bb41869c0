/**
 * The lifecycle of a document, as one explicit table of allowed transitions.
 * SdI's notifications move a sent document through `notify.ts`, a pure function over this table.
 * Every state change in the store goes through `assertTransition`, so a later step
 * (validation, sending, receipts, archiving) plugs in by adding its states and edges here.
 */
export const STATES = [
  // intake and validation
  'received',
  'validated',
  'rejected',
  'duplicate',
  // sending: handed to a channel (attempts and backoff in the outbound table), then taken by SdI
  'sending',
  'sent',
  'failed',
  // SdI's answers (digest section 3.3)
  'not_delivered',
  'delivered',
  'available',
  'attested',
  'accepted',
  'refused',
  'expired',
] as const;
export type DocumentState = (typeof STATES)[number];

/** What each state means, for `fatturad status` and the docs. */
export const STATE_MEANING: Readonly<Record<DocumentState, string>> = {
  received: 'claimed from a drop folder, waiting for validation',
  validated: 'valid, waiting to be sent',
  rejected: 'refused: by local validation, or by SdI (NS, notifica di scarto); the report is in rejected/',
  duplicate: 'the same bytes were already taken; nothing sent',
  sending: 'being sent to SdI (retried with backoff on a temporary error)',
  sent: 'taken by SdI (IdentificativoSdI assigned), waiting for its outcome',
  failed: 'SdI refused to take the file (EI01, EI03) or it could not be sent; see the reason',
  not_delivered: 'PA: SdI could not deliver it yet (MC) and keeps trying',
  delivered: 'delivered to the recipient (RC)',
  available: "B2B: not deliverable (MC), the invoice is issued and available in the buyer's reserved area",
  attested: 'PA: delivery impossible, SdI attested the transmission (AT)',
  accepted: 'PA: accepted by the public administration (NE EC01)',
  refused: 'PA: refused by the public administration (NE EC02)',
  expired: 'PA: no outcome within 15 days of delivery (DT)',
};

/** SdI's answers may arrive out of order: every later stage is reachable from every earlier one. */
const AFTER_SENDING: readonly DocumentState[] = [
  'sent',
  'not_delivered',
  'delivered',
  'available',
  'attested',
  'accepted',
  'refused',
  'expired',
  'rejected',
];

/** `null` is "not yet a document": the states a document may be created in. */
export const TRANSITIONS: ReadonlyMap<DocumentState | null, readonly DocumentState[]> = new Map<
  DocumentState | null,
  readonly DocumentState[]
>([
  [null, ['received', 'rejected', 'duplicate']],
  ['received', ['validated', 'rejected']],
  ['validated', ['rejected', 'sending']],
  ['sending', [...AFTER_SENDING, 'failed']],
  ['sent', AFTER_SENDING.filter((s) => s !== 'sent')],
  ['not_delivered', ['delivered', 'attested', 'accepted', 'refused', 'expired', 'rejected']],
  ['delivered', ['accepted', 'refused', 'expired', 'rejected']],
  ['rejected', []],
  ['duplicate', []],
  ['failed', []],
  ['available', []],
  ['attested', []],
  ['accepted', []],
  ['refused', []],
  ['expired', []],
]);

/** States no step moves a document out of. */
export const FINAL_STATES: ReadonlySet<DocumentState> = new Set(
  STATES.filter((s) => (TRANSITIONS.get(s) ?? []).length === 0),
);

export function isState(value: string): value is DocumentState {
  return (STATES as readonly string[]).includes(value);
}

export function canTransition(from: DocumentState | null, to: DocumentState): boolean {
  return (TRANSITIONS.get(from) ?? []).includes(to);
}

export class TransitionError extends Error {
  constructor(
    readonly from: DocumentState | null,
    readonly to: DocumentState,
  ) {
    super(`transition not allowed: ${from ?? '(new)'} -> ${to}`);
    this.name = 'TransitionError';
  }
}

export function assertTransition(from: DocumentState | null, to: DocumentState): void {
  if (!canTransition(from, to)) throw new TransitionError(from, to);
}
