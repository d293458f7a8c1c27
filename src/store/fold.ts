/**
 * Rebuild a run from its events: the same result `runWorkflow` returned, for any prefix of the log
 * (a run killed mid-flight shows its running tasks), plus what a resume needs to replay.
 */
import type { ErrorRecord, RunEvent } from '../core/events.js';
import { foldEvent } from '../core/event-table.js';
import type { JsonPatchOp } from '../core/json-patch.js';
import type { LabelSource } from '../core/result.js';
import { PendingLabels, RunState, type RecordedRun } from '../core/run-state.js';
import { addUsage } from '../core/usage.js';
import type { RunRecord } from './types.js';

export type { RecordedRun } from '../core/run-state.js';

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

/**
 * The fold one event at a time (a large record is folded while it is read, without holding its events): the
 * event table's folds (core/event-table.ts), without the detail only the dashboard and the timeline keep.
 * @beta
 */
export class RunFolder {
  readonly #state: RunState;
  readonly #problems: string[] = [];

  constructor(
    readonly header: RunRecord['header'],
    private readonly alive: (pid: number) => boolean = () => false,
  ) {
    this.#state = new RunState(
      {
        runId: header?.runId ?? '',
        workflow: String(header?.workflow.name ?? ''),
        startedAt: String(header?.createdAt ?? ''),
      },
      (header?.workflow.tasks ?? []).map((t) => t.id),
    );
    this.#state.pid = header?.pid;
  }

  add(e: RunEvent): void {
    try {
      foldEvent(this.#state, e);
    } catch (err) {
      this.#problems.push(`event ${e.seq} (${e.type}): ${(err as Error).message}, ignored`);
    }
  }

  /** The run as folded so far (a copy of the running state is not taken: call once, at the end). */
  result(): RecordedRun {
    const s = this.#state;
    const run = s.run;
    run.usage = undefined;
    for (const t of Object.values(s.tasks)) run.usage = addUsage(run.usage, t.usage);
    if (!run.usage) delete run.usage;
    if (run.status === 'running' && !(s.pid && this.alive(s.pid))) run.status = 'interrupted';
    if (s.resumedAt !== undefined) run.activeMs = s.active + (s.lastAt - s.segmentStart);
    if (this.#problems.length) run.problems = [...this.#problems];
    return run;
  }
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
