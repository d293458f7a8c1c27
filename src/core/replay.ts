/**
 * What a resumed run reuses from its record (the `replay` level of the fold, core/run-state.ts): every recorded
 * success per task visit, every human decision, the visits entered, the model calls per attempt and what the run
 * spent. The event table's folds fill it in; the running clock is kept here.
 */
import type { RunEvent } from './events.js';
import type { JsonPatchOp } from './json-patch.js';
import type { LabelSource } from './result.js';

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

/** The replay being folded: filled in by the event table's folds (core/event-table.ts). */
export class ReplayTally {
  readonly successes = new Map<string, ReplayedSuccess>();
  readonly approvals = new Map<string, ReplayedApproval>();
  readonly visits = new Set<string>();
  readonly calls = new Map<string, number>();
  tokens = 0;
  costUsd = 0;
  #runningMs = 0;
  #segment: { from: number; last: number } | undefined;

  /**
   * The running clock: a segment from each start or resume to the last event before the next one; a decision
   * (`task.approval`, appended when a human made it) does not extend it, so a wait for a human is not running time.
   */
  see(e: RunEvent, at: number): void {
    if (e.type === 'run.started' || e.type === 'run.resumed') {
      this.#close();
      this.#segment = Number.isFinite(at) ? { from: at, last: at } : undefined;
    } else if (this.#segment && Number.isFinite(at) && e.type !== 'task.approval') this.#segment.last = at;
  }

  #close(): void {
    if (this.#segment) this.#runningMs += Math.max(0, this.#segment.last - this.#segment.from);
    this.#segment = undefined;
  }

  result(): Replay {
    this.#close();
    const { successes, approvals, visits, calls, tokens, costUsd } = this;
    return { successes, approvals, spent: { tokens, costUsd, visits, runningMs: this.#runningMs }, calls };
  }
}
