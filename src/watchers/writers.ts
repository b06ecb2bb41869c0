import fs from 'node:fs';
import path from 'node:path';

/**
 * Which files some process holds open for writing, from what Linux shows in /proc: each process's
 * open files (`/proc/<pid>/fd/<n>`, links to their paths) and the mode each was opened in
 * (`/proc/<pid>/fdinfo/<n>`, `flags:` in octal; O_WRONLY or O_RDWR). A file whose writer still
 * holds it open is not complete, whatever its size and mtime say: intake waits for the writer to
 * close it. Only the processes this one may look at are seen (those of its own user, or all of them
 * with root or CAP_SYS_PTRACE); without /proc nothing is seen and the stability window alone
 * decides.
 */

/** Canonical form of a folder (symbolic links resolved), as the links in /proc name it. */
export function canonicalDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * The paths under `dirs` (canonical folders, see canonicalDir) that a process other than this
 * one holds open for writing. One pass over /proc, synchronous: a few system calls per open file.
 */
export function openForWriting(dirs: readonly string[]): Set<string> {
  const found = new Set<string>();
  if (dirs.length === 0) return found;
  const prefixes = dirs.map((d) => (d.endsWith('/') ? d : `${d}/`));
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc');
  } catch {
    return found;
  }
  const self = String(process.pid);
  for (const pid of pids) {
    if (pid === self || !/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!prefixes.some((p) => target.startsWith(p)) || found.has(target)) continue;
      if (writable(pid, fd)) found.add(target);
    }
  }
  return found;
}

function writable(pid: string, fd: string): boolean {
  try {
    const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    const m = /^flags:\s*([0-7]+)/m.exec(info);
    // Unknown flags: count it as a writer (waiting is the safe side).
    return m ? (parseInt(m[1] as string, 8) & 0o3) !== 0 : true;
  } catch {
    return false; // closed meanwhile
  }
}
