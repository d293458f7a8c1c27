/**
 * Opening a file inside the workspace one path component at a time, so a link planted after a check is never
 * followed (Linux). Why: checking a path and then opening it is a race (a folder swapped for a link to
 * `/etc` between the two lets the open escape), and `O_NOFOLLOW` only covers the last component. Node has no
 * `openat`, but on Linux `/proc/self/fd/<dirfd>/<name>` opens `name` inside the folder `dirfd` holds open,
 * wherever that folder has moved; with `O_NOFOLLOW` a link there fails instead of being followed.
 *
 * - The walk holds the workspace root open, then each folder (`O_DIRECTORY | O_NOFOLLOW`), then the file
 *   (`O_NOFOLLOW`; for a write `O_CREAT` without `O_TRUNC`: the file is truncated through its descriptor
 *   only once it is known to be a regular file inside). Missing folders of a write are made with `mkdir`
 *   inside the held folder and then opened the same way.
 * - A link met on the way is read (`readlink`) and its target resolved against the folders already walked,
 *   which are real folders, so `..` is exact: a target inside the workspace is walked again from the root
 *   (at most {@link MAX_LINKS} links), one outside is refused. Whatever the link says when it is read, the
 *   walk only ever opens names inside folders it holds.
 */
import { constants } from 'node:fs';
import { mkdir, open, readlink, type FileHandle } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';

const PROC_FD = '/proc/self/fd';
/** As Linux's own limit on links in one path resolution. */
const MAX_LINKS = 40;

/**
 * Why a walk stopped: a message for the caller to turn into its own error. Internal: tools/workspace.ts catches every
 * one and throws a `NonRetriableError` in its place, so it is no `BraidError` (test/errors.test.ts allows it by name).
 */
export class WalkError extends Error {
  constructor(
    readonly reason: 'escapes' | 'missing' | 'not-a-file' | 'not-a-folder' | 'too-many-links',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The path's components with `.` and `..` applied; `undefined` when `..` climbs above the root.
 * Exact only for components that are real folders (no links), which is what the walk gives it.
 */
export function normalizeParts(parts: readonly string[]): string[] | undefined {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!out.length) return undefined;
      out.pop();
    } else out.push(p);
  }
  return out;
}

const split = (path: string) => path.split(/[\\/]+/);

/** The workspace-relative components of a link's target, or `undefined` when it leads outside. */
function linkTarget(target: string, before: readonly string[], roots: readonly string[]): string[] | undefined {
  if (!isAbsolute(target)) return normalizeParts([...before, ...split(target)]);
  for (const root of roots) {
    const rel = relative(root, target);
    if (rel === '') return [];
    if (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) return normalizeParts(split(rel));
  }
  return undefined;
}

type Step = { handle: FileHandle } | { link: number; target: string };

const at = (dir: FileHandle, name: string) => `${PROC_FD}/${dir.fd}/${name}`;

/** The target of `name` in `dir` when it is a symbolic link, else `undefined`. */
const linkAt = (dir: FileHandle, name: string) =>
  readlink(at(dir, name)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EINVAL' || err.code === 'ENOENT') return undefined;
    throw err;
  });

/** One walk from the root; stops at the first link it meets. */
async function walk(root: string, parts: readonly string[], write: boolean): Promise<Step> {
  let dir = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i];
      let next: FileHandle | undefined;
      for (let attempt = 0; !next; attempt++) {
        try {
          next = await open(at(dir, name), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (err.code === 'ENOTDIR' || err.code === 'ELOOP') {
            const target = await linkAt(dir, name);
            if (target !== undefined) return { link: i, target };
            if (err.code === 'ENOTDIR' && attempt < 3) continue; // gone or replaced meanwhile: look again
            throw new WalkError('not-a-folder', `"${parts.slice(0, i + 1).join('/')}" is not a folder`);
          }
          if (err.code !== 'ENOENT') throw err;
          if (!write) throw new WalkError('missing', 'no such file');
          if (attempt >= 3)
            throw new WalkError('missing', `folder "${parts.slice(0, i + 1).join('/')}" keeps vanishing`);
          // mkdir does not follow a link at its last component: a link planted meanwhile is EEXIST, then read.
          await mkdir(at(dir, name), 0o755).catch((m: NodeJS.ErrnoException) => {
            if (m.code === 'ENOENT') throw new WalkError('missing', 'a folder on its way was removed meanwhile');
            if (m.code !== 'EEXIST') throw m;
          });
        }
      }
      await dir.close();
      dir = next;
    }
    const name = parts[parts.length - 1];
    const flags = write
      ? constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK
      : constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
    try {
      return { handle: await open(at(dir, name), flags, 0o644) };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ELOOP') {
        const target = await linkAt(dir, name);
        if (target !== undefined) return { link: parts.length - 1, target };
      }
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'ELOOP')
        throw new WalkError('missing', write ? 'its folder was removed meanwhile' : 'no such file');
      if (err.code === 'EISDIR' || err.code === 'ENXIO') throw new WalkError('not-a-file', 'not a regular file');
      throw err;
    }
  } finally {
    await dir.close();
  }
}

/** Whether this platform can walk through `/proc/self/fd` (Linux). */
export const canWalk = process.platform === 'linux';

/**
 * Open `parts` (relative to `root`, no `..` left) for reading, or for writing (created, folders made, emptied),
 * following links only while they stay inside. `roots`: the root as given and its real path, for absolute links.
 * The handle is a regular file's; the caller closes it.
 */
export async function openInside(
  root: string,
  roots: readonly string[],
  parts: readonly string[],
  write: boolean,
): Promise<FileHandle> {
  let current = normalizeParts(parts);
  if (!current?.length) throw new WalkError(current ? 'not-a-file' : 'escapes', 'not a file inside the workspace');
  for (let links = 0; ; links++) {
    if (links > MAX_LINKS) throw new WalkError('too-many-links', `more than ${MAX_LINKS} symbolic links`);
    const step = await walk(root, current, write);
    if ('handle' in step) {
      const file = step.handle;
      try {
        if (!(await file.stat()).isFile()) throw new WalkError('not-a-file', 'not a regular file');
        if (write) await file.truncate(0);
        return file;
      } catch (err) {
        await file.close();
        throw err;
      }
    }
    const target = linkTarget(step.target, current.slice(0, step.link), roots);
    if (target === undefined) throw new WalkError('escapes', 'through a symbolic link');
    current = [...target, ...current.slice(step.link + 1)];
    if (!current.length) throw new WalkError('not-a-file', 'not a regular file');
  }
}
