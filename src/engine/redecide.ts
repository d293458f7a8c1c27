/**
 * Deciding a recorded run again (workflow-spec.md §7a, the base of forks and replay): the record's events are read
 * back as the facts `step` was fed (an attempt started, ended with this output or that error, an expression came out
 * true, a label was given, the run was stopped) and fed through `step`, and every decision `step` makes must be the
 * one recorded: each task's entries, starts (with the same `inputHash`: the input is rendered again), recoveries,
 * routes, labels, skips with their reasons, ends, and the run's status. A record with resumes is decided segment by
 * segment, each over what the earlier ones recorded (as `braid resume` continues it).
 *
 * Facts are inferred lazily: an event `step` has not yet given must be explained by the one fact that gives it (the
 * attempt it names ended, the expression of the task it names was evaluated, the run was stopped), found among the
 * actions `step` asked for. A failed attempt's error counts as retryable exactly when the record retried it (the
 * record keeps no other trace of the bit). Data a tool or a model made (outputs, error messages, durations, usage)
 * is read, not decided, so it is not compared; error codes are.
 */
import type { ErrorRecord, RunEvent } from '../core/events.js';
import type { RunStatus, SkipReason } from '../core/result.js';
import type { ErrorCode } from '../errors.js';
import { recordedInput } from '../core/input-hash.js';
import { replayOf } from '../store/fold.js';
import type { Plan } from './plan.js';
import { initialState, step, type Action, type Command, type Fact, type RunState } from './step.js';

export interface Redecision {
  /** The status the last segment's `step` finished with (none when it did not finish). */
  readonly status?: RunStatus;
  /** Decisions that differ from the record, in order, each naming the event; empty when the run re-decides. */
  readonly mismatches: readonly string[];
  /** Recorded decisions compared. */
  readonly compared: number;
}

/** Events `step` makes; the rest (the run's own, model calls, logs, retries' delays, child runs) are the driver's. */
const DECIDED = new Set([
  'task.ready',
  'task.started',
  'task.recovery',
  'task.succeeded',
  'task.failed',
  'task.skipped',
  'task.labeled',
  'task.waiting',
  'task.routed',
]);

/** Whether `step` stops a run for this itself: over `max_tasks`, over `max_visits`, a task it cannot decide. */
function ownStop(reason: string, error: ErrorRecord | undefined): boolean {
  if (reason === 'budget_exceeded') return /max_tasks/.test(error?.message ?? '');
  return reason === 'run_failed' && (error?.code === 'E_MAX_VISITS' || error?.code === 'E_INTERNAL');
}

const externalStop = (reason: SkipReason, error: ErrorRecord | undefined): Extract<Fact, { kind: 'stop' }> => ({
  kind: 'stop',
  reason,
  ...(error && reason !== 'cancelled' ? { error: { message: error.message, code: error.code as ErrorCode } } : {}),
});

/** The reasons of a skip after the run was stopped. */
const STOPPED = new Set(['cancelled', 'budget_exceeded', 'run_failed']);

/** A for_each item's end, as `step` records it (a tool's own progress is data, not a decision). */
const isItemEnd = (e: { type: string; data?: unknown; message?: string }): boolean =>
  e.type === 'task.progress' &&
  typeof e.message === 'string' &&
  /^item \d+ of \d+: /.test(e.message) &&
  e.data !== null &&
  typeof e.data === 'object' &&
  'status' in e.data;

const decided = (e: RunEvent | Command): e is RunEvent => 'type' in e && (DECIDED.has(e.type) || isItemEnd(e));

/** The decision an event records, without the data it carries. */
function decision(e: Record<string, unknown>): string {
  const pick: Record<string, unknown> = { type: e.type, taskId: e.taskId };
  for (const k of ['visit', 'attempt', 'item', 'routedFrom', 'tool', 'action', 'reason', 'label', 'source', 'to', 'on'])
    if (e[k] !== undefined) pick[k] = e[k];
  if (e.type === 'task.started' || e.type === 'task.waiting') pick.inputHash = e.inputHash;
  if (e.type === 'task.succeeded' && e.replayed) pick.replayed = true;
  const error = e.error as { code?: string } | undefined;
  if (error) pick.code = error.code;
  if (e.type === 'task.progress') pick.data = e.data;
  return JSON.stringify(pick);
}

