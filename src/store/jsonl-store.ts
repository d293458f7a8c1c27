/**
 * The default run store: one JSONL file per run under `<dir>/<runId>.jsonl`, header line first.
 *
 * Group commit: `append` only buffers a line. Once per event-loop turn the buffer is written (a plain write,
 * so readers always see whole lines in order) and an fdatasync is started off the main thread (at most one
 * every 10 ms, unless `flush` or `close` waits for it); writes made while one runs ride the next. A task whose success
 * was
 * not durable when the process died simply runs again on resume (at-least-once, like Temporal activities).
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BraidError } from '../errors.js';
import type { RunEvent } from '../core/events.js';
import { acquireRunLock, RunLock } from './run-lock.js';
import type { FoldedRecord, RunHeader, RunLockHandle, RunLog, RunRecord, RunStore } from './types.js';
import { RunFolder } from './fold.js';
import { describeThrown } from '../core/thrown.js';
import { checkRunId, RUN_ID } from '../core/run-id.js';

/** Run ids: letters, digits, `_`, `.`, `-`, starting with a letter or digit, at most 200 characters. */

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

/** `E_STORE` naming the file and the operating system's reason. */
export function storeError(path: string, err: unknown, doing = 'write', what = 'the run record'): BraidError {
  const e = err as NodeJS.ErrnoException;
  const why = e?.code
    ? `${e.code}: ${e.message
        .replace(/^[A-Z]+: /, '')
        .replace(/, \w+ '.*'$/, '')
        .replace(/, \w+$/, '')}`
    : (e?.message ?? String(err));
  return new BraidError('E_STORE', `cannot ${doing} ${what} ${path} (${why})`, { cause: err });
}

/** The default run store: one JSONL file per run in a folder (`$BRAID_HOME/runs`). @public */
export class JsonlRunStore implements RunStore {
  readonly #open = new Set<JsonlRunLog>();

  constructor(readonly dir: string) {}

  readonly #closing = new Set<Promise<void>>();

  /** Write and fsync every open log now, synchronously (before `process.exit`). */
  flushSync(): void {
    for (const log of this.#open) log.flushSync();
  }

  /**
   * Resolves when every log closed so far is durable (their last fsync done). Never rejects: failures end their runs.
   */
  async idle(): Promise<void> {
    await Promise.all([...this.#closing].map((p) => p.catch(() => {})));
  }

  #track(log: JsonlRunLog): JsonlRunLog {
    this.#open.add(log);
    log.onClose = (closing) => {
      this.#open.delete(log);
      this.#closing.add(closing);
      void closing.then(
        () => this.#closing.delete(closing),
        () => this.#closing.delete(closing),
      );
    };
    return log;
  }

  path(runId: string): string {
    return join(this.dir, `${checkRunId(runId)}.jsonl`);
  }

  /** Locks live apart from the records (`<dir>/.locks/<runId>.lock`): the runs folder holds only records. */
  lockPath(runId: string): string {
    this.path(runId);
    return join(this.dir, '.locks', `${runId}.lock`);
  }

  #dirReady = false;

  #ensureDir(): void {
    if (this.#dirReady) return;
    try {
      mkdirs(join(this.dir, '.locks'));
    } catch (err) {
      throw storeError(this.dir, err, 'create', 'the run store folder');
    }
    this.#dirReady = true;
  }

  /** Take a run's lock (`E_LOCKED` naming the holder when another process has it). */
  async lock(runId: string): Promise<RunLock> {
    return this.#lock(runId);
  }

  #lock(runId: string): RunLock {
    const path = this.lockPath(runId);
    this.#ensureDir();
    try {
      return acquireRunLock(path, runId);
    } catch (err) {
      if (BraidError.is(err)) throw err;
      throw storeError(path, err, 'create', 'the run lock');
    }
  }

  // Opening is synchronous on purpose: tens of microseconds once per run, cheaper than two thread-pool hops.
  // The header is written before this returns: a record is never an empty file, and never without its header.
  async create(header: RunHeader): Promise<RunLog> {
    let line: string;
    try {
      line = `${JSON.stringify(header)}\n`;
    } catch (err) {
      throw new BraidError(
        'E_STORE',
        `run "${header.runId}" cannot be recorded: its workflow or input is not serializable (${describeThrown(err).message})`,
      );
    }
    const file = this.path(header.runId);
    const lock = this.#lock(header.runId);
    let fd: number | undefined;
    try {
      fd = openSync(file, 'wx');
      const { error } = writeAll(fd, Buffer.from(line), 0);
      if (error) throw error;
    } catch (err) {
      if (fd !== undefined) {
        closeQuiet(fd);
        unlinkQuiet(file); // nothing of the run is recorded: leave no empty record behind
      }
      lock.release();
      throw storeError(file, err, fd === undefined ? 'create' : 'write');
    }
    return this.#track(new JsonlRunLog(fd, file, Buffer.byteLength(line), lock, true));
  }

  async reopen(runId: string, lock?: RunLockHandle): Promise<RunLog> {
    const file = this.path(runId);
    const own = lock ? undefined : this.#lock(runId);
    const held = (lock ?? own) as RunLock;
    let fd: number;
    try {
      fd = openSync(file, 'r+');
    } catch (err) {
      own?.release();
      throw (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? noSuchRun(runId, this.dir)
        : storeError(file, err, 'open');
    }
    try {
      // A line cut short by a crash would glue onto the next one: cut the log back to its last newline.
      const { size } = fstatSync(fd);
      const end = lastNewline(fd, size);
      if (end < size) ftruncateSync(fd, end);
      return this.#track(new JsonlRunLog(fd, file, end, held, false));
    } catch (err) {
      closeQuiet(fd);
      own?.release();
      throw storeError(file, err, 'open');
    }
  }

  async read(runId: string): Promise<RunRecord> {
    const file = this.path(runId);
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? noSuchRun(runId, this.dir) : storeError(file, err, 'read');
    });
    return parseRunLog(text);
  }

