/**
 * The record's durability claim, observed: the JSONL store group-commits with fdatasync (a spy on node:fs
 * counts the calls), so a run's events are on disk when `runWorkflow` and the store's `idle()` resolve.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const synced = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
    fs.fdatasync(fd, (err) => ((synced.count += err ? 0 : 1), cb(err)));
  const fdatasyncSync = (fd: number) => (fs.fdatasyncSync(fd), void synced.count++);
  return { ...fs, fdatasync, fdatasyncSync, default: { ...fs, fdatasync, fdatasyncSync } };
});

const { JsonlRunStore, runWorkflow } = await import('../src/index.js');
const dir = mkdtempSync(join(tmpdir(), 'braid-sync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the run record is fsync'd", () => {
  it('a run ends with its events synced to disk, in few fdatasync calls (group commit, not one per event)', async () => {
    const store = new JsonlRunStore(dir);
    const tasks = Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, tool: 'echo', input: { value: i } }));
    const before = synced.count;
    const r = await runWorkflow({ name: 'many', tasks }, { store });
    await store.idle();
    const calls = synced.count - before;
    expect(calls).toBeGreaterThanOrEqual(1);
    const events = (await store.read(r.runId)).events.length;
    expect(events).toBeGreaterThan(100);
    expect(calls).toBeLessThan(events / 4);
  });
});
