/**
 * The run's transition function: `step(state, fact) → commands` (workflow-spec.md §7a; Elm's `update`, Temporal's
 * workflow task). A fact is something that happened (the run started, an attempt ended, an expression was evaluated,
 * a backoff elapsed, a label was decided, the run was stopped); the commands say what to do next: events to record
 * (a command with a `type` is a `RunEventBody`), and actions with a `kind` (start an attempt, wait a backoff,
 * evaluate an expression, adjust an input, decide a label, abort what runs, finish the run). The driver
 * (`scheduler.ts`) performs the actions and feeds back their facts.
 *
 * Nothing here reads a clock, awaits, or calls back into the driver: every state of the run (upstream counts,
 * visits, retries, `for_each` items, the task budget, approvals, the fatal error) lives in {@link RunState}, so any
 * sequence of facts can be replayed, and a run's record can be decided again (`redecide.ts`). `step` updates the
 * state it is given in place (a run is thousands of facts; copying it for each would cost more than deciding) and
 * returns the commands of that fact, in order. The rules themselves are the pure functions of `decide.ts` and
 * `trigger-rules.ts`; this module keeps the state they are decided over.
 */
import type { AttemptError } from '../executors/contract.js';
import type { ErrorCode } from '../errors.js';
import type { ErrorRecord, RunEventBody, Usage } from '../core/events.js';
import { isErrorCode } from '../errors.js';
import type { RunResult, RunStatus, SkipReason, TaskResult, TaskStatus } from '../core/result.js';
import { clearOutcome, type AttemptRecord } from '../core/result.js';
import { addUsage } from '../core/usage.js';
import { recordedInput } from '../core/input-hash.js';
import { applyJsonPatch } from '../core/json-patch.js';
import { describeThrown } from '../core/thrown.js';
import type { TemplateContext } from '../spec/template.js';
import type { Expression } from '../spec/expression.js';
import { TRIGGER_RULE_TRAITS } from '../spec/schema.js';
import type { Tool, UpstreamOutput } from '../toolkit/types.js';
import { effectiveInput } from './effective-input.js';
import type { Plan, PlanPolicyStep, PlanTask } from './plan.js';
import { ruleStatus } from './trigger-rules.js';
import type { LabelDecision } from './labels.js';
import { visitKey, type Replay } from '../store/fold.js';
import {
  decideExpression,
  decideForEach,
  decideRoutes,
  decideTask,
  decideVisit,
  firstRecovery,
  recover,
  runStatus,
  settle,
  type ItemOutcome,
  type RecoveryState,
  type TaskFacts,
  type TaskState,
} from './decide.js';

/** A run-fatal error, as recorded: braid raised it, so its code is one of `ERROR_CODES`. */
export type FatalError = { readonly message: string; readonly code: ErrorCode; readonly stack?: string };

/** What templates and expressions read of a finished task. */
export interface TaskView {
  status: TaskStatus;
  output: unknown;
  label?: string;
  /** The classifier's reason for the label. */
  labelReason?: string;
  error?: ErrorRecord;
}

type AdjustStep = Extract<PlanPolicyStep, { kind: 'adjust' }>;

/** An attempt's coordinates: the task, its visit, the attempt, and the `for_each` item. */
export interface AttemptAt {
  readonly task: number;
  readonly visit: number;
  readonly attempt: number;
  readonly item?: number;
}

/** What happened. `at` (where a fact has one) is the driver's monotonic clock in ms, for durations. */
export type Fact =
  | { readonly kind: 'start' }
  /** A condition (`purpose: 'when'`) or an `approval.when` was evaluated: its truthiness, or why it failed. */
  | {
      readonly kind: 'evaluated';
      readonly task: number;
      readonly purpose: 'when' | 'approval';
      readonly truthy?: boolean;
      readonly error?: string;
    }
  /** The attempt got its slot (`startedAt`: when; `reportedStart`: a worker's own start, when earlier). */
  | (AttemptAt & {
      readonly kind: 'started';
      readonly tool: string;
      readonly startedAt: string;
      readonly recorded: ReturnType<typeof recordedInput>;
      readonly worker?: string;
      readonly reportedStart?: string;
    })
  /** The attempt ended: `startedAt` empty when it never started; `usage`: what its model calls spent. */
  | (AttemptAt & {
      readonly kind: 'attempted';
      readonly tool: string;
      readonly startedAt: string;
      readonly result:
        | {
            readonly status: 'succeeded';
            readonly output: unknown;
            readonly durationMs: number;
            readonly endedAt: string;
          }
        | {
            readonly status: 'failed';
            readonly error: AttemptError;
            readonly durationMs: number;
            readonly endedAt: string;
          }
        | { readonly status: 'cancelled' };
      readonly usage?: Usage;
    })
  /** A plain retry's backoff elapsed (or the run was stopped meanwhile). */
  | { readonly kind: 'backoff_done'; readonly task: number; readonly item?: number }
  /** An `adjust` step made a new input, or failed to (`error`). */
  | {
      readonly kind: 'adjusted';
      readonly task: number;
      readonly item?: number;
      readonly input?: unknown;
      readonly error?: ErrorRecord;
    }
  /** A succeeded task's label was decided (none: it has none), or deciding it failed. */
  | { readonly kind: 'labeled'; readonly task: number; readonly label?: LabelDecision; readonly error?: ErrorRecord }
  /** Model calls of a task spent this (its usage adds up; the budget counts it in the driver). */
  | { readonly kind: 'usage'; readonly task: number; readonly usage: Usage }
  /** A task of a child run was entered: it counts toward this run's `max_tasks`. */
  | { readonly kind: 'child_task' }
  /** Stop the run: cancelled from outside (no `error`), or a run-fatal error (a budget, the record, a bug). */
  | { readonly kind: 'stop'; readonly error?: FatalError; readonly reason?: SkipReason };

