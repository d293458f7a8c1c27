/** The run result (workflow-spec.md §8): what `runWorkflow` returns and `braid run --json` prints. */
import type { ErrorRecord, Usage } from './events.js';

/** A finished task's status. @public */
export type TaskStatus = 'succeeded' | 'failed' | 'skipped';
/** `waiting`: paused for a human approval (`approval: true`); `braid approve` continues it. @public */
export type RunStatus = 'succeeded' | 'failed' | 'cancelled' | 'waiting';
/**
 * In a result: terminal; in a `waiting` run or a record read mid-flight also not decided yet, running or waiting for
 * approval.
 * @public
 */
export type TaskResultStatus = TaskStatus | 'pending' | 'running' | 'waiting';
/**
 * How one attempt ended (typed apart from a task's status: a task's attempt fails and the task goes on to succeed,
 * or to be skipped by its failure policy). @public
 */
export type AttemptOutcome = 'succeeded' | 'failed';
export type LabelSource = 'output' | 'field' | 'classifier';
/** Why a task was skipped. @public */
export type SkipReason =
  | 'condition_false'
  | 'upstream_failed'
  | 'upstream_skipped'
  | 'not_routed'
  | 'cancelled'
  /** The task failed and its `on_failure` policy ends in `skip`. */
  | 'failure_skipped'
  /** A run budget was exceeded before the task could run (or finish: its attempt was aborted). */
  | 'budget_exceeded'
  /** A human rejected the task at its approval (`braid approve --reject`). */
  | 'rejected'
  /**
   * Another run-fatal error (`E_MAX_VISITS`, an internal error, a record that cannot be written) stopped the run
   * before the task could run or finish (workflow-spec.md §7: run-fatal errors behave alike).
   */
  | 'run_failed';

export interface AttemptRecord {
  readonly visit: number;
  readonly attempt: number;
  readonly status: AttemptOutcome;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly error?: ErrorRecord;
  /** The for_each item this attempt ran. */
  readonly item?: number;
  /** The fallback tool, when not the task's own. */
  readonly tool?: string;
  /** What the attempt's tool spent on model calls (through `ctx.llm` and child runs). */
  readonly usage?: Usage;
}

/** One task's result in a `RunResult`. @public */
export interface TaskResult {
  status: TaskResultStatus;
  reason?: SkipReason;
  output?: unknown;
  label?: string;
  labelSource?: LabelSource;
  /** The classifier's explanation, when it decided the label. */
  labelReason?: string;
  error?: ErrorRecord;
  /** Attempts over all visits. */
  attempts: number;
  visits: number;
  startedAt?: string;
  endedAt?: string;
  /** Where each input field came from when the task took data beyond its explicit input (workflow-spec.md §5a). */
  inputSources?: Record<string, string>;
  /**
   * The effective input its latest attempt received (from the record: `braid show`, the dashboard), cut to the start
   * of its JSON past 64 KiB (`inputBytes` then set), and its hash (workflow-spec.md §7a).
   */
  input?: unknown;
  inputHash?: string;
  inputBytes?: number;
  /** LLM tokens and cost spent by this task (tool calls and classifier). */
  usage?: Usage;
  history?: AttemptRecord[];
}

/** Forget how a task's previous visit ended (it is about to end again). */
export function clearOutcome(t: TaskResult): void {
  (delete t.reason, delete t.output, delete t.label, delete t.labelSource, delete t.labelReason, delete t.error);
}

/** What `runWorkflow` returns: the run's status, each task's result, the output, the usage. @public */
export interface RunResult {
  runId: string;
  workflow: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string;
  /** Why the run failed when no single task explains it (e.g. max_visits). */
  error?: ErrorRecord;
  /**
   * The workflow's `output` rendered over the finished tasks; without one, `{ <id>: output }` of the tasks nothing
   * depends on that succeeded.
   */
  output?: unknown;
  /** The run succeeded but every task nothing depends on was skipped: it produced nothing (`--fail-on-empty`). */
  empty?: true;
  tasks: Record<string, TaskResult>;
  usage?: Usage;
}
