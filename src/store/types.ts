/**
 * Run state lives behind this interface: an append-only event log per run, from which the result is rebuilt.
 * What every store must do: `create`, `lock`, `reopen`, `read`, `list`. The rest is optional, for a store that can do
 * it better than the fallback (`fold`, `follow`, `version`). The JSONL store is the default, Redis and memory the
 * others.
 */
import type { BraidError } from '../errors.js';
import type { RunEvent } from '../core/events.js';
import type { TriggerRef } from '../spec/triggers.js';
import type { Workflow } from '../spec/workflow.js';
import type { RecordedRun } from './fold.js';

/**
 * The version of the records this braid writes. 3 (2026-12): an approval may carry an edit (`task.approval`'s
 * `patch`), which the task must run with: a braid that reads up to 2 would resume it with the input unedited, so it
 * refuses the record instead. 2: attempts record their input and `inputHash`, model calls the attempt that made
 * them, their prompt and request hashes, runs the versions of their tools. 1: none of that. Older records still
 * show, explain and resume.
 */
export const RECORD_VERSION = 3;

/** The first record of a run log: what is needed to continue the run in another process. @beta */
export interface RunHeader {
  readonly type: 'run.record';
  /** `RECORD_VERSION` when written; older records carry an older one. */
  readonly version: number;
  readonly runId: string;
  readonly createdAt: string;
  /** The validated workflow definition the run executes (the file may change later). */
  readonly workflow: Workflow;
  readonly input: Record<string, unknown>;
  /** Where the workflow and tools came from, so `braid resume` can load the same tools. */
  readonly source?: { readonly file?: string; readonly tools?: readonly string[]; readonly mcp?: string };
  /** The process that wrote the log last: tells a running run from an interrupted one. */
  readonly pid?: number;
  /** What started the run when it started itself (workflow-spec.md §10): a schedule's due time, an event's id. */
  readonly trigger?: TriggerRef;
}

/** An open run log. `append` never blocks the scheduler; writes are group-committed in the background. @beta */
export interface RunLog {
  append(event: RunEvent): void;
  /**
   * Called once when the log cannot take more events (disk full, a read-only store, an event that cannot
   * be serialized, its lock taken away): the run must stop. Appends after that are dropped; what was
   * written stays readable.
   */
  onFailure?: (err: BraidError) => void;
  /** The failure, once there was one. */
  readonly failure?: BraidError;
  /** Resolves when every appended event is durable (written and fsync'd). */
  flush(): Promise<void>;
  /**
   * Write what is buffered, synchronously, for `process.exit` paths (a store that does not buffer in the process
   * makes it a no-op).
   */
  flushSync(): void;
  /** Writes what is left, releases the run's lock; resolves when durable (rejects with the failure, if any). */
  close(): Promise<void>;
}

/** The exclusive right to append to one run's record (one writer per run). @beta */
export interface RunLockHandle {
  readonly runId: string;
  release(): void;
}

/** A run's record: its header and events. @beta */
export interface RunRecord {
  readonly header?: RunHeader;
  readonly events: RunEvent[];
  /** Lines that could not be read (e.g. a truncated last line after `kill -9`), reported, never thrown. */
  readonly problems: readonly string[];
  /**
   * Whether a writer holds the run now, when the store knows it from a lease (Redis): then a `running`
   * record is told from an interrupted one by it, not by asking whether the writer's pid lives here.
   */
  readonly live?: boolean;
  /**
   * Why the record is not to be believed (a store that authenticates records, e.g. Redis, found its header's MAC
   * wrong): such a record is shown with this problem and never resumed, approved, cancelled or taken over.
   */
  readonly untrusted?: string;
}

/** Where run records are kept: `JsonlRunStore`, `RedisRunStore`, `MemoryRunStore`, or your own. @beta */
export interface RunStore {
  /** Start the log of a new run (its lock taken, its header written before this resolves). */
  create(header: RunHeader): Promise<RunLog>;
  /**
   * Take a run's lock: exactly one process continues a run; any other fails at once (`E_LOCKED`, naming
   * the holder). Read the record after taking it, then `reopen` with it. (A store whose back end serialises
   * writers itself, e.g. a database transaction per run, may hand out a handle that only marks the run busy.)
   */
  lock(runId: string): Promise<RunLockHandle>;
  /**
   * Reopen the log of an existing run to append to it (resume, approve), under its lock (taken here when not given).
   */
  reopen(runId: string, lock?: RunLockHandle): Promise<RunLog>;
  read(runId: string): Promise<RunRecord>;
  /** Run ids, newest first. */
  list(): Promise<string[]>;
  /**
   * The run rebuilt from its record without holding its events (cached while unchanged); optional: `read` + `foldRun`
   * serve otherwise.
   */
  fold?(runId: string, alive?: (pid: number) => boolean): Promise<FoldedRecord>;
  /**
   * The run's events from `afterSeq` on and, with `follow`, the ones appended later until the run finishes or
   * its writer is gone (Redis: `XREAD BLOCK`; JSONL: reading what was appended). Optional: `followRun` polls
   * `read` otherwise.
   */
  follow?(runId: string, options: FollowOptions): AsyncGenerator<RunEvent>;
  /** A token that changes whenever the run's record (or whether a writer holds it) changes: a cache key. Optional. */
  version?(runId: string): Promise<string | undefined>;
}

/** How to follow a run: `followRun`'s options, which a store's own `follow` receives. @beta */
export interface FollowOptions {
  /** Keep reading until the run finishes or its writer is gone. */
  readonly follow?: boolean;
  /** Only events after this number. */
  readonly afterSeq?: number;
  readonly signal?: AbortSignal;
  /** @default 200 */
  readonly pollMs?: number;
  /** Unreadable lines (a truncated last line while following is left alone: it is being written). */
  readonly onProblem?: (problem: string) => void;
}

/** A run rebuilt from its record. @beta */
export interface FoldedRecord {
  readonly header?: RunHeader;
  readonly run: RecordedRun;
  /** Lines and events that could not be read or folded. */
  readonly problems: string[];
  /** Changes when the record changes (the JSONL store: its size and modification time). */
  readonly version: string;
}
