import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A throw-away PKI made with the openssl command line at test time: a CA, certificates it issues
 * with chosen validity dates, and CAdES signatures made by `openssl cms`. Nothing is committed:
 * every key is generated in the test's temp folder.
 */

function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface Issued {
  cert: string;
  key: string;
}

export class TestPki {
  readonly ca: Issued;
  private serial = 1;

  constructor(
    readonly dir: string,
    readonly name = 'Test CA',
  ) {
    fs.mkdirSync(dir, { recursive: true });
    const slug = name.replace(/\W+/g, '-').toLowerCase();
    this.ca = { cert: path.join(dir, `${slug}.crt`), key: path.join(dir, `${slug}.key`) };
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      this.ca.key,
      '-out',
      this.ca.cert,
      '-days',
      '3650',
      '-subj',
      `/C=IT/O=fatturad tests/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    fs.mkdirSync(path.join(dir, 'ca-db'), { recursive: true });
  }

  /**
   * A signer certificate. `start`/`end` are openssl dates (YYYYMMDDHHMMSSZ); without them the
   * certificate is valid from now for a year.
   */
  issue(cn: string, dates: { start?: string; end?: string } = {}): Issued {
    const n = this.serial++;
    const key = path.join(this.dir, `signer-${n}.key`);
    const csr = path.join(this.dir, `signer-${n}.csr`);
    const cert = path.join(this.dir, `signer-${n}.crt`);
    openssl([
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/C=IT/CN=${cn}/serialNumber=TINIT-RSSMRA80A01H501U`,
    ]);
    // `openssl ca` is the only 3.0 command that sets arbitrary notBefore / notAfter dates.
    const db = path.join(this.dir, 'ca-db');
    const index = path.join(db, 'index.txt');
    fs.writeFileSync(index, '');
    const conf = path.join(db, 'ca.cnf');
    fs.writeFileSync(
      conf,
      [
        '[ca]',
        'default_ca = test',
        '[test]',
        `database = ${index}`,
        `new_certs_dir = ${db}`,
        `serial = ${path.join(db, 'serial')}`,
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        'copy_extensions = none',
        'x509_extensions = ext',
        '[any]',
        'C = optional',
        'CN = supplied',
        'serialNumber = optional',
        '[ext]',
        'basicConstraints = CA:FALSE',
        'keyUsage = critical,nonRepudiation,digitalSignature',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(db, 'serial'), `${(1000 + n).toString(16).padStart(4, '0')}\n`);
    const now = new Date();
    const inAYear = new Date(now.getTime() + 365 * 86_400_000);
    const fmt = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    openssl([
      'ca',
      '-batch',
      '-notext',
      '-config',
      conf,
      '-cert',
      this.ca.cert,
      '-keyfile',
      this.ca.key,
      '-in',
      csr,
      '-out',
      cert,
      '-startdate',
      dates.start ?? fmt(new Date(now.getTime() - 86_400_000)),
      '-enddate',
      dates.end ?? fmt(inAYear),
    ]);
    return { cert, key };
  }

  /**
   * A certificate with a chosen key type and extensions (openssl x509 extension lines), valid from
   * now for a year: for identities whose profile `issue()` does not cover (EC keys, TSAs).
   */
  issueWith(cn: string, opts: { key?: 'rsa' | 'ec'; ext: string[] }): Issued {
    const n = this.serial++;
    const key = path.join(this.dir, `custom-${n}.key`);
    const csr = path.join(this.dir, `custom-${n}.csr`);
    const cert = path.join(this.dir, `custom-${n}.crt`);
    const extFile = path.join(this.dir, `custom-${n}.ext`);
    const newkey =
      opts.key === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
    openssl([
      'req',
      '-new',
      ...newkey,
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/C=IT/O=fatturad tests/CN=${cn}`,
    ]);
    fs.writeFileSync(extFile, ['[ext]', ...opts.ext, ''].join('\n'));
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.ca.cert,
      '-CAkey',
      this.ca.key,
      '-set_serial',
      `0x${(0x2000 + n).toString(16)}`,
      '-days',
      '365',
      '-sha256',
      '-extfile',
      extFile,
      '-extensions',
      'ext',
      '-out',
      cert,
    ]);
    return { cert, key };
  }

  /**
   * A Time-Stamp Authority certificate (RFC 3161 section 2.3): by default with the critical
   * timeStamping extended key usage that `openssl ts -reply` and verifiers require; `eku` makes
   * the faulty variants.
   */
  issueTsa(
    cn: string,
    opts: { eku?: 'critical' | 'non-critical' | 'none'; key?: 'rsa' | 'ec' } = {},
  ): Issued {
    const eku = opts.eku ?? 'critical';
    return this.issueWith(cn, {
      ...(opts.key ? { key: opts.key } : {}),
      ext: [
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature,nonRepudiation',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        ...(eku === 'none'
          ? []
          : [`extendedKeyUsage = ${eku === 'critical' ? 'critical,' : ''}timeStamping`]),
      ],
    });
  }

  /** A CAdES-BES signature of `content` by `signer`: attached, unless `detached` (no content inside). */
  sign(
    content: Buffer,
    signer: Issued,
    opts: { form?: 'DER' | 'PEM'; stream?: boolean; noSigningTime?: boolean; detached?: boolean } = {},
  ): Buffer {
    const args = [
      'cms',
      '-sign',
      '-binary',
      ...(opts.detached ? [] : ['-nodetach']),
      '-md',
      'sha256',
      '-signer',
      signer.cert,
      '-inkey',
      signer.key,
      '-outform',
      opts.form ?? 'DER',
    ];
    if (opts.noSigningTime) args.push('-noattr');
    else args.push('-cades');
    args.push(opts.stream ? '-stream' : '-noindef');
    return openssl(args, content);
  }
}