/** What to do (events to record are the other commands: `RunEventBody`). */
export type Action =
  | {
      readonly kind: 'evaluate';
      readonly task: number;
      readonly purpose: 'when' | 'approval';
      readonly expression: Expression;
      readonly scope: Record<string, unknown>;
      readonly timeoutMs?: number;
    }
  | (AttemptAt & { readonly kind: 'attempt'; readonly tool: Tool; readonly input: unknown })
  /** Wait the backoff before attempt `attempt + 1` (the driver picks the delay and records `task.retrying`). */
  | {
      readonly kind: 'backoff';
      readonly task: number;
      readonly item?: number;
      readonly attempt: number;
      readonly error: ErrorRecord;
    }
  | {
      readonly kind: 'adjust';
      readonly task: number;
      readonly item?: number;
      readonly step: AdjustStep;
      readonly tool: Tool;
      readonly input: unknown;
      readonly error: ErrorRecord;
      readonly ctx: TemplateContext;
    }
  | { readonly kind: 'label'; readonly task: number; readonly output: unknown; readonly input: unknown }
  /** Abort the attempts in flight with this error (none: a cancellation). */
  | { readonly kind: 'abort'; readonly error?: FatalError }
  | { readonly kind: 'finish'; readonly status: RunStatus };

export type Command = RunEventBody | Action;

/** How a task's execution (all its attempts, every for_each item) ended. `input`: what a classifier sees. */
type Outcome =
  | { ok: true; output: unknown; input: unknown; attempt: number; durationMs: number }
  | { ok: false; error: ErrorRecord; attempt?: number; durationMs: number }
  | { skipped: SkipReason; error?: ErrorRecord };

/** One line of attempts: a task's, or one `for_each` item's. */
interface Lane {
  readonly item: number | undefined;
  readonly ctx: TemplateContext;
  tool: Tool;
  input: unknown;
  attempt: number;
  recovery: RecoveryState;
  /** The failed attempt being recovered from. */
  error?: AttemptError;
  outcome?: Outcome;
}

/** A visit being executed. */
interface Execution {
  readonly visit: number;
  /** When it began (a `for_each`'s duration is its items'). */
  readonly at: number;
  readonly items?: readonly unknown[];
  readonly lanes: Lane[];
  next: number;
  done: number;
  /** Set while its label is decided. */
  outcome?: Extract<Outcome, { ok: true }>;
}

/** A task's state beyond its result. */
interface Slot {
  state: TaskState;
  /** Upstreams not yet terminal. */
  waiting: number;
  /** Terminal counts over the task's rule upstreams. */
  succeeded: number;
  failed: number;
  skipped: number;
  finishedOnce: boolean;
  execution?: Execution;
  /** An approval gate whose `when` is being evaluated: the visit and the input the decision would be on. */
  gate?: { readonly visit: number; readonly recorded?: ReturnType<typeof recordedInput> };
}

/** Everything a run's decisions depend on. Made by {@link initialState}; changed only by {@link step}. */
export interface RunState {
  readonly plan: Plan;
  readonly runId: string;
  readonly input: unknown;
  /** The recorded run this one continues: its successes are reused, its approvals apply, its spending counts. */
  readonly replay?: Replay;
  readonly maxTasks?: number;
  /** Task visits counted toward `max_tasks` (a resumed run's recorded ones included). */
  tasksCounted: number;
  readonly slots: Slot[];
  /** Each task's result, as the run's result and record show it. */
  readonly results: TaskResult[];
  /** The latest view of each terminal task, read by templates and expressions. */
  readonly views: Record<string, TaskView>;
  readonly ctx: TemplateContext;
  /** Tasks `running` (deciding, queued or running): the run ends when none is. */
  running: number;
  /** Tasks paused for a human: the run ends `waiting` when nothing else is running. */
  waitingApproval: number;
  /** Why the rest of the run is skipped, once it was stopped. */
  stopped?: SkipReason;
  /** The run-fatal error that stopped the run. */
  fatal?: FatalError;
  /** Set once the run finished (the `finish` command was given). */
  finished?: RunStatus;
  /** The time of the fact being stepped (from the driver's clock). */
  now: number;
  readonly worklist: number[];
  /** The commands of the fact being stepped. */
  out: Command[];
}

export function initialState(o: {
  readonly plan: Plan;
  readonly runId: string;
  readonly input: unknown;
  readonly replay?: Replay;
  readonly maxTasks?: number;
}): RunState {
  const tasks = o.plan.tasks;
  const views: Record<string, TaskView> = {};
  return {
    plan: o.plan,
    runId: o.runId,
    input: o.input,
    ...(o.replay ? { replay: o.replay } : {}),
    ...(o.maxTasks === undefined ? {} : { maxTasks: o.maxTasks }),
    tasksCounted: o.replay?.spent.visits.size ?? 0,
    slots: tasks.map((t) => ({
      state: 'pending',
      waiting: t.upstreams.length,
      succeeded: 0,
      failed: 0,
      skipped: 0,
      finishedOnce: false,
      // Every field from the start: one object shape for every slot.
      execution: undefined,
      gate: undefined,
    })),
    results: tasks.map(() => ({ status: 'pending', attempts: 0, visits: 0 }) as TaskResult),
    views,
    ctx: { input: o.input, tasks: views, run: { id: o.runId } },
    running: 0,
    waitingApproval: 0,
    now: 0,
    worklist: [],
    out: [],
  };
}

