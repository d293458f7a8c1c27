/**
 * Run state lives behind this interface: an append-only event log per run, from which the result is rebuilt.
 * The file store (JSONL) is the default; a database or Redis store fits the same three verbs.
 */
import type { RunEvent } from '../events/types.js';
import type { Workflow } from '../spec/workflow.js';

/** The first record of a run log: what is needed to continue the run in another process. */
export interface RunHeader {
  readonly type: 'run.record';
  readonly version: 1;
  readonly runId: string;
  readonly createdAt: string;
  /** The validated workflow definition the run executes (the file may change later). */
  readonly workflow: Workflow;
  readonly input: Record<string, unknown>;
  /** Where the workflow and tools came from, so `braid resume` can load the same tools. */
  readonly source?: { readonly file?: string; readonly tools?: readonly string[] };
  /** The process that wrote the log last: tells a running run from an interrupted one. */
  readonly pid?: number;
}

/** An open run log. `append` never blocks the scheduler; writes are group-committed in the background. */
export interface RunLog {
  append(event: RunEvent): void;
  /** Resolves when every appended event is durable (written and fsync'd). */
  flush(): Promise<void>;
  /** Write and fsync what is buffered, synchronously: for `process.exit` paths. */
  flushSync(): void;
  close(): Promise<void>;
}

export interface RunRecord {
  readonly header?: RunHeader;
  readonly events: RunEvent[];
  /** Lines that could not be read (e.g. a truncated last line after `kill -9`), reported, never thrown. */
  readonly problems: readonly string[];
}

export interface RunStore {
  /** Start the log of a new run. */
  create(header: RunHeader): Promise<RunLog>;
  /** Reopen the log of an existing run to append to it (resume, approve). */
  reopen(runId: string): Promise<RunLog>;
  read(runId: string): Promise<RunRecord>;
  /** Run ids, newest first. */
  list(): Promise<string[]>;
}
