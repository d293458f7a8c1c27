/**
 * Live progress on stderr. On a TTY: one line per task, redrawn in place (throttled). Otherwise: one plain
 * line per step, good for CI logs.
 */
import type { RunEvent } from '../events/types.js';
import { STATUS_ICON, color, formatDuration, paint } from './format.js';

interface Row {
  status: string;
  detail: string;
  startedAt?: number;
  endedAt?: number;
}

export function createProgress(stream: NodeJS.WriteStream, taskIds: readonly string[]): { onEvent: (e: RunEvent) => void; stop: () => void } {
  const tty = Boolean(stream.isTTY) && process.env.TERM !== 'dumb';
  if (!tty) return { onEvent: (e) => plainLine(stream, e), stop: () => {} };

  const rows = new Map<string, Row>(taskIds.map((id) => [id, { status: 'pending', detail: '' }]));
  const c = color(true);
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const width = Math.max(...taskIds.map((id) => id.length), 4);
  const draw = () => {
    timer = undefined;
    const now = Date.now();
    const lines = [...rows].map(([id, r]) => {
      const time = r.startedAt ? formatDuration((r.endedAt ?? now) - r.startedAt) : '';
      return `${paint(r.status, `${STATUS_ICON[r.status] ?? '·'} ${id.padEnd(width)} ${r.status.padEnd(9)}`, true)} ${c.gray(time.padEnd(7))} ${r.detail}`.slice(0, (stream.columns ?? 120) + 20);
    });
    stream.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}`).join('\n') + '\n');
    drawn = lines.length;
  };
  const schedule = () => (timer ??= setTimeout(draw, 80));
  const ticker = setInterval(schedule, 500);
  return {
    onEvent(e) {
      if (!('taskId' in e) || !e.taskId) return;
      const r = rows.get(e.taskId);
      if (!r) return;
      switch (e.type) {
        case 'task.started':
          Object.assign(r, { status: 'running', detail: c.gray(`${e.tool}${e.attempt > 1 ? ` attempt ${e.attempt}` : ''}${e.visit > 1 ? ` visit ${e.visit}` : ''}`) });
          r.startedAt ??= Date.now();
          r.endedAt = undefined;
          break;
        case 'task.retrying':
          Object.assign(r, { status: 'retrying', detail: c.yellow(`retry in ${e.delayMs}ms: ${e.error.message}`) });
          break;
        case 'task.progress':
          r.detail = c.gray(`${e.progress !== undefined ? `${Math.round(e.progress * 100)}% ` : ''}${e.message ?? ''}`);
          break;
        case 'task.labeled':
          r.detail = `label ${c.cyan(e.label)} (${e.source})`;
          break;
        case 'task.succeeded':
          Object.assign(r, { status: 'succeeded', endedAt: Date.now() });
          if (!r.detail.includes('label')) r.detail = '';
          break;
        case 'task.failed':
          Object.assign(r, { status: 'failed', endedAt: Date.now(), detail: c.red(e.error.message) });
          break;
        case 'task.skipped':
          Object.assign(r, { status: 'skipped', detail: c.gray(e.reason) });
          break;
        default:
          return;
      }
      schedule();
    },
    stop() {
      clearInterval(ticker);
      if (timer) clearTimeout(timer);
      draw();
    },
  };
}

function plainLine(stream: NodeJS.WriteStream, e: RunEvent): void {
  const time = e.ts.slice(11, 23);
  let text: string | undefined;
  switch (e.type) {
    case 'run.started':
      text = `run ${e.runId} started: ${e.workflow} (${e.tasks} tasks)`;
      break;
    case 'task.started':
      text = `${e.taskId} started (${e.tool}${e.attempt > 1 ? `, attempt ${e.attempt}` : ''}${e.visit > 1 ? `, visit ${e.visit}` : ''})`;
      break;
    case 'task.retrying':
      text = `${e.taskId} retrying in ${e.delayMs}ms: ${e.error.message}`;
      break;
    case 'task.labeled':
      text = `${e.taskId} labeled "${e.label}" (${e.source})${e.reason ? `: ${e.reason}` : ''}`;
      break;
    case 'task.succeeded':
      text = `${e.taskId} succeeded in ${formatDuration(e.durationMs)}`;
      break;
    case 'task.failed':
      text = `${e.taskId} failed: ${e.error.message}`;
      break;
    case 'task.skipped':
      text = `${e.taskId} skipped (${e.reason})`;
      break;
    case 'task.routed':
      text = `${e.taskId} routes to ${e.to} on ${e.on}`;
      break;
    case 'task.progress':
      text = `${e.taskId} ${e.progress !== undefined ? `${Math.round(e.progress * 100)}% ` : ''}${e.message ?? ''}`;
      break;
    case 'run.finished':
      text = `run ${e.status} in ${formatDuration(e.durationMs)}`;
      break;
    default:
      return;
  }
  stream.write(`[${time}] ${text}\n`);
}
