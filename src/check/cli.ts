import type { Command } from 'commander';
import type { Config } from '../config/schema.js';

/**
 * `fatturad check pec` and `fatturad check sdicoop`: log in to the channel's servers with the
 * configured secrets and say what works, step by step, without sending anything. Exit 0 when
 * everything works, 1 otherwise. The modules are loaded when the command runs.
 */
export interface CheckCommandDeps {
  config: (file: string | undefined) => Promise<Config>;
  out: (text: string) => void;
}

export function addCheckCommands(program: Command, deps: CheckCommandDeps): void {
  const check = program
    .command('check')
    .description("log in to a channel's servers and say what works, without sending anything");
  for (const which of ['pec', 'sdicoop'] as const) {
    check
      .command(which)
      .description(
        which === 'pec'
          ? 'PEC: DNS, TCP, TLS, STARTTLS, SMTP AUTH, IMAP LOGIN, folders, quota (exit 0 all works, 1 otherwise)'
          : 'SDICoop: the client certificate, DNS, TCP, the mutual-TLS handshake with SdI (exit 0 all works, 1 otherwise)',
      )
      .option('-c, --config <file>', 'configuration file (YAML)')
      .option('--json', 'print JSON')
      .action(async (o: { config?: string; json?: boolean }) => {
        const config = await deps.config(o.config);
        const report =
          which === 'pec'
            ? await (await import('./pec.js')).checkPec(config)
            : await (await import('./sdicoop.js')).checkSdiCoop(config);
        if (o.json) deps.out(JSON.stringify({ channel: which, ok: report.ok, steps: report.steps }, null, 2));
        else {
          const { renderCheck } = await import('./render.js');
          deps.out(renderCheck(`fatturad check ${which}`, report));
        }
        process.exitCode = report.ok ? 0 : 1;
      });
  }
}
