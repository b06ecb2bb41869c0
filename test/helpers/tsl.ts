import fs from 'node:fs';
import { SignedXml } from 'xml-crypto';

/**
 * ETSI TS 119 612 trusted lists made at test time: the structure of AgID's TSL-IT.xml (scheme
 * information, providers, CA/QC services with their history), signed with xml-crypto by a key of
 * the test's own (an enveloped RSA-SHA256 XMLDSig, exclusive c14n, as AgID signs).
 */

const STATUS = 'http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/';
export const CA_QC = 'http://uri.etsi.org/TrstSvc/Svctype/CA/QC';

export interface TslService {
  tsp: string;
  name: string;
  /** PEM file or PEM text of the CA certificate. */
  cert: string;
  /** Short status name: granted, withdrawn, accredited, undersupervision... */
  status: string;
  since: Date;
  type?: string;
  /** Earlier statuses (any order). */
  history?: { status: string; since: Date; type?: string }[];
}

const b64 = (pem: string): string => {
  const text = pem.includes('-----BEGIN') ? pem : fs.readFileSync(pem, 'utf8');
  return (/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text)?.[1] ?? '').replace(
    /\s+/g,
    '',
  );
};
const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function serviceXml(s: TslService): string {
  const history = (s.history ?? [])
    .map(
      (h) => `
            <tsl:ServiceHistoryInstance>
              <tsl:ServiceTypeIdentifier>${h.type ?? CA_QC}</tsl:ServiceTypeIdentifier>
              <tsl:ServiceName><tsl:Name xml:lang="en">${s.name}</tsl:Name></tsl:ServiceName>
              <tsl:ServiceDigitalIdentity><tsl:DigitalId><tsl:X509SubjectName>CN=${s.name}</tsl:X509SubjectName></tsl:DigitalId></tsl:ServiceDigitalIdentity>
              <tsl:ServiceStatus>${STATUS}${h.status}</tsl:ServiceStatus>
              <tsl:StatusStartingTime>${iso(h.since)}</tsl:StatusStartingTime>
            </tsl:ServiceHistoryInstance>`,
    )
    .join('');
  return `
        <tsl:TSPService>
          <tsl:ServiceInformation>
            <tsl:ServiceTypeIdentifier>${s.type ?? CA_QC}</tsl:ServiceTypeIdentifier>
            <tsl:ServiceName><tsl:Name xml:lang="it">${s.name}</tsl:Name><tsl:Name xml:lang="en">${s.name}</tsl:Name></tsl:ServiceName>
            <tsl:ServiceDigitalIdentity>
              <tsl:DigitalId><tsl:X509Certificate>${b64(s.cert)}</tsl:X509Certificate></tsl:DigitalId>
            </tsl:ServiceDigitalIdentity>
            <tsl:ServiceStatus>${STATUS}${s.status}</tsl:ServiceStatus>
            <tsl:StatusStartingTime>${iso(s.since)}</tsl:StatusStartingTime>
          </tsl:ServiceInformation>${history ? `\n          <tsl:ServiceHistory>${history}\n          </tsl:ServiceHistory>` : ''}
        </tsl:TSPService>`;
}

export function buildTsl(o: {
  seq: number;
  issued: Date;
  nextUpdate: Date | null;
  services: TslService[];
  /** An Id on the root (the signature then references "#Id"). */
  id?: string;
  /** Extra bytes before the root (a DOCTYPE, for the hostile cases). */
  prolog?: string;
}): string {
  const byTsp = new Map<string, TslService[]>();
  for (const s of o.services) byTsp.set(s.tsp, [...(byTsp.get(s.tsp) ?? []), s]);
  const tsps = [...byTsp.entries()]
    .map(
      ([tsp, services]) => `
    <tsl:TrustServiceProvider>
      <tsl:TSPInformation><tsl:TSPName><tsl:Name xml:lang="en">${tsp}</tsl:Name></tsl:TSPName></tsl:TSPInformation>
      <tsl:TSPServices>${services.map(serviceXml).join('')}
      </tsl:TSPServices>
    </tsl:TrustServiceProvider>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>${o.prolog ?? ''}
<tsl:TrustServiceStatusList xmlns:tsl="http://uri.etsi.org/02231/v2#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"${o.id ? ` Id="${o.id}"` : ''} TSLTag="http://uri.etsi.org/19612/TSLTag">
  <tsl:SchemeInformation>
    <tsl:TSLVersionIdentifier>6</tsl:TSLVersionIdentifier>
    <tsl:TSLSequenceNumber>${o.seq}</tsl:TSLSequenceNumber>
    <tsl:TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric</tsl:TSLType>
    <tsl:SchemeOperatorName><tsl:Name xml:lang="it">Test AgID</tsl:Name><tsl:Name xml:lang="en">Test Agency for Digital Italy</tsl:Name></tsl:SchemeOperatorName>
    <tsl:SchemeTerritory>IT</tsl:SchemeTerritory>
    <tsl:ListIssueDateTime>${iso(o.issued)}</tsl:ListIssueDateTime>
    <tsl:NextUpdate>${o.nextUpdate ? `<tsl:dateTime>${iso(o.nextUpdate)}</tsl:dateTime>` : ''}</tsl:NextUpdate>
  </tsl:SchemeInformation>
  <tsl:TrustServiceProviderList>${tsps}
  </tsl:TrustServiceProviderList>
</tsl:TrustServiceStatusList>
`;
}

/** An enveloped signature over the whole list (URI "" or "#Id" when the root has an Id). */
export function signTsl(
  xml: string,
  signer: { key: string; cert: string },
  o: { signatureAlgorithm?: string; xades?: boolean } = {},
): string {
  const read = (p: string): string => (p.includes('-----BEGIN') ? p : fs.readFileSync(p, 'utf8'));
  const hasId = /<tsl:TrustServiceStatusList[^>]* Id="/.test(xml);
  const sig = new SignedXml({
    privateKey: read(signer.key),
    publicCert: read(signer.cert),
    signatureAlgorithm: o.signatureAlgorithm ?? 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
    // XAdES-BES as AgID signs: SignedProperties in a ds:Object, covered by a second reference.
    ...(o.xades
      ? {
          objects: [
            {
              content:
                '<xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="#sig">' +
                '<xades:SignedProperties Id="xades-signed"><xades:SignedSignatureProperties>' +
                `<xades:SigningTime>${new Date().toISOString()}</xades:SigningTime>` +
                '</xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties>',
            },
          ],
        }
      : {}),
  });
  sig.addReference({
    xpath: '/*',
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: [
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/10/xml-exc-c14n#',
    ],
    isEmptyUri: !hasId,
  });
  if (o.xades)
    sig.addReference({
      xpath: "//*[local-name(.)='SignedProperties']",
      digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
      transforms: ['http://www.w3.org/2001/10/xml-exc-c14n#'],
    });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: '/*', action: 'append' } });
  return sig.getSignedXml();
}