/** Apply one fact; returns the commands it gives, in order (`at`: the fact's time on the driver's clock). */
export function step(s: RunState, fact: Fact, at = 0): Command[] {
  s.out = [];
  s.now = at;
  switch (fact.kind) {
    case 'start':
      for (const t of s.plan.tasks) if (t.upstreams.length === 0 && !t.routingOnly) s.worklist.push(t.index);
      break;
    case 'evaluated':
      evaluated(s, fact);
      break;
    case 'started':
      started(s, fact);
      break;
    case 'attempted':
      attempted(s, fact);
      break;
    case 'backoff_done':
      nextAttempt(s, s.plan.tasks[fact.task], lane(s, fact.task, fact.item));
      break;
    case 'adjusted':
      adjusted(s, fact);
      break;
    case 'labeled':
      labeled(s, fact);
      break;
    case 'usage':
      s.results[fact.task].usage = addUsage(s.results[fact.task].usage, fact.usage);
      break;
    case 'child_task':
      countTask(s);
      break;
    case 'stop':
      stop(s, fact.error, fact.reason ?? (fact.error ? 'run_failed' : 'cancelled'));
      break;
  }
  drain(s);
  return s.out;
}

/** The run's result once it finished: each task's, the output (none while waiting), the usage. */
export function runResult(s: RunState, times: { readonly startedAt: string; readonly endedAt: string }): RunResult {
  const { plan, slots, results } = s;
  const status = s.finished!;
  let output: unknown;
  if (status !== 'waiting') {
    if (plan.output) output = plan.output(s.ctx);
    else
      for (const t of plan.tasks)
        if (t.downstreams.length === 0 && slots[t.index].state === 'succeeded')
          ((output ??= {}) as Record<string, unknown>)[t.id] = results[t.index].output;
  }
  // Succeeded with nothing to show: every task nothing depends on was skipped (§3, labels).
  const empty =
    status === 'succeeded' && plan.tasks.every((t) => t.downstreams.length > 0 || slots[t.index].state === 'skipped');
  const tasks: Record<string, TaskResult> = {};
  let usage: Usage | undefined;
  for (const t of plan.tasks) {
    tasks[t.id] = results[t.index];
    usage = addUsage(usage, results[t.index].usage);
  }
  return {
    runId: s.runId,
    workflow: plan.workflow.name,
    status,
    ...times,
    ...(s.fatal ? { error: s.fatal } : {}),
    ...(output !== undefined ? { output } : {}),
    ...(empty ? { empty: true as const } : {}),
    tasks,
    ...(usage ? { usage } : {}),
  };
}

// ---- stopping ---------------------------------------------------------------------------------------

function stop(s: RunState, error: FatalError | undefined, reason: SkipReason): void {
  if (error) s.fatal ??= error;
  if (s.stopped) return;
  s.stopped = reason;
  s.out.push(
    { type: 'run.stopping', reason, ...(error ? { error } : {}) },
    { kind: 'abort', ...(error ? { error } : {}) },
  );
}

/** Count a task visit toward `max_tasks`; false (and the run stopped) when it goes over. */
function countTask(s: RunState): boolean {
  s.tasksCounted++;
  if (s.maxTasks === undefined || s.tasksCounted <= s.maxTasks) return true;
  stop(s, { message: `budget exceeded: max_tasks ${s.maxTasks} reached`, code: 'E_BUDGET' }, 'budget_exceeded');
  return false;
}

// ---- deciding ---------------------------------------------------------------------------------------

/** Decide every task on the worklist, then settle what nobody will decide; finish when nothing is left. */
function drain(s: RunState): void {
  if (s.finished) return;
  for (;;) {
    // FIFO, so ready tasks start in file order (the list grows while it is read).
    for (let k = 0; k < s.worklist.length; k++) decide(s, s.worklist[k]);
    s.worklist.length = 0;
    if (s.running > 0) return;
    // Paused for a human: the rest stays pending for `braid approve` to continue.
    if (s.waitingApproval > 0 && !s.stopped) break;
    if (!settleUnreached(s)) break;
  }
  s.finished = runStatus({
    fatal: s.fatal !== undefined,
    aborted: s.stopped !== undefined,
    waitingApproval: s.waitingApproval,
    unhandledFailure: s.plan.tasks.some((t) => s.slots[t.index].state === 'failed' && !t.failureHandled),
  });
  s.out.push({ kind: 'finish', status: s.finished });
}

/**
 * Nothing is running: skip the tasks nobody routed to, which may unblock joins. False when nothing changed. A task
 * still pending that the decider calls stuck can never be decided: a bug in braid, so the run fails with
 * `E_INTERNAL` (the rest is then skipped) rather than hiding it.
 */
