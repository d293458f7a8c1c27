/**
 * Rebuild a run from its events: the same result `runWorkflow` returned, for any prefix of the log
 * (a run killed mid-flight shows its running tasks), plus what a resume needs to replay.
 */
import type { ErrorRecord, RunEvent } from '../core/events.js';
import type { JsonPatchOp } from '../core/json-patch.js';
import { clearOutcome, type LabelSource, type RunResult, type TaskResult } from '../core/result.js';
import { addUsage } from '../core/usage.js';
import type { RunRecord } from './types.js';

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

/** A recorded success the resumed run reuses instead of calling the tool again. */
export interface ReplayedSuccess {
  readonly output: unknown;
  readonly label?: string;
  readonly labelSource?: LabelSource;
  readonly labelReason?: string;
  readonly attempt: number;
}

/** A recorded decision: approved or not, the input it was made on, and an approval's edit. */
export interface ReplayedApproval {
  readonly approved: boolean;
  readonly inputHash?: string;
  readonly patch?: readonly JsonPatchOp[];
}

export interface Replay {
  /** `${taskId}#${visit}` → the recorded success of that visit. */
  readonly successes: ReadonlyMap<string, ReplayedSuccess>;
  /** `${taskId}#${visit}` → the human decision on that visit. */
  readonly approvals: ReadonlyMap<string, ReplayedApproval>;
  /** What the run already spent, so its budget goes on from there (workflow-spec.md §7). */
  readonly spent: Spent;
  /**
   * {@link attemptKey} → the model calls recorded for that attempt: a coordinator that takes an attempt over records
   * only the calls its result lists beyond these.
   */
  readonly calls: ReadonlyMap<string, number>;
}

/** An attempt's coordinates as one key: `${taskId}#${visit}.${attempt}[.${item}]`. */
export const attemptKey = (taskId: string, visit: number, attempt: number, item?: number): string =>
  `${taskId}#${visit}.${attempt}${item === undefined ? '' : `.${item}`}`;

/** A run's recorded spending: a budget is the run's, not the process's. */
export interface Spent {
  readonly tokens: number;
  readonly costUsd: number;
  /** `${taskId}#${visit}` of every task visit entered (each counts once toward `max_tasks`, across resumes). */
  readonly visits: ReadonlySet<string>;
  /** Running time: from each start or resume to the last event before the run stopped (waits for a human excluded). */
  readonly runningMs: number;
}

export const visitKey = (taskId: string, visit: number) => `${taskId}#${visit}`;

/** A task's label is recorded just before its success: pair them (a failure in between drops it). */
class PendingLabels {
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

/**
 * `alive(pid)` tells a run still being written from one whose process died. Task ids come from the record,
 * which may be forged: the task table has no prototype, so an id like `__proto__` is just a key, and an event
 * that cannot be folded is reported in `problems` instead of thrown.
 * @beta
 */
export function foldRun(record: RunRecord, alive: (pid: number) => boolean = () => false): RecordedRun {
  const { live } = record;
  const folder = new RunFolder(record.header, live === undefined ? alive : () => live);
  for (const e of record.events) folder.add(e);
  return folder.result();
}

/** The fold one event at a time (a large record is folded while it is read, without holding its events). @beta */
export class RunFolder {
  readonly #tasks: Record<string, TaskResult> = Object.create(null);
  readonly #problems: string[] = [];
  readonly #labels = new PendingLabels();
  readonly #run: RecordedRun;
  #pid: number | undefined;
  #first = true;

  constructor(
    readonly header: RunRecord['header'],
    private readonly alive: (pid: number) => boolean = () => false,
  ) {
    for (const t of header?.workflow.tasks ?? []) this.#tasks[t.id] = { status: 'pending', attempts: 0, visits: 0 };
    this.#pid = header?.pid;
    this.#run = {
      runId: header?.runId ?? '',
      workflow: String(header?.workflow.name ?? ''),
      status: 'running',
      startedAt: String(header?.createdAt ?? ''),
      tasks: this.#tasks,
      lastSeq: 0,
    };
  }

  #segmentStart = 0;
  #lastAt = 0;
  #active = 0;
  #resumed = false;
  #resumedAt?: string;