  /**
   * Whole lines after byte `from` (at most 4 MiB a call), parsed in slices that yield to the event loop:
   * `braid logs --follow` and the server's event streams read a record incrementally with it.
   */
  async readFrom(runId: string, from = 0, lines = 0, maxBytes = 4 * 1024 * 1024): Promise<RecordSlice> {
    const file = this.path(runId);
    try {
      return await readSlice(file, from, lines, maxBytes);
    } catch (err) {
      throw (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? noSuchRun(runId, this.dir)
        : storeError(file, err, 'read');
    }
  }

  readonly #folds = new Map<string, { version: string; folded: Promise<FoldedRecord> }>();

  /** A record changes only by growing (or a resume cutting a torn line): its size and modification time. */
  async version(runId: string): Promise<string | undefined> {
    const info = await stat(this.path(runId)).catch(() => undefined); // no record (yet): no version, never cached
    return info && `${info.size}:${info.mtimeMs}`;
  }

  /**
   * The run rebuilt from its record, read in slices (the event loop is never held for long, the events
   * are not kept). A finished run's fold is cached until its file changes; concurrent callers share one fold.
   */
  async fold(runId: string, alive: (pid: number) => boolean = () => false): Promise<FoldedRecord> {
    const file = this.path(runId);
    const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? noSuchRun(runId, this.dir) : storeError(file, err, 'read');
    });
    const version = `${info.size}:${info.mtimeMs}`;
    const cached = this.#folds.get(runId);
    if (cached?.version === version) return cached.folded;
    const folded = this.#foldFile(runId, alive, version);
    this.#folds.delete(runId);
    this.#folds.set(runId, { version, folded });
    if (this.#folds.size > 64) this.#folds.delete(this.#folds.keys().next().value!);
    // Only a finished run's fold stays cached (a live one changes, its status depends on its writer).
    void folded.then(
      (f) => {
        if (f.run.status === 'running' || f.run.status === 'interrupted')
          this.#folds.get(runId)?.folded === folded && this.#folds.delete(runId);
      },
      () => this.#folds.delete(runId),
    );
    return folded;
  }

