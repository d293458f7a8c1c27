/**
 * File tools stay inside one workspace folder (`BRAID_WORKSPACE`, default the current directory).
 *
 * "Inside" is decided on real paths, not on the text of the path: symbolic links are resolved (the target
 * for a read; for a write, the target if it exists, else its nearest existing folder), and anything that
 * resolves outside the workspace's real path is refused. The file is then opened with `O_NOFOLLOW` at the
 * resolved path, so a link swapped in after the check is not followed either.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { NonRetriableError } from '../src/errors.js';
import { defineTool } from '../src/tools/define-tool.js';

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

export const readFileTool = defineTool({
  name: 'read_file',
  description: 'Read a UTF-8 text file inside the workspace (at most 1 MB).',
  input: z.object({ path: z.string().min(1) }),
  async run({ path }) {
    const full = workspacePath(path);
    const real = await realInside(path, full).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR')
        throw new NonRetriableError(`no file "${path}" in the workspace`);
      throw err;
    });
    const file = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => {
      throw new NonRetriableError(`no file "${path}" in the workspace`);
    });
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

export const writeFileTool = defineTool({
  name: 'write_file',
  description: 'Write a UTF-8 text file inside the workspace (folders are created).',
  input: z.object({ path: z.string().min(1), content: z.string().max(MAX_BYTES) }),
  async run({ path, content }) {
    const target = await writeTarget(path);
    await mkdir(dirname(target), { recursive: true });
    // The folders just made are where they were checked to be; a link put there since is refused.
    await realInside(path, dirname(target));
    const file = await open(
      target,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o644,
    ).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ELOOP') throw escapes(path, workspaceRoot(), ' (through a symbolic link)');
      throw err;
    });
    try {
      await file.writeFile(content);
    } finally {
      await file.close();
    }
    return { path, bytes: Buffer.byteLength(content) };
  },
});
