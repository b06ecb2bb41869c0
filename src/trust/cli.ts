import type { Command } from 'commander';
import type { Config } from '../config/schema.js';

/**
 * `fatturad trust update | status`: the trusted list of qualified CAs (validation.trustedCAs: tsl).
 * This module only declares the commands (every `fatturad` command loads it): the XML reader,
 * xml-crypto and the downloader are imported by the action that runs.
 */
export interface TrustCliHelpers {
  config: (file: string | undefined) => Config | Promise<Config>;
  out: (text: string) => void;
  exit: (code: number) => never;
}

export function addTrustCommands(program: Command, h: TrustCliHelpers): void {
  const cmd = program
    .command('trust')
    .description('the trusted list of qualified CAs that signature certificates must come from (SdI 00104)');

  cmd
    .command('update')
    .description(
      'download the trusted list (validation.tsl.url), verify its signature against validation.tsl.signers and keep it; exit 1 if refused (the previous list stays in use)',
    )
    .option('--url <url>', 'download from this URL instead of validation.tsl.url')
    .option('--file <file>', 'read a list already downloaded (offline installations)')
    .option('-c, --config <file>', 'configuration file (YAML)')
    .action(async (o: { url?: string; file?: string; config?: string }) => {
      if (o.url && o.file) {
        process.stderr.write('fatturad: give --url or --file, not both\n');
        h.exit(2);
      }
      const config = await h.config(o.config);
      if (config.validation.tsl.signers.length === 0) {
        process.stderr.write(
          'fatturad: validation.tsl.signers is empty: configure the certificates that sign the trusted list (docs/validation.md)\n',
        );
        h.exit(3);
      }
      const [{ createLogger }, { updateTrustedList }] = await Promise.all([
        import('../log.js'),
        import('./update.js'),
      ]);
      const log = createLogger(config.log);
      const r = await updateTrustedList(
        config,
        { ...(o.url ? { url: o.url } : {}), ...(o.file ? { file: o.file } : {}) },
        log,
      );
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      process.exitCode = r.ok ? 0 : 1;
    });

  cmd
    .command('status')
    .description(
      'when the kept trusted list was updated, its NextUpdate and how many qualified CAs are granted',
    )
    .option('--json', 'JSON output')
    .option('-c, --config <file>', 'configuration file (YAML)')
    .action(async (o: { json?: boolean; config?: string }) => {
      const config = await h.config(o.config);
      const { freshness, keptJsonPath, keptXmlPath, readKept, usesTsl } = await import('./anchors.js');
      const { sha256File } = await import('../util/fsx.js');
      let kept;
      try {
        kept = readKept(config);
      } catch (err) {
        process.stderr.write(`fatturad: ${(err as Error).message}\n`);
        return h.exit(1);
      }
      const inUse = usesTsl(config);
      if (!kept) {
        if (o.json) h.out(JSON.stringify({ kept: false, inUse, file: keptJsonPath(config) }, null, 2));
        else h.out(`No trusted list kept (${keptJsonPath(config)}): run "fatturad trust update".`);
        process.exitCode = inUse ? 1 : 0;
        return;
      }
      const now = new Date();
      const f = freshness(kept, now, config.validation.tsl.maxStaleDays);
      const xml = keptXmlPath(config);
      const xmlMatches = await sha256File(xml)
        .then((x) => x.sha256 === kept.xmlSha256)
        .catch(() => false);
      const granted = kept.cas.filter((c) => c.status === 'granted');
      const summary = {
        kept: true,
        inUse,
        territory: kept.territory,
        sequenceNumber: kept.sequenceNumber,
        issuedAt: kept.issuedAt,
        nextUpdate: kept.nextUpdate,
        updatedAt: kept.updatedAt,
        checkedAt: kept.checkedAt,
        source: kept.source,
        signer: kept.signer,
        freshness: f.state,
        ...(f.state !== 'fresh' ? { problem: f.message } : {}),
        caServices: kept.cas.length,
        granted: granted.length,
        certificates: granted.reduce((n, c) => n + c.certificates.length, 0),
        xmlMatches,
      };
      if (o.json) h.out(JSON.stringify(summary, null, 2));
      else {
        h.out(`Trusted list ${kept.territory}, sequence ${kept.sequenceNumber}, issued ${kept.issuedAt}`);
        h.out(
          `  next update by ${kept.nextUpdate ?? '(none)'}: ${f.state}${f.state !== 'fresh' ? ` (${f.message})` : ''}`,
        );
        h.out(`  kept ${kept.updatedAt}, last verified ${kept.checkedAt}, from ${kept.source}`);
        h.out(`  signed by ${kept.signer.subject} (SHA-256 ${kept.signer.sha256})`);
        h.out(
          `  ${granted.length} qualified CA services granted (${summary.certificates} certificates) of ${kept.cas.length} in the list`,
        );
        h.out(
          `  ${inUse ? 'used' : 'NOT used'} for signatures (validation.trustedCAs${inUse ? ' includes tsl' : ' does not name tsl'})`,
        );
        if (!xmlMatches)
          h.out(`  the kept XML ${xml} does not match the list in use: run "fatturad trust update"`);
      }
      process.exitCode = f.state === 'too-old' ? 1 : 0;
    });
}
