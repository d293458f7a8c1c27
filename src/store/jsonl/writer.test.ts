/**
 * The JSONL run log's writer (JsonlRunLog, writer.ts): when lines reach the file, when fdatasync runs and
 * whom it answers, and what a full disk, a failed sync, a lost lock or a close leave behind. node:fs passes
 * through a wrapper that records every fdatasync and close, and can hold or fail a sync, cut a write short, take
 * a write in small pieces, or make a folder appear between the check and the mkdir (another process).
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent } from '../../core/events.js';
import type { BraidError } from '../../errors.js';
import type { Workflow } from '../../spec/workflow.js';
import { eventJson, JsonlRunStore } from './index.js';
import type { RunLock } from '../run-lock.js';
import type { RunHeader, RunLog } from '../types.js';

const fsw = vi.hoisted(() => ({
  paths: new Map<number, string>(),
  /** fdatasyncs started, by file. */
  started: [] as string[],
  /** fdatasyncs whose callback has been called. */
  ended: 0,
  /** fdatasyncSyncs, by file. */
  syncedNow: [] as string[],
  /** The next fdatasync's callback waits for this. */
  holdNext: undefined as Promise<void> | undefined,
  failSync: undefined as string | undefined,
  /** Writes to this file end with ENOSPC once `bytes` more have been written. */
  failAfter: undefined as { path: string; bytes: number } | undefined,
  /** Writes to this file take at most `bytes` a call. */
  writeCap: undefined as { path: string; bytes: number } | undefined,
  /** mkdir of this folder finds it made meanwhile (EEXIST). */
  mkdirRace: undefined as string | undefined,
  /** Every folder mkdirSync was asked for. */
  made: [] as string[],
  closed: new Set<number>(),
}));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const errno = (code: string, why: string, syscall: string) =>
    Object.assign(new Error(`${code}: ${why}, ${syscall}`), { code, syscall });
  const openSync = ((path: string, ...rest: unknown[]) => {
    const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
    fsw.paths.set(fd, String(path));
    fsw.closed.delete(fd);
    return fd;
  }) as typeof fs.openSync;
  const writeSync = ((fd: number, buffer: unknown, offset: number, length: number, position: number) => {
    const path = fsw.paths.get(fd);
    if (Buffer.isBuffer(buffer) && path !== undefined) {
      if (fsw.writeCap?.path === path) length = Math.min(length, fsw.writeCap.bytes);
      if (fsw.failAfter?.path === path) {
        if (fsw.failAfter.bytes === 0) throw errno('ENOSPC', 'no space left on device', 'write');
        length = Math.min(length, fsw.failAfter.bytes);
        fsw.failAfter.bytes -= length;
      }
    }
    return (fs.writeSync as (...a: unknown[]) => number)(fd, buffer, offset, length, position);
  }) as typeof fs.writeSync;
  const fdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    const path = fsw.paths.get(fd) ?? '';
    fsw.started.push(path);
    const hold = fsw.holdNext ?? Promise.resolve();
    fsw.holdNext = undefined;
    const failed = fsw.failSync === path ? errno('EIO', 'i/o error', 'fdatasync') : null;
    fs.fdatasync(fd, (err) => void hold.then(() => (fsw.ended++, cb(err ?? failed))));
  };
  const fdatasyncSync = (fd: number) => {
    const path = fsw.paths.get(fd) ?? '';
    fsw.syncedNow.push(path);
    fs.fdatasyncSync(fd);
    if (fsw.failSync === path) throw errno('EIO', 'i/o error', 'fdatasync');
  };
  const mkdirSync = ((path: string, ...rest: unknown[]) => {
    fsw.made.push(String(path));
    const made = (fs.mkdirSync as (...a: unknown[]) => string | undefined)(path, ...rest);
    if (fsw.mkdirRace === String(path)) throw errno('EEXIST', 'file already exists', 'mkdir');
    return made;
  }) as typeof fs.mkdirSync;
  const closeSync = (fd: number) => (fsw.closed.add(fd), fs.closeSync(fd));
  const mocked = { openSync, writeSync, fdatasync, fdatasyncSync, mkdirSync, closeSync };
  return { ...fs, ...mocked, default: { ...fs, ...mocked } };
});

const root = mkdtempSync(join(tmpdir(), 'braid-run-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  fsw.holdNext = fsw.failSync = fsw.failAfter = fsw.writeCap = fsw.mkdirRace = undefined;
});
let dirs = 0;
const freshStore = () => new JsonlRunStore(join(root, `s${++dirs}`, 'runs'));

