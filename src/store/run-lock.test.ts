/**
 * The file lock of one writer per run, in one process: who holds it, when a lock counts as abandoned (its owner's
 * process gone, its heartbeat old, on this host or another), how a stale lock is broken under the `.break` file, and
 * that a holder notices when its lock was taken. test/run-lock.test.ts races real processes for it.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  acquireRunLock,
  isStale,
  pidAlive,
  readOwner,
  RunLockedError,
  STALE_OTHER_HOST_MS,
  STALE_SAME_HOST_MS,
  type LockOwner,
} from './run-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'braid-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `r${++n}.lock`);
/** A pid no process has (the highest there can be, plus one). */
const deadPid = 4_194_305;

const owner = (more: Partial<LockOwner> = {}): LockOwner => ({
  pid: process.pid,
  host: hostname(),
  since: '2026-01-01T00:00:00.000Z',
  token: 'someone-else',
  ...more,
});
/** A lock file written by another owner, its heartbeat `ageMs` old. */
function planted(path: string, who: LockOwner | string, ageMs = 0): void {
  writeFileSync(path, typeof who === 'string' ? who : JSON.stringify(who));
  const t = new Date(Date.now() - ageMs);
  utimesSync(path, t, t);
}
const taken = (path: string) => {
  try {
    return acquireRunLock(path, 'run');
  } catch (err) {
    return err as RunLockedError;
  }
};

describe('taking a run lock', () => {
  it('writes its owner into a file created exclusively, and gives it back on release', () => {
    const path = fresh();
    const lock = acquireRunLock(path, 'run-1');
    const written = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    expect(written).toEqual(lock.owner);
    expect(written).toMatchObject({ pid: process.pid, host: hostname() });
    expect(written.token).toMatch(/^[0-9a-f]{16}$/);
    expect(Date.parse(written.since)).toBeLessThanOrEqual(Date.now());
    expect(lock.released).toBe(false);
    lock.release();
    expect(lock.released).toBe(true);
    expect(existsSync(path)).toBe(false);
    lock.release(); // again: nothing happens
    // Free again: the next writer takes it.
    acquireRunLock(path, 'run-1').release();
  });

  it('a lock this process holds is not taken twice; the error names the holder on this host', () => {
    const path = fresh();
    const lock = acquireRunLock(path, 'run-2');
    const err = taken(path);
    expect(err).toBeInstanceOf(RunLockedError);
    expect((err as RunLockedError).code).toBe('E_LOCKED');
    expect((err as RunLockedError).owner).toEqual(lock.owner);
    expect((err as RunLockedError).message).toBe(
      `run "run" is being continued by process ${process.pid} (since ${lock.owner.since}); wait for it to finish or stop it first`,
    );
    lock.release();
  });

  it('a lock of a process that is gone is taken over at once', () => {
    const path = fresh();
    planted(path, owner({ pid: deadPid }));
    const lock = taken(path);
    expect(lock).not.toBeInstanceOf(Error);
    expect(readOwner(path)?.pid).toBe(process.pid);
    (lock as { release(): void }).release();
  });

  it('a lock with this pid that this process does not hold (a pid reused after a restart) is taken over', () => {
    const path = fresh();
    planted(path, owner({ token: 'from-before-the-restart' }));
    const lock = taken(path);
    expect(lock).not.toBeInstanceOf(Error);
    (lock as { release(): void }).release();
  });

  it('a living process of this host keeps its lock until its heartbeat is older than the same-host limit', () => {
    const path = fresh();
    const other = owner({ pid: process.ppid });
    planted(path, other, STALE_SAME_HOST_MS - 60_000);
    expect(taken(path)).toBeInstanceOf(RunLockedError);
    expect(readOwner(path)).toEqual(other);
    planted(path, other, STALE_SAME_HOST_MS + 60_000);
    const lock = taken(path);
    expect(lock).not.toBeInstanceOf(Error);
    (lock as { release(): void }).release();
  });

  it('a lock from another host holds while its heartbeat is young, and the error names that host', () => {
    const path = fresh();
    const far = owner({ pid: deadPid, host: 'far-away' });
    planted(path, far, STALE_OTHER_HOST_MS - 10_000);
    const err = taken(path) as RunLockedError;
    expect(err).toBeInstanceOf(RunLockedError);
    expect(err.message).toContain(`process ${deadPid} on far-away (since ${far.since})`);
    planted(path, far, STALE_OTHER_HOST_MS + 10_000);
    const lock = taken(path);
    expect(lock).not.toBeInstanceOf(Error);
    (lock as { release(): void }).release();
  });

  it('a lock file whose owner cannot be read counts as taken while young, as abandoned once old', () => {
    const path = fresh();
    planted(path, 'not json', 2000);
    const err = taken(path) as RunLockedError;
    expect(err).toBeInstanceOf(RunLockedError);
    expect(err.owner).toBeUndefined();
    expect(err.message).toContain('is being continued by another process;');
    planted(path, 'not json', 11_000);
    const lock = taken(path);
    expect(lock).not.toBeInstanceOf(Error);
    (lock as { release(): void }).release();
  });

  it('a lock file just created and not yet filled in (its owner writing it) is taken, not stale', () => {
    const path = fresh();
    planted(path, '');
    const t0 = Date.now();
    const err = taken(path) as RunLockedError;
    expect(err).toBeInstanceOf(RunLockedError);
    expect(err.owner).toBeUndefined();
    // It waited a little for the owner to appear before giving up: some milliseconds, not the second after which an
    // empty lock file counts as old.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
    expect(Date.now() - t0).toBeLessThan(900);
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('a stale lock is not broken while another process holds the .break file; an old .break is cleared', () => {
    const path = fresh();
    planted(path, owner({ pid: deadPid }));
    planted(`${path}.break`, String(process.ppid));
    expect(taken(path)).toBeInstanceOf(RunLockedError);
    expect(readOwner(path)?.pid).toBe(deadPid);
    // Left by a process that crashed while breaking: cleared once old, and the stale lock is then taken over.
    planted(`${path}.break`, String(deadPid), 11_000);
    const lock = taken(path);
    expect(lock).not.toBeInstanceOf(Error);
    expect(existsSync(`${path}.break`)).toBe(false);
    (lock as { release(): void }).release();
  });
});

describe('holding a run lock', () => {
  it('a heartbeat refreshes the lock file’s time, at most every few seconds unless forced', () => {
    const path = fresh();
    const lock = acquireRunLock(path, 'run');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    lock.heartbeat();
    expect(statSync(path).mtimeMs).toBeLessThan(Date.now() - 30_000);
    lock.heartbeat(true);
    expect(statSync(path).mtimeMs).toBeGreaterThan(Date.now() - 5_000);
    lock.release();
  });

  it('a holder whose lock was taken stops and is told who has it; its release leaves the other’s lock alone', () => {
    const path = fresh();
    const lock = acquireRunLock(path, 'run-9');
    const lost: Error[] = [];
    lock.onLost = (err) => lost.push(err);
    const thief = owner({ pid: process.ppid, token: 'thief' });
    planted(path, thief);
    lock.heartbeat(true);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ code: 'E_STORE' });
    expect(lost[0].message).toBe(
      `run "run-9" lost its lock ${path} to process ${process.ppid}; this process stops writing its record`,
    );
    expect(lock.released).toBe(true);
    lock.heartbeat(true); // stopped: no second report
    expect(lost).toHaveLength(1);
    lock.release();
    expect(readOwner(path)).toEqual(thief);
  });

  it('a heartbeat runs on its own every five seconds while the lock is held', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      const path = fresh();
      const lock = acquireRunLock(path, 'run');
      const old = new Date(Date.now() - 60_000);
      utimesSync(path, old, old);
      vi.advanceTimersByTime(4_999);
      expect(statSync(path).mtimeMs).toBeLessThan(Date.now() - 30_000);
      vi.advanceTimersByTime(1);
      expect(statSync(path).mtimeMs).toBeGreaterThan(Date.now() - 1_000);
      lock.release();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a release that finds another owner in the file (taken since its last heartbeat) leaves it alone', () => {
    const path = fresh();
    const lock = acquireRunLock(path, 'run');
    const thief = owner({ pid: process.ppid, token: 'thief' });
    planted(path, thief);
    lock.release();
    expect(readOwner(path)).toEqual(thief);
  });

  it('a lock removed under its holder is reported lost without naming anyone', () => {
    const path = fresh();
    const lock = acquireRunLock(path, 'run');
    const lost: Error[] = [];
    lock.onLost = (err) => lost.push(err);
    rmSync(path);
    lock.heartbeat(true);
    expect(lost[0]?.message).toBe(`run "run" lost its lock ${path}; this process stops writing its record`);
  });
});

