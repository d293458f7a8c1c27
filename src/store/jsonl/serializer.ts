/**
 * The record's line format, both ways: an event to its JSON line (`eventJson`), a line back to the header, an event
 * or a problem (`parseLine`, which checks the fields each event type requires, core/event-table.ts), a whole
 * record's text to its header, events and problems (`parseRunLog`). Nothing here touches a file.
 */
import type { RunEvent, RunEventType } from '../../core/events.js';
import { EVENT_TABLE, type FieldKind } from '../../core/event-table.js';
import type { RunHeader, RunRecord } from '../types.js';

/** The fields an event of the type must have (its entry in the event table); none for a type braid does not know. */
const requiredFields = (type: string): Record<string, FieldKind | undefined> =>
  Object.hasOwn(EVENT_TABLE, type) ? EVENT_TABLE[type as RunEventType].requires : {};
const OPTIONAL_ERROR = ['error', 'failed'];

/** Why a parsed line is not an event braid can fold; undefined when it is one. */
function eventProblem(v: Record<string, unknown>): string | undefined {
  const type = v.type as string;
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1) return `${type} without a valid seq`;
  if (typeof v.ts !== 'string') return `${type} without a time`;
  if (type.startsWith('task.') && typeof v.taskId !== 'string') return `${type} without a taskId`;
  if (v.taskId !== undefined && typeof v.taskId !== 'string') return `${type} with a taskId that is not a string`;
  for (const [field, kind] of Object.entries(requiredFields(type))) {
    const value = v[field];
    const ok = kind === 'error' ? isError(value) : kind === 'usage' ? isUsage(value) : typeof value === kind;
    if (!ok) return `${type} without a valid ${field}`;
  }
  for (const field of OPTIONAL_ERROR)
    if (v[field] !== undefined && !isError(v[field])) return `${type} with a malformed ${field}`;
  return undefined;
}

const isError = (e: unknown) =>
  typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
const isUsage = (u: unknown) =>
  typeof u === 'object' &&
  u !== null &&
  ['promptTokens', 'completionTokens', 'totalTokens'].every(
    (k) => typeof (u as Record<string, unknown>)[k] === 'number',
  );

/** Why a header line cannot be used; undefined when it can. */
function headerProblem(v: Record<string, unknown>): string | undefined {
  const w = v.workflow as { tasks?: unknown; name?: unknown } | undefined;
  if (typeof v.runId !== 'string' || typeof w !== 'object' || w === null || !Array.isArray(w.tasks))
    return 'a header without a run id or workflow tasks';
  if (!w.tasks.every((t) => typeof t === 'object' && t !== null && typeof (t as { id?: unknown }).id === 'string'))
    return 'a header with a task without an id';
  if (typeof v.input !== 'object' || v.input === null) return 'a header without an input object';
  return undefined;
}

/** One line of a record: the header (first line only), an event, or a problem (never thrown). */
type Line = { header: RunHeader } | { event: RunEvent } | { problem: string } | undefined;

/** `n`: 1-based line number; `truncated`: the last line of a file that does not end with a newline. */
export function parseLine(line: string, n: number, truncated: boolean): Line {
  if (!line.trim()) return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch {
    return {
      problem: truncated
        ? `line ${n}: truncated last line (${line.length} bytes, the writer stopped mid-line), ignored`
        : `line ${n}: not valid JSON, ignored`,
    };
  }
  if (typeof value !== 'object' || value === null || typeof value.type !== 'string')
    return { problem: `line ${n}: not an event, ignored` };
  if (value.type === 'run.record') {
    if (n !== 1) return { problem: `line ${n}: a second header, ignored (the header is the first line)` };
    const bad = headerProblem(value);
    return bad ? { problem: `line 1: ${bad}, ignored` } : { header: value as unknown as RunHeader };
  }
  const bad = eventProblem(value);
  return bad ? { problem: `line ${n}: ${bad}, ignored` } : { event: value as unknown as RunEvent };
}

export const NO_HEADER = 'no header line: the workflow definition is missing, the run cannot be resumed';

/**
 * Parse a run log; unreadable lines are reported in `problems`, never thrown. Only the first line can be the header.
 * @beta
 */
