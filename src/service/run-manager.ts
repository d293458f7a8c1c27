/**
 * Runs started on demand (by the chat agent or the HTTP server): each gets a handle that keeps its events,
 * so a late subscriber replays what it missed and then follows live, and its result when done.
 */
import { BraidError } from '../errors.js';
import { cancelRecordedRun, newRunId, prepareResume, resolveInput, runWorkflow, type Approval } from '../engine/run.js';
import type { RunResult } from '../core/result.js';
import type { RunEvent } from '../core/events.js';
import type { LlmProvider } from '../llm/types.js';
import type { AttemptExecutor } from '../executors/contract.js';
import type { RunStore } from '../store/types.js';
import type { TriggerRef } from '../spec/triggers.js';
import type { CatalogEntry, WorkflowCatalog } from './catalog.js';

/** A run the `RunManager` started: its events so far, its result once done. @beta */
export class RunHandle {
  readonly events: RunEvent[] = [];
  result?: RunResult;
  error?: Error;
  readonly #listeners = new Set<(e: RunEvent) => void>();
  readonly #controller = new AbortController();
  readonly done: Promise<RunResult>;

  constructor(
    readonly runId: string,
    readonly workflow: string,
    start: (onEvent: (e: RunEvent) => void, signal: AbortSignal) => Promise<RunResult>,
  ) {
    this.done = start((e) => this.#publish(e), this.#controller.signal).then(
      (result) => (this.result = result),
      (err: Error) => {
        this.error = err;
        throw err;
      },
    );
    this.done.catch(() => {}); // observed through `error`; never an unhandled rejection
  }

  get finished(): boolean {
    return this.result !== undefined || this.error !== undefined;
  }

  cancel(): void {
    this.#controller.abort();
  }

  #publish(e: RunEvent): void {
    this.events.push(e);
    for (const l of this.#listeners) l(e);
  }

  /** Past events, then live ones, until the run ends (or `signal` aborts). */
  async *stream(signal?: AbortSignal, afterSeq = 0): AsyncGenerator<RunEvent> {
    const queue: RunEvent[] = this.events.filter((e) => e.seq > afterSeq);
    let wake: (() => void) | undefined;
    const listener = (e: RunEvent) => {
      queue.push(e);
      wake?.();
    };
    this.#listeners.add(listener);
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    const ended = () => this.finished || signal?.aborted;
    void this.done.finally(() => wake?.()).catch(() => {}); // the run's error is kept in `error` (see the constructor)
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (ended()) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#listeners.delete(listener);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Options of `RunManager`. @beta */
export interface RunManagerOptions {
  readonly catalog: WorkflowCatalog;
  readonly store?: RunStore;
  readonly llm?: LlmProvider;
  readonly concurrency?: number;
  /** Where attempts run (e.g. BullMQ workers). @default in this process */
  readonly executor?: AttemptExecutor;
  /** Finished runs kept in memory (older ones are still read from the store). @default 500 */
  readonly keepFinished?: number;
}

/** Starts runs on demand (the chat agent, the HTTP server) and keeps each one's events and result. @beta */
export class RunManager {
  readonly #runs = new Map<string, RunHandle>();

  constructor(readonly options: RunManagerOptions) {}

  /**
   * Validate the input now (throws `InputValidationError`), then run in the background; `runId` and `trigger` are
   * given for a run a trigger started (its header records the trigger).
   */
  start(
    workflowName: string,
    input: Record<string, unknown> = {},
    options: { readonly runId?: string; readonly trigger?: TriggerRef } = {},
  ): RunHandle {
    const entry = this.entry(workflowName);
    const resolved = resolveInput(entry.workflow, input);
    const runId = options.runId ?? newRunId();
    const { store, llm, concurrency, catalog, executor } = this.options;
    const handle = new RunHandle(runId, entry.name, (onEvent, signal) =>
      runWorkflow(entry.workflow, {
        tools: catalog.toolsFor(entry),
        input: resolved,
        runId,
        store: store ?? false,
        llm,
        concurrency,
        executor,
        onEvent,
        signal,
        ...(entry.file ? { recordSource: { file: entry.file } } : {}),
        ...(options.trigger ? { trigger: options.trigger } : {}),
      }),
    );
    this.#track(handle);
    return handle;
  }

  /**
   * Continue a recorded run (after an approval, or a crash) in the background. Resolves once its lock is
   * held and the decision (if any) checked: `E_LOCKED` when another process continues it, `E_RUN_STATE` when it
   * cannot continue.
   */
  async resume(runId: string, workflowName: string, approve?: Approval): Promise<RunHandle> {
    const { store, llm, concurrency, catalog, executor } = this.options;
    if (!store) throw new BraidError('E_CONFIG', 'resuming needs a run store');
    const entry = this.entry(workflowName);
    const tools = catalog.toolsFor(entry);
    const pending = await prepareResume(runId, { store, tools, llm, concurrency, executor, approve });
    const handle = new RunHandle(runId, entry.name, (onEvent, signal) => pending.start({ onEvent, signal }));
    this.#track(handle);
    return handle;
  }

  /** Cancel a recorded run no process is running (e.g. one waiting for an approval). */
  async cancelRecorded(runId: string) {
    const { store } = this.options;
    if (!store) throw new BraidError('E_CONFIG', 'cancelling a recorded run needs a run store');
    const result = await cancelRecordedRun(store, runId);
    this.#runs.delete(runId); // its handle's result (waiting) is out of date: the record answers now
    return result;
  }

  #track(handle: RunHandle): void {
    this.#runs.delete(handle.runId); // a resumed run moves to the end
    this.#runs.set(handle.runId, handle);
    const keep = this.options.keepFinished ?? 500;
    const finished = [...this.#runs.values()].filter((h) => h.finished);
    for (const h of finished.slice(0, Math.max(0, finished.length - keep))) this.#runs.delete(h.runId);
  }

  get(runId: string): RunHandle | undefined {
    return this.#runs.get(runId);
  }

  list(): RunHandle[] {
    return [...this.#runs.values()];
  }

  entry(workflowName: string): CatalogEntry {
    const entry = this.options.catalog.get(workflowName);
    if (!entry)
      throw new BraidError(
        'E_NOT_FOUND',
        `no workflow "${workflowName}"; available: ${
          this.options.catalog
            .list()
            .map((e) => e.name)
            .join(', ') || '(none)'
        }`,
        { path: 'workflow' },
      );
    return entry;
  }
}
