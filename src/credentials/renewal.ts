/**
 * What to do when a credential is about to expire: short, ordered steps for the person on call.
 * Italian UI labels are quoted exactly as the applications show them. Sources: the research on
 * the Entratel security environment and the other expiring credentials, docs/channels.md (legacy
 * PKCS#12) and docs/operations.md ("Rotating the checkpoint key").
 */

import type { CredentialKind } from './model.js';

const LABELS: Record<CredentialKind, string> = {
  'entratel-environment': 'Entratel security environment',
  'sdicoop-client-certificate': 'SDICoop client certificate',
  'sdicoop-server-certificate': 'SDICoop server certificate',
  'sdicoop-truststore': 'SDICoop truststore (SdI CA certificates)',
  'sdiftp-signing-keystore': 'SDIFTP signing keystore',
  'sdiftp-encryption-keystore': 'SDIFTP encryption keystore',
  'sdi-encryption-certificate': 'SdI encryption certificate (SDIFTP)',
  'qualified-signature-certificate': 'Qualified signature certificate',
  'tsa-certificate': 'TSA certificate',
  'archive-checkpoint-key': 'Archive checkpoint key',
  'archive-signing-certificate': 'Archive signing certificate',
  'pec-password': 'PEC mailbox password',
  certificate: 'Certificate',
};

/** What a person calls a credential of this kind ("SDICoop client certificate"). */
export function kindLabel(kind: CredentialKind): string {
  return LABELS[kind];
}

/** The re-export of a legacy (RC2-40/3DES) PKCS#12 for OpenSSL 3, as docs/channels.md gives it. */
function legacyStep(passphraseKey: string): string {
  return (
    `If fatturad reports a legacy PKCS#12, re-export it (VAR: the variable named in ${passphraseKey}): ` +
    '(umask 077 && openssl pkcs12 -legacy -in old.p12 -nodes -passin env:VAR -out tmp.pem && ' +
    'openssl pkcs12 -export -in tmp.pem -passout env:VAR -out new.p12); rm -f tmp.pem'
  );
}

const RESTART = 'Restart fatturad: SIGHUP is not enough, certificates and keys are loaded at start.';

const SDI_PEC =
  'About 1 month before expiry SdI sends a PEC to the channel owner with the renewal procedure ' +
  '(the accreditation lasts 3 years; at expiry SdI interrupts the channel until new certificates are installed).';

