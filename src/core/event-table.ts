/**
 * Every event type in one place: how it folds into a run's state, how it reads as a sentence (plain progress,
 * `braid logs`), how it changes the live progress row, how it logs and how it traces. The table's type maps
 * every member of the `RunEvent` union to its descriptor, so a new event type does not compile until it has an
 * entry (README "Extending braid"). Pure: no I/O, no clock, no Node module, so the dashboard gets this same module
 * bundled for the browser (scripts/bundle.mjs); the CLI, the logger and the tracer turn the data it returns into
 * output.
 */
import type { ErrorRecord, EventBase, EventOf, RunEvent, RunEventType } from './events.js';
import { formatDuration } from './duration.js';
import { attemptKey, visitKey } from './replay.js';
import { closeAttempt, closeAttempts, openAttempt, type RunState } from './run-state.js';

/** How the live progress row of a task changes: its status, its clock, its detail text (in tones). */
export interface RowChange {
  readonly status?: string;
  /** `start`: the task's time starts (once); `end`: it stops. */
  readonly clock?: 'start' | 'end';
  readonly detail?: readonly Segment[];
  /** Clear the detail unless it shows the task's label. */
  readonly keepLabel?: true;
}
export type Tone = 'plain' | 'gray' | 'yellow' | 'red' | 'cyan';
export type Segment = readonly [tone: Tone, text: string];

/** A structured log line: level, message, fields (`runId`, `taskId`, `seq` are added by the logger). */
export type LogLine = readonly [
  level: 'debug' | 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
];

export type Attributes = Record<string, string | number | boolean>;
/** The span a trace step is about: the run's, the task visit's, or the attempt's. */
export type SpanLevel = 'run' | 'task' | 'attempt';
/**
 * What an event does to the trace (monitor/tracing.ts turns it into OpenTelemetry spans):
 * `open` a span (a task's under the run, an attempt's under its task), `close` one (with attributes and an error;
 * `instant`: when none is open, one that starts and ends now), `annotate` the open one, or record a model `call`
 * that ended at the event and lasted `latencyMs`, under the attempt, else the task, else the run.
 */
export type TraceStep =
  | { readonly op: 'open'; readonly level: SpanLevel; readonly name: string; readonly attributes: Attributes }
  | {
      readonly op: 'close';
      readonly level: SpanLevel;
      readonly attributes?: Attributes;
      readonly error?: ErrorRecord;
      readonly instant?: { readonly name: string; readonly attributes: Attributes };
    }
  | { readonly op: 'annotate'; readonly level: SpanLevel; readonly attributes: Attributes }
  | {
      readonly op: 'call';
      readonly name: string;
      readonly latencyMs: number;
      readonly attributes: Attributes;
      readonly error?: ErrorRecord;
    };

/** The JSON type a recorded field must have: `error` an `ErrorRecord`, `usage` a `Usage` (its token counts). */
export type FieldKind = 'string' | 'number' | 'boolean' | 'error' | 'usage';

/** Everything braid does with one event type. */
export interface EventDescriptor<E extends EventBase & { readonly type: string }> {
  /**
   * Fields a recorded event of this type must have, with their JSON types: a record line that lacks one is reported
   * as a problem, not folded (store/jsonl/serializer.ts). `seq`, `ts` and a task event's `taskId` are checked for
   * every type.
   */
  readonly requires: { readonly [F in Exclude<keyof E, keyof EventBase | 'type'>]?: FieldKind };
  /** How the event changes the run's state: the `run` view always, the `detail` when kept (may throw: forged). */
  readonly fold: (s: RunState, e: E) => void;
  /** One human sentence (not yet made safe for a terminal: callers escape it). */
  readonly describe: (e: E) => string;
  /** Whether the plain (non-TTY) progress prints the sentence. */
  readonly inProgress: boolean;
  /** The change to the task's live progress row; none for the events that change nothing on screen. */
  readonly row: (e: E) => RowChange | undefined;
  readonly log: (e: E) => LogLine;
  readonly trace: (e: E) => readonly TraceStep[];
}

/** One descriptor per event type: the compiler rejects a table that misses one. */
export type EventTable = { readonly [K in RunEventType]: EventDescriptor<EventOf<K>> };

const none = () => undefined;
const noSpans = () => [];
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const percent = (p: number | undefined) => (p !== undefined ? `${Math.round(p * 100)}% ` : '');

