/**
 * The lifecycle of a document, as one explicit table of allowed transitions.
 * Every state change in the store goes through `assertTransition`, so a later step
 * (validation, sending, receipts, archiving) plugs in by adding its states and edges here.
 */
export const STATES = ['received', 'validated', 'rejected', 'duplicate'] as const;
export type DocumentState = (typeof STATES)[number];

/** `null` is "not yet a document": the states a document may be created in. */
export const TRANSITIONS: ReadonlyMap<DocumentState | null, readonly DocumentState[]> = new Map<
  DocumentState | null,
  readonly DocumentState[]
>([
  [null, ['received', 'rejected', 'duplicate']],
  ['received', ['validated', 'rejected']],
  ['validated', ['rejected']],
  ['rejected', []],
  ['duplicate', []],
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