function settleUnreached(s: RunState): boolean {
  const pending = s.plan.tasks.filter((t) => s.slots[t.index].state === 'pending');
  const { skip, stuck } = settle(pending, s.stopped);
  for (const { task, reason } of skip) finish(s, task.index, 'skipped', { reason });
  if (stuck.length > 0) {
    const ids = stuck.map((t) => t.id).join(', ');
    const message = `internal error: the scheduler cannot decide ${ids} (nothing is running and nothing else can change); please report this`;
    stop(s, { message, code: 'E_INTERNAL' }, 'run_failed');
  }
  return pending.length > 0;
}

/** The decider's view of a task, refilled for each decision (deciding allocates nothing). */
const FACTS = {
  s: undefined as unknown as RunState,
  stopped: undefined as SkipReason | undefined,
  waiting: 0,
  counts: { total: 0, succeeded: 0, failed: 0, skipped: 0 },
  state(i: number): TaskState {
    return this.s.slots[i].state;
  },
  label(i: number): string | undefined {
    return this.s.results[i].label;
  },
} satisfies TaskFacts & { s: RunState };

function decide(s: RunState, i: number): void {
  const slot = s.slots[i];
  if (slot.state !== 'pending') return;
  const t = s.plan.tasks[i];
  const f = FACTS;
  f.s = s;
  f.stopped = s.stopped;
  f.waiting = slot.waiting;
  f.counts.total = t.ruleUpstreams.length;
  f.counts.succeeded = slot.succeeded;
  f.counts.failed = slot.failed;
  f.counts.skipped = slot.skipped;
  const command = decideTask(t, f);
  if (command.kind === 'wait') return;
  if (command.kind === 'skip') return finish(s, i, 'skipped', { reason: command.reason });
  if (command.kind === 'enter') return enter(s, i);
  // An expression: the driver evaluates it; the task counts as running meanwhile.
  const c = t.condition as Extract<PlanTask['condition'], { kind: 'when' }>;
  begin(s, i);
  s.out.push({
    kind: 'evaluate',
    task: i,
    purpose: 'when',
    expression: c.expression,
    scope: { input: s.input, tasks: s.views, output: viewOutput(s, c.dep) },
    ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
  });
}

const viewOutput = (s: RunState, dep: number | undefined): unknown =>
  dep === undefined ? undefined : s.views[s.plan.tasks[dep].id]?.output;

function begin(s: RunState, i: number): void {
  if (s.slots[i].state === 'running') return;
  s.slots[i].state = 'running';
  s.running++;
}

function evaluated(s: RunState, f: Extract<Fact, { kind: 'evaluated' }>): void {
  const i = f.task;
  const what = f.purpose === 'when' ? 'condition expression' : 'approval.when';
  if (f.error !== undefined)
    return finish(s, i, 'failed', { error: { message: `${what} failed: ${f.error}`, code: 'E_EXPRESSION' } });
  if (f.purpose === 'when') {
    const next = decideExpression(f.truthy === true);
    return next.kind === 'enter' ? enter(s, i) : finish(s, i, 'skipped', { reason: 'condition_false' });
  }
  const gate = s.slots[i].gate!;
  s.slots[i].gate = undefined;
  if (s.stopped) return finish(s, i, 'skipped', { reason: s.stopped });
  if (!f.truthy) return execute(s, s.plan.tasks[i], gate.visit);
  wait(s, i, gate.visit, gate.recorded);
}

// ---- entering and routing ---------------------------------------------------------------------------

/** Start a visit of task i (from the dataflow or a routing edge). */
function enter(s: RunState, i: number, routedFrom?: string): void {
  const t = s.plan.tasks[i];
  const r = s.results[i];
  begin(s, i);
  // Stopped while its condition was evaluated: nothing new starts.
  if (s.stopped) return finish(s, i, 'skipped', { reason: s.stopped });
  r.visits++;
  const replayed = t.approval ? s.replay?.approvals.get(visitKey(t.id, r.visits)) : undefined;
  const visit = decideVisit(t, r.visits, replayed?.approved);
  if (visit.kind === 'over_max_visits') {
    const error: FatalError = {
      message: `task "${t.id}" was entered ${r.visits} times, more than max_visits (${t.maxVisits}); the routing loop did not converge`,
      code: 'E_MAX_VISITS',
    };
    r.visits--;
    // Run-fatal, like a budget: nothing new starts and running attempts are aborted (workflow-spec.md §7).
    stop(s, error, 'run_failed');
    return finish(s, i, 'failed', { error });
  }
  // Each visit counts once toward max_tasks, across resumes (a recorded one was counted by the record).
  if (!s.replay?.spent.visits.has(visitKey(t.id, r.visits)) && !countTask(s)) {
    r.visits--;
    return finish(s, i, 'skipped', { reason: 'budget_exceeded' });
  }
  s.out.push({ type: 'task.ready', taskId: t.id, visit: r.visits, ...(routedFrom ? { routedFrom } : {}) });
  if (t.approval) return gate(s, t, r.visits);
  execute(s, t, r.visits);
}

/**
 * A visit of a task with `approval` (workflow-spec.md §2): a decision recorded on this input applies (a rejection
 * skips the task, an approval runs it, with its edit); else the task waits, unless `when` is falsy over `{ input,
 * tasks, output }` (`input`: the task's effective input, a for_each task's list).
 */