/** An input the record kept for a task (`task.started`, `task.waiting`): shown by `braid show`, bound by its hash. */
function keepInput(s: RunState, e: EventOf<'task.started'> | EventOf<'task.waiting'>): void {
  if (e.inputHash === undefined) return;
  const t = s.task(e.taskId);
  t.inputHash = e.inputHash;
  t.input = e.input;
  if (e.inputBytes !== undefined) t.inputBytes = e.inputBytes;
  else delete t.inputBytes;
}

/** What an `on_failure` step did, as a sentence's verb phrase. */
function recoveryStep(e: EventOf<'task.recovery'>): string {
  if (e.action === 'fallback') return `falls back to ${e.tool}`;
  if (e.action === 'skip') return 'skipped by its failure policy';
  return e.failed ? `could not adjust its input: ${e.failed.message}` : 'retries with an adjusted input';
}

/** The task's visit ended, and so did its span (an instant one when it was never entered, to show why). */
const endTaskSpan = (e: { taskId: string }, attributes: Attributes, error?: ErrorRecord): readonly TraceStep[] => [
  { op: 'close', level: 'attempt', ...(error ? { error } : {}) },
  {
    op: 'close',
    level: 'task',
    attributes,
    ...(error ? { error } : {}),
    instant: { name: `braid.task ${e.taskId}`, attributes: { 'braid.task.id': e.taskId } },
  },
];