const workflow = { name: 'w', tasks: [{ id: 't', tool: 'echo' }] } as unknown as Workflow;
const header: RunHeader = {
  type: 'run.record',
  version: 1,
  runId: 'r',
  createdAt: '2026-11-29T00:00:00.000Z',
  workflow,
  input: {},
};
const HEADER = `${JSON.stringify(header)}\n`;
const ts = '2026-11-29T00:00:01.000Z';
/** A task.ready event: not a barrier, so it waits in the buffer for the turn. */
const ready = (seq: number, taskId = 't') =>
  ({ seq, ts, runId: 'r', type: 'task.ready', taskId, visit: 1 }) as unknown as RunEvent;
const line = (e: RunEvent) => `${eventJson(e)}\n`;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
async function until(done: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 5000; !done(); await sleep(1)) if (Date.now() > end) throw new Error(`no ${what}`);
}
const syncsOf = (path: string) => fsw.started.filter((p) => p === path);
const fdOf = (path: string) => [...fsw.paths].findLast(([, p]) => p === path)![0];
const contents = (store: JsonlRunStore) => readFileSync(store.path('r'), 'utf8');

/** Another process takes the run's lock (its file is gone), and the log's next heartbeat finds out. */
function loseLock(store: JsonlRunStore, log: RunLog): void {
  rmSync(store.lockPath('r'));
  (log as unknown as { lock: RunLock }).lock.heartbeat(true);
}

/** A new record whose header is written and synced more than 10 ms ago (the next sync may start at once). */
async function openLog(store = freshStore()): Promise<{ store: JsonlRunStore; log: RunLog; path: string }> {
  const log = await store.create(header);
  await log.flush();
  await sleep(12);
  return { store, log, path: store.path('r') };
}

describe('when lines reach the file', () => {
  it("a new record's header is synced in the first turn, without waiting for an append", async () => {
    const store = freshStore();
    const log = await store.create(header);
    expect(syncsOf(store.path('r'))).toHaveLength(0);
    await turn();
    expect(syncsOf(store.path('r'))).toHaveLength(1);
    await log.close();
  });

  it('a flush right after the record is made syncs its header and what was appended', async () => {
    const store = freshStore();
    const log = await store.create(header);
    log.append({ seq: 1, ts, runId: 'r', type: 'run.started', workflow: 'w' } as RunEvent);
    await log.flush();
    expect(syncsOf(store.path('r'))).toHaveLength(1);
    await log.close();
  });

  it('appends wait for the turn, each turn writes what came, and a later turn still does', async () => {
    const { store, log } = await openLog();
    log.append(ready(1));
    log.append(ready(2));
    expect(contents(store)).toBe(HEADER);
    await turn();
    expect(contents(store)).toBe(HEADER + line(ready(1)) + line(ready(2)));
    log.append(ready(3));
    await turn();
    expect(contents(store)).toBe(HEADER + line(ready(1)) + line(ready(2)) + line(ready(3)));
    await log.close();
  });

  it('a flush with nothing buffered leaves the next append its turn', async () => {
    const { store, log } = await openLog();
    await log.flush();
    log.append(ready(1));
    await turn();
    expect(contents(store)).toBe(HEADER + line(ready(1)));
    await log.close();
  });

  it('64 KiB of buffered lines are written at once, without waiting for the turn', async () => {
    const { store, log } = await openLog();
    const base = line({ ...ready(1), routedFrom: '' } as RunEvent).length;
    const big = { ...ready(1), routedFrom: 'x'.repeat(64 * 1024 - base) } as RunEvent;
    expect(line(big)).toHaveLength(64 * 1024);
    log.append(big);
    expect(contents(store)).toBe(HEADER + line(big));
    await log.close();
  });

  it('a long synchronous stretch of appends reaches the file while it runs, not only when it yields', async () => {
    const { store, log } = await openLog();
    log.append(ready(1));
    for (const end = performance.now() + 55; performance.now() < end;);
    log.append(ready(2));
    expect(contents(store)).toBe(HEADER);
    const lines = [ready(1), ready(2)];
    for (let seq = 3; seq <= 32; seq++) lines.push(ready(seq));
    for (const e of lines.slice(2)) log.append(e);
    expect(contents(store)).toBe(HEADER + lines.map(line).join(''));
    await log.close();
  });

  it('flushSync writes and syncs before it returns', async () => {
    const { store, log, path } = await openLog();
    log.append(ready(1));
    log.flushSync();
    expect(contents(store)).toBe(HEADER + line(ready(1)));
    expect(fsw.syncedNow.filter((p) => p === path)).toHaveLength(1);
    const before = syncsOf(path).length;
    await log.flush();
    expect(syncsOf(path)).toHaveLength(before);
    await log.close();
  });
});