  async #foldFile(runId: string, alive: (pid: number) => boolean, version: string): Promise<FoldedRecord> {
    let folder: RunFolder | undefined;
    const problems: string[] = [];
    let header: RunHeader | undefined;
    for (let from = 0, lines = 0; ;) {
      const slice = await this.readFrom(runId, from, lines);
      if (lines === 0) header = slice.header;
      folder ??= new RunFolder(header, alive);
      for (const e of slice.events) folder.add(e);
      problems.push(...slice.problems);
      if (slice.next === from) {
        if (slice.size > from) problems.push(truncatedTail(lines + 1, slice.size - from));
        break;
      }
      ({ next: from, lines } = slice);
    }
    if (!header) problems.unshift(NO_HEADER);
    return { header, run: folder!.result(), problems, version };
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]; // no folder yet: no runs
      throw storeError(this.dir, err, 'read', 'the run store folder');
    });
    return names
      .filter((n) => n.endsWith('.jsonl'))
      .map((n) => n.slice(0, -'.jsonl'.length))
      .filter((id) => RUN_ID.test(id))
      .sort()
      .reverse();
  }
}

function noSuchRun(runId: string, dir: string): BraidError {
  return new BraidError('E_RUN_NOT_FOUND', `no run "${runId}" in ${dir} (list them with: braid runs)`);
}

/** Fields an event of each type must have, with their JSON types: a record that lacks them is reported, not folded. */
const REQUIRED: Record<string, Record<string, string>> = {
  'run.started': { workflow: 'string' },
  'run.resumed': {},
  'run.finished': { status: 'string' },
  'run.stopping': { reason: 'string' },
  'task.started': { attempt: 'number' },
  'task.retrying': { error: 'error' },
  'task.recovery': { error: 'error' },
  'task.failed': { error: 'error' },
  'task.skipped': { reason: 'string' },
  'task.labeled': { label: 'string', source: 'string' },
  'task.approval': { approved: 'boolean' },
  'task.child': { childRunId: 'string' },
  'task.routed': { to: 'string' },
  'llm.call': { usage: 'usage' },
};
const OPTIONAL_ERROR = ['error', 'failed'];

/** Why a parsed line is not an event braid can fold; undefined when it is one. */
function eventProblem(v: Record<string, unknown>): string | undefined {
  const type = v.type as string;
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1) return `${type} without a valid seq`;
  if (typeof v.ts !== 'string') return `${type} without a time`;
  if (type.startsWith('task.') && typeof v.taskId !== 'string') return `${type} without a taskId`;
  if (v.taskId !== undefined && typeof v.taskId !== 'string') return `${type} with a taskId that is not a string`;
  for (const [field, kind] of Object.entries(REQUIRED[type] ?? {})) {
    const value = v[field];
    const ok = kind === 'error' ? isError(value) : kind === 'usage' ? isUsage(value) : typeof value === kind;
    if (!ok) return `${type} without a valid ${field}`;
  }
  for (const field of OPTIONAL_ERROR)
    if (v[field] !== undefined && !isError(v[field])) return `${type} with a malformed ${field}`;
  return undefined;
}

const isError = (e: unknown) =>
  typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
const isUsage = (u: unknown) =>
  typeof u === 'object' &&
  u !== null &&
  ['promptTokens', 'completionTokens', 'totalTokens'].every(
    (k) => typeof (u as Record<string, unknown>)[k] === 'number',
  );

/** Why a header line cannot be used; undefined when it can. */
function headerProblem(v: Record<string, unknown>): string | undefined {
  const w = v.workflow as { tasks?: unknown; name?: unknown } | undefined;
  if (typeof v.runId !== 'string' || typeof w !== 'object' || w === null || !Array.isArray(w.tasks))
    return 'a header without a run id or workflow tasks';
  if (!w.tasks.every((t) => typeof t === 'object' && t !== null && typeof (t as { id?: unknown }).id === 'string'))
    return 'a header with a task without an id';
  if (typeof v.input !== 'object' || v.input === null) return 'a header without an input object';
  return undefined;
}

/** One line of a record: the header (first line only), an event, or a problem (never thrown). */
type Line = { header: RunHeader } | { event: RunEvent } | { problem: string } | undefined;

/** `n`: 1-based line number; `truncated`: the last line of a file that does not end with a newline. */
function parseLine(line: string, n: number, truncated: boolean): Line {
  if (!line.trim()) return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch {
    return {
      problem: truncated
        ? `line ${n}: truncated last line (${line.length} bytes, the writer stopped mid-line), ignored`
        : `line ${n}: not valid JSON, ignored`,
    };
  }
  if (typeof value !== 'object' || value === null || typeof value.type !== 'string')
    return { problem: `line ${n}: not an event, ignored` };
  if (value.type === 'run.record') {
    if (n !== 1) return { problem: `line ${n}: a second header, ignored (the header is the first line)` };
    const bad = headerProblem(value);
    return bad ? { problem: `line 1: ${bad}, ignored` } : { header: value as unknown as RunHeader };
  }
  const bad = eventProblem(value);
  return bad ? { problem: `line ${n}: ${bad}, ignored` } : { event: value as unknown as RunEvent };
}

