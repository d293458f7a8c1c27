/**
 * File tools stay inside one workspace folder (`BRAID_WORKSPACE`, default the current directory).
 *
 * A path is first checked by its text (`..` or an absolute path leading outside is refused). Then:
 * - on Linux, the file is opened one path component at a time from the workspace root (`workspace-fd.ts`):
 *   a symbolic link met on the way is followed only while its target stays inside, and a folder swapped
 *   for a link between any check and the open is never followed (no read or write lands outside);
 * - elsewhere (no `/proc/self/fd`), "inside" is decided on real paths (`realpath`: the target for a read;
 *   for a write, the target if it exists, else its nearest existing folder), then the file is opened with
 *   `O_NOFOLLOW`. That refuses static links leading outside, but a folder swapped for a link between the
 *   check and the open can still be followed there (`O_NOFOLLOW` covers the last component only).
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { NonRetriableError } from '../src/errors.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { canWalk, openInside, WalkError } from './workspace-fd.js';

const MAX_BYTES = 1_000_000;

const workspaceRoot = () => resolve(process.env.BRAID_WORKSPACE ?? '.');

const inside = (root: string, full: string) => {
  const rel = relative(root, full);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

const escapes = (path: string, root: string, how = '') =>
  new NonRetriableError(`path "${path}" escapes the workspace ${root}${how}`);

/** The path as written, inside the workspace by its text (`..` and absolute paths outside are refused). */
export function workspacePath(path: string): string {
  const root = workspaceRoot();
  const full = resolve(root, path);
  if (!inside(root, full)) throw escapes(path, root);
  return full;
}

/** The real path of an existing file or folder, refused when a link leads outside the workspace. */
async function realInside(path: string, full: string): Promise<string> {
  const root = await realpath(workspaceRoot());
  const real = await realpath(full);
  if (!inside(root, real)) throw escapes(path, workspaceRoot(), ' (through a symbolic link)');
  return real;
}

/** Where a write lands: the real path of the target, or of its nearest existing folder plus the rest. */
async function writeTarget(path: string): Promise<string> {
  const full = workspacePath(path);
  let existing = full;
  const rest: string[] = [];
  while (
    !(await lstat(existing).then(
      () => true,
      () => false,
    )) &&
    dirname(existing) !== existing
  ) {
    rest.unshift(basename(existing));
    existing = dirname(existing);
  }
  const real = await realInside(path, existing).catch((err: NodeJS.ErrnoException) => {
    // A link to a place that does not exist (yet): writing through it would create that place.
    if (err.code === 'ENOENT') throw escapes(path, workspaceRoot(), ' (through a dangling symbolic link)');
    throw err;
  });
  return join(real, ...rest);
}

/** Open through the component-by-component walk (Linux), with the tools' errors. */
async function openWalked(path: string, write: boolean): Promise<FileHandle> {
  const root = workspaceRoot();
  const parts = relative(root, workspacePath(path)).split(sep);
  const real = await realpath(root);
  return openInside(root, [root, real], parts, write).catch((err: unknown) => {
    if (!(err instanceof WalkError)) throw err;
    if (err.reason === 'escapes') throw escapes(path, root, ' (through a symbolic link)');
    if (!write && (err.reason === 'missing' || err.reason === 'not-a-file'))
      throw new NonRetriableError(`no file "${path}" in the workspace`);
    throw new NonRetriableError(`cannot ${write ? 'write' : 'read'} "${path}" in the workspace: ${err.message}`);
  });
}

/** Open the old way (no `/proc/self/fd`): check real paths, then open with `O_NOFOLLOW` (see the header). */
async function openChecked(path: string, write: boolean): Promise<FileHandle> {
  if (write) {
    const target = await writeTarget(path);
    await mkdir(dirname(target), { recursive: true });
    // The folders just made are where they were checked to be; a link put there since is refused.
    await realInside(path, dirname(target));
    return open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ELOOP') throw escapes(path, workspaceRoot(), ' (through a symbolic link)');
        throw err;
      },
    );
  }
  const real = await realInside(path, workspacePath(path)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR')
      throw new NonRetriableError(`no file "${path}" in the workspace`);
    throw err;
  });
  return open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
    // Gone since it was checked, or swapped for a link (O_NOFOLLOW): there is no file there to read.
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'ELOOP')
      throw new NonRetriableError(`no file "${path}" in the workspace`);
    throw new NonRetriableError(`cannot read "${path}" in the workspace: ${err.code ?? 'open failed'}`);
  });
}

/** @internal for tests: which way files are opened (`BRAID_WORKSPACE_WALK=0` forces the fallback). */
export const walksComponents = () => canWalk && process.env.BRAID_WORKSPACE_WALK !== '0';

const openFile = (path: string, write: boolean) =>
  walksComponents() ? openWalked(path, write) : openChecked(path, write);

/** The `read_file` tool: reads a file in the workspace folder. @public */
export const readFileTool = defineTool({
  name: 'read_file',
  effects: 'none',
  description: 'Read a UTF-8 text file inside the workspace (at most 1 MB).',
  input: z.object({ path: z.string().min(1) }),
  async run({ path }) {
    const file = await openFile(path, false);
    try {
      const s = await file.stat();
      if (!s.isFile()) throw new NonRetriableError(`no file "${path}" in the workspace`);
      if (s.size > MAX_BYTES) throw new NonRetriableError(`"${path}" is ${s.size} bytes, more than ${MAX_BYTES}`);
      return { path, content: await file.readFile('utf8'), bytes: s.size };
    } finally {
      await file.close();
    }
  },
});

/** The `write_file` tool: writes a file in the workspace folder. @public */
export const writeFileTool = defineTool({
  name: 'write_file',
  effects: 'external',
  description: 'Write a UTF-8 text file inside the workspace (folders are created).',
  input: z.object({ path: z.string().min(1), content: z.string().max(MAX_BYTES) }),
  async run({ path, content }) {
    const file = await openFile(path, true);
    try {
      await file.writeFile(content);
    } finally {
      await file.close();
    }
    return { path, bytes: Buffer.byteLength(content) };
  },
});
