/**
 * The default run store: one JSONL file per run under `<dir>/<runId>.jsonl`, header line first.
 *
 * Group commit: `append` only buffers a line. Once per event-loop turn the buffer is written (a plain write,
 * so readers always see whole lines in order) and an fdatasync is started off the main thread; writes made
 * while one runs ride the next. A task whose success was
 * not durable when the process died simply runs again on resume (at-least-once, like Temporal activities).
 */
import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BraidError } from '../errors.js';
import type { RunEvent } from '../events/types.js';
import type { RunHeader, RunLog, RunRecord, RunStore } from './types.js';

const RUN_ID = /^[A-Za-z0-9_.-]+$/;

export class JsonlRunStore implements RunStore {
  readonly #open = new Set<JsonlRunLog>();

  constructor(readonly dir: string) {}

  readonly #closing = new Set<Promise<void>>();

  /** Write and fsync every open log now, synchronously (before `process.exit`). */
  flushSync(): void {
    for (const log of this.#open) log.flushSync();
  }

  /** Resolves when every log closed so far is durable (their last fsync done); rejects on a write error. */
  async idle(): Promise<void> {
    await Promise.all([...this.#closing]);
  }

  #track(log: JsonlRunLog): JsonlRunLog {
    this.#open.add(log);
    log.onClose = (closing) => {
      this.#open.delete(log);
      this.#closing.add(closing);
      void closing.then(() => this.#closing.delete(closing), () => {});
    };
    return log;
  }

  path(runId: string): string {
    if (!RUN_ID.test(runId)) throw new BraidError('E_USAGE', `invalid run id "${runId}"`, { retryable: false });
    return join(this.dir, `${runId}.jsonl`);
  }

  #dirReady = false;

  // Opening is synchronous on purpose: tens of microseconds once per run, cheaper than two thread-pool hops.
  async create(header: RunHeader): Promise<RunLog> {
    if (!this.#dirReady) mkdirSync(this.dir, { recursive: true }), (this.#dirReady = true);
    const fd = openSync(this.path(header.runId), 'wx');
    return this.#track(new JsonlRunLog(fd, `${stringify(header)}\n`));
  }

  async reopen(runId: string): Promise<RunLog> {
    let fd: number;
    try {
      fd = openSync(this.path(runId), 'r+');
    } catch (err) {
      throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? noSuchRun(runId, this.dir) : err;
    }
    // A line cut short by a crash would glue onto the next one: cut the log back to its last newline.
    const { size } = fstatSync(fd);
    const end = lastNewline(fd, size);
    if (end < size) ftruncateSync(fd, end);
    return this.#track(new JsonlRunLog(fd, '', end));
  }

  async read(runId: string): Promise<RunRecord> {
    const text = await readFile(this.path(runId), 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? noSuchRun(runId, this.dir) : err;
    });
    return parseRunLog(text);
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.jsonl')).map((n) => n.slice(0, -'.jsonl'.length)).sort().reverse();
  }
}

function noSuchRun(runId: string, dir: string): BraidError {
  return new BraidError('E_USAGE', `no run "${runId}" in ${dir} (list them with: braid runs)`, { retryable: false });
}

/** Parse a run log; unreadable lines are reported in `problems`, never thrown. */
export function parseRunLog(text: string): RunRecord {
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text.length === 0;
  if (lines[lines.length - 1] === '') lines.pop();
  const events: RunEvent[] = [];
  const problems: string[] = [];
  let header: RunHeader | undefined;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let value: { type?: unknown };
    try {
      value = JSON.parse(line);
    } catch {
      const last = i === lines.length - 1;
      problems.push(last && !complete ? `line ${i + 1}: truncated last line (${line.length} bytes, the writer stopped mid-line), ignored` : `line ${i + 1}: not valid JSON, ignored`);
      return;
    }
    if (value?.type === 'run.record') header = value as RunHeader;
    else if (typeof value?.type === 'string') events.push(value as RunEvent);
    else problems.push(`line ${i + 1}: not an event, ignored`);
  });
  if (!header) problems.unshift('no header line: the workflow definition is missing, the run cannot be resumed');
  return { header, events, problems };
}

class JsonlRunLog implements RunLog {
  #buffer: string;
  #scheduled = false;
  #position: number;
  #closed = false;
  #closing?: Promise<void>;
  /** Writes are counted; an fsync covers every write counted when it started. */
  #written = 0;
  #synced = 0;
  #syncing = false;
  #waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  onClose?: (closing: Promise<void>) => void;

  constructor(
    private readonly fd: number,
    first: string,
    position = 0,
  ) {
    this.#buffer = first;
    this.#position = position;
    if (first) this.#schedule();
  }

  append(event: RunEvent): void {
    if (this.#closed) return;
    this.#buffer += `${stringify(event)}\n`;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.flush().catch(() => {}));
  }

  /** The buffer goes to the file now, in order (a plain write: readers see whole lines at once). */
  #write(): void {
    this.#scheduled = false;
    const chunk = this.#buffer;
    if (!chunk || this.#closed) return;
    this.#buffer = '';
    writeSync(this.fd, chunk, this.#position, 'utf8');
    this.#position += Buffer.byteLength(chunk);
    this.#written++;
  }

  /** One fdatasync at a time, off the main thread; writes made meanwhile ride the next one. */
  #sync(): void {
    if (this.#syncing || this.#synced === this.#written) return;
    this.#syncing = true;
    const upTo = this.#written;
    fdatasync(this.fd, (err) => {
      this.#syncing = false;
      if (!err) this.#synced = upTo;
      const done = this.#waiters.filter((w) => err || w.upTo <= upTo);
      this.#waiters = this.#waiters.filter((w) => !done.includes(w));
      for (const w of done) err ? w.reject(err) : w.resolve();
      this.#sync();
    });
  }

  flush(): Promise<void> {
    this.#write();
    if (this.#synced === this.#written) return Promise.resolve();
    const durable = new Promise<void>((resolve, reject) => this.#waiters.push({ upTo: this.#written, resolve, reject }));
    this.#sync();
    return durable;
  }

  flushSync(): void {
    if (this.#closed) return;
    this.#write();
    fdatasyncSync(this.fd);
    this.#synced = this.#written;
  }

  /**
   * Writes what is buffered at once, so a reader sees the whole log as soon as this is called; the promise
   * resolves when it is durable and the file closed. `runWorkflow` returns without waiting for that last
   * fsync (about a millisecond): if the machine died in between, the run's last steps would re-run on
   * resume, as for any success not yet durable.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const durable = this.flush();
    this.#closed = true;
    this.#closing = durable.finally(() => closeSync(this.fd));
    this.onClose?.(this.#closing);
    return this.#closing;
  }
}

/** Byte offset just after the last newline (0 when none). */
function lastNewline(fd: number, size: number): number {
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const at = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}

/** JSON for a log line; a value JSON cannot hold (BigInt, a cycle) is replaced by a note instead of losing the event. */
export function stringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    const v = value as { output?: unknown };
    if (v && typeof v === 'object' && 'output' in v) return JSON.stringify({ ...v, output: { unserializable: (err as Error).message } });
    return JSON.stringify({ type: 'task.log', level: 'error', message: `event not serializable: ${(err as Error).message}` });
  }
}
