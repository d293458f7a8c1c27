/**
 * The state the event stream folds into (core/event-table.ts holds how each event type changes it). Three levels:
 * - `run`: the run as `braid show`, `GET /runs/:id` and a resume see it (`RecordedRun`, a `TaskResult` per task);
 * - `detail`, kept only when asked for (the dashboard, `braid timeline`): each task's attempts with their times,
 *   model calls, logs, for_each items, recoveries, the approval, and the run's child runs, routes and usage tally;
 * - `replay`, kept only when asked for (a resume, `replayOf`): the recorded successes, decisions and spending.
 * The store folds with neither, so reading a large record holds no per-call list and no output per visit.
 */
import type { ErrorRecord, RunEvent, Usage } from './events.js';
import { clearOutcome, type AttemptOutcome, type LabelSource, type RunResult, type TaskResult } from './result.js';
import { addUsage } from './usage.js';
import { ReplayTally } from './replay.js';

/** A run as its record tells it; `running`/`interrupted` when the log has no `run.finished` yet. @beta */
export interface RecordedRun extends Omit<RunResult, 'status' | 'endedAt'> {
  status: RunResult['status'] | 'running' | 'interrupted';
  endedAt?: string;
  /** Number of the last event. */
  lastSeq: number;
  /** Events that could not be folded (a damaged or forged record), reported for this run only. */
  problems?: string[];
  /** For a resumed run: the time it was being worked on, without the time between a stop and its resume. */
  activeMs?: number;
}

/** How an attempt ended, as a timeline shows it (`retrying`: it failed and another attempt follows). */
export type AttemptStatus = 'running' | 'retrying' | AttemptOutcome;

/** One attempt of a task (of one for_each item), from its `task.started` to the event that ended it. */
export interface AttemptSpan {
  readonly attempt: number;
  readonly visit: number;
  readonly item?: number;
  readonly tool: string;
  readonly startedAt: string;
  endedAt?: string;
  status: AttemptStatus;
  error?: ErrorRecord;
  delayMs?: number;
}

/** Tokens and cost summed over model calls; `unpriced`: some call had no known price (the cost is a lower bound). */
export interface UsageTally {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  calls: number;
  unpriced: boolean;
}

export interface LogEntry {
  readonly ts: string;
  readonly level: 'debug' | 'info' | 'warn' | 'error' | 'progress';
  readonly message: string;
  readonly fields?: Record<string, unknown>;
}

export interface LlmCallEntry {
  readonly ts: string;
  readonly provider: string;
  readonly model: string;
  readonly purpose: string;
  readonly latencyMs: number;
  readonly usage: Usage;
  readonly error?: ErrorRecord;
  readonly childRunId?: string;
}

export interface RecoveryEntry {
  readonly action: 'adjust' | 'fallback' | 'skip';
  readonly attempt: number;
  readonly input?: unknown;
  readonly tool?: string;
  readonly error: ErrorRecord;
  readonly failed?: ErrorRecord;
}

/**
 * A task in detail. Its outcome (status, label, output, error, visits, input) is read from the task's
 * `TaskResult`, the one the store's view holds, so the two views cannot disagree.
 */
export class TaskDetail {
  readonly attempts: AttemptSpan[] = [];
  readonly llm: LlmCallEntry[] = [];
  readonly logs: LogEntry[] = [];
  /** for_each item → how it stands. */
  readonly items = new Map<number, 'running' | 'succeeded' | 'failed'>();
  readonly recoveries: RecoveryEntry[] = [];
  readonly usage: UsageTally = emptyTally();
  approval?: { approved: boolean; by?: string; comment?: string; ts: string };
  tool?: string;
  routedFrom?: string;
  replayed?: true;
  /** Since when the task waits for a human decision (cleared by the decision). */
  waitingSince?: string;
  /** Waits for approval that ended: from `task.waiting` to the decision. */
  readonly waits: { start: string; end: string }[] = [];

  constructor(
    readonly id: string,
    readonly result: TaskResult,
  ) {}

  get status() {
    return this.result.status;
  }
  get reason() {
    return this.result.reason;
  }
  get label() {
    return this.result.label;
  }
  get labelSource() {
    return this.result.labelSource;
  }
  get labelReason() {
    return this.result.labelReason;
  }
  get output() {
    return this.result.output;
  }
  get hasOutput() {
    return 'output' in this.result;
  }
  get error() {
    return this.result.error;
  }
  get visits() {
    return this.result.visits;
  }
  get sources() {
    return this.result.inputSources;
  }
  /** The effective input the latest attempt received, as the record keeps it (workflow-spec.md §7a). */
  get received() {
    return this.result.input;
  }
  get receivedBytes() {
    return this.result.inputBytes;
  }
  get inputHash() {
    return this.result.inputHash;
  }
}

export interface RunDetail {
  input?: unknown;
  /** Task ids in the order first seen (the workflow's order, then any the record adds). */
  readonly order: string[];
  readonly tasks: Map<string, TaskDetail>;
  readonly children: { taskId: string; childRunId: string }[];
  /** `from->to` → how many times the route was taken. */
  readonly routes: Map<string, number>;
  /** Run-level logs (a `task.log` without a task). */
  readonly logs: LogEntry[];
  readonly usage: UsageTally;
}

