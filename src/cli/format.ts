/** Human output: issues, the summary table, durations. */
import { formatIssue, type Issue } from '../errors.js';
import type { RunResult, TaskResult } from '../core/result.js';
import type { RecordedRun } from '../store/fold.js';
import { describeThrown } from '../core/thrown.js';
import { formatDuration } from '../core/duration.js';

export { formatDuration };

export const color = (on: boolean) => {
  const wrap = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap(31), green: wrap(32), yellow: wrap(33), gray: wrap(90), bold: wrap(1), cyan: wrap(36) };
};

/**
 * Control characters, escaped (`\x1b`, `\r`, `\u202e`) so that text from a workflow, a tool's output or a run
 * record cannot move the cursor, retitle the terminal or reorder what is shown: C0 and C1 controls, DEL,
 * and the bidirectional overrides. Every name, id, output and message a command prints goes through here.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
export function safeText(value: unknown): string {
  return textOf(value).replace(CONTROL, (ch) => {
    const code = ch.charCodeAt(0);
    if (code === 10) return '\\n';
    if (code === 13) return '\\r';
    if (code === 9) return '\\t';
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `String(value)`, '' for null and undefined, the description of a value that cannot be one (never throws). */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return String(value ?? '');
  } catch {
    return describeThrown(value).message; // Object.create(null), a throwing toString
  }
}

/** `safeText` line by line: the line breaks of a multi-line message stay. */
export const safeLines = (value: unknown): string => textOf(value).split('\n').map(safeText).join('\n');

export function formatIssuesPretty(issues: readonly Issue[], file: string | undefined, useColor: boolean): string {
  const c = color(useColor);
  return issues.map((i) => `${c.red('✖')} ${safeLines(formatIssue(i, file))}`).join('\n');
}

export function taskDurationMs(t: TaskResult): number | undefined {
  return t.startedAt && t.endedAt ? Date.parse(t.endedAt) - Date.parse(t.startedAt) : undefined;
}

export const STATUS_ICON: Record<string, string> = {
  succeeded: '✔',
  failed: '✖',
  skipped: '↷',
  running: '▶',
  pending: '·',
  retrying: '↻',
  waiting: '⏸',
  cancelled: '✖',
  interrupted: '⚡',
};

function pad(s: string, n: number): string {
  const visible = s.replace(/\x1b\[[0-9;]*m/g, '');
  return s + ' '.repeat(Math.max(0, n - visible.length));
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].replace(/\x1b\[[0-9;]*m/g, '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, col) => pad(cell, widths[col]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function paint(status: string, text: string, useColor: boolean): string {
  const c = color(useColor);
  return status === 'succeeded'
    ? c.green(text)
    : status === 'failed'
      ? c.red(text)
      : status === 'skipped'
        ? c.gray(text)
        : c.yellow(text);
}

/** @param opts.stacks also print where each failed task's error was thrown (the frames in tool code) */
/** Why a succeeded run has no result: its final tasks and their skip reasons. */
function emptyNote(result: RecordedRun | RunResult): string {
  const sinks = Object.entries(result.tasks)
    .filter(([, t]) => t.status === 'skipped')
    .map(([id, t]) => `${safeText(id)} (${t.reason ?? 'skipped'})`);
  return `no result: every final task (one nothing depends on) was skipped; skipped: ${sinks.join(', ')}`;
}

export function summaryTable(
  result: RecordedRun | RunResult,
  useColor: boolean,
  opts: { stacks?: boolean } = {},
): string {
  const tokens = result.usage !== undefined;
  // Routing loops enter tasks again: visits and attempts apart (2 visits of 1 attempt is not a retry).
  const loops = Object.values(result.tasks).some((t) => t.visits > 1);
  const rows = [
    [
      'task',
      'status',
      'duration',
      ...(loops ? ['visits'] : []),
      'attempts',
      ...(tokens ? ['tokens'] : []),
      'label',
      'note',
    ],
  ];
  for (const [id, t] of Object.entries(result.tasks)) {
    const note = safeText(
      t.status === 'skipped'
        ? (t.reason ?? '')
        : t.status === 'failed'
          ? (t.error?.message ?? '')
          : (t.labelReason ?? ''),
    );
    rows.push([
      safeText(id),
      paint(t.status, `${STATUS_ICON[t.status] ?? '·'} ${safeText(t.status)}`, useColor),
      formatDuration(taskDurationMs(t)),
      ...(loops ? [String(t.visits)] : []),
      String(t.attempts),
      ...(tokens ? [t.usage ? String(t.usage.totalTokens) : ''] : []),
      t.label ? safeText(`${t.label}${t.labelSource ? ` (${t.labelSource})` : ''}`) : '',
      note.length > 70 ? `${note.slice(0, 67)}...` : note,
    ]);
  }
  const span = (result.endedAt ? Date.parse(result.endedAt) : Date.now()) - Date.parse(result.startedAt);
  // a resumed run: the time it was worked on, not the time it lay stopped
  const active = (result as RecordedRun).activeMs;
  const total = active ?? span;
  const c = color(useColor);
  const usage = result.usage
    ? `, ${result.usage.totalTokens} tokens${result.usage.costUsd === null ? '' : `, $${result.usage.costUsd.toFixed(4)}`}`
    : '';
  const head = `${c.bold(safeText(result.workflow))} ${paint(result.status, safeText(result.status), useColor)} in ${formatDuration(total)}${active !== undefined ? ` of work (${formatDuration(span)} from start to end, with a resume)` : ''}${usage} (run ${safeText(result.runId)})`;
  // The table cuts long notes; a failure's whole message (every failing field) follows it.
  const shown = Object.entries(result.tasks).filter(
    ([, t]) => t.status === 'failed' && ((t.error?.message.length ?? 0) > 70 || (opts.stacks && t.error?.stack)),
  );
  const errors = shown
    .map(
      ([id, t]) =>
        `\n${c.red('✖')} ${safeText(id)}: ${safeText(t.error!.message)}${opts.stacks && t.error?.stack ? `\n${indent(safeLines(t.error.stack))}` : ''}`,
    )
    .join('');
  return `${head}\n${table(rows)}${errors}${result.error ? `\n${c.red(safeText(result.error.message))}` : ''}${result.output !== undefined ? `\n${c.bold('output')} ${formatOutput(result.output)}` : ''}${result.empty ? `\n${c.yellow(emptyNote(result))}` : ''}`;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

/**
 * A run's output for a terminal: indented JSON (control characters escaped), cut after 30 lines (`--json` has it
 * whole).
 */
export function formatOutput(output: unknown, maxLines = 30): string {
  const lines = safeLines(JSON.stringify(output, null, 2) ?? 'undefined').split('\n');
  return lines.length > maxLines
    ? `${lines.slice(0, maxLines).join('\n')}\n... (${lines.length - maxLines} more lines; see --json)`
    : lines.join('\n');
}