describe('fdatasync: one at a time, at most every 10 ms unless someone waits, and never for nothing', () => {
  /** performance.now() stands still (at `clock.now`, well past the header's sync) until the test moves it. */
  function frozenClock() {
    const clock = { now: performance.now() + 1000 };
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    return Object.assign(clock, { restore: () => spy.mockRestore() });
  }

  it('a write within 10 ms of the last sync waits for a timer, which syncs it when it fires', async () => {
    const { log, path } = await openLog();
    const count = () => syncsOf(path).length;
    const first = count();
    const clock = frozenClock();
    let timedEnds = 0;
    try {
      let release!: () => void;
      fsw.holdNext = new Promise((resolve) => (release = resolve));
      log.append(ready(1));
      await turn();
      expect(count()).toBe(first + 1);
      // Written while that sync runs: no second sync beside it, and none at its end (10 ms have not passed).
      log.append(ready(2));
      await turn();
      const ended = fsw.ended;
      release();
      await until(() => fsw.ended > ended, 'end of the first sync');
      log.append(ready(3));
      await turn();
      expect(count()).toBe(first + 1);
      // The timer syncs when it fires, even if the clock reads a little short of the 10 ms.
      timedEnds = fsw.ended;
      clock.now += 9;
      await until(() => count() === first + 2, 'sync by the timer');
    } finally {
      clock.restore();
    }
    // Then nothing: no sync without a write, and a flush finds everything durable.
    await until(() => fsw.ended > timedEnds, 'end of the timed sync');
    await sleep(30);
    await log.flush();
    expect(count()).toBe(first + 2);
    await log.close();
  });

  it('a flush just after a sync syncs at once: someone waits, so no 10 ms gap', async () => {
    const { log, path } = await openLog();
    const before = syncsOf(path).length;
    const clock = frozenClock();
    try {
      log.append(ready(1));
      await turn();
      const ended = fsw.ended;
      await until(() => fsw.ended > ended, 'end of the background sync');
      log.append(ready(2));
      const flushing = log.flush();
      expect(syncsOf(path)).toHaveLength(before + 2);
      await flushing;
    } finally {
      clock.restore();
    }
    await log.close();
  });

  it('a flush does not start a second sync beside a running one, nor resolve before the sync of its write', async () => {
    const { log, path } = await openLog();
    const before = syncsOf(path).length;
    let release!: () => void;
    fsw.holdNext = new Promise((resolve) => (release = resolve));
    log.append(ready(1));
    await turn();
    expect(syncsOf(path)).toHaveLength(before + 1);
    log.append(ready(2));
    let flushed = false;
    const flushing = log.flush().then(() => (flushed = true));
    expect(syncsOf(path)).toHaveLength(before + 1);
    const ended = fsw.ended;
    let releaseSecond!: () => void;
    fsw.holdNext = new Promise((resolve) => (releaseSecond = resolve));
    release();
    await until(() => fsw.ended > ended, 'end of the first sync');
    // The waiter's write was not covered by the first sync: a second one starts at once, for it.
    expect(syncsOf(path)).toHaveLength(before + 2);
    await sleep(5);
    expect(flushed).toBe(false);
    releaseSecond();
    await Promise.race([flushing, sleep(2000)]);
    expect(flushed).toBe(true);
    await log.close();
  });
});

