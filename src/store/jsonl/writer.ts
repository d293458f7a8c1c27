/**
 * The writer of one run's record (`RunLog`): group commit. `append` only buffers a line. Once per event-loop turn the
 * buffer is written (a plain write, so readers always see whole lines in order) and an fdatasync is started off the
 * main thread (at most one every 10 ms, unless `flush` or `close` waits for it); writes made while one runs ride the
 * next. A task whose success was not durable when the process died simply runs again on resume (at-least-once, like
 * Temporal activities).
 */
import { fdatasync, fdatasyncSync, ftruncateSync } from 'node:fs';
import { BraidError } from '../../errors.js';
import type { RunEvent } from '../../core/events.js';
import { describeThrown } from '../../core/thrown.js';
import type { RunLock } from '../run-lock.js';
import type { RunLog } from '../types.js';
import { closeQuiet, storeError, writeAll } from './files.js';
import { eventJson } from './serializer.js';

/** Buffered bytes that are written at once, without waiting for the event loop to turn. */
const WRITE_BYTES = 64 * 1024;
/**
 * Age of the oldest buffered line after which the next append writes at once (synchronous tools never let the loop
 * turn).
 */
const WRITE_MS = 50;
/** Least time between two fdatasyncs nobody waits for (see JsonlRunLog #sync). */
const SYNC_GAP_MS = 10;
/** Events written the moment they are appended: a reader (and `braid resume`) sees the run from its first task on. */
const BARRIER = new Set(['run.started', 'run.resumed', 'task.approval', 'run.finished']);

export class JsonlRunLog implements RunLog {
  #buffer = '';
  #appended = 0;
  #bufferedAt = 0;
  #scheduled = false;
  #position: number;
  #closed = false;
  #closing?: Promise<void>;
  /** Writes are counted; an fsync covers every write counted when it started. */
  #written = 0;
  #synced = 0;
  #syncing = false;
  #waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  #failure?: BraidError;
  onClose?: (closing: Promise<void>) => void;
  onFailure?: (err: BraidError) => void;

  constructor(
    private readonly fd: number,
    readonly path: string,
    position: number,
    private readonly lock: RunLock,
    /** The header was just written: fsync it in the background. */
    unsynced: boolean,
  ) {
    this.#position = position;
    lock.onLost = (err) => this.#fail(err);
    if (unsynced) {
      this.#written++;
      this.#schedule();
    }
  }

  get failure(): BraidError | undefined {
    return this.#failure;
  }

  append(event: RunEvent): void {
    if (this.#closed || this.#failure) return;
    let line: string;
    try {
      line = eventJson(event);
    } catch (err) {
      return this.#fail(
        new BraidError(
          'E_STORE',
          `event ${event.seq} (${event.type}${'taskId' in event && event.taskId ? ` of ${event.taskId}` : ''}) cannot be written to ${this.path}: ${describeThrown(err).message}`,
        ),
      );
    }
    if (!this.#buffer) this.#bufferedAt = performance.now();
    this.#buffer += `${line}\n`;
    // The clock is read every 32nd line: a synchronous stretch still writes within about WRITE_MS.
    if (
      BARRIER.has(event.type) ||
      this.#buffer.length >= WRITE_BYTES ||
      ((++this.#appended & 31) === 0 && performance.now() - this.#bufferedAt >= WRITE_MS)
    )
      this.#write();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#turn);
  }

  /**
   * Once per event-loop turn with appends: the lines are written, and synced unless one was started within SYNC_GAP_MS.
   */
  readonly #turn = () => {
    this.#scheduled = false;
    this.#write();
    this.#sync(false);
  };

  /** The buffer goes to the file now, in order (a plain write: readers see whole lines at once). */
  #write(): void {
    const chunk = this.#buffer;
    if (!chunk || this.#closed || this.#failure) return;
    this.#buffer = '';
    const bytes = Buffer.from(chunk, 'utf8');
    const { written: done, error } = writeAll(this.fd, bytes, this.#position);
    if (error) {
      // Keep the lines written whole; cut a partial one so the record stays readable and resumable.
      const whole = bytes.subarray(0, done).lastIndexOf(0x0a) + 1;
      try {
        ftruncateSync(this.fd, this.#position + whole);
      } catch {
        // a reader reports the cut line
      }
      this.#position += whole;
      return this.#fail(storeError(this.path, error));
    }
    this.#position += bytes.length;
    this.#written++;
    this.lock.heartbeat();
  }

  #fail(err: BraidError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#buffer = '';
    for (const w of this.#waiters.splice(0)) w.reject(err);
    try {
      this.onFailure?.(err);
    } catch {
      // the run's own handler
    }
  }

  /**
   * One fdatasync at a time, off the main thread; writes made meanwhile ride the next one. Unless someone waits
   * for durability (`flush`, `close`), one starts at most every SYNC_GAP_MS: each costs the main thread a
   * thread-pool round trip, and a run whose events come one turn at a time (model answers) paid it per turn.
   */
  #sync(now: boolean): void {
    if (this.#syncing || this.#synced === this.#written || this.#failure || this.#closedFd) return;
    const wait = now ? 0 : this.#syncStarted + SYNC_GAP_MS - performance.now();
    if (wait > 0) {
      this.#syncTimer ??= setTimeout(() => {
        this.#syncTimer = undefined;
        this.#sync(true);
      }, wait).unref();
      return;
    }
    if (this.#syncTimer) (clearTimeout(this.#syncTimer), (this.#syncTimer = undefined));
    this.#syncing = true;
    this.#syncStarted = performance.now();
    const upTo = this.#written;
    fdatasync(this.fd, (err) => {
      this.#syncing = false;
      if (err) return this.#fail(storeError(this.path, err, 'sync'));
      this.#synced = upTo;
      const done = this.#waiters.filter((w) => w.upTo <= upTo);
      this.#waiters = this.#waiters.filter((w) => !done.includes(w));
      for (const w of done) w.resolve();
      this.#sync(this.#waiters.length > 0);
    });
  }

  #syncStarted = -Infinity;
  #syncTimer?: NodeJS.Timeout;
  /** The file is closed (after close's last sync): no timer may sync it. */
  #closedFd = false;

  flush(): Promise<void> {
    this.#scheduled = false;
    this.#write();
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#synced === this.#written) return Promise.resolve();
    const durable = new Promise<void>((resolve, reject) =>
      this.#waiters.push({ upTo: this.#written, resolve, reject }),
    );
    this.#sync(true);
    return durable;
  }

  flushSync(): void {
    if (this.#closed) return;
    this.#write();
    if (this.#failure) return;
    try {
      fdatasyncSync(this.fd);
      this.#synced = this.#written;
    } catch (err) {
      this.#fail(storeError(this.path, err, 'sync'));
    }
  }

  /**
   * Writes what is buffered at once, so a reader sees the whole log as soon as this is called; the promise
   * resolves when it is durable and the file closed. `runWorkflow` returns without waiting for that last
   * fsync (about a millisecond): if the machine died in between, the run's last steps would re-run on
   * resume, as for any success not yet durable. The lock is released once the last write is made.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const durable = this.flush();
    this.#closed = true;
    this.lock.release();
    this.#closing = durable.finally(() => {
      this.#closedFd = true;
      if (this.#syncTimer) clearTimeout(this.#syncTimer);
      closeQuiet(this.fd);
    });
    this.onClose?.(this.#closing);
    return this.#closing;
  }
}