const key = (task: number, item?: number) => `${task}${item === undefined ? '' : `.${item}`}`;

/** Decide `events` (a run's record, every segment) again over `plan`; `maxTasks` as the run's budget had it. */
export function redecide(plan: Plan, events: readonly RunEvent[], maxTasks?: number): Redecision {
  const mismatches: string[] = [];
  let compared = 0;
  let status: RunStatus | undefined;
  const starts = events.flatMap((e, i) => (e.type === 'run.started' || e.type === 'run.resumed' ? [i] : []));
  const input = (events.find((e) => e.type === 'run.started') as { input?: unknown } | undefined)?.input ?? {};
  for (let n = 0; n < starts.length; n++) {
    const from = starts[n];
    const to = n + 1 < starts.length ? starts[n + 1] : events.length;
    const segment = new Segment(plan, events, from, to, input, maxTasks);
    const r = segment.run();
    mismatches.push(...r.mismatches);
    compared += r.compared;
    status = r.status;
    if (r.mismatches.length) break;
  }
  return { ...(status ? { status } : {}), mismatches, compared };
}

/** One process's part of the record: from a `run.started` or `run.resumed` to the next. */
class Segment {
  readonly #state: RunState;
  /** Per task, the decisions `step` made and how many of them the record showed so far. */
  readonly #expected = new Map<string, { events: RunEvent[]; next: number }>();
  /** Actions `step` asked for and no fact answered yet. */
  readonly #attempts = new Map<string, Extract<Action, { kind: 'attempt' }>>();
  readonly #evaluations = new Map<number, Extract<Action, { kind: 'evaluate' }>>();
  readonly #backoffs = new Set<string>();
  readonly #adjusts = new Set<string>();
  readonly #labels = new Set<number>();
  readonly #mismatches: string[] = [];
  #compared = 0;

