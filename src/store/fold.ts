/**
 * Rebuild a run from its events: the same result `runWorkflow` returned, for any prefix of the log
 * (a run killed mid-flight shows its running tasks), plus what a resume needs to replay.
 */
import type { ErrorRecord, RunEvent } from '../core/events.js';
import { foldEvent } from '../core/event-table.js';
import type { Replay } from '../core/replay.js';
import { RunState, type RecordedRun } from '../core/run-state.js';
import { addUsage } from '../core/usage.js';
import type { RunRecord } from './types.js';

export type { RecordedRun } from '../core/run-state.js';
export {
  attemptKey,
  visitKey,
  type Replay,
  type ReplayedApproval,
  type ReplayedSuccess,
  type Spent,
} from '../core/replay.js';

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

/** What a resumed run reuses: every recorded success (per visit) and every human decision (the fold's replay level). */
export function replayOf(events: readonly RunEvent[]): Replay {
  const state = new RunState({ runId: '', workflow: '', startedAt: '' }, [], { replay: true });
  for (const e of events) {
    try {
      foldEvent(state, e);
    } catch {
      // an event the fold cannot take (a damaged record): `braid show` reports it; the resume goes on without it
    }
  }
  return state.replay!.result();
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
