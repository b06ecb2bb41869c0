import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './ports.js';

/**
 * A real IMAP server for tests: Dovecot from Debian (`dovecot-imapd`, installed by
 * scripts/test-deps.sh), started from a generated configuration in its own folder on a loopback
 * port, with one user. Runs as root (the mailbox belongs to nobody) or as the current user.
 */
export interface Dovecot {
  dir: string;
  port: number;
  user: string;
  pass: string;
  /**
   * Stops the server. `immediate` skips the graceful SIGTERM (the master takes ~3 s to exit after
   * it) and SIGKILLs the process group at once: for cleanup, when the mail is no longer needed.
   */
  stop(opts?: { immediate?: boolean }): Promise<void>;
  /** Stops and starts again on the same port and folder (mail kept). */
  restart(): Promise<void>;
  /** The user's Maildir: INBOX itself, other mailboxes are `.Name` folders inside it. */
  maildir: string;
  /** Drops every IMAP session of the user (`doveadm kick`) while the server keeps running. */
  kick(): void;
  /**
   * Makes Dovecot forget INBOX's UIDs, as after a restore: stops, removes INBOX's index and
   * uidlist, starts again. The messages and their keywords stay; INBOX gets a new UIDVALIDITY
   * (removing the uidlist alone is not enough: the index remembers it).
   */
  resetInboxUids(): Promise<void>;
}

const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';

export function dovecotAvailable(): boolean {
  return fs.existsSync(DOVECOT);
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Like alive(), but a zombie (a killed master nobody reaps, see deps.md) counts as gone. */
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return alive(pid);
  }
}

/**
 * `extraConf`: more lines for dovecot.conf, after the generated ones (e.g. the quota plugin's
 * `mail_plugins` and `plugin { quota... }`).
 */
export async function startDovecot(dir: string, opts: { extraConf?: string[] } = {}): Promise<Dovecot> {
  const port = await freePort();
  const user = 'testuser';
  const pass = 'testpass';
  const root = process.getuid?.() === 0;
  const uid = root ? 65534 : (process.getuid?.() ?? 0);
  const gid = root ? 65534 : (process.getgid?.() ?? 0);
  const mail = path.join(dir, 'mail', user);
  for (const d of ['run', 'state', mail])
    fs.mkdirSync(path.join(d.startsWith('/') ? '' : dir, d), { recursive: true });
  if (root) {
    execFileSync('chown', ['-R', `${uid}:${gid}`, path.join(dir, 'mail')]);
    // After login the mailbox is accessed as nobody, who must be able to reach it.
    fs.chmodSync(dir, 0o755);
  }
  fs.writeFileSync(path.join(dir, 'passwd'), `${user}:{PLAIN}${pass}:${uid}:${gid}::${mail}\n`);
  const conf = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(
    conf,
    [
      'protocols = imap',
      'listen = 127.0.0.1',
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      'mail_location = maildir:~/Maildir',
      ...(root
        ? []
        : [
            `default_internal_user = ${process.env.USER ?? 'nobody'}`,
            `default_login_user = ${process.env.USER ?? 'nobody'}`,
          ]),
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${dir}/passwd\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${dir}/passwd\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
      ...(opts.extraConf ?? []),
    ].join('\n'),
  );
  const pidFile = path.join(dir, 'run', 'master.pid');
  const start = async (): Promise<void> => {
    // Dovecot daemonizes; its children must not hold our pipes open.
    execFileSync(DOVECOT, ['-c', conf], { stdio: 'ignore' });
    if (!(await waitForPort(port, 5000))) {
      const log = fs.existsSync(path.join(dir, 'dovecot.log'))
        ? fs.readFileSync(path.join(dir, 'dovecot.log'), 'utf8')
        : '';
      throw new Error(`dovecot did not open port ${port}\n${log}`);
    }
  };
  const stop = async (opts?: { immediate?: boolean }): Promise<void> => {
    if (!fs.existsSync(pidFile)) return;
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, opts?.immediate ? 0 : 'SIGTERM');
    } catch {
      fs.rmSync(pidFile, { force: true });
      return;
    }
    for (let i = 0; i < 20 && !opts?.immediate && alive(pid); i++)
      await new Promise((r) => setTimeout(r, 50));
    // The master takes ~3 s to exit after SIGTERM; it leads its process group.
    if (alive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    const up = opts?.immediate ? running : alive;
    for (let i = 0; i < 40 && up(pid); i++) await new Promise((r) => setTimeout(r, 25));
    fs.rmSync(pidFile, { force: true });
    // The port must be free before a restart binds it again.
    for (let i = 0; i < 100 && (await waitForPort(port, 1)); i++) await new Promise((r) => setTimeout(r, 20));
  };
  await start();
  const maildir = path.join(mail, 'Maildir');
  return {
    dir,
    port,
    user,
    pass,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    maildir,
    kick: () => {
      execFileSync(DOVEADM, ['-c', conf, 'kick', user], { stdio: 'ignore' });
    },
    resetInboxUids: async () => {
      await stop();
      for (const f of fs.readdirSync(maildir))
        if (f.startsWith('dovecot.index') || f === 'dovecot-uidlist') fs.rmSync(path.join(maildir, f));
      await start();
    },
  };
}