function gate(s: RunState, t: PlanTask, visit: number): void {
  const i = t.index;
  const a = t.approval as Exclude<PlanTask['approval'], false>;
  let input: unknown;
  let recorded: ReturnType<typeof recordedInput> | undefined;
  try {
    if (t.forEach) input = t.forEach(s.ctx);
    else recorded = recordedInput((input = inputFor(s, t, s.ctx)));
  } catch {
    // A list or input that cannot be made fails when the task runs, with the error where it belongs.
    input = undefined;
  }
  const replayed = s.replay?.approvals.get(visitKey(t.id, visit));
  // A decision made on another input (the record's, where the input changed since) does not apply: ask again.
  const decision =
    replayed && (replayed.inputHash === undefined || replayed.inputHash === recorded?.inputHash) ? replayed : undefined;
  if (decision) {
    if (!decision.approved) return finish(s, i, 'skipped', { reason: 'rejected' });
    if (!decision.patch) return execute(s, t, visit);
    let edited: unknown;
    try {
      edited = applyJsonPatch(input, decision.patch);
    } catch (err) {
      const message = `the approved edit does not apply: ${describeThrown(err).message}`;
      return finish(s, i, 'failed', { error: { message, code: 'E_RUN_STATE' } });
    }
    return execute(s, t, visit, { input: edited });
  }
  if (!a.when) return wait(s, i, visit, recorded);
  s.slots[i].gate = { visit, ...(recorded ? { recorded } : {}) };
  s.out.push({
    kind: 'evaluate',
    task: i,
    purpose: 'approval',
    expression: a.when,
    scope: { input, tasks: s.views, output: viewOutput(s, a.dep) },
    ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
  });
}

function wait(s: RunState, i: number, visit: number, recorded: ReturnType<typeof recordedInput> | undefined): void {
  const r = s.results[i];
  s.slots[i].state = 'waiting';
  r.status = 'waiting';
  s.running--;
  s.waitingApproval++;
  // The input the decision is on, as the record folds it (the result shows it; a decision may name its hash).
  if (recorded) Object.assign(r, recorded);
  s.out.push({ type: 'task.waiting', taskId: s.plan.tasks[i].id, visit, ...recorded });
}

function route(s: RunState, from: PlanTask, on: 'success' | 'failure'): void {
  if (from.routes.length === 0) return;
  const state = (k: number) => s.slots[k].state;
  for (const { to, enter: entering, reset: resetting } of decideRoutes(from, on, state, s.stopped !== undefined)) {
    s.out.push({ type: 'task.routed', taskId: from.id, to: s.plan.tasks[to].id, on });
    if (resetting) reset(s, to);
    if (entering) enter(s, to, from.id);
  }
}

/** Re-entering a finished task: it and its finished downstream tasks become pending again. */
function reset(s: RunState, root: number): void {
  const closure = [root];
  const seen = new Set(closure);
  for (let k = 0; k < closure.length; k++)
    for (const d of s.plan.tasks[closure[k]].downstreams) if (!seen.has(d)) (seen.add(d), closure.push(d));
  // Views keep the latest output until the task finishes again: a routing source's output stays readable.
  for (const i of closure) if (s.slots[i].state !== 'running') s.slots[i].state = 'pending';
  for (const i of closure) recount(s, i);
}

function recount(s: RunState, i: number): void {
  const t = s.plan.tasks[i];
  const slot = s.slots[i];
  slot.waiting = slot.succeeded = slot.failed = slot.skipped = 0;
  for (const u of t.upstreams) {
    const state = s.slots[u].state;
    if (state === 'pending' || state === 'running') slot.waiting++;
  }
  for (const u of t.ruleUpstreams) {
    const state = s.slots[u].state;
    if (state !== 'pending' && state !== 'running' && state !== 'waiting') count(slot, state, s.results[u].reason);
  }
}

/** Counts a finished rule upstream as the trigger rule sees it (trigger-rules.ts `ruleStatus`): the one place. */
function count(slot: Slot, status: TaskStatus, reason: SkipReason | undefined): void {
  const counted = ruleStatus(status, reason);
  if (counted === 'succeeded') slot.succeeded++;
  else if (counted === 'failed') slot.failed++;
  else slot.skipped++;
}

// ---- finishing --------------------------------------------------------------------------------------

/** Make task i terminal, record its event, update downstream counts, follow routing edges. */
function finish(
  s: RunState,
  i: number,
  status: TaskStatus,
  patch: Partial<TaskResult>,
  meta: { attempt?: number; visit?: number; durationMs?: number; replayed?: boolean } = {},
): void {
  const t = s.plan.tasks[i];
  const r = s.results[i];
  const slot = s.slots[i];
  const wasRunning = slot.state === 'running';
  slot.state = status;
  slot.execution = undefined;
  // Only a task finishing again (after a routing reset) can hold stale fields; `delete` is slow, so skip it otherwise.
  if (slot.finishedOnce) clearOutcome(r);
  slot.finishedOnce = true;
  r.status = status;
  Object.assign(r, patch);
  s.views[t.id] = {
    status,
    output: status === 'succeeded' ? r.output : null,
    label: r.label,
    labelReason: r.labelReason,
    error: r.error,
  };
  const timing = {
    attempt: meta.attempt ?? r.attempts,
    visit: meta.visit ?? r.visits,
    durationMs: meta.durationMs ?? 0,
  };
  if (status === 'skipped')
    s.out.push({ type: 'task.skipped', taskId: t.id, reason: r.reason!, ...(r.error ? { error: r.error } : {}) });
  else if (status === 'failed') s.out.push({ type: 'task.failed', taskId: t.id, ...timing, error: r.error! });
  else
    s.out.push({
      type: 'task.succeeded',
      taskId: t.id,
      ...timing,
      output: r.output,
      ...(meta.replayed ? { replayed: true as const } : {}),
    });

  for (const d of t.downstreams) {
    const ds = s.slots[d];
    ds.waiting--;
    const dt = s.plan.tasks[d];
    if (!(dt.condition.kind === 'status' && dt.condition.dep === i)) count(ds, status, r.reason);
    // Only rules that may decide early need a look before the last upstream ends.
    if (ds.state === 'pending' && (ds.waiting === 0 || TRIGGER_RULE_TRAITS[dt.trigger].decidesEarly))
      s.worklist.push(d);
  }
  if (status !== 'skipped') route(s, t, status === 'succeeded' ? 'success' : 'failure');
  if (wasRunning) s.running--;
}

