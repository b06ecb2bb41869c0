import { describe, expect, it } from 'vitest';
import { nsNotice, nsNoticeOf } from '../../src/pipeline/reports.js';

describe('nsNotice: the five-day rule after an NS', () => {
  it('five days after the NS, as a date in Europe/Rome', () => {
    // 23:30 UTC on 28 Feb is already 1 March in Rome: the deadline is 6 March.
    const n = nsNotice({ identificativoSdI: '4242', receivedAt: '2026-02-28T23:30:00Z' });
    expect(n.correctBy).toBe('2026-03-06');
    expect(n.en).toContain('IdentificativoSdI 4242');
    expect(n.en).toContain('(by 2026-03-06)');
    expect(n.it).toContain('(entro il 2026-03-06)');
    expect(n.it).toContain('stesso numero e la stessa data');
  });

  it('only for a document SdI rejected, from its NS', () => {
    const msgs = [
      { kind: 'RC', identificativoSdI: '1', receivedAt: '2026-01-01T10:00:00Z' },
      { kind: 'NS', identificativoSdI: null, receivedAt: '2026-01-02T10:00:00Z' },
    ];
    expect(nsNoticeOf('delivered', msgs, '1')).toBeNull();
    expect(nsNoticeOf('rejected', msgs.slice(0, 1), '1')).toBeNull();
    expect(nsNoticeOf('rejected', msgs, '77')).toMatchObject({
      identificativoSdI: '77',
      correctBy: '2026-01-07',
    });
  });
});