const NO_HEADER = 'no header line: the workflow definition is missing, the run cannot be resumed';

/**
 * Parse a run log; unreadable lines are reported in `problems`, never thrown. Only the first line can be the header.
 * @beta
 */
export function parseRunLog(text: string): RunRecord {
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text.length === 0;
  if (lines[lines.length - 1] === '') lines.pop();
  const events: RunEvent[] = [];
  const problems: string[] = [];
  let header: RunHeader | undefined;
  lines.forEach((line, i) => {
    const parsed = parseLine(line, i + 1, i === lines.length - 1 && !complete);
    if (!parsed) return;
    if ('header' in parsed) header = parsed.header;
    else if ('event' in parsed) events.push(parsed.event);
    else problems.push(parsed.problem);
  });
  if (!header) problems.unshift(NO_HEADER);
  return { header, events, problems };
}

/** What `readFrom` returns: the whole lines after a byte offset. */
export interface RecordSlice {
  readonly header?: RunHeader;
  readonly events: RunEvent[];
  readonly problems: string[];
  /** Offset just after the last whole line read (where the next read starts). */
  readonly next: number;
  /** Lines read so far, counting from the start of the file. */
  readonly lines: number;
  /** The file's size when read: more than `next` at the end means an unfinished (or truncated) last line. */
  readonly size: number;
}

/** The problem for an unfinished last line (reported once its writer is gone). */
export const truncatedTail = (line: number, bytes: number) =>
  `line ${line}: truncated last line (${bytes} bytes, the writer stopped mid-line), ignored`;

/** Read whole lines from `from` (at most `maxBytes`; an unfinished last line is left for the next read). */
async function readSlice(file: string, from: number, firstLine: number, maxBytes: number): Promise<RecordSlice> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, Math.min(maxBytes, size - from)));
    const { bytesRead } = buffer.length ? await handle.read(buffer, 0, buffer.length, from) : { bytesRead: 0 };
    const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
    const events: RunEvent[] = [];
    const problems: string[] = [];
    let header: RunHeader | undefined;
    let n = firstLine;
    let t0 = performance.now();
    const text = buffer.toString('utf8', 0, end);
    for (let at = 0; at < text.length;) {
      const nl = text.indexOf('\n', at);
      const parsed = parseLine(text.slice(at, nl), ++n, false);
      at = nl + 1;
      if (parsed && 'header' in parsed) header = parsed.header;
      else if (parsed && 'event' in parsed) events.push(parsed.event);
      else if (parsed) problems.push(parsed.problem);
      // Never hold the event loop for long: other requests are served between slices of work.
      if (performance.now() - t0 > 8) (await new Promise<void>((r) => setImmediate(r)), (t0 = performance.now()));
    }
    // A line longer than maxBytes can never be finished within one read: report it once and skip past its
    // newline (the lines after it keep their numbers). Without a newline yet it is an unfinished last line,
    // left for a later read like any other.
    if (end === 0 && bytesRead === maxBytes) {
      const past = await lineEnd(handle, from + bytesRead, size);
      if (past < 0) return { events, problems, next: from, lines: n, size };
      return {
        events,
        problems: [`line ${n + 1}: longer than ${maxBytes} bytes, ignored`],
        next: past,
        lines: n + 1,
        size,
      };
    }
    return { header, events, problems, next: from + end, lines: n, size };
  } finally {
    await handle.close();
  }
}

/** The offset just past the first newline at or after `at` (read in 64 KiB pieces), or -1 when none yet. */
async function lineEnd(handle: FileHandle, at: number, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let pos = at; pos < size;) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, size - pos), pos);
    if (bytesRead === 0) break;
    const nl = chunk.subarray(0, bytesRead).indexOf(0x0a);
    if (nl >= 0) return pos + nl + 1;
    pos += bytesRead;
  }
  return -1;
}

