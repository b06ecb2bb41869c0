import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * One daemon per folder it owns: its data folder, and every folder it takes files from (the drop
 * folders, the simulator's deliver folder). The import folder is not locked: it belongs to the
 * ERP, which may take every file it finds there, and two daemons writing into it (under names
 * that never collide) take nothing from each other.
 * Each gets a lock file made with O_EXCL and holding the owner's PID, host, boot and process start
 * time, so that a lock left by a process that is gone (a crash, a SIGKILL, a reboot, a PID reused
 * by another program) is taken over, and a live one is refused (exit 4) naming the folder and the
 * PID. A lock that records only a PID (earlier versions, a PID file written by an init script)
 * naming a live process is taken over when that process is visibly not a fatturad on the folder
 * (mayBeFatturad). In the drop folders the lock is a dot-file, which intake never takes.
 */

/** The lock file in a folder the daemon takes files from or writes to. */
export const FOLDER_LOCK = '.fatturad.lock';
/** The lock file in the data folder (the name earlier versions used, so they see it too). */
export const DATA_LOCK = 'fatturad.pid';
/** A running daemon touches its lock files this often (HeldLock.touch). */
export const HEARTBEAT_MS = 15_000;
/**
 * A lock whose owner cannot be looked at from here (another host, another container: another PID
 * namespace) is stale once it has not been touched for this long.
 */
export const STALE_AFTER_MS = 60_000;

export class FolderLockedError extends Error {
  override name = 'FolderLockedError';
  constructor(
    readonly folder: string,
    readonly role: string,
    readonly pid: number | null,
    readonly host: string | null,
    readonly file: string,
  ) {
    const who =
      host && host !== os.hostname()
        ? `pid ${pid ?? '?'} on host ${host}, alive less than ${STALE_AFTER_MS / 1000} s ago; ` +
          `if fatturad no longer runs there, wait or remove ${file}`
        : `pid ${pid ?? '?'}`;
    super(`another fatturad (${who}) is running on the ${role} ${folder}`);
  }
}

interface LockContent {
  pid: number;
  host?: string;
  bootId?: string;
  startTime?: string;
  role?: string;
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The process's start time in clock ticks since boot (Linux), to tell a reused PID apart. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function own(role: string): LockContent {
  const bid = bootId();
  const st = startTimeOf(process.pid);
  return {
    pid: process.pid,
    host: os.hostname(),
    ...(bid ? { bootId: bid } : {}),
    ...(st ? { startTime: st } : {}),
    role,
  };
}

/** A plain PID (earlier versions) or the JSON line this version writes; null if unreadable. */
function read(file: string): LockContent | null | 'missing' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : null;
  }
  if (/^\d+$/.test(text)) return { pid: Number(text) };
  try {
    const v = JSON.parse(text) as Partial<LockContent>;
    return typeof v.pid === 'number' && v.pid > 0 ? (v as LockContent) : null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

type Owner = 'self' | 'alive' | 'stale';

function ownerOf(lock: LockContent, file: string): Owner {
  const me = own('');
  // Another machine or container: its processes cannot be seen from here; its heartbeat decides.
  const heartbeat = (): Owner => {
    try {
      return Date.now() - fs.statSync(file).mtimeMs < STALE_AFTER_MS ? 'alive' : 'stale';
    } catch {
      return 'stale';
    }
  };
  if (lock.host && lock.host !== me.host) return heartbeat();
  if (lock.bootId && me.bootId && lock.bootId !== me.bootId) return 'stale';
  if (lock.pid === process.pid) {
    if (!lock.startTime || !me.startTime || lock.startTime === me.startTime) return 'self';
    // Our PID, another start time: an earlier run in this PID namespace (a container restarted)
    // or a container with the same host name (its PID 1 is ours too): the heartbeat decides.
    return heartbeat();
  }
  if (!processAlive(lock.pid)) return 'stale';
  const now = startTimeOf(lock.pid);
  if (lock.startTime && now !== undefined) return now === lock.startTime ? 'alive' : 'stale';
  // Nothing recorded tells the process apart (a plain PID file, as earlier versions, an init
  // script or a person wrote it): a PID reused by another program is not a fatturad.
  return mayBeFatturad(lock.pid, path.dirname(file)) ? 'alive' : 'stale';
}

/**
 * Whether the live process `pid` may be a fatturad on `folder`: its command line names fatturad
 * (`fatturad`, its `cli.js`), or it holds a file under `folder` open (a daemon keeps its store open
 * in its data folder; only seen in the processes this one may look at). When its command line
 * cannot be read (no /proc), it may be: the lock is kept.
 */
export function mayBeFatturad(pid: number, folder: string): boolean {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return true;
  }
  if (argv.length === 0) return true; // a zombie or a kernel thread: nothing to judge by
  if (argv.some((a) => /(^|\/)(fatturad(\.js)?|cli\.js)$/.test(a))) return true;
  const under = `${path.resolve(folder)}/`;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // another user's process: its command line, which does not name fatturad, decides
  }
  for (const fd of fds) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(under)) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

export interface HeldLock {
  folder: string;
  file: string;
  /** The heartbeat: a running daemon touches its locks every HEARTBEAT_MS. */
  touch(): void;
  release(): void;
}

/**
 * Takes the lock file `name` in `folder` (made if missing) for this process, or throws
 * FolderLockedError. A lock of a process that is gone is taken over; an unreadable one (being
 * written at this instant, or garbage) is taken over once it is older than a few seconds.
 */
export function lockFolder(folder: string, role: string, name = FOLDER_LOCK): HeldLock {
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, name);
  const content = `${JSON.stringify(own(role))}\n`;
  const held: HeldLock = {
    folder,
    file,
    touch: () => {
      try {
        const now = new Date();
        fs.utimesSync(file, now, now);
      } catch {
        /* gone (a person removed it): the next start makes it again */
      }
    },
    release: () => {
      const cur = read(file);
      if (cur !== 'missing' && cur !== null && cur.pid === process.pid) fs.rmSync(file, { force: true });
    },
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o644);
      try {
        fs.writeSync(fd, content);
      } finally {
        fs.closeSync(fd);
      }
      return held;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const cur = read(file);
    if (cur === 'missing') continue;
    if (cur === null) {
      let age = Infinity;
      try {
        age = Date.now() - fs.statSync(file).mtimeMs;
      } catch {
        continue;
      }
      if (age < 5_000) throw new FolderLockedError(folder, role, null, null, file);
    } else {
      const owner = ownerOf(cur, file);
      if (owner === 'self') {
        fs.writeFileSync(file, content);
        return held;
      }
      if (owner === 'alive') throw new FolderLockedError(folder, role, cur.pid, cur.host ?? null, file);
    }
    // Stale: move it aside and make ours again (O_EXCL decides between two daemons racing). If
    // what was moved is not the lock judged stale, another daemon took the folder in between:
    // its lock goes back and this one gives way.
    const aside = `${file}.${process.pid}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = read(aside);
    if (JSON.stringify(moved) !== JSON.stringify(cur)) {
      try {
        fs.linkSync(aside, file);
      } catch {
        /* the place is taken again: that one decides */
      }
      fs.rmSync(aside, { force: true });
      const pid = moved !== 'missing' && moved !== null ? moved.pid : null;
      throw new FolderLockedError(folder, role, pid, null, file);
    }
    fs.rmSync(aside, { force: true });
  }
  const cur = read(file);
  const pid = cur !== 'missing' && cur !== null ? cur.pid : null;
  throw new FolderLockedError(folder, role, pid, null, file);
}
