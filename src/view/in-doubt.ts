import os from 'node:os';
import type { InDoubtSend, Store } from '../store/store.js';

/**
 * Sends in doubt as `fatturad status` shows them: fatturad cannot know whether SdI has the file
 * (the daemon stopped during the call, no answer came, the store lost the send), so it never sends
 * it again on its own. A person checks with SdI, or waits for SdI's answer, and then runs the
 * command shown.
 */

export const resendCommand = (documentId: number): string => `fatturad resend ${documentId}`;

export interface InDoubtView {
  count: number;
  /** Since when the oldest is held (ISO 8601), null when none. */
  oldest: string | null;
  documents: (InDoubtSend & { command: string })[];
}

export function inDoubtView(store: Store): InDoubtView {
  const sends = store.inDoubtSends();
  return {
    count: sends.length,
    oldest: sends[0]?.since ?? null,
    documents: sends.map((s) => ({ ...s, command: resendCommand(s.documentId) })),
  };
}

/** The status lines of sends in doubt (none when there are none); at most `max` listed. */
export function inDoubtLines(v: InDoubtView, max = 20): string[] {
  if (v.count === 0) return [];
  const lines = [
    `In doubt: ${v.count} send(s), the oldest since ${v.oldest ?? '?'}: SdI may or may not have the file, ` +
      'and fatturad does not send it again on its own.',
    '  Check with SdI (or wait for its answer); if SdI does not have it, run the command beside it ' +
      '(a copy SdI already has is refused with an NS 00002, which changes nothing here).',
  ];
  for (const d of v.documents.slice(0, max))
    lines.push(
      `  #${d.documentId} ${d.entry ? `${d.originalName} (in zip: ${d.entry})` : d.originalName} as ${d.sdiName}, ` +
        `since ${d.since}:  ${d.command}`,
    );
  if (v.count > max) lines.push(`  ... and ${v.count - max} more (fatturad status --json lists them all)`);
  return lines;
}

/** Who runs a command: the OS user (and the one behind sudo) and the host, for the timeline. */
export function whoAmI(): { actor: string; host: string } {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? '?'}`;
  }
  const sudo = process.env.SUDO_USER;
  return { actor: sudo && sudo !== user ? `${user} (sudo by ${sudo})` : user, host: os.hostname() };
}
