/** File tools stay inside one workspace folder (`BRAID_WORKSPACE`, default the current directory). */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { NonRetriableError } from '../src/errors.js';
import { defineTool } from '../src/tools/define-tool.js';

const MAX_BYTES = 1_000_000;

export function workspacePath(path: string): string {
  const root = resolve(process.env.BRAID_WORKSPACE ?? '.');
  const full = resolve(root, path);
  const rel = relative(root, full);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new NonRetriableError(`path "${path}" escapes the workspace ${root}`);
  return full;
}

export const readFileTool = defineTool({
  name: 'read_file',
  description: 'Read a UTF-8 text file inside the workspace (at most 1 MB).',
  input: z.object({ path: z.string().min(1) }),
  async run({ path }) {
    const full = workspacePath(path);
    const s = await stat(full).catch(() => undefined);
    if (!s?.isFile()) throw new NonRetriableError(`no file "${path}" in the workspace`);
    if (s.size > MAX_BYTES) throw new NonRetriableError(`"${path}" is ${s.size} bytes, more than ${MAX_BYTES}`);
    return { path, content: await readFile(full, 'utf8'), bytes: s.size };
  },
});

export const writeFileTool = defineTool({
  name: 'write_file',
  description: 'Write a UTF-8 text file inside the workspace (folders are created).',
  input: z.object({ path: z.string().min(1), content: z.string().max(MAX_BYTES) }),
  async run({ path, content }) {
    const full = workspacePath(path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
    return { path, bytes: Buffer.byteLength(content) };
  },
});
