import type { DocumentState } from './states.js';
import { canTransition } from './states.js';

/**
 * What an SdI notification does to the state of the invoice it is about (digest section 3.3),
 * as one pure function. The rules:
 * - a later stage wins, so notifications may arrive in any order;
 * - the same notification twice is a no-op (the caller also stores each message once);
 * - NS (notifica di scarto) beats everything: the file was not accepted, the invoice not issued;
 * - B2B: MC is final ("available in the buyer's reserved area": the invoice is issued);
 *   PA: MC means SdI keeps trying, and RC or AT follows;
 * - NE carries the PA's outcome: EC01 accepted, EC02 refused; DT: 15 days without an outcome;
 * - SE, EC and MT are about received invoices and never change a sent invoice's state.
 */
export type Flow = 'pa' | 'b2b';
export type NotificationCode = 'RC' | 'NS' | 'MC' | 'NE' | 'DT' | 'AT' | 'EC' | 'SE' | 'MT';

/** How far along a state is: a notification never moves a document backwards. */
const STAGE: Partial<Record<DocumentState, number>> = {
  sending: 0,
  sent: 1,
  not_delivered: 2,
  delivered: 3,
  available: 4,
  attested: 4,
  accepted: 4,
  refused: 4,
  expired: 4,
};

export interface NotifyOutcome {
  /** The new state, or null when the notification changes nothing. */
  next: DocumentState | null;
  /** Why, in one line (kept in the transition). */
  reason: string;
}

/** The state a notification leads to from `current`, for an invoice of `flow`. */
export function applyNotification(
  current: DocumentState,
  flow: Flow,
  kind: NotificationCode,
  esito?: 'EC01' | 'EC02',
): NotifyOutcome {
  let target: DocumentState | null;
  switch (kind) {
    case 'NS':
      target = 'rejected';
      break;
    case 'RC':
      target = 'delivered';
      break;
    case 'MC':
      target = flow === 'b2b' ? 'available' : 'not_delivered';
      break;
    case 'AT':
      target = flow === 'pa' ? 'attested' : null;
      break;
    case 'NE':
      target = flow === 'pa' ? (esito === 'EC01' ? 'accepted' : esito === 'EC02' ? 'refused' : null) : null;
      break;
    case 'DT':
      target = flow === 'pa' ? 'expired' : null;
      break;
    default:
      target = null;
  }
  if (target === null)
    return { next: null, reason: `${kind} does not change a ${flow.toUpperCase()} invoice` };
  if (target === current) return { next: null, reason: `already ${current}` };
  const from = STAGE[current];
  if (from === undefined)
    return { next: null, reason: `${kind} is about a document that is ${current}, not sent` };
  if (target !== 'rejected') {
    const to = STAGE[target];
    if (to === undefined || to <= from)
      return {
        next: null,
        reason: `${kind} arrived after the invoice reached ${current}: kept, state unchanged`,
      };
  }
  if (!canTransition(current, target))
    return { next: null, reason: `${kind} cannot move a document that is ${current}` };
  return { next: target, reason: kind };
}
