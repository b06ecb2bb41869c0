import type { Command } from 'commander';
import type { Config } from '../config/schema.js';

/**
 * `fatturad alerts test`: one test alert through every configured target, said target by target.
 * This module only declares the command (every `fatturad` command loads it); nodemailer is
 * imported by the action.
 */
export interface AlertsCliHelpers {
  config: (file: string | undefined) => Promise<Config>;
  out: (text: string) => void;
  exit: (code: number) => never;
}

export function addAlertsCommands(program: Command, h: AlertsCliHelpers): void {
  const alerts = program.command('alerts').description('alerts by e-mail and webhook (docs/alerts.md)');
  alerts
    .command('test')
    .description(
      'send one test alert through every configured target (e-mail, webhook) and say what worked; exit 0 all worked, 1 any failed, 3 no target or a missing secret',
    )
    .option('--json', 'print JSON')
    .option('-c, --config <file>', 'configuration file (YAML)')
    .action(async (o: { json?: boolean; config?: string }) => {
      const config = await h.config(o.config);
      const { openTargets, failureText, AlertSecretError } = await import('./targets.js');
      const { buildMessage } = await import('./message.js');
      let targets;
      try {
        targets = openTargets(config.alerts);
      } catch (err) {
        if (!(err instanceof AlertSecretError)) throw err;
        process.stderr.write(`fatturad: ${err.message}\n`);
        return h.exit(3);
      }
      if (targets.length === 0) {
        process.stderr.write(
          'fatturad: no alert target configured: set alerts.email.host or alerts.webhook.url (docs/alerts.md)\n',
        );
        return h.exit(3);
      }
      const at = new Date().toISOString();
      const m = buildMessage(
        {
          kind: 'alerts.test',
          items: [{ at, message: 'a test alert from "fatturad alerts test" / un avviso di prova' }],
          omitted: 0,
          firstAt: at,
          lastAt: at,
        },
        { test: true },
      );
      const body = JSON.stringify(m);
      const results: { target: string; where: string; ok: boolean; answer: string }[] = [];
      for (const t of targets) {
        try {
          results.push({ target: t.name, where: t.where, ok: true, answer: await t.send(m, body) });
        } catch (err) {
          results.push({ target: t.name, where: t.where, ok: false, answer: failureText(err) });
        } finally {
          t.close();
        }
      }
      if (o.json) h.out(JSON.stringify({ enabled: config.alerts.enabled, id: m.id, results }, null, 2));
      else {
        for (const r of results) h.out(`${r.target}: ${r.ok ? 'sent' : 'FAILED'} (${r.where}): ${r.answer}`);
        if (!config.alerts.enabled)
          h.out('note: alerts.enabled is false: the daemon sends no alert until it is set to true');
      }
      h.exit(results.every((r) => r.ok) ? 0 : 1);
    });
}
