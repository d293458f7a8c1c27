/**
 * The dashboard's model of a run: the event table's fold with its detail (core/event-table.ts), and what the pages
 * compute from it (counts per status, for_each progress, the Gantt rows). scripts/bundle.mjs bundles this module for
 * the browser (dist/dashboard/fold.js, served as /ui/fold.js); dashboard/model.js re-exports it with its types.
 */
import type { RunEvent } from './events.js';
import { foldEvent } from './event-table.js';
import type { TaskResultStatus } from './result.js';
import { RunState, type AttemptStatus, type TaskDetail } from './run-state.js';

export { sentenceOf } from './event-table.js';
export type { AttemptSpan, TaskDetail, UsageTally } from './run-state.js';

/** A run as the page shows it, updated event by event; `version` counts the events applied (the page redraws on it). */
export class RunView {
  readonly state: RunState;
  version = 0;

  constructor(runId: string, taskIds: readonly string[] = []) {
    this.state = new RunState({ runId, workflow: '', startedAt: '' }, taskIds, { detail: true });
  }

  get runId() {
    return this.state.run.runId;
  }
  get workflow() {
    return this.state.run.workflow;
  }
  get status() {
    return this.state.run.status;
  }
  /** When the run started (undefined before its first event). */
  get startedAt() {
    return this.state.run.startedAt || undefined;
  }
  get endedAt() {
    return this.state.run.endedAt;
  }
  get error() {
    return this.state.run.error;
  }
  get output() {
    return this.state.run.output;
  }
  get hasOutput() {
    return 'output' in this.state.run;
  }
  get lastSeq() {
    return this.state.run.lastSeq;
  }
  get input() {
    return this.detail.input;
  }
  get tasks(): ReadonlyMap<string, TaskDetail> {
    return this.detail.tasks;
  }
  get order(): readonly string[] {
    return this.detail.order;
  }
  get children() {
    return this.detail.children;
  }
  get routes(): ReadonlyMap<string, number> {
    return this.detail.routes;
  }
  get logs() {
    return this.detail.logs;
  }
  get usage() {
    return this.detail.usage;
  }
  private get detail() {
    return this.state.detail!;
  }
}

export const newRun = (runId: string, taskIds: readonly string[] = []) => new RunView(runId, taskIds);

/**
 * Apply one event (in `seq` order; an event already applied is ignored, so a replayed stream is harmless).
 * True when the event was new.
 */
export function apply(run: RunView, e: RunEvent): boolean {
  if (e.seq <= run.lastSeq) return false;
  run.version++;
  try {
    foldEvent(run.state, e);
  } catch {
    // an event the fold cannot take (a forged record): the page shows the rest, as `braid show` does
  }
  return true;
}

const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'skipped']);
export const isTerminal = (status: string) => TERMINAL.has(status);

/** Counts per task status. */
export function counts(run: RunView): Partial<Record<TaskResultStatus, number>> {
  const n: Partial<Record<TaskResultStatus, number>> = {};
  for (const t of run.tasks.values()) n[t.status] = (n[t.status] ?? 0) + 1;
  return n;
}

/** for_each progress of a task: items started and finished. */
export function itemProgress(t: TaskDetail): { total: number; done: number } {
  let done = 0;
  for (const s of t.items.values()) if (s !== 'running') done++;
  return { total: t.items.size, done };
}

export interface GanttBar {
  start: number;
  end: number;
  status: AttemptStatus;
  attempt: number;
  item?: number;
}

/** Gantt rows: one bar per attempt; open ones end at `now`. */
export function timeline(run: RunView, now = Date.now()) {
  const rows: { id: string; status: TaskResultStatus; bars: GanttBar[] }[] = [];
  let t0 = Infinity;
  let t1 = 0;
  for (const id of run.order) {
    const t = run.tasks.get(id)!;
    const bars = t.attempts.map((a) => {
      const start = Date.parse(a.startedAt);
      const end = a.endedAt ? Date.parse(a.endedAt) : now;
      t0 = Math.min(t0, start);
      t1 = Math.max(t1, end);
      return { start, end, status: a.status, attempt: a.attempt, item: a.item };
    });
    rows.push({ id, status: t.status, bars });
  }
  if (t0 === Infinity) t0 = t1 = run.startedAt ? Date.parse(run.startedAt) : now;
  return { rows, t0, t1: Math.max(t1, t0 + 1) };
}