// ---- executing --------------------------------------------------------------------------------------

/** Execute a visit: reuse a recorded success, else start its attempts (one per `for_each` item, up to the limit). */
function execute(s: RunState, t: PlanTask, visit: number, edited?: { readonly input: unknown }): void {
  const i = t.index;
  const replayed = s.replay?.successes.get(visitKey(t.id, visit));
  if (replayed) {
    const { output, label, labelSource, labelReason } = replayed;
    if (label && labelSource)
      s.out.push({
        type: 'task.labeled',
        taskId: t.id,
        label,
        source: labelSource,
        ...(labelReason ? { reason: labelReason } : {}),
      });
    const patch = label ? { output, label, labelSource, ...(labelReason ? { labelReason } : {}) } : { output };
    return finish(s, i, 'succeeded', patch, { attempt: replayed.attempt, visit, durationMs: 0, replayed: true });
  }
  if (edited) delete s.results[i].inputSources; // a human's edit, not where the fields came from
  if (!t.forEach) {
    let input: unknown;
    try {
      input = edited ? edited.input : inputFor(s, t, s.ctx);
    } catch (err) {
      return finish(s, i, 'failed', { error: thrownRecord(err) }, { visit });
    }
    const execution: Execution = { visit, at: s.now, lanes: [newLane(t, undefined, s.ctx, input)], next: 1, done: 0 };
    s.slots[i].execution = execution;
    return startAttempt(s, t, visit, execution.lanes[0]);
  }
  let list: unknown;
  try {
    list = t.forEach(s.ctx);
  } catch (err) {
    return finish(s, i, 'failed', { error: thrownRecord(err) }, { visit });
  }
  if (!Array.isArray(list)) {
    const got = list === null ? 'null' : typeof list;
    return finish(s, i, 'failed', { error: { message: `for_each must give a list, got ${got}`, code: 'E_FOR_EACH' } });
  }
  const execution: Execution = { visit, at: s.now, items: list, lanes: [], next: 0, done: 0 };
  s.slots[i].execution = execution;
  if (list.length === 0) return endExecution(s, t, execution);
  for (let k = 0; k < Math.min(t.itemConcurrency, list.length); k++) startItem(s, t, execution);
}

/** A template or list that threw while it was rendered, as the task's error: its message and its code. */
const thrownRecord = (err: unknown): ErrorRecord => {
  const { message, code } = describeThrown(err);
  return { message, ...(code === undefined ? {} : { code }) };
};

function newLane(t: PlanTask, item: number | undefined, ctx: TemplateContext, input: unknown): Lane {
  return { item, ctx, tool: t.tool, input, attempt: 0, recovery: firstRecovery(t) };
}

/** Start the next `for_each` item (`item`, `index` in its templates). */
function startItem(s: RunState, t: PlanTask, e: Execution): void {
  const item = e.next++;
  const ctx = { ...s.ctx, item: e.items![item], index: item };
  let input: unknown;
  try {
    input = inputFor(s, t, ctx);
  } catch (err) {
    const lane = newLane(t, item, ctx, undefined);
    e.lanes[item] = lane;
    return laneEnded(s, t, lane, { ok: false, error: thrownRecord(err), durationMs: 0 });
  }
  const lane = newLane(t, item, ctx, input);
  e.lanes[item] = lane;
  startAttempt(s, t, e.visit, lane);
}

function startAttempt(s: RunState, t: PlanTask, visit: number, lane: Lane): void {
  lane.attempt++;
  lane.error = undefined;
  s.out.push({
    kind: 'attempt',
    task: t.index,
    visit,
    attempt: lane.attempt,
    ...(lane.item === undefined ? {} : { item: lane.item }),
    tool: lane.tool,
    input: lane.input,
  });
}

function lane(s: RunState, task: number, item: number | undefined): Lane {
  return s.slots[task].execution!.lanes[item ?? 0];
}

function started(s: RunState, f: Extract<Fact, { kind: 'started' }>): void {
  const t = s.plan.tasks[f.task];
  const r = s.results[f.task];
  r.attempts++;
  r.startedAt ??= f.startedAt;
  const sources = f.tool === t.tool.name ? r.inputSources : undefined;
  s.out.push({
    type: 'task.started',
    taskId: t.id,
    tool: f.tool,
    attempt: f.attempt,
    visit: f.visit,
    ...(f.item === undefined ? {} : { item: f.item }),
    ...(sources ? { sources } : {}),
    ...f.recorded,
    ...(f.worker ? { worker: f.worker } : {}),
    ...(f.reportedStart ? { startedAt: f.reportedStart } : {}),
  });
}

