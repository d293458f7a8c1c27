/**
 * Live progress on stderr. On a TTY: one line per task, redrawn in place (throttled). Otherwise: one plain
 * line per step, good for CI logs.
 */
import { buffered } from '../events/buffered.js';
import type { RunEvent } from '../core/events.js';
import { descriptorOf, sentenceOf, type Tone } from '../core/event-table.js';
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

/** A task's row after one of its events (its descriptor's `row`); false for the events that change nothing shown. */
function updateRow(r: Row, e: RunEvent, c: ReturnType<typeof color>): boolean {
  const change = descriptorOf(e)?.row(e);
  if (!change) return false;
  if (change.status) r.status = change.status;
  if (change.clock === 'start') {
    r.startedAt ??= Date.now();
    r.endedAt = undefined;
  } else if (change.clock === 'end') r.endedAt = Date.now();
  if (change.detail) r.detail = change.detail.map(([tone, text]) => paintTone(c, tone, safeText(text))).join('');
  else if (change.keepLabel && !r.detail.includes('label')) r.detail = '';
  return true;
}

const paintTone = (c: ReturnType<typeof color>, tone: Tone, text: string) => (tone === 'plain' ? text : c[tone](text));

/** The plain progress line of an event ('' for the events that have none). */
function plainLine(e: RunEvent): string {
  return descriptorOf(e)?.inProgress ? `[${e.ts.slice(11, 23)}] ${describeEvent(e)}\n` : '';
}

/** One human sentence per event (the plain progress lines and `braid logs`), safe to print on a terminal. */
export function describeEvent(e: RunEvent): string {
  return safeText(sentenceOf(e));
}