  add(e: RunEvent): void {
    const at = Date.parse(e.ts);
    if (this.#first) {
      this.#first = false;
      this.#run.runId ||= e.runId;
      this.#run.startedAt ||= e.ts;
      this.#segmentStart = at;
    }
    if (e.type === 'run.resumed' && Number.isFinite(at)) {
      // the time between the last event before the stop and the resume is not the run's
      this.#active += this.#lastAt - this.#segmentStart;
      this.#segmentStart = at;
      this.#resumed = true;
      this.#resumedAt = e.ts;
    } else if (e.type === 'task.started' && this.#resumedAt) {
      // a task run again after a resume: its time starts now, not before the stop (a task the header does not
      // list, in a damaged or forged record, has no time yet)
      const t = this.#tasks[e.taskId];
      if (t?.startedAt !== undefined && t.startedAt < this.#resumedAt) delete t.startedAt;
    }
    if (Number.isFinite(at)) this.#lastAt = at;
    const tasks = this.#tasks;
    const task = (id: string) => (tasks[id] ??= { status: 'pending', attempts: 0, visits: 0 });
    try {
      this.#pid = foldEvent(this.#run, e, task, this.#labels, this.#pid);
    } catch (err) {
      this.#problems.push(`event ${e.seq} (${e.type}): ${(err as Error).message}, ignored`);
    }
  }

  /** The run as folded so far (a copy of the running state is not taken: call once, at the end). */
  result(): RecordedRun {
    const run = this.#run;
    run.usage = undefined;
    for (const t of Object.values(this.#tasks)) run.usage = addUsage(run.usage, t.usage);
    if (!run.usage) delete run.usage;
    if (run.status === 'running' && !(this.#pid && this.alive(this.#pid))) run.status = 'interrupted';
    if (this.#resumed) run.activeMs = this.#active + (this.#lastAt - this.#segmentStart);
    if (this.#problems.length) run.problems = [...this.#problems];
    return run;
  }
}

function foldEvent(
  run: RecordedRun,
  e: RunEvent,
  task: (id: string) => TaskResult,
  labels: PendingLabels,
  pid: number | undefined,
): number | undefined {
  run.lastSeq = Math.max(run.lastSeq, e.seq);
  labels.see(e);
  switch (e.type) {
    case 'run.started':
      run.workflow = e.workflow;
      run.startedAt = e.ts;
      break;
    case 'run.resumed':
      pid = typeof e.pid === 'number' ? e.pid : undefined;
      run.status = 'running';
      delete run.endedAt;
      delete run.error;
      break;
    case 'run.finished':
      run.status = e.status;
      run.endedAt = e.ts;
      if (e.error) run.error = e.error;
      if ('output' in e) run.output = e.output;
      else delete run.output; // an earlier finish (before a resume) said otherwise
      if (e.empty === true) run.empty = true;
      else delete run.empty;
      break;
    case 'task.ready':
      task(e.taskId).visits = e.visit;
      task(e.taskId).status = 'pending';
      break;
    case 'task.started': {
      const t = task(e.taskId);
      t.attempts++;
      t.startedAt ??= e.startedAt ?? e.ts;
      t.status = 'running';
      if (e.sources) t.inputSources = e.sources;
      if (e.inputHash !== undefined) {
        t.inputHash = e.inputHash;
        t.input = e.input;
        if (e.inputBytes !== undefined) t.inputBytes = e.inputBytes;
        else delete t.inputBytes;
      }
      break;
    }
    case 'task.succeeded': {
      const t = terminal(task(e.taskId), 'succeeded', e.replayed ? undefined : e.ts);
      if ('output' in e) t.output = e.output;
      Object.assign(t, labels.take(e.taskId));
      break;
    }
    case 'task.failed':
      terminal(task(e.taskId), 'failed', e.attempt > 0 ? e.ts : undefined).error = e.error;
      break;
    case 'task.skipped': {
      const t = terminal(task(e.taskId), 'skipped');
      t.reason = e.reason;
      if (e.error) t.error = e.error;
      break;
    }
    case 'task.waiting': {
      const t = task(e.taskId);
      t.status = 'waiting';
      // The input the decision is on: shown by `braid show`, the dashboard and GET /runs/:id, bound by `inputHash`.
      if (e.inputHash !== undefined) {
        t.inputHash = e.inputHash;
        t.input = e.input;
        if (e.inputBytes !== undefined) t.inputBytes = e.inputBytes;
        else delete t.inputBytes;
      }
      break;
    }
    case 'llm.call':
      if (e.taskId) task(e.taskId).usage = addUsage(task(e.taskId).usage, e.usage);
      break;
  }
  return pid;
}

function terminal(t: TaskResult, status: 'succeeded' | 'failed' | 'skipped', endedAt?: string): TaskResult {
  clearOutcome(t);
  t.status = status;
  if (endedAt) t.endedAt = endedAt;
  return t;
}

/** What a resumed run reuses: every recorded success (per visit) and every human decision. */
export function replayOf(events: readonly RunEvent[]): Replay {
  const successes = new Map<string, ReplayedSuccess>();
  const approvals = new Map<string, ReplayedApproval>();
  const labels = new PendingLabels();
  const visits = new Set<string>();
  const calls = new Map<string, number>();
  let tokens = 0;
  let costUsd = 0;
  let runningMs = 0;
  let segment: { from: number; last: number } | undefined;
  const close = () => segment && (runningMs += Math.max(0, segment.last - segment.from));
  for (const e of events) {
    labels.see(e);
    const at = Date.parse(e.ts);
    if (e.type === 'run.started' || e.type === 'run.resumed') {
      close();
      segment = Number.isFinite(at) ? { from: at, last: at } : undefined;
    } else if (segment && Number.isFinite(at) && e.type !== 'task.approval') segment.last = at;
    if (e.type === 'task.approval') {
      const { approved, inputHash, patch } = e;
      approvals.set(visitKey(e.taskId, e.visit), {
        approved,
        ...(inputHash !== undefined ? { inputHash } : {}),
        ...(patch ? { patch } : {}),
      });
    } else if (e.type === 'task.succeeded')
      successes.set(visitKey(e.taskId, e.visit), { output: e.output, attempt: e.attempt, ...labels.take(e.taskId) });
    else if (e.type === 'task.ready') visits.add(visitKey(e.taskId, e.visit));
    else if (e.type === 'llm.call') {
      if (e.usage) {
        tokens += e.usage.totalTokens;
        costUsd += e.usage.costUsd ?? 0;
      }
      if (e.taskId && e.visit !== undefined && e.attempt !== undefined) {
        const key = attemptKey(e.taskId, e.visit, e.attempt, e.item);
        calls.set(key, (calls.get(key) ?? 0) + 1);
      }
    }
  }
  close();
  return { successes, approvals, spent: { tokens, costUsd, visits, runningMs }, calls };
}

/** The error a rejected approval failed its task with, before a rejection skipped it (older records). */
export const REJECTED: ErrorRecord = { message: 'rejected by a human (braid approve --reject)', code: 'E_REJECTED' };

/** Whether a process still runs (a record whose writer is alive is `running`, else `interrupted`). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