const errorRecord = (e: AttemptError): ErrorRecord => ({
  message: e.message,
  ...(e.code === undefined ? {} : { code: e.code }),
  ...(e.stack === undefined ? {} : { stack: e.stack }),
});

function attempted(s: RunState, f: Extract<Fact, { kind: 'attempted' }>): void {
  const t = s.plan.tasks[f.task];
  const l = lane(s, f.task, f.item);
  const result = f.result;
  if (result.status === 'cancelled') return laneEnded(s, t, l, { skipped: s.stopped ?? 'cancelled' });
  const r = s.results[f.task];
  r.endedAt = result.endedAt;
  const ok = result.status === 'succeeded';
  // Built then completed, not spread: one object shape for the common entry.
  const entry: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = {
    visit: f.visit,
    attempt: f.attempt,
    status: ok ? 'succeeded' : 'failed',
    startedAt: f.startedAt,
    endedAt: result.endedAt,
  };
  if (!ok) entry.error = errorRecord(result.error);
  if (f.usage) entry.usage = f.usage;
  if (f.item !== undefined) entry.item = f.item;
  if (f.tool !== t.tool.name) entry.tool = f.tool;
  // A literal of one, not [] then push (which reserves room for 17): most tasks make one attempt.
  if (r.history) r.history.push(entry);
  else r.history = [entry];
  if (ok)
    return laneEnded(s, t, l, {
      ok: true,
      output: result.output,
      input: l.input,
      attempt: f.attempt,
      durationMs: result.durationMs,
    });
  // Stopped (Ctrl-C, a signal, a budget, a run-fatal error): the attempt was aborted, not failed; the task is
  // skipped with the reason that names why (workflow-spec.md §7).
  if (s.stopped) return laneEnded(s, t, l, { skipped: s.stopped, error: errorRecord(result.error) });
  l.error = result.error;
  recoverLane(s, t, l, result.durationMs);
}

/**
 * After a failed attempt, the failure policy: `retries` first, then the `on_failure` steps in order (retry, adjust
 * the input, fall back to another tool, skip). A plain retry (same tool, same input) waits a backoff; a changed
 * input or tool runs at once.
 */
function recoverLane(s: RunState, t: PlanTask, l: Lane, durationMs = 0): void {
  const err = l.error!;
  const record = errorRecord(err);
  const next = recover(t.policy, l.recovery, err.retryable);
  l.recovery = next.state;
  const c = next.command;
  const base = { taskId: t.id, attempt: l.attempt, error: record, ...(l.item === undefined ? {} : { item: l.item }) };
  switch (c.kind) {
    case 'fail':
      return laneEnded(s, t, l, { ok: false, error: record, attempt: l.attempt, durationMs });
    case 'retry':
      s.out.push({ kind: 'backoff', task: t.index, ...itemOf(l), attempt: l.attempt, error: record });
      return;
    case 'skip':
      s.out.push({ type: 'task.recovery', ...base, action: 'skip' });
      return laneEnded(s, t, l, { skipped: 'failure_skipped', error: record });
    case 'fallback':
      l.tool = c.step.tool;
      if (c.step.input) l.input = c.step.input(l.ctx);
      s.out.push({ type: 'task.recovery', ...base, action: 'fallback', tool: c.step.name });
      return startAttempt(s, t, s.slots[t.index].execution!.visit, l);
    case 'adjust':
      s.out.push({
        kind: 'adjust',
        task: t.index,
        ...itemOf(l),
        step: c.step,
        tool: l.tool,
        input: l.input,
        error: record,
        ctx: l.ctx,
      });
  }
}

const itemOf = (l: Lane) => (l.item === undefined ? {} : { item: l.item });

/** A backoff elapsed: the same tool and input again (a stopped run starts nothing: the lane ends skipped). */
function nextAttempt(s: RunState, t: PlanTask, l: Lane): void {
  if (s.stopped) return laneEnded(s, t, l, { skipped: s.stopped, ...(l.error ? { error: errorRecord(l.error) } : {}) });
  startAttempt(s, t, s.slots[t.index].execution!.visit, l);
}

function adjusted(s: RunState, f: Extract<Fact, { kind: 'adjusted' }>): void {
  const t = s.plan.tasks[f.task];
  const l = lane(s, f.task, f.item);
  const err = l.error!;
  const base = { taskId: t.id, attempt: l.attempt, error: errorRecord(err), ...itemOf(l) };
  if (f.error) {
    s.out.push({ type: 'task.recovery', ...base, action: 'adjust', failed: f.error });
    if (s.stopped) return laneEnded(s, t, l, { skipped: s.stopped, error: errorRecord(err) });
    return recoverLane(s, t, l);
  }
  l.input = f.input;
  s.out.push({ type: 'task.recovery', ...base, action: 'adjust', input: f.input });
  if (s.stopped) return laneEnded(s, t, l, { skipped: s.stopped, error: errorRecord(err) });
  startAttempt(s, t, s.slots[t.index].execution!.visit, l);
}

const itemOutcome = (o: Outcome): ItemOutcome => ('skipped' in o ? 'skipped' : o.ok ? 'succeeded' : 'failed');