class JsonlRunLog implements RunLog {
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

/** Strings JSON.stringify leaves as they are between quotes (no quote, backslash, control or lone surrogate). */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const jsonString = (s: string) => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
const jsonNumber = (n: number) => (Number.isFinite(n) ? `${n}` : 'null');

/**
 * An event's JSON line, the same JSON as `JSON.stringify(event)`: the three events every task makes
 * (ready, started, succeeded) are written field by field from their declared fields (core/events.ts, a
 * closed union) with only their free values (a task's output, its input sources) through JSON.stringify,
 * about three times faster; every other event, and one with a field of an unexpected type, by JSON.stringify.
 */
export function eventJson(e: RunEvent): string {
  if (typeof e.seq !== 'number' || typeof e.ts !== 'string' || typeof e.runId !== 'string') return JSON.stringify(e);
  const head = `{"seq":${jsonNumber(e.seq)},"ts":${jsonString(e.ts)},"runId":${jsonString(e.runId)},"type":"${e.type}","taskId":`;
  switch (e.type) {
    case 'task.ready':
      if (typeof e.taskId !== 'string' || typeof e.visit !== 'number' || ownKeys(e) !== 6 + +('routedFrom' in e)) break;
      return `${head}${jsonString(e.taskId)},"visit":${jsonNumber(e.visit)}${e.routedFrom === undefined ? '' : `,"routedFrom":${JSON.stringify(e.routedFrom)}`}}`;
    case 'task.started':
      if (
        typeof e.taskId !== 'string' ||
        typeof e.tool !== 'string' ||
        typeof e.attempt !== 'number' ||
        typeof e.visit !== 'number' ||
        (e.inputHash !== undefined && typeof e.inputHash !== 'string') ||
        (e.inputBytes !== undefined && typeof e.inputBytes !== 'number') ||
        ownKeys(e) !==
          8 + +('item' in e) + +('sources' in e) + +('inputHash' in e) + +('input' in e) + +('inputBytes' in e)
      )
        break;
      {
        const input = 'input' in e ? JSON.stringify(e.input) : undefined;
        return `${head}${jsonString(e.taskId)},"tool":${jsonString(e.tool)},"attempt":${jsonNumber(e.attempt)},"visit":${jsonNumber(e.visit)}${e.item === undefined ? '' : `,"item":${JSON.stringify(e.item)}`}${e.sources === undefined ? '' : `,"sources":${JSON.stringify(e.sources)}`}${e.inputHash === undefined ? '' : `,"inputHash":${jsonString(e.inputHash)}`}${input === undefined ? '' : `,"input":${input}`}${e.inputBytes === undefined ? '' : `,"inputBytes":${jsonNumber(e.inputBytes)}`}}`;
      }
    case 'task.succeeded': {
      if (
        typeof e.taskId !== 'string' ||
        typeof e.attempt !== 'number' ||
        typeof e.visit !== 'number' ||
        typeof e.durationMs !== 'number' ||
        ownKeys(e) !== 8 + +('output' in e) + +('replayed' in e)
      )
        break;
      const output = JSON.stringify(e.output);
      return `${head}${jsonString(e.taskId)},"attempt":${jsonNumber(e.attempt)},"visit":${jsonNumber(e.visit)},"durationMs":${jsonNumber(e.durationMs)}${output === undefined ? '' : `,"output":${output}`}${e.replayed === undefined ? '' : `,"replayed":${JSON.stringify(e.replayed)}`}}`;
    }
  }
  return JSON.stringify(e);
}

/**
 * An event's enumerable keys (-1 when one is inherited): any other key than its type declares sends it to
 * JSON.stringify.
 */
function ownKeys(e: object): number {
  let n = 0;
  for (const k in e) {
    if (!Object.hasOwn(e, k)) return -1;
    n++;
  }
  return n;
}

/**
 * `mkdir -p`, one level at a time, so the error is the real one (a recursive mkdir reports ENOENT on a read-only file
 * system).
 */
function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Write all of `bytes` at `position` (a write on a full disk can be partial): the bytes written, and the error that
 * stopped it.
 */
function writeAll(fd: number, bytes: Buffer, position: number): { written: number; error?: unknown } {
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written);
  } catch (error) {
    return { written, error };
  }
  return { written };
}

function closeQuiet(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Byte offset just after the last newline (0 when none). */
function lastNewline(fd: number, size: number): number {
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const at = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}
