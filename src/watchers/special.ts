import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';

/**
 * Entries of a drop folder that are not regular files: a FIFO (whose open blocks until a writer
 * comes), a socket, a device node (whose reads never end, as /dev/zero's), or a symbolic link
 * (which could lead out of the folder, to one of those, nowhere, or to itself). fatturad never
 * opens them and never follows a link: each stays where it is, with one report (intake.ts).
 */
export type SpecialKind = 'symbolic link' | 'FIFO' | 'socket' | 'character device' | 'block device';

/** The same kinds in Italian, for the reports. */
export const SPECIAL_KIND_IT: Record<SpecialKind, string> = {
  'symbolic link': 'collegamento simbolico',
  FIFO: 'FIFO (named pipe)',
  socket: 'socket',
  'character device': 'dispositivo a caratteri',
  'block device': 'dispositivo a blocchi',
};

/** What an lstat found, when it is neither a regular file nor a folder. */
export function specialKind(st: fs.Stats): SpecialKind | null {
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return null;
}

/**
 * Opens `file` for reading only if it is a regular file, never blocking and never following a
 * link, whatever it became since it was last looked at: O_NOFOLLOW (a link fails with ELOOP),
 * O_NONBLOCK (a FIFO opens at once instead of waiting for a writer; no effect on a regular file),
 * then fstat on the descriptor. Anything else is closed at once and named.
 */
export async function openRegular(
  file: string,
): Promise<{ fh: FileHandle; st: fs.Stats } | { special: SpecialKind; st: fs.Stats }> {
  const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
  } catch (err) {
    // ELOOP: a symbolic link (O_NOFOLLOW); ENXIO: a socket, or a device with no driver behind it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENXIO' || code === 'ENODEV') {
      const st = await fsp.lstat(file);
      const special = specialKind(st);
      if (special) return { special, st };
    }
    throw err;
  }
  let st: fs.Stats;
  try {
    st = await fh.stat();
  } catch (err) {
    await fh.close();
    throw err;
  }
  if (st.isFile()) return { fh, st };
  await fh.close();
  const special = specialKind(st);
  if (special) return { special, st };
  throw Object.assign(new Error(`${file} is not a regular file`), { code: 'EISDIR' });
}

/**
 * Puts an entry that is not a regular file back where it was taken from (it holds no invoice to
 * keep): a new link at `source` then the spool's name removed, so that nothing at `source` is
 * replaced; when something already took that name, only the spool's name is removed.
 */
export async function putBack(claimed: string, source: string): Promise<void> {
  try {
    await fsp.link(claimed, source);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      // No hard links here (or not allowed): a rename, unless the name was taken meanwhile.
      const taken = await fsp.lstat(source).then(
        () => true,
        () => false,
      );
      if (!taken) return fsp.rename(claimed, source);
    }
  }
  await fsp.unlink(claimed);
}