/** A lane ended: a task's execution ends with it; a `for_each` item makes progress and its lane takes the next. */
function laneEnded(s: RunState, t: PlanTask, l: Lane, outcome: Outcome): void {
  const e = s.slots[t.index].execution!;
  l.outcome = outcome;
  if (!e.items) return endExecution(s, t, e);
  e.done++;
  const status = itemOutcome(outcome);
  s.out.push({
    type: 'task.progress',
    taskId: t.id,
    progress: e.done / e.items.length,
    message: `item ${l.item! + 1} of ${e.items.length}: ${status}`,
    data: { item: l.item, status },
  });
  if (e.next < e.items.length && !s.stopped) return startItem(s, t, e);
  if (e.done === e.next) endExecution(s, t, e);
}

function endExecution(s: RunState, t: PlanTask, e: Execution): void {
  const i = t.index;
  let outcome: Outcome;
  if (!e.items) outcome = e.lanes[0].outcome!;
  else {
    const durationMs = Math.round(s.now - e.at);
    const outcomes = e.lanes.map((l) => l.outcome!);
    if (s.stopped) outcome = { skipped: s.stopped };
    else {
      const ended = decideForEach(outcomes.map(itemOutcome));
      if (ended.kind === 'failed') {
        const cause = (outcomes[ended.item] as { error: ErrorRecord }).error;
        // The item's code when it is braid's; a tool's own code (`ENOENT`) is no braid code: said in the message.
        const code = isErrorCode(cause.code) ? cause.code : 'E_TOOL';
        const own = cause.code === undefined || code === cause.code ? '' : ` (${cause.code})`;
        outcome = {
          ok: false,
          error: { message: `item ${ended.item} failed: ${cause.message}${own}`, code },
          durationMs,
        };
      } else {
        // An item whose policy ended in skip leaves null in its place.
        const output = outcomes.map((o) => ('ok' in o && o.ok ? o.output : null));
        outcome = { ok: true, output, input: e.items, attempt: 1, durationMs };
      }
    }
  }
  const meta = {
    attempt: 'attempt' in outcome ? outcome.attempt : undefined,
    visit: e.visit,
    durationMs: 'durationMs' in outcome ? outcome.durationMs : 0,
  };
  if ('skipped' in outcome)
    return finish(
      s,
      i,
      'skipped',
      { reason: outcome.skipped, ...(outcome.error ? { error: outcome.error } : {}) },
      meta,
    );
  if (!outcome.ok) return finish(s, i, 'failed', { error: outcome.error }, meta);
  // Most tasks have no label to decide: no classifier call to wait for.
  if (!mayHaveLabel(t, outcome.output)) return finish(s, i, 'succeeded', { output: outcome.output }, meta);
  e.outcome = outcome;
  s.out.push({ kind: 'label', task: i, output: outcome.output, input: outcome.input });
}

/**
 * Whether `decideLabel` could find a label: an expected label as output, a `label` field, or candidates for the
 * classifier.
 */
function mayHaveLabel(t: PlanTask, output: unknown): boolean {
  if (t.labelCandidates.length > 0) return true;
  if (typeof output === 'string') return t.expectedLabels.size > 0;
  return output !== null && typeof output === 'object' && typeof (output as { label?: unknown }).label === 'string';
}

function labeled(s: RunState, f: Extract<Fact, { kind: 'labeled' }>): void {
  const t = s.plan.tasks[f.task];
  const e = s.slots[f.task].execution!;
  const outcome = e.outcome!;
  const meta = { attempt: outcome.attempt, visit: e.visit, durationMs: outcome.durationMs };
  if (f.error) return finish(s, f.task, 'failed', { error: f.error }, meta);
  const patch: Partial<TaskResult> = { output: outcome.output };
  const label = f.label;
  if (label) {
    Object.assign(
      patch,
      { label: label.label, labelSource: label.source },
      label.reason ? { labelReason: label.reason } : {},
    );
    s.out.push({
      type: 'task.labeled',
      taskId: t.id,
      label: label.label,
      source: label.source,
      ...(label.reason ? { reason: label.reason } : {}),
      ...(label.source === 'classifier' ? { candidates: t.labelCandidates } : {}),
    });
  }
  finish(s, f.task, 'succeeded', patch, meta);
}

// ---- inputs -----------------------------------------------------------------------------------------

/**
 * The effective input (§5a): the rendered explicit input over run inputs and upstream outputs; notes where fields
 * came from.
 */
function inputFor(s: RunState, t: PlanTask, ctx: TemplateContext): unknown {
  const explicit = t.render(ctx);
  if (!t.implicit) return explicit;
  const upstreams: UpstreamOutput[] = [];
  for (const u of t.upstreams) {
    if (s.slots[u].state !== 'succeeded') continue;
    const r = s.results[u];
    upstreams.push({
      taskId: s.plan.tasks[u].id,
      output: r.output,
      ...(r.label !== undefined ? { label: r.label } : {}),
      ...(r.labelReason !== undefined ? { labelReason: r.labelReason } : {}),
    });
  }
  const { input, sources } = effectiveInput(t.implicit, explicit, s.input, upstreams);
  const r = s.results[t.index];
  if (sources) r.inputSources = sources;
  else if (r.inputSources) delete r.inputSources; // from an earlier visit
  return input;
}