describe('what a lock file says', () => {
  it('the limits are the documented ones: 10 minutes on this host, 1 minute for another (docs/records.md)', () => {
    expect(STALE_SAME_HOST_MS).toBe(600_000);
    expect(STALE_OTHER_HOST_MS).toBe(60_000);
  });

  it('a lock that cannot be created for another reason than being there is that error, not E_LOCKED', () => {
    expect(() => acquireRunLock(join(dir, 'no such dir', 'r.lock'), 'run')).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });

  it('readOwner takes only a whole owner', () => {
    const path = fresh();
    expect(readOwner(path)).toBeUndefined();
    planted(path, JSON.stringify({ pid: 1, host: 'h' }));
    expect(readOwner(path)).toBeUndefined();
    planted(path, JSON.stringify({ pid: '1', host: 'h', token: 't' }));
    expect(readOwner(path)).toBeUndefined();
    planted(path, JSON.stringify({ pid: 1, host: 2, token: 't' }));
    expect(readOwner(path)).toBeUndefined();
    planted(path, JSON.stringify({ pid: 1, host: 'h', token: 't', since: 's' }));
    expect(readOwner(path)).toEqual({ pid: 1, host: 'h', token: 't', since: 's' });
    planted(path, 'null');
    expect(readOwner(path)).toBeUndefined();
  });

  it('pidAlive: this process and its parent live; a pid no process has does not', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(process.ppid)).toBe(true);
    expect(pidAlive(deadPid)).toBe(false);
  });

  it('isStale without a lock file: an owner that is gone is stale, one that lives is not', () => {
    const path = fresh();
    expect(isStale(path, owner({ pid: deadPid }))).toBe(true);
    expect(isStale(path, owner({ pid: process.ppid }))).toBe(false);
    expect(isStale(path, undefined)).toBe(false);
  });
});