export const emptyTally = (): UsageTally => ({
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  costUsd: 0,
  calls: 0,
  unpriced: false,
});

export function tally(u: UsageTally, call: Usage): void {
  u.promptTokens += call.promptTokens ?? 0;
  u.completionTokens += call.completionTokens ?? 0;
  u.totalTokens += call.totalTokens ?? 0;
  if (call.costUsd === null || call.costUsd === undefined) u.unpriced = true;
  else u.costUsd += call.costUsd;
  u.calls++;
}

/** A task's label is recorded just before its success: pair them (a failure in between drops it). */
export class PendingLabels {
  readonly #byTask = new Map<string, { label: string; labelSource: LabelSource; labelReason?: string }>();

  see(e: RunEvent): void {
    if (e.type === 'task.labeled')
      this.#byTask.set(e.taskId, {
        label: e.label,
        labelSource: e.source,
        ...(e.reason ? { labelReason: e.reason } : {}),
      });
    else if (e.type === 'task.failed') this.#byTask.delete(e.taskId);
  }

  /** The label fields of the task that just succeeded (none when it had no label). */
  take(taskId: string): Partial<Pick<TaskResult, 'label' | 'labelSource' | 'labelReason'>> {
    const fields = this.#byTask.get(taskId);
    this.#byTask.delete(taskId);
    return fields ?? {};
  }
}

/** What the event table's folds read and change. */
export class RunState {
  /** No prototype: task ids come from the record, which may be forged (`__proto__` is just a key). */
  readonly tasks: Record<string, TaskResult> = Object.create(null);
  readonly run: RecordedRun;
  readonly labels = new PendingLabels();
  readonly detail?: RunDetail;
  /** The process writing the run (from the header, then each `run.resumed`). */
  pid: number | undefined;
  /** Whether an event was folded yet (the first one fills in what the header did not say). */
  seen = false;
  /** The running time: segments from each start or resume to the last event before a stop. */
  segmentStart = 0;
  lastAt = 0;
  active = 0;
  resumedAt?: string;

  /** What a resume reuses, when asked for (`replayOf`). */
  readonly replay?: ReplayTally;

  constructor(
    run: { runId: string; workflow: string; startedAt: string },
    taskIds: readonly string[],
    keep: { readonly detail?: boolean; readonly replay?: boolean } = {},
  ) {
    this.run = { ...run, status: 'running', tasks: this.tasks, lastSeq: 0 };
    if (keep.replay) this.replay = new ReplayTally();
    if (keep.detail)
      this.detail = { order: [], tasks: new Map(), children: [], routes: new Map(), logs: [], usage: emptyTally() };
    for (const id of taskIds) this.task(id);
  }

  /** The task's result, made pending when the record names a task first seen here. */
  task(id: string): TaskResult {
    const t = (this.tasks[id] ??= { status: 'pending', attempts: 0, visits: 0 });
    if (this.detail && !this.detail.tasks.has(id)) {
      this.detail.tasks.set(id, new TaskDetail(id, t));
      this.detail.order.push(id);
    }
    return t;
  }

  /** The task in detail, when detail is kept. */
  more(id: string): TaskDetail | undefined {
    if (!this.detail) return undefined;
    this.task(id);
    return this.detail.tasks.get(id);
  }

  /** The task's visit ended: its outcome so far is forgotten. */
  end(id: string, status: 'succeeded' | 'failed' | 'skipped', endedAt?: string): TaskResult {
    const t = this.task(id);
    clearOutcome(t);
    t.status = status;
    if (endedAt) t.endedAt = endedAt;
    return t;
  }

  addUsage(taskId: string | undefined, usage: Usage): void {
    if (taskId) this.task(taskId).usage = addUsage(this.task(taskId).usage, usage);
    if (this.detail) {
      tally(this.detail.usage, usage);
      if (taskId) tally(this.more(taskId)!.usage, usage);
    }
  }
}

/** The attempt an event belongs to: the open one of this task and for_each item. */
export function openAttempt(t: TaskDetail | undefined, item: number | undefined): AttemptSpan | undefined {
  for (let k = (t?.attempts.length ?? 0) - 1; k >= 0; k--) {
    const a = t!.attempts[k];
    if (a.status === 'running' && a.item === item) return a;
  }
  return undefined;
}

/** End every open attempt of a task. */
export function closeAttempts(t: TaskDetail, ts: string, status: AttemptStatus, error?: ErrorRecord): void {
  for (const a of t.attempts)
    if (a.status === 'running') Object.assign(a, { status, endedAt: ts, ...(error ? { error } : {}) });
}

/** End an attempt (when there is one). */
export function closeAttempt(a: AttemptSpan | undefined, ts: string, status: AttemptStatus, more = {}): void {
  if (a) Object.assign(a, { status, endedAt: ts, ...more });
}
