/** The closed union of run events (workflow-spec.md §8). Every event has `seq`, `ts`, `runId`, `type`. */
import type { RecordedErrorCode } from '../errors.js';
import type { JsonPatchOp } from './json-patch.js';
import type { LabelSource, RunStatus, SkipReason } from './result.js';

export interface EventBase {
  /** Monotonic per run, from 1. */
  readonly seq: number;
  /** ISO-8601 time. */
  readonly ts: string;
  readonly runId: string;
}

export interface ErrorRecord {
  readonly message: string;
  /**
   * One of `ERROR_CODES` when braid raised the error; a tool's own error keeps the code it carried (`ENOENT`), and a
   * record another version wrote may hold a code this one does not know (`RecordedErrorCode`, `isErrorCode`).
   */
  readonly code?: RecordedErrorCode;
  /** Where a tool's error was thrown: the stack frames in tool code (braid's own frames and Node's left out). */
  readonly stack?: string;
}

/** Tokens a model call (or a task's, a run's calls) used. @public */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** USD, `null` when the model's price is unknown. */
  readonly costUsd: number | null;
}

/** The version of each tool the workflow can call, by name (toolkit/version.ts; workflow-spec.md §7a). */
export type ToolVersions = Record<string, string>;

export type RunEventBody =
  | { type: 'run.started'; workflow: string; tasks: number; input: unknown; tools?: ToolVersions }
  /**
   * A run continued from its record (`braid resume`/`approve`): recorded successes are reused. `tools`: the versions
   * the attempts from here on call.
   */
  | { type: 'run.resumed'; reused: number; pid: number; tools?: ToolVersions }
  /** `output`: the run's overall result (the workflow's `output`, else the outputs of the tasks nothing depends on). */
  /** `empty`: the run succeeded but every sink (task nothing depends on) was skipped (workflow-spec.md §3). */
  | {
      type: 'run.finished';
      status: RunStatus;
      durationMs: number;
      error?: ErrorRecord;
      output?: unknown;
      empty?: true;
    }
  /**
   * The run was stopped (a cancel, a budget, a run-fatal error): nothing new starts, running attempts are aborted,
   * what is left is skipped with `reason`; `error`: the run-fatal error (none for a cancel). Recorded when it
   * happens, so a record can be decided again (engine/redecide.ts).
   */
  | { type: 'run.stopping'; reason: SkipReason; error?: ErrorRecord }
  | { type: 'task.ready'; taskId: string; visit: number; routedFrom?: string }
  /** `item`: the for_each item this attempt runs. */
  /** `sources`: where each input field came from, when the task took data beyond its explicit input (§5a). */
  /** `worker`: the `braid worker` process (`host:pid`) running the attempt, when not the run's own process. */
  | {
      type: 'task.started';
      taskId: string;
      tool: string;
      attempt: number;
      visit: number;
      item?: number;
      sources?: Record<string, string>;
      /** workflow-spec.md §7a: the hash of the effective input (core/input-hash.ts). */
      inputHash?: string;
      /** The effective input the attempt received; past 64 KiB the start of its canonical JSON (`inputBytes` set). */
      input?: unknown;
      /** The input's size in bytes of canonical JSON, present only when `input` was cut. */
      inputBytes?: number;
      worker?: string;
      /**
       * When the attempt really started, when that was before this event: a worker's start seen by a coordinator
       * that took the run over while the attempt ran (the task's time is counted from it).
       */
      startedAt?: string;
    }
  | { type: 'task.retrying'; taskId: string; attempt: number; delayMs: number; error: ErrorRecord; item?: number }
  /**
   * An `on_failure` step after a failed attempt: `adjust` (the new `input`, or `failed` when no input could
   * be made), `fallback` (the stand-in `tool`), `skip`.
   */
  | {
      type: 'task.recovery';
      taskId: string;
      attempt: number;
      action: 'adjust' | 'fallback' | 'skip';
      error: ErrorRecord;
      item?: number;
      input?: unknown;
      tool?: string;
      failed?: ErrorRecord;
    }
  /** `replayed`: the output comes from the run record of an earlier process, the tool did not run again. */
  | {
      type: 'task.succeeded';
      taskId: string;
      attempt: number;
      visit: number;
      durationMs: number;
      output?: unknown;
      replayed?: true;
    }
  | { type: 'task.failed'; taskId: string; attempt: number; visit: number; durationMs: number; error: ErrorRecord }
  /** `error`: with `failure_skipped`, the failure the policy skipped over. */
  | { type: 'task.skipped'; taskId: string; reason: SkipReason; error?: ErrorRecord }
  /** `candidates`: the labels a classifier chose from (its calls are the task's `llm.call`s that name no attempt). */
  | {
      type: 'task.labeled';
      taskId: string;
      label: string;
      source: LabelSource;
      reason?: string;
      candidates?: readonly string[];
    }
  /**
   * The task needs a human decision (`approval`); the run pauses in state `waiting`. `input`, `inputHash`,
   * `inputBytes`: the effective input the decision is on, as `task.started` records it (absent in older records and
   * for a `for_each` task).
   */
  | { type: 'task.waiting'; taskId: string; visit: number; inputHash?: string; input?: unknown; inputBytes?: number }
  /**
   * A human decision, appended to the record by `braid approve` (the event's `ts` is when). `inputHash`: the waiting
   * input it was made on; `patch`: an approval's edit, as a JSON Patch (RFC 6902) against that input.
   */
  | {
      type: 'task.approval';
      taskId: string;
      visit: number;
      approved: boolean;
      by?: string;
      comment?: string;
      inputHash?: string;
      patch?: readonly JsonPatchOp[];
    }
  /** The task started a child run (e.g. the `plan` tool running the workflow it generated). */
  | { type: 'task.child'; taskId: string; childRunId: string; workflow: unknown }
  | { type: 'task.routed'; taskId: string; to: string; on: 'success' | 'failure' }
  | { type: 'task.progress'; taskId: string; message?: string; progress?: number; data?: unknown }
  | {
      type: 'task.log';
      taskId?: string;
      level: 'debug' | 'info' | 'warn' | 'error';
      message: string;
      fields?: Record<string, unknown>;
    }
  | {
      type: 'llm.call';
      taskId?: string;
      provider: string;
      model: string;
      purpose: string;
      latencyMs: number;
      usage: Usage;
      error?: ErrorRecord;
      /** Made in this child run of the task (its usage counts toward the task, the run and the budget). */
      childRunId?: string;
      /** The sampling temperature the call asked for. */
      temperature?: number;
      /** The prompt file the messages were rendered from, and the SHA-256 of its text. */
      prompt?: { name: string; hash: string };
      /** The SHA-256 of the request as the model saw it: model, messages, functions, schema, temperature. */
      requestHash?: string;
      /** The most completion tokens the request allowed: the task's `max_tokens`, else the tool's, else the model's. */
      maxTokens?: number;
      /** The worst case the run's budget held for the call until its usage was known (workflow-spec.md §7). */
      reserved?: { tokens: number; costUsd: number | null };
      /**
       * Made by this attempt's tool (through `ctx.llm` or a child run); absent for the classifier's and an `adjust`
       * step's calls, which are the task's but no attempt's. An attempt's usage is the sum of its calls.
       */
      visit?: number;
      attempt?: number;
      item?: number;
    };

/** One event of a run, as `onEvent` receives it and the run's record holds it. @public */
export type RunEvent = EventBase & RunEventBody;
/** The `type` of a `RunEvent`. @public */
export type RunEventType = RunEvent['type'];
export type EventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;
