/**
 * Where time went: task attempt intervals from a run record, and the time a task waited for a human's approval
 * (part of the run's duration, so it is shown), as a text Gantt chart or a Mermaid gantt.
 */
import type { RunEvent } from '../core/events.js';
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
 * for approval, `task.waiting` to the decision (`attempt` 0; one still waiting ends at `until`).
 */
export function intervals(events: readonly RunEvent[], until = Date.now()): Interval[] {
  // Keyed by task and for_each item: the items of one task run side by side.
  const open = new Map<string, { taskId: string; start: number; attempt: number; item?: number }>();
  const waits = new Map<string, number>();
  const out: Interval[] = [];
  const key = (taskId: string, item?: number) => (item === undefined ? taskId : `${taskId}#${item}`);
  const close = (k: string, ts: string, status: Interval['status']) => {
    const o = open.get(k);
    if (!o) return;
    open.delete(k);
    out.push({
      taskId: o.taskId,
      start: o.start,
      end: Date.parse(ts),
      status,
      attempt: o.attempt,
      ...(o.item === undefined ? {} : { item: o.item }),
    });
  };
  const closeTask = (taskId: string, ts: string, status: Interval['status']) => {
    for (const [k, o] of [...open]) if (o.taskId === taskId) close(k, ts, status);
  };
  for (const e of events) {
    if (e.type === 'task.waiting') waits.set(e.taskId, Date.parse(e.ts));
    else if (e.type === 'task.approval' && waits.has(e.taskId)) {
      out.push({ taskId: e.taskId, start: waits.get(e.taskId)!, end: Date.parse(e.ts), status: 'waiting', attempt: 0 });
      waits.delete(e.taskId);
    } else if (e.type === 'task.started')
      open.set(key(e.taskId, e.item), {
        taskId: e.taskId,
        start: Date.parse(e.ts),
        attempt: e.attempt,
        ...(e.item === undefined ? {} : { item: e.item }),
      });
    else if (e.type === 'task.retrying') close(key(e.taskId, e.item), e.ts, 'retrying');
    else if (e.type === 'task.recovery') close(key(e.taskId, e.item), e.ts, 'failed');
    else if (e.type === 'task.progress' && typeof (e.data as { item?: unknown } | undefined)?.item === 'number') {
      const { item, status } = e.data as { item: number; status: string };
      close(key(e.taskId, item), e.ts, status === 'succeeded' ? 'succeeded' : 'failed');
    } else if (e.type === 'task.succeeded') closeTask(e.taskId, e.ts, 'succeeded');
    else if (e.type === 'task.failed') closeTask(e.taskId, e.ts, 'failed');
    else if (e.type === 'run.resumed' || e.type === 'run.finished')
      for (const k of [...open.keys()]) close(k, e.ts, 'failed');
  }
  const end = Math.max(until, ...out.map((i) => i.end));
  for (const [taskId, start] of waits) out.push({ taskId, start, end, status: 'waiting', attempt: 0 });
  for (const o of open.values())
    out.push({
      taskId: o.taskId,
      start: o.start,
      end,
      status: 'running',
      attempt: o.attempt,
      ...(o.item === undefined ? {} : { item: o.item }),
    });
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
