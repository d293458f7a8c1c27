/**
 * Where time went: task attempt intervals from a run record, and the time a task waited for a human's approval
 * (part of the run's duration, so it is shown), as a text Gantt chart or a Mermaid gantt.
 */
import type { RunEvent } from '../core/events.js';
import { foldEvent } from '../core/event-table.js';
import { RunState } from '../core/run-state.js';
import { color, formatDuration, safeText } from './format.js';

export interface Interval {
  readonly taskId: string;
  readonly start: number;
  readonly end: number;
  /** `waiting`: the task waited for an approval (from `task.waiting` to the decision), not an attempt. */
  readonly status: 'succeeded' | 'failed' | 'retrying' | 'running' | 'waiting';
  readonly attempt: number;
  /** The for_each item. */
  readonly item?: number;
}

/**
 * One interval per attempt: `task.started` to the event that ended it (open ones end at `until`); and one per wait
 * for approval, `task.waiting` to the decision (`attempt` 0; one still waiting ends at `until`). Read from the
 * detailed fold of the events (core/event-table.ts), the attempts the dashboard's timeline shows.
 */
export function intervals(events: readonly RunEvent[], until = Date.now()): Interval[] {
  const state = new RunState({ runId: '', workflow: '', startedAt: '' }, [], { detail: true });
  for (const e of events) foldEvent(state, e);
  const out: Interval[] = [];
  const open: Interval[] = [];
  for (const t of state.detail!.tasks.values()) {
    for (const w of t.waits)
      out.push({ taskId: t.id, start: Date.parse(w.start), end: Date.parse(w.end), status: 'waiting', attempt: 0 });
    for (const a of t.attempts) {
      const span = {
        taskId: t.id,
        start: Date.parse(a.startedAt),
        end: a.endedAt === undefined ? 0 : Date.parse(a.endedAt),
        status: a.status,
        attempt: a.attempt,
        ...(a.item === undefined ? {} : { item: a.item }),
      };
      (a.endedAt === undefined ? open : out).push(span);
    }
  }
  const end = Math.max(until, ...out.map((i) => i.end));
  for (const t of state.detail!.tasks.values())
    if (t.waitingSince !== undefined)
      out.push({ taskId: t.id, start: Date.parse(t.waitingSince), end, status: 'waiting', attempt: 0 });
  for (const o of open) out.push({ ...o, end });
  return out.sort((a, b) => a.start - b.start);
}

/** A text Gantt chart: one row per task, `█` while an attempt ran, scaled to `width` columns. */
export function textTimeline(
  taskIds: readonly string[],
  spans: readonly Interval[],
  useColor: boolean,
  width = 50,
): string {
  if (!spans.length) return '(no task ran)';
  const c = color(useColor);
  const t0 = Math.min(...spans.map((s) => s.start));
  const total = Math.max(1, Math.max(...spans.map((s) => s.end)) - t0);
  const name = Math.max(...taskIds.map((id) => safeText(id).length), 4);
  const col = (t: number) => Math.min(width - 1, Math.floor(((t - t0) / total) * width));
  const rows = [
    `${' '.repeat(name)}  0${' '.repeat(width - 1 - formatDuration(total).length)}${formatDuration(total)}`,
  ];
  for (const id of taskIds) {
    const mine = spans.filter((s) => s.taskId === id);
    const cells = Array.from({ length: width }, () => c.gray('·'));
    for (const s of mine) {
      const paint =
        s.status === 'failed' ? c.red : s.status === 'retrying' ? c.yellow : s.status === 'running' ? c.cyan : c.green;
      for (let k = col(s.start); k <= col(s.end); k++) cells[k] = s.status === 'waiting' ? c.gray('░') : paint('█');
    }
    const attempts = mine.filter((s) => s.status !== 'waiting');
    const busy = attempts.reduce((ms, s) => ms + s.end - s.start, 0);
    const waited = mine.reduce((ms, s) => (s.status === 'waiting' ? ms + s.end - s.start : ms), 0);
    const items = new Set(attempts.filter((s) => s.item !== undefined).map((s) => s.item)).size;
    const runs = items ? ` over ${items} items` : attempts.length > 1 ? ` in ${attempts.length} attempts` : '';
    const ran = attempts.length ? `${formatDuration(busy)}${runs}` : c.gray('did not run');
    const note =
      waited || mine.length > attempts.length ? `${ran}, waited ${formatDuration(waited)} for approval` : ran;
    rows.push(`${safeText(id).padEnd(name)}  ${cells.join('')}  ${note}`);
  }
  return rows.join('\n');
}

/** A Mermaid gantt diagram (dateFormat x: epoch milliseconds). */
export function mermaidTimeline(title: string, spans: readonly Interval[]): string {
  const lines = ['gantt', `  title ${title.replace(/[:#;]/g, ' ')}`, '  dateFormat x', '  axisFormat %M:%S.%L'];
  const byTask = new Map<string, Interval[]>();
  for (const s of spans) byTask.set(s.taskId, [...(byTask.get(s.taskId) ?? []), s]);
  for (const [taskId, list] of byTask) {
    lines.push(`  section ${taskId}`);
    for (const s of list) {
      if (s.status === 'waiting') {
        lines.push(`    waiting for approval :${s.start}, ${Math.max(s.end, s.start + 1)}`);
        continue;
      }
      const tag =
        s.status === 'failed' || s.status === 'retrying' ? 'crit, ' : s.status === 'running' ? 'active, ' : 'done, ';
      lines.push(
        `    ${s.item === undefined ? '' : `item ${s.item} `}attempt ${s.attempt} (${s.status}) :${tag}${s.start}, ${Math.max(s.end, s.start + 1)}`,
      );
    }
  }
  return lines.join('\n');
}