  constructor(
    readonly plan: Plan,
    readonly events: readonly RunEvent[],
    readonly from: number,
    readonly to: number,
    input: unknown,
    maxTasks: number | undefined,
  ) {
    const runId = events[from]?.runId ?? '';
    const replay = events[from]?.type === 'run.resumed' ? replayOf(events.slice(0, from)) : undefined;
    this.#state = initialState({
      plan,
      runId,
      input,
      ...(replay ? { replay } : {}),
      ...(maxTasks === undefined ? {} : { maxTasks }),
    });
  }

  run(): { status?: RunStatus; mismatches: string[]; compared: number } {
    this.#feed({ kind: 'start' });
    for (let i = this.from + 1; i < this.to && this.#mismatches.length === 0; i++) {
      const e = this.events[i];
      if (e.type === 'task.retrying') this.#failed(e.taskId, e.attempt, e.item, e.error, true);
      else if (e.type === 'run.stopping') this.#stopping(e);
      else if (decided(e)) this.#explain(i);
    }
    const recorded = this.#find(this.from, (e) => e.type === 'run.finished');
    // A segment cut short (kill -9) holds only part of what was decided; a finished one holds all of it.
    for (const { events, next } of this.#expected.values())
      if (this.#mismatches.length === 0 && recorded && next < events.length)
        this.#mismatches.push(`step decided ${decision(events[next] as never)}, which the record lacks`);
    const status = this.#state.finished;
    if (this.#mismatches.length === 0 && recorded?.type === 'run.finished' && recorded.status !== status)
      this.#mismatches.push(`the run finished ${recorded.status} in the record, ${status ?? 'not at all'} here`);
    return { ...(status ? { status } : {}), mismatches: this.#mismatches, compared: this.#compared };
  }

  /**
   * The run was stopped here: from outside (a cancel, a token, cost or time budget, a record that could not be
   * written), it is the fact; else `step` stopped it itself and must have said so already, for the same reason.
   */
  #stopping(e: Extract<RunEvent, { type: 'run.stopping' }>): void {
    const s = this.#state;
    if (s.stopped) {
      this.#compared++;
      if (s.stopped !== e.reason)
        this.#mismatches.push(`event ${e.seq}: the run stopped (${e.reason}), step stopped it (${s.stopped})`);
      return;
    }
    // step's own stop comes with the fact that makes it (an entry over max_tasks or max_visits), inferred later.
    if (!ownStop(e.reason, e.error)) this.#feed(externalStop(e.reason, e.error));
  }

  #feed(fact: Fact): void {
    for (const c of step(this.#state, fact)) {
      if ('type' in c) {
        if (!decided(c as RunEvent)) continue;
        const taskId = (c as { taskId: string }).taskId;
        const queue = this.#expected.get(taskId);
        if (queue) queue.events.push(c as RunEvent);
        else this.#expected.set(taskId, { events: [c as RunEvent], next: 0 });
        continue;
      }
      if (c.kind === 'attempt') this.#attempts.set(`${key(c.task, c.item)}#${c.attempt}`, c);
      else if (c.kind === 'evaluate') this.#evaluations.set(c.task, c);
      else if (c.kind === 'backoff') this.#backoffs.add(key(c.task, c.item));
      else if (c.kind === 'adjust') this.#adjusts.add(key(c.task, c.item));
      else if (c.kind === 'label') this.#labels.add(c.task);
    }
  }

  /**
   * The recorded decision at `i`: feed the facts that explain it until `step` gives its task a decision, then compare.
   * Each task's decisions are compared in order; how two tasks' events interleave is the driver's, not a decision.
   */
  #explain(i: number): void {
    const e = this.events[i] as RunEvent & { taskId: string };
    const pending = () => {
      const q = this.#expected.get(e.taskId);
      return q && q.next < q.events.length ? q : undefined;
    };
    let queue = pending();
    while (!queue) {
      if (!this.#infer(i)) {
        this.#mismatches.push(
          `the record has ${decision(e as never)}, which step did not decide (nothing explains it)`,
        );
        return;
      }
      queue = pending();
    }
    const next = queue.events[queue.next];
    if (e.type === 'task.ready' && next.type === 'task.skipped' && STOPPED.has(next.reason)) {
      // The engine before step entered a task whose condition came true after the run stopped, then skipped it
      // without running it; step skips it without entering. Both skip it, for the same reason: compared there.
      const later = this.#find(i + 1, (x) => 'taskId' in x && x.taskId === e.taskId);
      if (later?.type === 'task.skipped' && later.reason === next.reason) return;
    }
    queue.next++;
    const want = decision(next as never);
    const got = decision(e as never);
    this.#compared++;
    if (want !== got) this.#mismatches.push(`event ${e.seq}: the record has ${got}, step decided ${want}`);
  }

  /** The first event of this segment from `i` on that `test` accepts (read in place, not copied). */
  #find(i: number, test: (e: RunEvent) => boolean): RunEvent | undefined {
    for (let k = i; k < this.to; k++) if (test(this.events[k])) return this.events[k];
    return undefined;
  }

  #task(id: string): number {
    return this.plan.indexOf.get(id) ?? -1;
  }

  /** Feed the one fact that explains the recorded decision at `i`; false when nothing pending explains it. */
  #infer(i: number): boolean {
    const e = this.events[i] as RunEvent & Record<string, unknown>;
    const task = this.#task(e.taskId as string);
    if (task < 0) return false;
    const item = e.type === 'task.progress' ? (e.data as { item: number }).item : (e.item as number | undefined);
    const s = this.#state;
    if (e.type === 'task.skipped' && !s.stopped) {
      const stop = this.#externalStop(i, e.reason);
      if (stop) {
        this.#feed(stop);
        return true;
      }
    }
    const evaluation = this.#evaluations.get(task);
    if (evaluation) {
      this.#evaluations.delete(task);
      if (e.type === 'task.failed' && e.error.code === 'E_EXPRESSION')
        this.#feed({ kind: 'evaluated', task, purpose: evaluation.purpose, error: e.error.message });
      else {
        // A condition skips its task (`condition_false`) or lets it in; an approval's `when` makes it wait or not.
        const truthy =
          evaluation.purpose === 'when'
            ? !(e.type === 'task.skipped' && e.reason === 'condition_false')
            : e.type === 'task.waiting';
        this.#feed({ kind: 'evaluated', task, purpose: evaluation.purpose, truthy });
      }
      return true;
    }
    if (this.#labels.has(task)) {
      this.#labels.delete(task);
      if (e.type === 'task.labeled')
        this.#feed({
          kind: 'labeled',
          task,
          label: {
            label: e.label,
            source: e.source,
            ...(e.reason ? { reason: e.reason } : {}),
          },
        });
      else if (e.type === 'task.failed') this.#feed({ kind: 'labeled', task, error: e.error });
      else this.#feed({ kind: 'labeled', task });
      return true;
    }
    const lane = key(task, item);
    if (this.#adjusts.has(lane) && e.type === 'task.recovery' && e.action === 'adjust') {
      this.#adjusts.delete(lane);
      this.#feed({ kind: 'adjusted', task, item, ...(e.failed ? { error: e.failed } : { input: e.input }) });
      return true;
    }
    const attempt = this.#pendingAttempt(task, item);
    if (attempt && e.type === 'task.started' && e.attempt === attempt.attempt) {
      this.#feed({
        kind: 'started',
        task,
        visit: attempt.visit,
        attempt: attempt.attempt,
        ...(item === undefined ? {} : { item }),
        tool: attempt.tool.name,
        startedAt: e.startedAt ?? e.ts,
        recorded: recordedInput(attempt.input),
        ...(e.worker ? { worker: e.worker } : {}),
        ...(e.startedAt ? { reportedStart: e.startedAt } : {}),
      });
      this.#started.add(`${lane}#${attempt.attempt}`);
      return true;
    }
    if (attempt) return this.#ended(attempt, i);
    if (this.#backoffs.has(lane)) {
      this.#backoffs.delete(lane);
      this.#feed({ kind: 'backoff_done', task, ...(item === undefined ? {} : { item }) });
      return true;
    }
    return false;
  }

  readonly #started = new Set<string>();

  /**
   * The stop from outside that a skip at `i` for `reason` shows, when it is one: a cancel, a token, cost or time
   * budget, a record that could not be written. (`step` stops a run itself over `max_tasks`, `max_visits` and a
   * task it cannot decide: those it decides again.)
   */
  #externalStop(i: number, reason: string): Extract<Fact, { kind: 'stop' }> | undefined {
    if (reason === 'cancelled') return externalStop(reason, undefined);
    if (reason !== 'budget_exceeded' && reason !== 'run_failed') return undefined;
    const finished = this.#find(i, (x) => x.type === 'run.finished');
    const error = finished?.type === 'run.finished' ? finished.error : undefined;
    return error && !ownStop(reason, error) ? externalStop(reason, error) : undefined;
  }

  #pendingAttempt(task: number, item: number | undefined): Extract<Action, { kind: 'attempt' }> | undefined {
    const prefix = `${key(task, item)}#`;
    for (const [k, a] of this.#attempts) if (k.startsWith(prefix)) return a;
    return undefined;
  }

  /** An attempt `step` started ended: how, the recorded decision at `i` says. */
  #ended(a: Extract<Action, { kind: 'attempt' }>, i: number): boolean {
    const e = this.events[i] as RunEvent & Record<string, unknown>;
    const { task, item } = a;
    const wasStarted = this.#started.has(`${key(task, item)}#${a.attempt}`);
    const failed = (error: { message: string; code?: string }, retryable = false) =>
      this.#failed(e.taskId as string, a.attempt, item, error, retryable);
    if (!wasStarted) {
      this.#attempted(a, { status: 'cancelled' });
      return true;
    }
    const itemEnd = e.type === 'task.progress' ? (e.data as { status: string }).status : undefined;
    if (e.type === 'task.recovery') failed(e.error);
    else if (e.type === 'task.failed' && this.#labelFailed(i, a))
      this.#attempted(a, { status: 'succeeded', output: null, durationMs: 0, endedAt: e.ts });
    else if (e.type === 'task.failed' || itemEnd === 'failed') failed(this.#errorOf(i, a));
    else if (e.type === 'task.skipped' && e.error) failed(e.error);
    else if (e.type === 'task.skipped' || itemEnd === 'skipped') this.#attempted(a, { status: 'cancelled' });
    else this.#attempted(a, { status: 'succeeded', output: this.#outputOf(i, a), durationMs: 0, endedAt: e.ts });
    return true;
  }

  /** A failed attempt (retryable when the record retried it). */
  #failed(
    taskId: string,
    attempt: number,
    item: number | undefined,
    error: { message: string; code?: string },
    retryable: boolean,
  ): void {
    const task = this.#task(taskId);
    const a = this.#attempts.get(`${key(task, item)}#${attempt}`);
    if (!a) return;
    this.#attempted(a, {
      status: 'failed',
      error: { message: error.message, ...(error.code === undefined ? {} : { code: error.code }), retryable },
      durationMs: 0,
      endedAt: '',
    });
  }

  #attempted(a: Extract<Action, { kind: 'attempt' }>, result: Extract<Fact, { kind: 'attempted' }>['result']): void {
    this.#attempts.delete(`${key(a.task, a.item)}#${a.attempt}`);
    this.#feed({
      kind: 'attempted',
      task: a.task,
      visit: a.visit,
      attempt: a.attempt,
      ...(a.item === undefined ? {} : { item: a.item }),
      tool: a.tool.name,
      startedAt: '',
      result,
    });
  }

  /**
   * Whether a task's failure at `i` came after its attempt succeeded, in deciding its label: the label was not one of
   * the candidates (`E_LABEL`), or the classifier's model call failed.
   */
  #labelFailed(i: number, a: Extract<Action, { kind: 'attempt' }>): boolean {
    const t = this.plan.tasks[a.task];
    if (t.labelCandidates.length === 0 || a.item !== undefined) return false;
    const e = this.events[i];
    if (e.type === 'task.failed' && e.error.code === 'E_LABEL') return true;
    for (let k = i - 1; k > this.from; k--) {
      const x = this.events[k];
      if (x.type === 'task.started' && x.taskId === t.id) return false;
      if (x.type === 'llm.call' && x.taskId === t.id && x.purpose === 'classify') return true;
    }
    return false;
  }

  /** A successful attempt's output: the task's next recorded success (an item's: its place in the list). */
  #outputOf(i: number, a: Extract<Action, { kind: 'attempt' }>): unknown {
    const id = this.plan.tasks[a.task].id;
    const done = this.#find(i, (x) => x.type === 'task.succeeded' && x.taskId === id);
    const output = done?.type === 'task.succeeded' ? done.output : undefined;
    return a.item === undefined ? output : Array.isArray(output) ? output[a.item] : null;
  }

  /** A failed attempt's error: the task's recorded failure (an item's: the cause the task's error names). */
  #errorOf(i: number, a: Extract<Action, { kind: 'attempt' }>): { message: string; code?: string } {
    const id = this.plan.tasks[a.task].id;
    const failed = this.#find(i, (x) => x.type === 'task.failed' && x.taskId === id);
    const error = failed?.type === 'task.failed' ? failed.error : { message: 'failed' };
    if (a.item === undefined) return error;
    const own = / \(([^()]+)\)$/.exec(error.message);
    return { message: error.message, ...(own ? { code: own[1] } : error.code ? { code: error.code } : {}) };
  }
}
