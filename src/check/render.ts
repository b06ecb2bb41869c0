import type { CheckReport } from './probe.js';

/** The report as lines for a terminal: one line per step, the hint under a failed one. */
export function renderCheck(title: string, report: CheckReport): string {
  const lines = [title];
  for (const s of report.steps) {
    const mark = s.info ? 'note' : s.ok ? 'ok' : 'FAIL';
    lines.push(`  ${mark.padEnd(4)}  ${s.service.padEnd(7)} ${s.step.padEnd(16)} ${s.detail}`);
    if (!s.ok && s.hint) lines.push(`${' '.repeat(32)}-> ${s.hint}`);
  }
  const failed = report.steps.filter((s) => !s.ok && !s.info);
  const services = [...new Set(report.steps.map((s) => s.service))];
  const verdict = services.map((svc) => {
    const bad = failed.filter((s) => s.service === svc);
    return bad.length ? `${svc}: FAILS at ${bad.map((s) => s.step).join(', ')}` : `${svc}: works`;
  });
  lines.push(
    '',
    `${report.ok ? 'Everything works' : 'Not everything works'} (${verdict.join('; ')}). No file or message was sent.`,
  );
  return `${lines.join('\n')}\n`;
}
