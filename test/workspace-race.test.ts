/**
 * The workspace holds under races (issue 30): while a worker thread keeps swapping a folder inside the
 * workspace for a symbolic link to a folder outside it (each step an atomic rename), 3,000 reads and 3,000
 * writes go through the real `read_file`/`write_file`: none reads the outside file, none writes or creates
 * anything outside. Reads that meet the link fail naming it.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { ToolContext } from '../src/toolkit/types.js';
import { readFileTool, writeFileTool } from '../tools/workspace.js';

/** Swaps `d` between a real folder and a link, two renames each way, until told to stop. */
const RACER = `
const { existsSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');
const { ws, stop } = workerData;
const flag = new Int32Array(stop);
const d = join(ws, 'd'), real = join(ws, '.real'), link = join(ws, '.link');
let trash = 0;
/** Move a onto b; a folder a write made at b meanwhile (through the gap) is moved aside first. */
const onto = (a, b) => {
  for (;;) {
    try { return renameSync(a, b); } catch { renameSync(b, join(ws, '.trash' + trash++)); }
  }
};
let swaps = 0;
while (Atomics.load(flag, 0) === 0) {
  onto(d, real); onto(link, d); // d is the link to the outside folder
  onto(d, link); onto(real, d); // d is a folder again
  if (!existsSync(join(d, 'f.txt'))) writeFileSync(join(d, 'f.txt'), 'inside');
  swaps++;
}
parentPort.postMessage(swaps);
`;

const ctx = { signal: new AbortController().signal } as unknown as ToolContext;
const env = { ...process.env };
afterEach(() => {
  process.env = { ...env };
});

describe.runIf(process.platform === 'linux')('the workspace under a folder/link swap race', () => {
  it('3,000 reads and 3,000 writes: 0 outside', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ws-race-'));
    const outside = mkdtempSync(join(tmpdir(), 'outside-race-'));
    process.env.BRAID_WORKSPACE = ws;
    writeFileSync(join(outside, 'f.txt'), 'SECRET');
    mkdirSync(join(ws, 'd'));
    writeFileSync(join(ws, 'd', 'f.txt'), 'inside');
    symlinkSync(outside, join(ws, '.link'));

    const stop = new SharedArrayBuffer(4);
    const racer = new Worker(RACER, { eval: true, workerData: { ws, stop } });
    const swaps = new Promise<number>((r) => racer.once('message', r));
    const reads = { inside: 0, secret: 0, link: 0, missing: 0, other: [] as string[] };
    const writes = { ok: 0, link: 0, other: [] as string[] };
    const N = Number(process.env.RACE_N ?? 3000);
    try {
      for (let i = 0; i < N; i += 10) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, j) => {
            const n = i + j;
            try {
              const { content } = await readFileTool.run({ path: 'd/f.txt' }, ctx);
              if (content === 'SECRET') reads.secret++;
              else reads.inside++;
            } catch (err) {
              const m = (err as Error).message;
              if (/escapes the workspace .* \(through a symbolic link\)/.test(m)) reads.link++;
              else if (/no file "d\/f\.txt" in the workspace/.test(m)) reads.missing++;
              else reads.other.push(m);
            }
            // half into the swapped folder, half into a folder made under it
            const path = n % 2 ? `d/w${n}.txt` : `d/new${n % 7}/w${n}.txt`;
            try {
              await writeFileTool.run({ path, content: 'pwned' }, ctx);
              writes.ok++;
            } catch (err) {
              const m = (err as Error).message;
              if (/escapes the workspace .* \(through a symbolic link\)/.test(m)) writes.link++;
              else writes.other.push(m);
            }
          }),
        );
      }
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
    }
    const swapCount = await swaps;
    await racer.terminate();
    console.info(
      `workspace race: ${swapCount} swaps; reads ${JSON.stringify({ ...reads, other: reads.other.length })}; ` +
        `writes ${JSON.stringify({ ...writes, other: writes.other.length })}; e.g. ${[...new Set([...reads.other, ...writes.other])].slice(0, 3).join(' | ')}`,
    );
    expect(reads.secret).toBe(0);
    expect(readdirSync(outside)).toEqual(['f.txt']);
    expect(readFileSync(join(outside, 'f.txt'), 'utf8')).toBe('SECRET');
    // The race was on: some reads met the link and were refused by name, some went through.
    expect(reads.link).toBeGreaterThan(0);
    expect(reads.inside).toBeGreaterThan(0);
    expect(reads.inside + reads.link + reads.missing + reads.other.length).toBe(N);
    expect(writes.ok + writes.link + writes.other.length).toBe(N);
    // Anything else is a clear refusal of a folder that vanished mid-walk, never a raw errno.
    for (const m of [...reads.other, ...writes.other]) expect(m).toMatch(/"d\/.*" in the workspace/);
  }, 120_000);
});

describe('workspace writes through the walk', () => {
  it('a shorter write empties the longer file it replaces; a folder or a missing file are refused by name', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ws-trunc-'));
    process.env.BRAID_WORKSPACE = ws;
    await writeFileTool.run({ path: 'a/b/c.txt', content: 'a long first version' }, ctx);
    await writeFileTool.run({ path: 'a/b/c.txt', content: 'short' }, ctx);
    expect(readFileSync(join(ws, 'a/b/c.txt'), 'utf8')).toBe('short');
    await expect(readFileTool.run({ path: 'a/b' }, ctx)).rejects.toThrow(/no file "a\/b" in the workspace/);
    await expect(readFileTool.run({ path: 'a/x/c.txt' }, ctx)).rejects.toThrow(/no file "a\/x\/c\.txt"/);
    await expect(writeFileTool.run({ path: 'a/b', content: 'x' }, ctx)).rejects.toThrow(
      /cannot write "a\/b" in the workspace: not a regular file/,
    );
    await expect(writeFileTool.run({ path: 'a/b/c.txt/d', content: 'x' }, ctx)).rejects.toThrow(
      /cannot write "a\/b\/c\.txt\/d" in the workspace: "a\/b\/c\.txt" is not a folder/,
    );
  });
});
