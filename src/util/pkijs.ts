import crypto from 'node:crypto';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';

/**
 * pkijs and asn1js, loaded at first use with pkijs's engine set on Node's WebCrypto: together
 * they take about 20 MB, which a daemon that only ever sees unsigned XML does not need to carry.
 * Used by the CAdES checks (invoice/p7m.ts) and the simulator's certificates (sim/certs.ts).
 */
export interface PkiModules {
  asn1js: typeof Asn1js;
  pkijs: typeof Pkijs;
}

let loading: Promise<PkiModules> | undefined;

export function loadPkijs(): Promise<PkiModules> {
  loading ??= (async (): Promise<PkiModules> => {
    const asn1js = await import('asn1js');
    const pkijs = await import('pkijs');
    pkijs.setEngine(
      'node',
      new pkijs.CryptoEngine({
        name: 'node',
        // pkijs types this as the DOM's Crypto, which this Node-only build does not load.
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unnecessary-type-assertion
        crypto: crypto.webcrypto as unknown as Pkijs.CryptoEngineParameters['crypto'],
      }),
    );
    return { asn1js, pkijs };
  })();
  return loading;
}

/** Short names of the attribute types seen in the subjects of signers, TSAs and PEC providers. */
export const DN_SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.5': 'serialNumber',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** A distinguished name as one line, `CN=…, O=…, C=…`, attributes in their order. */
export function distinguishedName(rdn: Pkijs.RelativeDistinguishedNames): string {
  return rdn.typesAndValues
    .map((tv) => {
      const v = tv.value as { valueBlock?: { value?: unknown } };
      const val = typeof v.valueBlock?.value === 'string' ? v.valueBlock.value : '';
      return `${DN_SHORT_NAMES[tv.type] ?? tv.type}=${val}`;
    })
    .join(', ');
}
