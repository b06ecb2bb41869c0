import { describe, expect, it } from 'vitest';
import { parseXml } from '../../../src/invoice/xml.js';
import { bodyCheck, fileCheck, type SdiCheck } from '../../../src/rules/sdi/check.js';
import { CONTENT_CHECKS } from '../../../src/rules/sdi/checks/index.js';
import { checksInForce, runChecks } from '../../../src/rules/sdi/engine.js';
import { parseDay, romeDay } from '../../../src/rules/sdi/days.js';
import { invoice, NOW, one } from '../content/helpers.js';

/** The engine: each check on its own, a failing check is a finding, checks selected by day. */

const root = (xml: string) => {
  const p = parseXml(Buffer.from(xml));
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.root;
};

const explodes = bodyCheck(
  function explodes00421() {
    throw new TypeError("Cannot read properties of undefined (reading 'times')");
  },
  { codes: ['00421'], section: 'DatiRiepilogo' },
);
const explodesOnFile = fileCheck(
  function explodesOnFile00428() {
    throw new Error('boom');
  },
  { codes: ['00428'], section: 'FatturaElettronicaHeader' },
);

describe('CHECK-FAILED: a check that throws is an error finding that stops the file, the other checks still run', () => {
  // 00423 fails on this invoice: its check must still report it beside the failed ones.
  const xml = one({
    lines: [{ prezzoTotale: '100.05' }],
    riepilogo: [{ imponibile: '100.05', imposta: '22.01' }],
  });

  it('names the check and its SdI code, in English and Italian, as an error', () => {
    const checks: SdiCheck[] = [explodesOnFile, explodes, ...CONTENT_CHECKS];
    const r = runChecks(root(xml), { now: NOW }, checks);
    const failed = r.errors.filter((f) => f.code === 'CHECK-FAILED');
    expect(failed).toHaveLength(2);
    expect(failed[0]?.message).toMatch(/explodesOnFile00428 \(SdI 00428\).*boom/);
    expect(failed[0]?.path).toBe('/FatturaElettronica');
    expect(failed[1]?.message).toMatch(
      /explodes00421 \(SdI 00421\) failed with an internal error: Cannot read/,
    );
    expect(failed[1]?.messageIt).toMatch(/Il controllo explodes00421 \(SdI 00421\) non è riuscito/);
    expect(failed[1]?.path).toBe('/FatturaElettronica/FatturaElettronicaBody');
    expect(r.errors.map((f) => f.code)).toContain('00423');
  });

  it('fails every body of a lotto on its own', () => {
    const lotto = root(invoice({ bodies: [{ numero: '1' }, { numero: '2' }] }));
    const r = runChecks(lotto, { now: NOW }, [explodes]);
    expect(r.errors.map((f) => f.path)).toEqual([
      '/FatturaElettronica/FatturaElettronicaBody[1]',
      '/FatturaElettronica/FatturaElettronicaBody[2]',
    ]);
  });

  it('without a failing check the same invoice has no CHECK-FAILED', () => {
    const r = runChecks(root(xml), { now: NOW }, CONTENT_CHECKS);
    expect(r.errors.map((f) => f.code)).toEqual(['00423']);
  });
});

describe('selection by day', () => {
  it('a check whose codes are all out of force is not run at all', () => {
    const before = checksInForce('2020-09-30', 'ordinaria', CONTENT_CHECKS);
    const after = checksInForce('2020-10-01', 'ordinaria', CONTENT_CHECKS);
    const names = (s: typeof before) => [...s.body, ...s.file].map((x) => x.check.name);
    expect(names(before)).not.toContain('riepilogoCoerente00443');
    expect(names(after)).toContain('riepilogoCoerente00443');
  });

  it('a version of a rule runs only in its days', () => {
    const names = (day: string) =>
      checksInForce(day, 'ordinaria', CONTENT_CHECKS).body.map((x) => x.check.name);
    expect(names('2025-01-30')).toContain('stessoSoggetto00471v17');
    expect(names('2025-01-30')).not.toContain('stessoSoggetto00471');
    expect(names('2025-01-31')).toContain('stessoSoggetto00471');
    expect(names('2025-01-31')).not.toContain('stessoSoggetto00471v17');
  });

  it('the day is the day in Italy: 23:30 UTC on 31 December 2020 is already 2021 in Rome', () => {
    expect(romeDay(new Date('2020-12-31T23:30:00Z'))).toBe('2021-01-01');
    const xml = root(
      one({
        lines: [{ aliquota: '0.00', natura: 'N2' }],
        riepilogo: [{ aliquota: '0.00', natura: 'N2', imposta: '0.00' }],
      }),
    );
    const at = (iso: string) =>
      runChecks(xml, { asOf: new Date(iso) }, CONTENT_CHECKS).errors.map((f) => f.code);
    expect(at('2020-12-31T22:30:00Z')).not.toContain('00445');
    expect(at('2020-12-31T23:30:00Z')).toContain('00445');
  });
});

describe('parseDay: --as-of days', () => {
  it.each([
    ['2025-03-31', '2025-03-31'],
    ['2024-02-29', '2024-02-29'],
    ['2017-13-45', null],
    ['2025-02-29', null],
    ['2025-3-31', null],
    ['31/03/2025', null],
    ['', null],
  ])('%s → %s', (s, day) => {
    const d = parseDay(s);
    expect(d === null ? null : romeDay(d)).toBe(day);
  });
});