describe('failures', () => {
  it('a write cut short by a full disk keeps the whole lines, cuts the partial one, and fails the log', async () => {
    const { store, log, path } = await openLog();
    fsw.failAfter = { path, bytes: line(ready(1)).length + 5 };
    log.append(ready(1));
    log.append(ready(2));
    await turn();
    expect(contents(store)).toBe(HEADER + line(ready(1)));
    expect(log.failure?.message).toBe(`cannot write the run record ${path} (ENOSPC: no space left on device)`);
    await expect(log.flush()).rejects.toBe(log.failure);
    await expect(log.close()).rejects.toBe(log.failure);
  });

  it('a write the system takes a few bytes at a time lands whole and in order', async () => {
    const { store, log, path } = await openLog();
    fsw.writeCap = { path, bytes: 7 };
    for (let seq = 1; seq <= 3; seq++) log.append(ready(seq));
    await log.close();
    expect(contents(store)).toBe(HEADER + line(ready(1)) + line(ready(2)) + line(ready(3)));
  });

  it('a sync that fails fails the log: flush rejects, naming the sync and the file', async () => {
    const { log, path } = await openLog();
    fsw.failSync = path;
    log.append(ready(1));
    await expect(log.flush()).rejects.toMatchObject({ code: 'E_STORE', retryable: false });
    expect(log.failure?.message).toBe(`cannot sync the run record ${path} (EIO: i/o error)`);
    await expect(log.close()).rejects.toBe(log.failure);
  });

  it('a flushSync whose sync fails fails the log, naming the sync and the file', async () => {
    const { log, path } = await openLog();
    fsw.failSync = path;
    log.append(ready(1));
    log.flushSync();
    expect(log.failure).toMatchObject({ code: 'E_STORE', retryable: false });
    expect(log.failure?.message).toBe(`cannot sync the run record ${path} (EIO: i/o error)`);
    await expect(log.close()).rejects.toBe(log.failure);
  });

  it('an event that cannot be serialized fails the log once, naming it; what came before stays', async () => {
    const { store, log, path } = await openLog();
    const failures: BraidError[] = [];
    log.onFailure = (err) => failures.push(err);
    log.append(ready(1));
    log.append({ ...ready(2, 'a'), type: 'task.succeeded', attempt: 1, durationMs: 1, output: 10n } as RunEvent);
    expect(log.failure).toMatchObject({ code: 'E_STORE', retryable: false });
    expect(log.failure?.message).toBe(
      `event 2 (task.succeeded of a) cannot be written to ${path}: Do not know how to serialize a BigInt`,
    );
    // A second failure (here the lock, taken away) changes nothing: the first one stands, reported once.
    loseLock(store, log);
    expect(failures).toEqual([log.failure]);
    expect(log.failure?.message).toContain('cannot be written');
    log.append(ready(3));
    await expect(log.close()).rejects.toBe(log.failure);
    expect(contents(store)).toBe(HEADER);
  });

  it('an event of the run that cannot be serialized is named by its number and type', async () => {
    const { log, path } = await openLog();
    log.append({ seq: 5, ts, runId: 'r', type: 'run.finished', status: 'succeeded', output: 10n } as RunEvent);
    expect(log.failure?.message).toBe(
      `event 5 (run.finished) cannot be written to ${path}: Do not know how to serialize a BigInt`,
    );
    await expect(log.close()).rejects.toBe(log.failure);
  });

  it('a lock taken away fails the log: later events are not written', async () => {
    const { store, log } = await openLog();
    loseLock(store, log);
    expect(log.failure?.message).toBe(
      `run "r" lost its lock ${store.lockPath('r')}; this process stops writing its record`,
    );
    log.append(ready(1));
    await expect(log.flush()).rejects.toBe(log.failure);
    expect(contents(store)).toBe(HEADER);
    await log.close().catch(() => {});
  });
});

describe('close', () => {
  it('writes what is buffered, ignores what comes after, closes the file, and a flushSync after it does nothing', async () => {
    const { store, log, path } = await openLog();
    const failures: BraidError[] = [];
    log.onFailure = (err) => failures.push(err);
    log.append(ready(1));
    const closing = log.close();
    log.append(ready(2));
    log.append({ ...ready(3), output: 10n } as RunEvent);
    await closing;
    expect(contents(store)).toBe(HEADER + line(ready(1)));
    expect(fsw.closed.has(fdOf(path))).toBe(true);
    log.flushSync();
    expect(fsw.syncedNow).not.toContain(path);
    expect(log.failure).toBeUndefined();
    expect(failures).toEqual([]);
  });
});

describe('opening', () => {
  it('a folder made by another process between the check and the mkdir is fine', async () => {
    const store = freshStore();
    fsw.mkdirRace = store.dir;
    await (await store.create(header)).close();
    expect(contents(store)).toBe(HEADER);
  });

  it('the first run of a store makes its missing folders, parent first, and nothing else', async () => {
    const store = freshStore();
    const made = fsw.made.length;
    await (await store.create(header)).close();
    const home = join(store.dir, '..');
    expect(fsw.made.slice(made)).toEqual([home, store.dir, join(store.dir, '.locks')]);
  });

  it('reopen cuts a torn last line back to the newline that starts a 64 KiB read, keeping the line before', async () => {
    const store = freshStore();
    const log = await store.create(header);
    log.append(ready(1));
    await log.close();
    // The torn line fills the last 64 KiB read but its first byte: the newline before it is that read's byte 0.
    appendFileSync(store.path('r'), 'x'.repeat(64 * 1024 - 1));
    await (await store.reopen('r')).close();
    expect(contents(store)).toBe(HEADER + line(ready(1)));
  });
});
