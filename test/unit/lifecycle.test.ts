import { describe, expect, it } from 'vitest';
import { applyNotification, type Flow, type NotificationCode } from '../../src/lifecycle/notify.js';
import { FINAL_STATES, STATES, type DocumentState } from '../../src/lifecycle/states.js';

/** Digest section 3.3: what each SdI notification does, from each state, for PA and B2B invoices. */
const CASES: [DocumentState, Flow, NotificationCode, 'EC01' | 'EC02' | undefined, DocumentState | null][] = [
  // the usual paths
  ['sent', 'b2b', 'RC', undefined, 'delivered'],
  ['sent', 'pa', 'RC', undefined, 'delivered'],
  ['sent', 'b2b', 'NS', undefined, 'rejected'],
  ['sent', 'pa', 'NS', undefined, 'rejected'],
  ['sent', 'b2b', 'MC', undefined, 'available'], // B2B MC is final: issued, in the reserved area
  ['sent', 'pa', 'MC', undefined, 'not_delivered'], // PA MC: SdI keeps trying
  ['not_delivered', 'pa', 'RC', undefined, 'delivered'],
  ['not_delivered', 'pa', 'AT', undefined, 'attested'],
  ['delivered', 'pa', 'NE', 'EC01', 'accepted'],
  ['delivered', 'pa', 'NE', 'EC02', 'refused'],
  ['delivered', 'pa', 'DT', undefined, 'expired'],
  // out of order: the answer arrives before the send was recorded, or a later stage first
  ['sending', 'b2b', 'RC', undefined, 'delivered'],
  ['sending', 'pa', 'NS', undefined, 'rejected'],
  ['sent', 'pa', 'NE', 'EC01', 'accepted'],
  ['not_delivered', 'pa', 'NE', 'EC02', 'refused'],
  ['delivered', 'pa', 'MC', undefined, null], // an older MC after the RC: kept, no change
  ['accepted', 'pa', 'RC', undefined, null],
  ['expired', 'pa', 'NE', 'EC01', null], // the flow ended with DT
  // the same notification twice
  ['delivered', 'b2b', 'RC', undefined, null],
  ['rejected', 'pa', 'NS', undefined, null],
  ['available', 'b2b', 'MC', undefined, null],
  // NS beats every non-final stage
  ['delivered', 'pa', 'NS', undefined, 'rejected'],
  ['not_delivered', 'pa', 'NS', undefined, 'rejected'],
  // PA-only messages do nothing to a B2B invoice
  ['delivered', 'b2b', 'NE', 'EC01', null],
  ['delivered', 'b2b', 'DT', undefined, null],
  ['sent', 'b2b', 'AT', undefined, null],
  // messages of the receiving side never change a sent invoice
  ['delivered', 'pa', 'SE', undefined, null],
  ['delivered', 'pa', 'EC', 'EC01', null],
  ['sent', 'b2b', 'MT', undefined, null],
  // NE without a readable outcome
  ['delivered', 'pa', 'NE', undefined, null],
  // a document that was never sent is not moved by a stray notification
  ['validated', 'b2b', 'RC', undefined, null],
  ['received', 'pa', 'NS', undefined, null],
];

describe('applyNotification (digest 3.3)', () => {
  it.each(CASES)('%s (%s) + %s %s -> %s', (from, flow, kind, esito, to) => {
    expect(applyNotification(from, flow, kind, esito).next).toBe(to);
  });

  it('never leaves a final state', () => {
    const kinds: NotificationCode[] = ['RC', 'NS', 'MC', 'NE', 'DT', 'AT', 'EC', 'SE', 'MT'];
    for (const s of FINAL_STATES)
      for (const flow of ['pa', 'b2b'] as const)
        for (const k of kinds)
          for (const e of ['EC01', 'EC02', undefined] as const)
            expect(applyNotification(s, flow, k, e).next).toBeNull();
  });

  it('every state has a meaning for the status command', async () => {
    const { STATE_MEANING } = await import('../../src/lifecycle/states.js');
    for (const s of STATES) expect(STATE_MEANING[s]).toBeTruthy();
  });
});