const STEPS: Record<CredentialKind, readonly string[]> = {
  'entratel-environment': [
    'Download and process all pending receipts first: files sent with the old environment cannot be ' +
      'opened with the new key. Back up the old environment folder.',
    'Revoke the previous environment (even if expired) in the Agenzia delle Entrate reserved area: ' +
      '"Il tuo profilo" → "Sicurezza e privacy" → "Ripristina ambiente di sicurezza", with the busta number ' +
      'and the PIN di revoca (without them: an Agenzia delle Entrate office). Wait until it shows ' +
      '"L\'utente non ha un ambiente di sicurezza attivo" (a few minutes).',
    'Set the environment path on the storage medium (an empty folder or USB stick): Desktop Telematico → ' +
      'Entratel: "File" → "Impostazioni Applicazioni Entratel" → "Percorso dell\'ambiente di sicurezza".',
    '"Sicurezza" → "Imposta ambiente": enter the pincode (both parts, section 3 of the busta), the ' +
      'progressivo sede (usually 000), a new PIN di revoca (15 to 20 characters) and a new protection ' +
      'password (8 to 15 letters and digits, no accented letters); fatturad credentials check-password ' +
      'checks a proposal. Keep the new PIN di revoca (printed on the "memoria") with the busta.',
    'Check the new validity period on the Entratel home page; copy the environment ("Copia ambiente") to a ' +
      "second medium; update fatturad's credentials.entratel.generatedAt (YYYY-MM-DD HH:mm, Italian time).",
  ],
  'sdicoop-client-certificate': [
    SDI_PEC,
    'Request the new certificates in the SdI accreditation area, as that PEC explains.',
    'Install the new client certificate in the configured paths: channel.sdicoop.clientPfx (PKCS#12, ' +
      'password in the variable named by channel.sdicoop.passphraseEnv) or channel.sdicoop.clientCert + clientKey (PEM).',
    legacyStep('channel.sdicoop.passphraseEnv'),
    RESTART,
    'Check the sdicoop.identity log line at start: it shows the new subject and expiry.',
  ],
  'sdicoop-server-certificate': [
    SDI_PEC,
    'Request the new certificates in the SdI accreditation area, as that PEC explains.',
    'Install the new server certificate in channel.sdicoop.serverCert + serverKey (PEM); when those are ' +
      'empty the endpoints present the client certificate, so renew that one.',
    legacyStep('channel.sdicoop.passphraseEnv'),
    RESTART,
    "Check that SdI's next call (a notification or a received invoice) arrives.",
  ],
  'sdicoop-truststore': [
    "SdI's CA certificates rotate too: get the new ones with the renewal PEC or from the SdI accreditation area.",
    "Replace SdI's CA files listed in channel.sdicoop.sdiCAs with the new ones (PEM).",
    RESTART,
    "Check that sending a file and SdI's next call both succeed.",
  ],
  'sdiftp-signing-keystore': [
    SDI_PEC,
    'Request the renewal in the SdI accreditation area; SdI delivers two password-protected PKCS#12 files ' +
      '(firma and cifra), its encryption certificate and its CA certificate.',
    'Replace the signing PKCS#12 (firma) at the configured path; keep its password in the same secret.',
    legacyStep('the configuration of this keystore'),
    'Restart the services that sign SDIFTP files and check that the next file sent is accepted.',
  ],
  'sdiftp-encryption-keystore': [
    SDI_PEC,
    'Request the renewal in the SdI accreditation area; SdI delivers two password-protected PKCS#12 files ' +
      '(firma and cifra), its encryption certificate and its CA certificate.',
    'Decrypt every file SdI has already sent before replacing the key, and keep a backup of the old keystore.',
    'Replace the encryption PKCS#12 (cifra) at the configured path; keep its password in the same secret.',
    legacyStep('the configuration of this keystore'),
    'Restart the services that decrypt SDIFTP files and check that the next file received is read.',
  ],
  'sdi-encryption-certificate': [
    SDI_PEC,
    'Get the new SdI encryption certificate ("Trasmissione Dati") and CA certificate with the renewal.',
    'Replace the certificate files at the configured paths.',
    'Restart the services that encrypt SDIFTP files and check that the next file sent is accepted.',
  ],
  'qualified-signature-certificate': [
    'Renew with the certifier that issued the smart card, token or remote signature, in the last 90 days ' +
      'before expiry; renewal is possible once.',
    'Once expired it cannot be renewed: request a new issuance from the certifier (identification again).',
    'Install the renewed certificate where it is used and sign a test document.',
  ],
  'tsa-certificate': [
    "The TSA rotates its signing certificate: get the TSA's new certificate chain from its repository.",
    'Add the new chain to the files in archive.tsa.ca; keep the old ones, existing timestamps are ' +
      'verified with them.',
    'Restart fatturad and check that the next timestamp succeeds.',
  ],
  'archive-checkpoint-key': [
    'Follow docs/operations.md, "Rotating the checkpoint key".',
    'Run fatturad archive verify and keep its report: stored checkpoints are verified with the current key only.',
    'Stop fatturad; move the old keys/log-ed25519.key aside and keep it, with its .pub/.vkey, with the ' +
      'manuale di conservazione (old checkpoints and exported PdDs are verified with it).',
    'Put the new Ed25519 key in archive.keyFile (or leave it empty: fatturad makes one at start); start fatturad.',
    'Record the new verifier key (fatturad archive status) in the manuale di conservazione.',
  ],
  'archive-signing-certificate': [
    'Renew the certificate with its issuer before it expires (a qualified certificate: in the last 90 days, once).',
    'Install it in archive.signing.pfx (PKCS#12, password in the variable named by archive.signing.passphraseEnv) ' +
      'or archive.signing.cert + archive.signing.key (PEM).',
    legacyStep('archive.signing.passphraseEnv'),
    'Keep the old certificate with the manuale di conservazione: PdA indexes signed before are verified with it.',
    'Restart fatturad and check that the next PdA index is signed.',
  ],
  'pec-password': [
    'Change the password at the PEC provider before it expires; on a mailbox with two-step verification, ' +
      'generate a new app password for mail clients instead (Aruba: valid 3 months, can be extended or regenerated).',
    'Update the secret fatturad reads: the file in channel.pec.smtp.passwordFile / channel.pec.imap.passwordFile, ' +
      'or the variable named in passwordEnv.',
    "Update fatturad's credentials.pec.rotatedAt to today's date.",
    'Restart fatturad and check that it sends and reads mail (no authentication failures in the log).',
  ],
  certificate: [
    'Request a new certificate from its issuer before the expiry.',
    'Replace the file at the configured path, in the same format (for a PKCS#12, keep the password or update its secret).',
    'Restart the services that use it (fatturad loads certificates at start).',
  ],
};

/** The renewal procedure for a kind of credential, one step per entry, in order. */
export function renewalSteps(kind: CredentialKind): string[] {
  return [...STEPS[kind]];
}
