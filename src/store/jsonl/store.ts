/**
 * The default run store: one JSONL file per run under `<dir>/<runId>.jsonl`, header line first; its lock under
 * `<dir>/.locks/`. This module opens, lists and folds records; the writer (writer.ts), the reader (reader.ts) and
 * the line format (serializer.ts) are their own modules.
 */
import { fstatSync, ftruncateSync, openSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BraidError } from '../../errors.js';
import { describeThrown } from '../../core/thrown.js';
import { checkRunId, RUN_ID } from '../../core/run-id.js';
import { acquireRunLock, type RunLock } from '../run-lock.js';
import type { FoldedRecord, RunHeader, RunLockHandle, RunLog, RunRecord, RunStore } from '../types.js';
import { closeQuiet, lastNewline, mkdirs, storeError, unlinkQuiet, writeAll } from './files.js';
import { foldFile, readSlice, type RecordSlice } from './reader.js';
import { parseRunLog } from './serializer.js';
import { JsonlRunLog } from './writer.js';
import { followIncrementally } from './follow.js';
import type { FollowOptions } from '../types.js';
import type { RunEvent } from '../../core/events.js';

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

  /** The run's events after `afterSeq`; with `follow`, the ones appended later (polled) until the run is over. */
  follow(runId: string, options: FollowOptions = {}): AsyncGenerator<RunEvent> {
    return followIncrementally((from, lines) => this.readFrom(runId, from, lines), options);
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
    const folded = foldFile((from, lines) => this.readFrom(runId, from, lines), alive, version);
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
