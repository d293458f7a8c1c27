/**
 * Where an attempt runs. The scheduler decides *what* runs and *when*; an executor runs one attempt of one
 * task and answers with data. The request and the result are plain, serializable data (a queue or another
 * machine can carry them); what only exists in the run's own process (the tool object, `ctx` with its
 * logger, progress, model and child runs, the run's abort signal) is offered by the {@link AttemptHost}.
 * An executor that sends attempts to another machine uses the host for `started()`, the events it forwards, the
 * run's `signal`, `tool()` (to choose the tool's queue, or to run a tool that must stay in process) and
 * `idempotencyKey` (sent along with the request); the other machine runs the tool named in the request from its own
 * registry.
 *
 * `test/executor-contract.test.ts` runs the same contract suite against every implementation.
 */
import type { RecordedErrorCode } from '../errors.js';
import type { LlmCallInfo } from '../llm/types.js';
import type { ToolContext, Tool, ToolProgress } from '../toolkit/types.js';

/** One attempt of one task. @beta */
export interface AttemptRequest {
  readonly runId: string;
  readonly taskId: string;
  /** 1 for the first entry into the task; routing loops enter it again. */
  readonly visit: number;
  /** 1 for the first try of this visit (and this `for_each` item). */
  readonly attempt: number;
  /** The tool's name (a fallback tool's name after an `on_failure` fallback). */
  readonly tool: string;
  /** The rendered (effective) input, not yet validated against the tool's schema. */
  readonly input: unknown;
  /**
   * `ctx.idempotencyKey` of the attempt (workflow-spec.md §7a), made by the run's process: set on a request sent to
   * another process (from `AttemptHost.idempotencyKey`); in process, the tool's `ctx` has it.
   */
  readonly idempotencyKey?: string;
  /** The attempt fails with `E_TIMEOUT` this long after it starts; none when undefined. */
  readonly timeoutMs?: number;
  /** The task's `max_tokens`: the `maxTokens` of the tool's model calls (else the tool's, else the provider's). */
  readonly maxTokens?: number;
  /** The `for_each` item's index. */
  readonly item?: number;
  /**
   * The generation of the coordinator's lease on the run (a fencing token; distributed executors only): a cancel
   * sent by a coordinator of an older generation never stops this attempt, and what an older one's cancel did to
   * an attempt is not taken as its result.
   */
  readonly generation?: number;
}

/** A failed attempt's error, as data. @beta */
export interface AttemptError {
  readonly message: string;
  /** As in a run record: one of `ERROR_CODES` for braid's errors, else the code the tool's error carried. */
  readonly code?: RecordedErrorCode;
  /** Only frames in tool code. */
  readonly stack?: string;
  /** False: the retry policy does not try this again (invalid input, `NonRetriableError`, cancellation). */
  readonly retryable: boolean;
}

/**
 * `endedAt` (ISO time) is stamped when the tool ended, before the slot is given to the next attempt. `calls`: the
 * model calls the tool made through `ctx.llm`, in order, when it ran in another process (the run's process records
 * those whose reports it did not see: a coordinator that took the run over, or a report lost on the way).
 * @beta
 */
export type AttemptResult =
  | {
      readonly status: 'succeeded';
      readonly output: unknown;
      readonly durationMs: number;
      readonly endedAt: string;
      readonly calls?: readonly LlmCallInfo[];
    }
  | {
      readonly status: 'failed';
      readonly error: AttemptError;
      readonly durationMs: number;
      readonly endedAt: string;
      readonly calls?: readonly LlmCallInfo[];
    }
  /** The run was stopped before the attempt got to start. */
  | { readonly status: 'cancelled' };

/** What the process that runs the workflow offers an attempt. @beta */
export interface AttemptHost {
  /** The tool a request names, in this process. */
  tool(name: string): Tool;
  /**
   * The attempt got its slot and is about to call the tool: the scheduler records the start and emits
   * `task.started` (with `worker`, the process that runs it when not this one: `host:pid`; `startedAt` when it
   * started before now, e.g. under a coordinator this one took the run over from). False when the run was
   * stopped meanwhile: do not start, answer `cancelled`.
   */
  started(worker?: string, startedAt?: string): boolean;
  /**
   * `ctx` for the tool, bound to the attempt's abort signal; its logs, progress and model calls become the run's
   * events.
   */
  context(signal: AbortSignal): ToolContext;
  /** Aborted when the run is cancelled or stopped (the tool's own signal follows it in process). */
  readonly signal: AbortSignal;
  /**
   * `ctx.idempotencyKey` of the attempt (workflow-spec.md §7a), made when first read (a hash most attempts never
   * need): an executor that sends the request to another process sends it along as the request's `idempotencyKey`.
   */
  readonly idempotencyKey?: string;
  /**
   * What a tool running in another process reported through its `ctx` (a log line, progress, a model call):
   * it becomes the run's event as if the tool ran here (`task.log`, `task.progress`, `llm.call` and usage).
   */
  forward(event: AttemptEvent): void;
}

/** A tool's report through `ctx`, as data (what crosses from a worker to the run's process). @beta */
export type AttemptEvent =
  | {
      readonly type: 'log';
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly message: string;
      readonly fields?: Record<string, unknown>;
    }
  | ({ readonly type: 'progress' } & ToolProgress)
  | { readonly type: 'llm'; readonly info: LlmCallInfo };

/** Runs one attempt of one task for the scheduler: in process (`LocalExecutor`) or on workers. @beta */
export interface AttemptExecutor {
  /** Run one attempt once the run and the tool have a free slot. Never rejects: a failure is a `failed` result. */
  execute(request: AttemptRequest, host: AttemptHost): Promise<AttemptResult>;
  /**
   * The run was stopped: every attempt of `runId` in flight fails at once with `reason` (its tool's signal is
   * aborted; a tool that ignores it is not waited for). Attempts still queued answer `cancelled` when their
   * slot comes (`started()` is false).
   */
  cancel(runId: string, reason: Error): void;
}