export const EVENT_TABLE: EventTable = {
  'run.started': {
    requires: { workflow: 'string' },
    fold(s, e) {
      s.run.workflow = e.workflow;
      s.run.startedAt = e.ts;
      if (s.detail) s.detail.input = e.input;
    },
    describe: (e) => `run ${e.runId} started: ${e.workflow} (${e.tasks} tasks)`,
    inProgress: true,
    row: none,
    log: (e) => ['info', `run started: ${e.workflow} (${e.tasks} tasks)`, { workflow: e.workflow }],
    trace: (e) => [
      {
        op: 'open',
        level: 'run',
        name: `braid.run ${e.workflow}`,
        attributes: { 'braid.run.id': e.runId, 'braid.workflow': e.workflow, 'braid.tasks': e.tasks },
      },
    ],
  },
  'run.resumed': {
    requires: {},
    fold(s, e) {
      const at = Date.parse(e.ts);
      if (Number.isFinite(at)) {
        // the time between the last event before the stop and the resume is not the run's
        s.active += s.lastAt - s.segmentStart;
        s.segmentStart = at;
        s.resumedAt = e.ts;
      }
      s.pid = typeof e.pid === 'number' ? e.pid : undefined;
      s.run.status = 'running';
      delete s.run.endedAt;
      delete s.run.error;
      for (const t of s.detail?.tasks.values() ?? [])
        closeAttempts(t, e.ts, 'failed', { message: 'the process stopped while this attempt ran' });
    },
    describe: (e) => `run ${e.runId} resumed: ${plural(e.reused, 'recorded result')} reused`,
    inProgress: true,
    row: none,
    log: (e) => ['info', `run resumed, ${e.reused} recorded results reused`, { reused: e.reused }],
    trace: (e) => [
      {
        op: 'open',
        level: 'run',
        name: 'braid.run resumed',
        attributes: { 'braid.run.id': e.runId, 'braid.resumed': true },
      },
    ],
  },
  'run.finished': {
    requires: { status: 'string' },
    fold(s, e) {
      const run = s.run;
      run.status = e.status;
      run.endedAt = e.ts;
      if (e.error) run.error = e.error;
      if ('output' in e) run.output = e.output;
      else delete run.output; // an earlier finish (before a resume) said otherwise
      if (e.empty === true) run.empty = true;
      else delete run.empty;
      for (const t of s.detail?.tasks.values() ?? []) closeAttempts(t, e.ts, 'failed');
    },
    describe: (e) =>
      `run ${e.status} in ${formatDuration(e.durationMs)}${e.error ? `: ${e.error.message}` : ''}${e.empty ? ' with no result (every final task was skipped)' : ''}`,
    inProgress: true,
    row: none,
    log: (e) => [
      e.status === 'succeeded' || e.status === 'waiting' ? 'info' : 'error',
      `run ${e.status} in ${e.durationMs}ms`,
      { status: e.status, durationMs: e.durationMs, ...(e.error ? { error: e.error } : {}) },
    ],
    trace: (e) => [
      {
        op: 'close',
        level: 'run',
        attributes: { 'braid.run.status': e.status },
        ...(e.status === 'failed' ? { error: e.error ?? { message: 'run failed' } } : {}),
      },
    ],
  },
  'run.stopping': {
    requires: { reason: 'string' },
    // The run's status comes with run.finished; what the stop skips comes with each task's own event.
    fold: none,
    describe: (e) => `run stopping (${e.reason})${e.error ? `: ${e.error.message}` : ''}: nothing new starts`,
    inProgress: true,
    row: none,
    log: (e) => ['warn', `run stopping: ${e.reason}`, { reason: e.reason, ...(e.error ? { error: e.error } : {}) }],
    trace: noSpans,
  },
  'task.ready': {
    requires: {},
    fold(s, e) {
      const t = s.task(e.taskId);
      t.visits = e.visit;
      t.status = 'pending';
      s.replay?.visits.add(visitKey(e.taskId, e.visit));
      const more = s.more(e.taskId);
      if (more && e.routedFrom) more.routedFrom = e.routedFrom;
    },
    describe: (e) => `${e.taskId} ready (visit ${e.visit}${e.routedFrom ? `, routed from ${e.routedFrom}` : ''})`,
    inProgress: false,
    row: none,
    log: (e) => ['debug', 'task ready', { visit: e.visit, ...(e.routedFrom ? { routedFrom: e.routedFrom } : {}) }],
    trace: (e) => [
      { op: 'close', level: 'task' },
      {
        op: 'open',
        level: 'task',
        name: `braid.task ${e.taskId}`,
        attributes: { 'braid.task.id': e.taskId, 'braid.task.visit': e.visit },
      },
    ],
  },
  'task.started': {
    requires: { attempt: 'number' },
    fold(s, e) {
      const t = s.task(e.taskId);
      // a task run again after a resume: its time starts now, not before the stop
      if (s.resumedAt && t.startedAt !== undefined && t.startedAt < s.resumedAt) delete t.startedAt;
      t.attempts++;
      t.startedAt ??= e.startedAt ?? e.ts;
      t.status = 'running';
      if (e.sources) t.inputSources = e.sources;
      keepInput(s, e);
      const more = s.more(e.taskId);
      if (!more) return;
      more.tool = e.tool;
      more.attempts.push({
        attempt: e.attempt,
        visit: e.visit,
        ...(e.item === undefined ? {} : { item: e.item }),
        tool: e.tool,
        startedAt: e.ts,
        status: 'running',
      });
      if (e.item !== undefined) more.items.set(e.item, 'running');
    },
    describe: (e) =>
      `${e.taskId} started (${e.tool}${e.attempt > 1 ? `, attempt ${e.attempt}` : ''}${e.visit > 1 ? `, visit ${e.visit}` : ''}${e.worker ? `, on ${e.worker}` : ''})`,
    inProgress: true,
    row: (e) => ({
      status: 'running',
      clock: 'start',
      detail: [
        ['gray', `${e.tool}${e.attempt > 1 ? ` attempt ${e.attempt}` : ''}${e.visit > 1 ? ` visit ${e.visit}` : ''}`],
      ],
    }),
    log: (e) => ['info', `task started: ${e.tool}`, { tool: e.tool, attempt: e.attempt, visit: e.visit }],
    trace: (e) => [
      {
        op: 'open',
        level: 'attempt',
        name: `braid.attempt ${e.tool}`,
        attributes: { 'braid.tool': e.tool, 'braid.attempt': e.attempt },
      },
    ],
  },
  'task.retrying': {
    requires: { error: 'error' },
    fold(s, e) {
      const more = s.more(e.taskId);
      closeAttempt(openAttempt(more, e.item), e.ts, 'retrying', { error: e.error, delayMs: e.delayMs });
    },
    describe: (e) => `${e.taskId} retrying in ${e.delayMs}ms: ${e.error.message}`,
    inProgress: true,
    row: (e) => ({ status: 'retrying', detail: [['yellow', `retry in ${e.delayMs}ms: ${e.error.message}`]] }),
    log: (e) => [
      'warn',
      `task retrying in ${e.delayMs}ms: ${e.error.message}`,
      { attempt: e.attempt, delayMs: e.delayMs, error: e.error },
    ],
    trace: (e) => [{ op: 'close', level: 'attempt', error: e.error }],
  },
  'task.recovery': {
    requires: { error: 'error' },
    fold(s, e) {
      const more = s.more(e.taskId);
      if (!more) return;
      closeAttempt(openAttempt(more, e.item), e.ts, 'failed', { error: e.error });
      more.recoveries.push({
        action: e.action,
        attempt: e.attempt,
        input: e.input,
        tool: e.tool,
        error: e.error,
        failed: e.failed,
      });
    },
    describe: (e) =>
      `${e.taskId}${e.item === undefined ? '' : ` item ${e.item}`} ${recoveryStep(e)} after: ${e.error.message}`,
    inProgress: true,
    row: none,
    log: (e) => [
      'warn',
      `on_failure ${e.action}${e.tool ? ` to ${e.tool}` : ''}${e.failed ? ` failed: ${e.failed.message}` : ''} after: ${e.error.message}`,
      {
        action: e.action,
        attempt: e.attempt,
        error: e.error,
        ...(e.item === undefined ? {} : { item: e.item }),
        ...(e.tool ? { tool: e.tool } : {}),
      },
    ],
    trace: noSpans,
  },
  'task.succeeded': {
    requires: {},
    fold(s, e) {
      const t = s.end(e.taskId, 'succeeded', e.replayed ? undefined : e.ts);
      if ('output' in e) t.output = e.output;
      const label = s.labels.take(e.taskId);
      Object.assign(t, label);
      s.replay?.successes.set(visitKey(e.taskId, e.visit), { output: e.output, attempt: e.attempt, ...label });
      const more = s.more(e.taskId);
      if (!more) return;
      if (e.replayed) more.replayed = true;
      closeAttempts(more, e.ts, 'succeeded');
    },
    describe: (e) =>
      `${e.taskId} succeeded in ${formatDuration(e.durationMs)}${e.replayed ? ' (recorded result reused)' : ''}`,
    inProgress: true,
    row: () => ({ status: 'succeeded', clock: 'end', keepLabel: true }),
    log: (e) => [
      'info',
      `task succeeded${e.replayed ? ' (recorded result reused)' : ''}`,
      { attempt: e.attempt, visit: e.visit, durationMs: e.durationMs },
    ],
    trace: (e) =>
      endTaskSpan(e, { 'braid.task.status': 'succeeded', ...(e.replayed ? { 'braid.task.replayed': true } : {}) }),
  },
  'task.failed': {
    requires: { error: 'error' },
    fold(s, e) {
      s.end(e.taskId, 'failed', e.attempt > 0 ? e.ts : undefined).error = e.error;
      const more = s.more(e.taskId);
      if (more) closeAttempts(more, e.ts, 'failed', e.error);
    },
    describe: (e) => `${e.taskId} failed: ${e.error.message}`,
    inProgress: true,
    row: (e) => ({ status: 'failed', clock: 'end', detail: [['red', e.error.message]] }),
    log: (e) => [
      'error',
      `task failed: ${e.error.message}`,
      { attempt: e.attempt, visit: e.visit, durationMs: e.durationMs, error: e.error },
    ],
    trace: (e) => endTaskSpan(e, { 'braid.task.status': 'failed' }, e.error),
  },
  'task.skipped': {
    requires: { reason: 'string' },
    fold(s, e) {
      const t = s.end(e.taskId, 'skipped');
      t.reason = e.reason;
      if (e.error) t.error = e.error;
    },
    describe: (e) => `${e.taskId} skipped (${e.reason})`,
    inProgress: true,
    row: (e) => ({ status: 'skipped', detail: [['gray', e.reason]] }),
    log: (e) => ['info', `task skipped: ${e.reason}`, { reason: e.reason }],
    trace: (e) => endTaskSpan(e, { 'braid.task.status': 'skipped', 'braid.task.skip_reason': e.reason }),
  },
  'task.labeled': {
    requires: { label: 'string', source: 'string' },
    fold: () => {}, // paired with the task's success (RunState.labels)
    describe: (e) => `${e.taskId} labeled "${e.label}" (${e.source})${e.reason ? `: ${e.reason}` : ''}`,
    inProgress: true,
    row: (e) => ({
      detail: [
        ['plain', 'label '],
        ['cyan', e.label],
        ['plain', ` (${e.source})`],
      ],
    }),
    log: (e) => [
      'info',
      `task labeled "${e.label}" by ${e.source}`,
      { label: e.label, source: e.source, ...(e.reason ? { reason: e.reason } : {}) },
    ],
    trace: (e) => [
      {
        op: 'annotate',
        level: 'task',
        attributes: { 'braid.task.label': e.label, 'braid.task.label_source': e.source },
      },
    ],
  },
  'task.waiting': {
    requires: {},
    fold(s, e) {
      s.task(e.taskId).status = 'waiting';
      keepInput(s, e);
      const more = s.more(e.taskId);
      if (more) more.waitingSince = e.ts;
    },
    describe: (e) => `${e.taskId} waiting for approval: braid approve ${e.runId} ${e.taskId}`,
    inProgress: true,
    row: () => ({ status: 'waiting', detail: [['yellow', 'waiting for approval']] }),
    log: (e) => ['warn', `waiting for approval: braid approve ${e.runId} ${e.taskId}`, { visit: e.visit }],
    trace: () => [{ op: 'close', level: 'task', attributes: { 'braid.task.status': 'waiting' } }],
  },
  'task.approval': {
    requires: { approved: 'boolean' },
    fold(s, e) {
      const { approved, inputHash, patch } = e;
      s.replay?.approvals.set(visitKey(e.taskId, e.visit), {
        approved,
        ...(inputHash !== undefined ? { inputHash } : {}),
        ...(patch ? { patch } : {}),
      });
      const more = s.more(e.taskId);
      if (!more) return;
      more.approval = { approved: e.approved, by: e.by, comment: e.comment, ts: e.ts };
      if (more.waitingSince !== undefined) more.waits.push({ start: more.waitingSince, end: e.ts });
      delete more.waitingSince;
    },
    describe: (e) =>
      `${e.taskId} ${e.approved ? 'approved' : 'rejected'}${e.patch ? ' with an edited input' : ''}${e.by ? ` by ${e.by}` : ''}${e.comment ? `: ${e.comment}` : ''}`,
    inProgress: true,
    row: none,
    log: (e) => [
      'info',
      `${e.approved ? 'approved' : 'rejected'}${e.by ? ` by ${e.by}` : ''}`,
      { approved: e.approved, ...(e.by ? { by: e.by } : {}) },
    ],
    trace: noSpans,
  },
  'task.child': {
    requires: { childRunId: 'string' },
    fold(s, e) {
      const children = s.detail?.children;
      if (children && s.more(e.taskId) && !children.some((c) => c.childRunId === e.childRunId))
        children.push({ taskId: e.taskId, childRunId: e.childRunId });
    },
    describe: (e) => `${e.taskId} started child run ${e.childRunId}`,
    inProgress: true,
    row: none,
    log: (e) => ['info', `child run ${e.childRunId} started`, { childRunId: e.childRunId }],
    trace: noSpans,
  },
  'task.routed': {
    requires: { to: 'string' },
    fold(s, e) {
      const routes = s.detail?.routes;
      if (!routes) return;
      s.task(e.taskId);
      const key = `${e.taskId}->${e.to}`;
      routes.set(key, (routes.get(key) ?? 0) + 1);
    },
    describe: (e) => `${e.taskId} routes to ${e.to} on ${e.on}`,
    inProgress: true,
    row: none,
    log: (e) => ['info', `routed on ${e.on} to ${e.to}`, { to: e.to, on: e.on }],
    trace: noSpans,
  },
  'task.progress': {
    requires: {},
    fold(s, e) {
      const more = s.more(e.taskId);
      if (!more) return;
      // a for_each item's end: `data` is `{ item, status }`
      const d = e.data as { item?: unknown; status?: unknown } | undefined;
      if (d && typeof d.item === 'number') {
        const status = d.status === 'succeeded' ? 'succeeded' : 'failed';
        more.items.set(d.item, status);
        closeAttempt(openAttempt(more, d.item), e.ts, status);
      }
      if (e.message) more.logs.push({ ts: e.ts, level: 'progress', message: e.message });
    },
    describe: (e) => `${e.taskId} ${percent(e.progress)}${e.message ?? ''}`,
    inProgress: true,
    row: (e) => ({ detail: [['gray', `${percent(e.progress)}${e.message ?? ''}`]] }),
    log: (e) => ['debug', e.message ?? 'progress', { ...(e.progress === undefined ? {} : { progress: e.progress }) }],
    trace: noSpans,
  },
  'task.log': {
    requires: {},
    fold(s, e) {
      if (!s.detail) return;
      const entry = { ts: e.ts, level: e.level, message: e.message, ...(e.fields ? { fields: e.fields } : {}) };
      (e.taskId ? s.more(e.taskId)! : s.detail).logs.push(entry);
    },
    describe: (e) => `${e.taskId ?? 'run'} ${e.level}: ${e.message}`,
    inProgress: false,
    row: none,
    log: (e) => [e.level, e.message, e.fields],
    trace: noSpans,
  },
  'llm.call': {
    requires: { usage: 'usage' },
    fold(s, e) {
      if (s.replay) {
        s.replay.tokens += e.usage?.totalTokens ?? 0;
        s.replay.costUsd += e.usage?.costUsd ?? 0;
        if (e.taskId && e.visit !== undefined && e.attempt !== undefined) {
          const key = attemptKey(e.taskId, e.visit, e.attempt, e.item);
          s.replay.calls.set(key, (s.replay.calls.get(key) ?? 0) + 1);
        }
      }
      s.addUsage(e.taskId, e.usage);
      if (!e.taskId || !s.detail) return;
      s.more(e.taskId)!.llm.push({
        ts: e.ts,
        provider: e.provider,
        model: e.model,
        purpose: e.purpose,
        latencyMs: e.latencyMs,
        usage: e.usage,
        ...(e.error ? { error: e.error } : {}),
        ...(e.childRunId ? { childRunId: e.childRunId } : {}),
      });
    },
    describe: (e) =>
      `${e.taskId ?? 'run'} llm ${e.purpose}: ${e.provider} ${e.model}, ${e.usage.totalTokens} tokens, ${formatDuration(e.latencyMs)}${e.error ? `, error: ${e.error.message}` : ''}`,
    inProgress: false,
    row: none,
    log: (e) => [
      e.error ? 'warn' : 'debug',
      `llm ${e.purpose}: ${e.provider} ${e.model} ${e.latencyMs}ms ${e.usage.totalTokens} tokens`,
      {
        provider: e.provider,
        model: e.model,
        purpose: e.purpose,
        latencyMs: e.latencyMs,
        usage: e.usage,
        ...(e.error ? { error: e.error } : {}),
      },
    ],
    trace: (e) => [
      {
        op: 'call',
        name: `chat ${e.model}`,
        latencyMs: e.latencyMs,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': e.provider,
          'gen_ai.system': e.provider,
          'gen_ai.request.model': e.model,
          'gen_ai.usage.input_tokens': e.usage.promptTokens,
          'gen_ai.usage.output_tokens': e.usage.completionTokens,
          'braid.llm.purpose': e.purpose,
          ...(e.usage.costUsd === null ? {} : { 'braid.llm.cost_usd': e.usage.costUsd }),
        },
        ...(e.error ? { error: e.error } : {}),
      },
    ],
  },
};