export function parseRunLog(text: string): RunRecord {
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text.length === 0;
  if (lines[lines.length - 1] === '') lines.pop();
  const events: RunEvent[] = [];
  const problems: string[] = [];
  let header: RunHeader | undefined;
  lines.forEach((line, i) => {
    const parsed = parseLine(line, i + 1, i === lines.length - 1 && !complete);
    if (!parsed) return;
    if ('header' in parsed) header = parsed.header;
    else if ('event' in parsed) events.push(parsed.event);
    else problems.push(parsed.problem);
  });
  if (!header) problems.unshift(NO_HEADER);
  return { header, events, problems };
}

/** The problem for an unfinished last line (reported once its writer is gone). */
export const truncatedTail = (line: number, bytes: number) =>
  `line ${line}: truncated last line (${bytes} bytes, the writer stopped mid-line), ignored`;

/** Strings JSON.stringify leaves as they are between quotes (no quote, backslash, control or lone surrogate). */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const jsonString = (s: string) => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
const jsonNumber = (n: number) => (Number.isFinite(n) ? `${n}` : 'null');

/**
 * An event's JSON line, the same JSON as `JSON.stringify(event)`: the three events every task makes
 * (ready, started, succeeded) are written field by field from their declared fields (core/events.ts, a
 * closed union) with only their free values (a task's output, its input sources) through JSON.stringify,
 * about three times faster; every other event, and one with a field of an unexpected type, by JSON.stringify.
 */
export function eventJson(e: RunEvent): string {
  if (typeof e.seq !== 'number' || typeof e.ts !== 'string' || typeof e.runId !== 'string') return JSON.stringify(e);
  const head = `{"seq":${jsonNumber(e.seq)},"ts":${jsonString(e.ts)},"runId":${jsonString(e.runId)},"type":"${e.type}","taskId":`;
  switch (e.type) {
    case 'task.ready':
      if (typeof e.taskId !== 'string' || typeof e.visit !== 'number' || ownKeys(e) !== 6 + +('routedFrom' in e)) break;
      return `${head}${jsonString(e.taskId)},"visit":${jsonNumber(e.visit)}${e.routedFrom === undefined ? '' : `,"routedFrom":${JSON.stringify(e.routedFrom)}`}}`;
    case 'task.started':
      if (
        typeof e.taskId !== 'string' ||
        typeof e.tool !== 'string' ||
        typeof e.attempt !== 'number' ||
        typeof e.visit !== 'number' ||
        (e.inputHash !== undefined && typeof e.inputHash !== 'string') ||
        (e.inputBytes !== undefined && typeof e.inputBytes !== 'number') ||
        ownKeys(e) !==
          8 + +('item' in e) + +('sources' in e) + +('inputHash' in e) + +('input' in e) + +('inputBytes' in e)
      )
        break;
      {
        const input = 'input' in e ? JSON.stringify(e.input) : undefined;
        return `${head}${jsonString(e.taskId)},"tool":${jsonString(e.tool)},"attempt":${jsonNumber(e.attempt)},"visit":${jsonNumber(e.visit)}${e.item === undefined ? '' : `,"item":${JSON.stringify(e.item)}`}${e.sources === undefined ? '' : `,"sources":${JSON.stringify(e.sources)}`}${e.inputHash === undefined ? '' : `,"inputHash":${jsonString(e.inputHash)}`}${input === undefined ? '' : `,"input":${input}`}${e.inputBytes === undefined ? '' : `,"inputBytes":${jsonNumber(e.inputBytes)}`}}`;
      }
    case 'task.succeeded': {
      if (
        typeof e.taskId !== 'string' ||
        typeof e.attempt !== 'number' ||
        typeof e.visit !== 'number' ||
        typeof e.durationMs !== 'number' ||
        ownKeys(e) !== 8 + +('output' in e) + +('replayed' in e)
      )
        break;
      const output = JSON.stringify(e.output);
      return `${head}${jsonString(e.taskId)},"attempt":${jsonNumber(e.attempt)},"visit":${jsonNumber(e.visit)},"durationMs":${jsonNumber(e.durationMs)}${output === undefined ? '' : `,"output":${output}`}${e.replayed === undefined ? '' : `,"replayed":${JSON.stringify(e.replayed)}`}}`;
    }
  }
  return JSON.stringify(e);
}

/**
 * An event's enumerable keys (-1 when one is inherited): any other key than its type declares sends it to
 * JSON.stringify.
 */
function ownKeys(e: object): number {
  let n = 0;
  for (const k in e) {
    if (!Object.hasOwn(e, k)) return -1;
    n++;
  }
  return n;
}
