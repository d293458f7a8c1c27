/**
 * Live progress on stderr. On a TTY: one line per task, redrawn in place (throttled). Otherwise: one plain
 * line per step, good for CI logs.
 */
import { buffered } from '../events/buffered.js';
import type { RunEvent } from '../core/events.js';
import { STATUS_ICON, color, formatDuration, paint, safeText } from './format.js';

interface Row {
  status: string;
  detail: string;
  startedAt?: number;
  endedAt?: number;
}

type Progress = { onEvent: (e: RunEvent) => void; stop: () => void };

export function createProgress(stream: NodeJS.WriteStream, taskIds: readonly string[]): Progress {
  const tty = Boolean(stream.isTTY) && process.env.TERM !== 'dumb';
  return tty ? liveProgress(stream, taskIds) : plainProgress(stream);
}

function plainProgress(stream: NodeJS.WriteStream): Progress {
  // Batched once per event-loop turn: writing to a slow pipe never delays a task.
  // One write per batch: a write to a pipe is a system call, and a run makes two lines per task.
  const lines = buffered((events) => {
    let text = '';
    for (const e of events) text += plainLine(e);
    if (text) stream.write(text);
  });
  return { onEvent: lines, stop: () => lines.drain() };
}

/** One row per task, redrawn in place at most every 80ms (and every 500ms for the running times). */
function liveProgress(stream: NodeJS.WriteStream, taskIds: readonly string[]): Progress {
  const rows = new Map<string, Row>(taskIds.map((id) => [id, { status: 'pending', detail: '' }]));
  const c = color(true);
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const width = Math.max(...taskIds.map((id) => safeText(id).length), 4);
  const draw = () => {
    timer = undefined;
    const now = Date.now();
    const lines = [...rows].map(([id, r]) => {
      const time = r.startedAt ? formatDuration((r.endedAt ?? now) - r.startedAt) : '';
      return `${paint(r.status, `${STATUS_ICON[r.status] ?? '·'} ${safeText(id).padEnd(width)} ${r.status.padEnd(9)}`, true)} ${c.gray(time.padEnd(7))} ${r.detail}`.slice(
        0,
        (stream.columns ?? 120) + 20,
      );
    });
    stream.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}`).join('\n') + '\n');
    drawn = lines.length;
  };
  let stopped = false;
  const schedule = () => {
    if (!stopped) timer ??= setTimeout(draw, 80);
  };
  const ticker = setInterval(schedule, 500);
  return {
    onEvent(e) {
      if (!('taskId' in e) || !e.taskId) return;
      const r = rows.get(e.taskId);
      if (r && updateRow(r, e, c)) schedule();
    },
    // Idempotent: a second final draw would move the cursor up over whatever was printed after the
    // live view (the summary table, hints, --json output) and erase it.
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(ticker);
      if (timer) clearTimeout(timer);
      draw();
    },
  };
}

/** A task's row after one of its events; false for the events that change nothing on screen. */
function updateRow(r: Row, e: RunEvent, c: ReturnType<typeof color>): boolean {
  switch (e.type) {
    case 'task.started':
      Object.assign(r, {
        status: 'running',
        detail: c.gray(
          safeText(`${e.tool}${e.attempt > 1 ? ` attempt ${e.attempt}` : ''}${e.visit > 1 ? ` visit ${e.visit}` : ''}`),
        ),
      });
      r.startedAt ??= Date.now();
      r.endedAt = undefined;
      return true;
    case 'task.retrying':
      Object.assign(r, {
        status: 'retrying',
        detail: c.yellow(safeText(`retry in ${e.delayMs}ms: ${e.error.message}`)),
      });
      return true;
    case 'task.progress':
      r.detail = c.gray(
        safeText(`${e.progress !== undefined ? `${Math.round(e.progress * 100)}% ` : ''}${e.message ?? ''}`),
      );
      return true;
    case 'task.labeled':
      r.detail = `label ${c.cyan(safeText(e.label))} (${safeText(e.source)})`;
      return true;
    case 'task.succeeded':
      Object.assign(r, { status: 'succeeded', endedAt: Date.now() });
      if (!r.detail.includes('label')) r.detail = '';
      return true;
    case 'task.failed':
      Object.assign(r, { status: 'failed', endedAt: Date.now(), detail: c.red(safeText(e.error.message)) });
      return true;
    case 'task.skipped':
      Object.assign(r, { status: 'skipped', detail: c.gray(safeText(e.reason)) });
      return true;
    case 'task.waiting':
      Object.assign(r, { status: 'waiting', detail: c.yellow('waiting for approval') });
      return true;
    default:
      return false;
  }
}

/** The plain progress line of an event ('' for the events that have none). */
function plainLine(e: RunEvent): string {
  if (e.type === 'llm.call' || e.type === 'task.ready' || e.type === 'task.log') return '';
  return `[${e.ts.slice(11, 23)}] ${describeEvent(e)}\n`;
}

/** One human sentence per event (the plain progress lines and `braid logs`), safe to print on a terminal. */
export function describeEvent(e: RunEvent): string {
  return safeText(describe(e));
}

function describe(e: RunEvent): string {
  switch (e.type) {
    case 'run.started':
      return `run ${e.runId} started: ${e.workflow} (${e.tasks} tasks)`;
    case 'run.resumed':
      return `run ${e.runId} resumed: ${e.reused} recorded result${e.reused === 1 ? '' : 's'} reused`;
    case 'run.finished':
      return `run ${e.status} in ${formatDuration(e.durationMs)}${e.error ? `: ${e.error.message}` : ''}${e.empty ? ' with no result (every final task was skipped)' : ''}`;
    case 'run.stopping':
      return `run stopping (${e.reason})${e.error ? `: ${e.error.message}` : ''}: nothing new starts`;
    case 'task.ready':
      return `${e.taskId} ready (visit ${e.visit}${e.routedFrom ? `, routed from ${e.routedFrom}` : ''})`;
    case 'task.started':
      return `${e.taskId} started (${e.tool}${e.attempt > 1 ? `, attempt ${e.attempt}` : ''}${e.visit > 1 ? `, visit ${e.visit}` : ''}${e.worker ? `, on ${safeText(e.worker)}` : ''})`;
    case 'task.retrying':
      return `${e.taskId} retrying in ${e.delayMs}ms: ${e.error.message}`;
    case 'task.labeled':
      return `${e.taskId} labeled "${e.label}" (${e.source})${e.reason ? `: ${e.reason}` : ''}`;
    case 'task.succeeded':
      return `${e.taskId} succeeded in ${formatDuration(e.durationMs)}${e.replayed ? ' (recorded result reused)' : ''}`;
    case 'task.failed':
      return `${e.taskId} failed: ${e.error.message}`;
    case 'task.skipped':
      return `${e.taskId} skipped (${e.reason})`;
    case 'task.routed':
      return `${e.taskId} routes to ${e.to} on ${e.on}`;
    case 'task.waiting':
      return `${e.taskId} waiting for approval: braid approve ${e.runId} ${e.taskId}`;
    case 'task.recovery':
      return `${e.taskId}${e.item === undefined ? '' : ` item ${e.item}`} ${e.action === 'adjust' ? (e.failed ? `could not adjust its input: ${e.failed.message}` : 'retries with an adjusted input') : e.action === 'fallback' ? `falls back to ${e.tool}` : 'skipped by its failure policy'} after: ${e.error.message}`;
    case 'task.child':
      return `${e.taskId} started child run ${e.childRunId}`;
    case 'task.approval':
      return `${e.taskId} ${e.approved ? 'approved' : 'rejected'}${e.patch ? ' with an edited input' : ''}${e.by ? ` by ${e.by}` : ''}${e.comment ? `: ${e.comment}` : ''}`;
    case 'task.progress':
      return `${e.taskId} ${e.progress !== undefined ? `${Math.round(e.progress * 100)}% ` : ''}${e.message ?? ''}`;
    case 'task.log':
      return `${e.taskId ?? 'run'} ${e.level}: ${e.message}`;
    case 'llm.call':
      return `${e.taskId ?? 'run'} llm ${e.purpose}: ${e.provider} ${e.model}, ${e.usage.totalTokens} tokens, ${formatDuration(e.latencyMs)}${e.error ? `, error: ${e.error.message}` : ''}`;
  }
}