/** The descriptor of an event, none for a type this version does not know (a record a newer braid wrote). */
export function descriptorOf<E extends RunEvent>(e: E): EventDescriptor<E> | undefined {
  // a type this version does not know has no own entry (and `__proto__` or `toString` are not entries)
  return Object.hasOwn(EVENT_TABLE, e.type) ? (EVENT_TABLE[e.type] as unknown as EventDescriptor<E>) : undefined;
}

/**
 * Fold one event into the state: the bookkeeping every event shares (its number, its time, the labels waiting for
 * a success), then its type's fold. An event of an unknown type changes nothing but the run's last number.
 */
export function foldEvent(s: RunState, e: RunEvent): void {
  const at = Date.parse(e.ts);
  if (!s.seen) {
    s.seen = true;
    s.run.runId ||= e.runId;
    s.run.startedAt ||= e.ts;
    s.segmentStart = at;
  }
  s.run.lastSeq = Math.max(s.run.lastSeq, e.seq);
  s.replay?.see(e, at);
  try {
    s.labels.see(e);
    descriptorOf(e)?.fold(s, e);
  } finally {
    if (Number.isFinite(at)) s.lastAt = at;
  }
}

/** One human sentence per event (the type alone for one this version does not know); escape it to print it. */
export const sentenceOf = (e: RunEvent): string => descriptorOf(e)?.describe(e) ?? String(e.type);
