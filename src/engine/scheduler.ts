/**
 * The dataflow scheduler: decides what runs, when. Read this file to understand braid's scheduling.
 *
 * - Every task keeps a count of upstreams that are not yet terminal, and counts of succeeded / failed /
 *   skipped upstreams. When an upstream becomes terminal, its downstream tasks are re-decided at once:
 *   no levels, no barriers; a task starts the moment its trigger rule allows.
 * - Deciding is pure (`decide.ts`: trigger rules, conditions, the failure policy, settling, the run
 *   status); this class is the driver that keeps the state and applies the commands. Running goes through
 *   an `AttemptExecutor` (src/executors: a data request in, a data result out; p-queue in process), so
 *   limits live there and the scheduler never blocks.
 * - Routing edges (`next_task_id_on_*`) enter a task whatever its other rules; re-entering a finished task
 *   resets it and everything downstream of it to pending, so the loop body runs again.
 * - A run ends when nothing is active: tasks only reachable by routing and never routed to are then
 *   skipped (`not_routed`), which may unblock joins; when nothing is left, the result is built. A task
 *   waiting for a human approval ends the run `waiting` (resume continues it from the record).
 * - Executing a task: attempts go through the executor; a failed attempt follows `retries`, then the
 *   `on_failure` steps (retry, adjust, fallback, skip); a `for_each` task runs that per item. A crossed
 *   budget aborts everything like a cancellation, but the run ends `failed` (`E_BUDGET`); every model call of
 *   the run is admitted first (`#admission`: its `max_tokens`, its worst case held by the budget, budget.ts).
 */
import { setMaxListeners } from 'node:events';
import { BraidError, CancelledError, isErrorCode, toErrorRecord, type ErrorCode } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { ErrorRecord, ToolVersions, Usage } from '../core/events.js';
import { isTruthy } from '../spec/expression.js';
import type { TemplateContext } from '../spec/template.js';
import { backoffDelay, sleep, type RetryOptions } from '../core/backoff.js';
import { isoNow } from '../core/clock.js';
import type { AttemptEvent, AttemptExecutor, AttemptHost, AttemptResult } from '../executors/contract.js';
import { decideLabel, type Classifier } from './labels.js';
import type { Plan, PlanApproval, PlanTask } from './plan.js';
import {
  clearOutcome,
  type AttemptRecord,
  type RunResult,
  type RunStatus,
  type SkipReason,
  type TaskResult,
  type TaskStatus,
} from '../core/result.js';
import { withCost } from '../llm/cost.js';
import type { CallAdmission, LlmCallInfo, LlmProvider } from '../llm/types.js';
import { addUsage } from '../core/usage.js';
import { emitTaskLog, emitTaskProgress, TaskContext } from './task-context.js';
import { adjustInput } from './recovery.js';
import { BudgetGuard, type CallBudget } from './budget.js';
import { admission, bothBudgets } from './call-admission.js';
import { idempotencyKey, recordedInput } from '../core/input-hash.js';
import { track } from '../llm/llm.js';
import type { ChildRuns, Tool, ToolContext, UpstreamOutput } from '../tools/types.js';
import { toolVersions } from '../tools/version.js';
import { effectiveInput } from './effective-input.js';
import type { RunEvent } from '../core/events.js';
import { TRIGGER_RULE_TRAITS, type Budget } from '../spec/schema.js';
import { ruleStatus } from './trigger-rules.js';
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
  type TaskCommand,
  type TaskFacts,
  type TaskState,
} from './decide.js';
import { attemptKey, visitKey, type Replay, type ReplayedApproval } from '../store/fold.js';
import { applyJsonPatch } from '../core/json-patch.js';
import { describeThrown } from '../core/thrown.js';

const NO_SERVICES: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * Whether `decideLabel` could find a label: an expected label as output, a `label` field, or candidates for the
 * classifier.
 */
function mayHaveLabel(t: PlanTask, output: unknown): boolean {
  if (t.labelCandidates.length > 0) return true;
  if (typeof output === 'string') return t.expectedLabels.size > 0;
  return output !== null && typeof output === 'object' && typeof (output as { label?: unknown }).label === 'string';
}

type State = TaskState;

/** A run-fatal error, as recorded: braid raised it, so its code is one of `ERROR_CODES`. */
type FatalError = { readonly message: string; readonly code: ErrorCode; readonly stack?: string };

interface TaskView {
  status: TaskStatus;
  output: unknown;
  label?: string;
  /** The classifier's reason for the label. */
  labelReason?: string;
  error?: ErrorRecord;
}

export interface SchedulerOptions {
  readonly runId: string;
  readonly plan: Plan;
  readonly input: unknown;
  readonly executor: AttemptExecutor;
  readonly bus: EventBus;
  readonly classifier?: Classifier;
  readonly signal?: AbortSignal;
  readonly retry?: RetryOptions;
  readonly services?: Readonly<Record<string, unknown>>;
  /** The model tools reach through `ctx.llm`; calls are reported as `llm.call` events. */
  readonly llm?: LlmProvider;
  /** Continue a recorded run: its successes are reused, its approvals apply. */
  readonly replay?: Replay;
  /** Limits for the run; when one is crossed nothing new starts, running tools are aborted, the run fails. */
  readonly budget?: Budget;
  /** Starts child runs for tools that ask (`ctx.children`); run.ts provides it. */
  readonly children?: ChildRunner;
  /** A child run's parent's budget: each model call of this run is held there too (workflow-spec.md §7). */
  readonly parentBudget?: CallBudget;
}

/** Runs a workflow as a child of a task attempt; `childRunId` is decided by the scheduler. */
export interface ChildRunner {
  readonly tools: readonly Tool[];
  run(
    workflow: unknown,
    input: Record<string, unknown>,
    parent: {
      taskId: string;
      childRunId: string;
      signal: AbortSignal;
      onEvent: (e: RunEvent) => void;
      announce: (childRunId: string) => void;
      /** Holds the child's model calls against the parent's budget. */
      budget?: CallBudget;
    },
  ): Promise<RunResult>;
}

/** How a task's execution (all attempts, every for_each item) ended. `input` is what the label classifier sees. */
type Outcome =
  | { ok: true; output: unknown; input: unknown; attempt: number; durationMs: number }
  | { ok: false; error: unknown; attempt?: number; durationMs: number }
  | { skipped: SkipReason; error?: unknown };

interface HostHooks {
  signal(): AbortSignal;
  started(host: Host, worker: string | undefined, startedAt: string | undefined): boolean;
  context(host: Host, signal: AbortSignal): ToolContext;
  forward(host: Host, e: AttemptEvent): void;
}

/** The host of one attempt (see executors/contract.ts): its coordinates, and the run's hooks. */
class Host implements AttemptHost {
  /** Set when the attempt got its slot and started. */
  startedAt = '';
  /** The tool's model calls recorded for this attempt (by this process, or before it took the run over). */
  llmCalls = 0;
  /** What those calls spent. */
  usage: Usage | undefined = undefined;

  constructor(
    readonly hooks: HostHooks,
    readonly t: PlanTask,
    /** The tool the attempt calls (a fallback step's, after an `on_failure` fallback). */
    readonly calls: Tool,
    readonly attempt: number,
    readonly visit: number,
    readonly item: number | undefined,
    /** The effective input as the record keeps it, with its hash (core/input-hash.ts). */
    readonly recorded: ReturnType<typeof recordedInput>,
    readonly idempotencyKey: string,
  ) {}

  tool(): Tool {
    return this.calls;
  }

  get signal(): AbortSignal {
    return this.hooks.signal();
  }

  started(worker?: string, startedAt?: string): boolean {
    return this.hooks.started(this, worker, startedAt);
  }

  context(signal: AbortSignal): ToolContext {
    return this.hooks.context(this, signal);
  }

  forward(e: AttemptEvent): void {
    this.hooks.forward(this, e);
  }
}

const itemOutcome = (o: Outcome): ItemOutcome => ('skipped' in o ? 'skipped' : o.ok ? 'succeeded' : 'failed');

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #tasks: readonly PlanTask[];
  readonly #state: State[];
  /** Upstreams not yet terminal. */
  readonly #waiting: Int32Array;
  /** Terminal counts over each task's rule upstreams. */
  readonly #succeeded: Int32Array;
  readonly #failed: Int32Array;
  readonly #skipped: Int32Array;
  readonly #results: TaskResult[];
  /** Latest view of each terminal task, read by templates and expressions. */
  readonly #views: Record<string, TaskView> = {};
  readonly #controller = new AbortController();
  /** Tasks deciding, queued or running; the run ends when this reaches 0. */
  #active = 0;
  /** Tasks paused for a human approval; the run ends `waiting` when nothing else is active. */
  #waitingApproval = 0;
  #worklist: number[] = [];
  #draining = false;
  /** The run-fatal error that stopped the run (a budget, max_visits, the record, a bug): always braid's own code. */
  #fatal?: FatalError;
  /** LLM calls reported per task. */
  readonly #llmCalls: Int32Array;
  readonly #finishedOnce: Uint8Array;
  #finished = false;
  #resolve!: () => void;
  readonly #budget?: BudgetGuard;
  /** Holds each model call's worst case: this run's token and cost caps, and a parent's; none when neither has one. */
  readonly #calls?: CallBudget;
  /** Each task's admission of model calls, made on first use. */
  readonly #admissions: (CallAdmission | undefined)[];

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#tasks = options.plan.tasks;
    const n = this.#tasks.length;
    this.#state = new Array<State>(n).fill('pending');
    this.#waiting = new Int32Array(n);
    this.#succeeded = new Int32Array(n);
    this.#failed = new Int32Array(n);
    this.#skipped = new Int32Array(n);
    this.#llmCalls = new Int32Array(n);
    this.#finishedOnce = new Uint8Array(n);
    this.#admissions = new Array<CallAdmission | undefined>(n);
    // Every running tool may listen on the run's signal: hundreds of listeners are expected, not a leak.
    setMaxListeners(0, this.#controller.signal);
    this.#results = this.#tasks.map(() => ({ status: 'pending', attempts: 0, visits: 0 }) as TaskResult);
    for (const t of this.#tasks) this.#waiting[t.index] = t.upstreams.length;
    const budget = options.budget;
    if (budget && Object.values(budget).some((v) => v !== undefined)) {
      const spent = options.replay?.spent;
      this.#budget = new BudgetGuard(
        budget,
        (message) => {
          this.#fatal ??= { message, code: 'E_BUDGET' };
          this.#abort(new BraidError('E_BUDGET', message));
        },
        spent && { tokens: spent.tokens, costUsd: spent.costUsd, tasks: spent.visits.size, runningMs: spent.runningMs },
      );
    }
    this.#calls = bothBudgets(this.#budget?.reserves ? this.#budget : undefined, options.parentBudget);
  }

  /** How task `t`'s model calls are admitted: its `max_tokens`, the budgets' reservations (workflow-spec.md §7). */
  #admission(t: PlanTask): CallAdmission {
    return (this.#admissions[t.index] ??= admission(t.maxTokens, this.#calls, this.#controller.signal));
  }

  /** Stop everything: running attempts fail with `err`, nothing new starts. */
  #abort(err: Error): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(err);
    // Attempts in flight fail at once, by the run's id (the executor may be elsewhere).
    this.#o.executor.cancel(this.#o.runId, err);
  }

  /**
   * Stop the run from outside (e.g. its record cannot be written): running tasks are cancelled, nothing new starts, the
   * run fails with `error`.
   */
  fail(error: FatalError): void {
    this.#fatal ??= error;
    this.#abort(new BraidError(error.code, error.message, { retryable: false }));
  }

  /** Why a task that did not get to run was skipped once the run was stopped. */
  #skipReasonOnAbort(): SkipReason {
    return this.#budget?.exceeded ? 'budget_exceeded' : this.#fatal ? 'run_failed' : 'cancelled';
  }

  async run(): Promise<RunResult> {
    const { bus, plan, signal } = this.#o;
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => (this.#resolve = resolve));
    const onAbort = () => this.#abort(new CancelledError());
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });

    const { replay } = this.#o;
    const tools = this.#toolVersions();
    if (replay) bus.emit({ type: 'run.resumed', reused: replay.successes.size, pid: process.pid, tools });
    else
      bus.emit({
        type: 'run.started',
        workflow: plan.workflow.name,
        tasks: this.#tasks.length,
        input: this.#o.input,
        tools,
      });
    for (const t of this.#tasks) if (t.upstreams.length === 0 && !t.routingOnly) this.#worklist.push(t.index);
    this.#budget?.start();
    this.#drain();
    await done;
    this.#budget?.stop();
    signal?.removeEventListener('abort', onAbort);

    const status = this.#runStatus();
    const durationMs = Math.round(performance.now() - t0);
    const output = status === 'waiting' ? undefined : this.#runOutput();
    // Succeeded with nothing to show: every task nothing depends on was skipped (§3, labels).
    const empty =
      status === 'succeeded' &&
      this.#tasks.every((t) => t.downstreams.length > 0 || this.#state[t.index] === 'skipped');
    bus.emit({
      type: 'run.finished',
      status,
      durationMs,
      ...(this.#fatal ? { error: this.#fatal } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(empty ? { empty: true as const } : {}),
    });
    const tasks: Record<string, TaskResult> = {};
    let usage: Usage | undefined;
    for (const t of this.#tasks) {
      tasks[t.id] = this.#results[t.index];
      usage = addUsage(usage, this.#results[t.index].usage);
    }
    return {
      runId: this.#o.runId,
      workflow: plan.workflow.name,
      status,
      startedAt,
      endedAt: new Date().toISOString(),
      ...(this.#fatal ? { error: this.#fatal } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(empty ? { empty: true as const } : {}),
      tasks,
      ...(usage ? { usage } : {}),
    };
  }

  /**
   * The run's overall result: the workflow's `output` rendered over the finished tasks; without one, the
   * outputs of the tasks nothing depends on that succeeded, keyed by id (undefined when there are none).
   */
  #runOutput(): unknown {
    const { plan } = this.#o;
    if (plan.output) return plan.output(this.#templateContext());
    let out: Record<string, unknown> | undefined;
    for (const t of this.#tasks)
      if (t.downstreams.length === 0 && this.#state[t.index] === 'succeeded')
        (out ??= {})[t.id] = this.#results[t.index].output;
    return out;
  }

  /**
   * Reports a task's LLM calls: an `llm.call` event each, tokens and cost added to the task and the budget; with `h`,
   * calls of that attempt's tool (the event names the attempt, whose usage adds up too).
   */
  #reporter(t: PlanTask, h?: Host): (info: LlmCallInfo) => void {
    return (info) => {
      const usage = withCost(info.model, info.usage, info.provider);
      this.#llmCalls[t.index]++;
      this.#results[t.index].usage = addUsage(this.#results[t.index].usage, usage);
      if (h) {
        h.llmCalls++;
        h.usage = addUsage(h.usage, usage);
        const at = { visit: h.visit, attempt: h.attempt, ...(h.item === undefined ? {} : { item: h.item }) };
        this.#o.bus.emit({ type: 'llm.call', taskId: t.id, ...info, usage, ...at });
      } else this.#o.bus.emit({ type: 'llm.call', taskId: t.id, ...info, usage });
      this.#budget?.spend(usage);
    };
  }

  /** The version of every tool the run can call: its tasks' and their fallbacks' (workflow-spec.md §7a). */
  #toolVersions(): ToolVersions {
    const tools: Tool[] = [];
    for (const t of this.#tasks) {
      tools.push(t.tool);
      for (const step of t.policy) if (step.kind === 'fallback') tools.push(step.tool);
    }
    return toolVersions(tools);
  }

  #runStatus(): RunStatus {
    return runStatus({
      fatal: this.#fatal !== undefined,
      aborted: this.#controller.signal.aborted,
      waitingApproval: this.#waitingApproval,
      unhandledFailure: this.#tasks.some((t) => this.#state[t.index] === 'failed' && !t.failureHandled),
    });
  }

  // ---- deciding ------------------------------------------------------------------------------

  /** Decide every task on the worklist; iterative so long skip chains cannot overflow the stack. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (;;) {
        // FIFO, so ready tasks start in file order
        for (let k = 0; k < this.#worklist.length; k++) this.#decide(this.#worklist[k]);
        this.#worklist.length = 0;
        if (this.#active > 0 || this.#finished) return;
        // Paused for a human: the rest stays pending for `braid approve` to continue.
        if (this.#waitingApproval > 0 && !this.#controller.signal.aborted) break;
        if (!this.#settleUnreached()) break;
      }
      this.#finished = true;
      this.#resolve();
    } finally {
      this.#draining = false;
    }
  }

  /**
   * Nothing is active: skip the tasks nobody routed to, which may unblock joins. Returns false when
   * nothing changed. A task still pending that the decider calls stuck can never be decided: a bug in
   * braid, so the run fails with `E_INTERNAL` (the rest is then skipped, cancelled) rather than hiding it.
   */
  #settleUnreached(): boolean {
    const pending = this.#tasks.filter((t) => this.#state[t.index] === 'pending');
    const { skip, stuck } = settle(pending, this.#stopped());
    for (const { task, reason } of skip) this.#skip(task.index, reason);
    if (stuck.length > 0) {
      const ids = stuck.map((t) => t.id).join(', ');
      this.fail({
        message: `internal error: the scheduler cannot decide ${ids} (nothing is running and nothing else can change); please report this`,
        code: 'E_INTERNAL',
      });
    }
    return pending.length > 0;
  }

  /** Why the rest of the run is skipped, once it was stopped. */
  #stopped(): SkipReason | undefined {
    return this.#controller.signal.aborted ? this.#skipReasonOnAbort() : undefined;
  }

  /** The decider's view of a task, refilled for each decision (deciding allocates nothing). */
  readonly #facts: { -readonly [K in keyof TaskFacts]: TaskFacts[K] } & {
    counts: { total: number; succeeded: number; failed: number; skipped: number };
  } = {
    stopped: undefined,
    waiting: 0,
    counts: { total: 0, succeeded: 0, failed: 0, skipped: 0 },
    state: (i) => this.#state[i],
    label: (i) => this.#results[i].label,
  };

  #decide(i: number): void {
    if (this.#state[i] !== 'pending') return;
    const t = this.#tasks[i];
    const f = this.#facts;
    f.stopped = this.#stopped();
    f.waiting = this.#waiting[i];
    f.counts.total = t.ruleUpstreams.length;
    f.counts.succeeded = this.#succeeded[i];
    f.counts.failed = this.#failed[i];
    f.counts.skipped = this.#skipped[i];
    this.#apply(i, decideTask(t, f));
  }

  /** Carry out the decider's command for pending task i. */
  #apply(i: number, command: TaskCommand): void {
    if (command.kind === 'wait') return;
    if (command.kind === 'skip') return this.#skip(i, command.reason);
    if (command.kind === 'enter') return this.#enter(i);
    // An expression: evaluated asynchronously, the task counts as active meanwhile.
    const t = this.#tasks[i];
    const c = t.condition as Extract<PlanTask['condition'], { kind: 'when' }>;
    this.#state[i] = 'active';
    this.#active++;
    const ctx = {
      input: this.#o.input,
      tasks: this.#views,
      output: c.dep === undefined ? undefined : this.#views[this.#tasks[c.dep].id]?.output,
    };
    // Under a time budget (the task's timeout_ms, else the expression default) and a depth budget.
    c.expression.evaluate(ctx, { timeoutMs: t.timeoutMs }).then(
      (value) => {
        const next = decideExpression(isTruthy(value));
        return next.kind === 'enter' ? this.#enter(i) : this.#finish(i, 'skipped', { reason: 'condition_false' });
      },
      (err) =>
        this.#finish(i, 'failed', {
          error: { message: `condition expression failed: ${describeThrown(err).message}`, code: 'E_EXPRESSION' },
        }),
    );
  }

  #skip(i: number, reason: SkipReason): void {
    this.#finish(i, 'skipped', { reason });
  }

  // ---- entering and routing ------------------------------------------------------------------

  /** Start a visit of task i (from the dataflow or a routing edge). */
  #enter(i: number, routedFrom?: string): void {
    const t = this.#tasks[i];
    const r = this.#results[i];
    if (this.#state[i] !== 'active') {
      this.#state[i] = 'active';
      this.#active++;
    }
    r.visits++;
    const replayed = t.approval ? this.#o.replay?.approvals.get(visitKey(t.id, r.visits)) : undefined;
    const visit = decideVisit(t, r.visits, replayed?.approved);
    if (visit.kind === 'over_max_visits') {
      const error: FatalError = {
        message: `task "${t.id}" was entered ${r.visits} times, more than max_visits (${t.maxVisits}); the routing loop did not converge`,
        code: 'E_MAX_VISITS',
      };
      this.#fatal ??= error;
      r.visits--;
      // Run-fatal, like a budget: nothing new starts and running attempts are aborted (workflow-spec.md §7).
      this.#abort(new BraidError('E_MAX_VISITS', error.message));
      return this.#finish(i, 'failed', { error });
    }
    if (this.#budget && !this.#budget.enter(this.#o.replay?.spent.visits.has(visitKey(t.id, r.visits)))) {
      r.visits--;
      return this.#finish(i, 'skipped', { reason: 'budget_exceeded' });
    }
    this.#o.bus.emit({ type: 'task.ready', taskId: t.id, visit: r.visits, ...(routedFrom ? { routedFrom } : {}) });
    if (t.approval) return this.#gate(t, t.approval, r.visits, replayed);
    void this.#execute(t, r.visits);
  }

  /**
   * A visit of a task with `approval` (workflow-spec.md §2): a decision recorded on this input applies (a rejection
   * fails the task, an approval runs it, with its edit); else the task waits, unless `when` is falsy over
   * `{ input, tasks, output }` (`input`: the task's effective input, a for_each task's list).
   */
  #gate(t: PlanTask, a: PlanApproval, visit: number, replayed: ReplayedApproval | undefined): void {
    const i = t.index;
    const ctx = this.#templateContext();
    let input: unknown;
    let recorded: ReturnType<typeof recordedInput> | undefined;
    try {
      if (t.forEach) input = t.forEach(ctx);
      else recorded = recordedInput((input = this.#inputFor(t, ctx)));
    } catch {
      // A list or input that cannot be made fails when the task runs, with the error where it belongs.
      input = undefined;
    }
    // A decision made on another input (the record's, where the input changed since) does not apply: ask again.
    const decision =
      replayed && (replayed.inputHash === undefined || replayed.inputHash === recorded?.inputHash)
        ? replayed
        : undefined;
    if (decision) {
      if (!decision.approved) return this.#skip(i, 'rejected');
      if (!decision.patch) return void this.#execute(t, visit);
      let edited: unknown;
      try {
        edited = applyJsonPatch(input, decision.patch);
      } catch (err) {
        return this.#finish(i, 'failed', {
          error: { message: `the approved edit does not apply: ${describeThrown(err).message}`, code: 'E_RUN_STATE' },
        });
      }
      return void this.#execute(t, visit, { input: edited });
    }
    const wait = () => {
      const r = this.#results[i];
      this.#state[i] = 'waiting';
      r.status = 'waiting';
      this.#active--;
      this.#waitingApproval++;
      // The input the decision is on, as the record folds it (the result shows it; a decision may name its hash).
      if (recorded) Object.assign(r, recorded);
      this.#o.bus.emit({ type: 'task.waiting', taskId: t.id, visit, ...recorded });
    };
    if (!a.when) return wait();
    const scope = {
      input,
      tasks: this.#views,
      output: a.dep === undefined ? undefined : this.#views[this.#tasks[a.dep].id]?.output,
    };
    a.when.evaluate(scope, { timeoutMs: t.timeoutMs }).then(
      (value) => {
        if (!isTruthy(value)) return void this.#execute(t, visit);
        wait();
        this.#drain();
      },
      (err) =>
        this.#finish(i, 'failed', {
          error: { message: `approval.when failed: ${describeThrown(err).message}`, code: 'E_EXPRESSION' },
        }),
    );
  }

  #route(from: PlanTask, on: 'success' | 'failure'): void {
    if (from.routes.length === 0) return;
    const stopped = Boolean(this.#fatal) || this.#controller.signal.aborted;
    for (const { to, enter, reset } of decideRoutes(from, on, (k) => this.#state[k], stopped)) {
      this.#o.bus.emit({ type: 'task.routed', taskId: from.id, to: this.#tasks[to].id, on });
      if (reset) this.#reset(to);
      if (enter) this.#enter(to, from.id);
    }
  }

  /** Re-entering a finished task: it and its finished downstream tasks become pending again. */
  #reset(root: number): void {
    const closure = [root];
    const seen = new Set(closure);
    for (let k = 0; k < closure.length; k++) {
      for (const d of this.#tasks[closure[k]].downstreams) if (!seen.has(d)) (seen.add(d), closure.push(d));
    }
    // Views keep the latest output until the task finishes again: a routing source's output stays readable.
    for (const i of closure) if (this.#state[i] !== 'active') this.#state[i] = 'pending';
    for (const i of closure) this.#recount(i);
  }

  #recount(i: number): void {
    const t = this.#tasks[i];
    this.#waiting[i] = this.#succeeded[i] = this.#failed[i] = this.#skipped[i] = 0;
    for (const u of t.upstreams) {
      const s = this.#state[u];
      if (s === 'pending' || s === 'active') this.#waiting[i]++;
    }
    for (const u of t.ruleUpstreams) {
      const s = this.#state[u];
      if (s !== 'pending' && s !== 'active' && s !== 'waiting') this.#count(i, s, this.#results[u].reason);
    }
  }

  /** Counts a finished rule upstream of task i as its trigger rule sees it (trigger-rules.ts `ruleStatus`). */
  #count(i: number, status: TaskStatus, reason: SkipReason | undefined): void {
    const counted = ruleStatus(status, reason);
    if (counted === 'succeeded') this.#succeeded[i]++;
    else if (counted === 'failed') this.#failed[i]++;
    else this.#skipped[i]++;
  }

  // ---- finishing -----------------------------------------------------------------------------

  /** Make task i terminal, emit its event, update downstream counts, follow routing edges. */
  #finish(
    i: number,
    status: TaskStatus,
    patch: Partial<TaskResult>,
    meta: { attempt?: number; visit?: number; durationMs?: number; replayed?: boolean } = {},
  ): void {
    const t = this.#tasks[i];
    const r = this.#results[i];
    const wasActive = this.#state[i] === 'active';
    this.#state[i] = status;
    // Only a task finishing again (after a routing reset) can hold stale fields; `delete` is slow, so skip it
    // otherwise.
    if (this.#finishedOnce[i]) clearOutcome(r);
    this.#finishedOnce[i] = 1;
    r.status = status;
    Object.assign(r, patch);
    this.#views[t.id] = {
      status,
      output: status === 'succeeded' ? r.output : null,
      label: r.label,
      labelReason: r.labelReason,
      error: r.error,
    };
    const { bus } = this.#o;
    const timing = {
      attempt: meta.attempt ?? r.attempts,
      visit: meta.visit ?? r.visits,
      durationMs: meta.durationMs ?? 0,
    };
    if (status === 'skipped')
      bus.emit({ type: 'task.skipped', taskId: t.id, reason: r.reason!, ...(r.error ? { error: r.error } : {}) });
    else if (status === 'failed') bus.emit({ type: 'task.failed', taskId: t.id, ...timing, error: r.error! });
    else
      bus.emit({
        type: 'task.succeeded',
        taskId: t.id,
        ...timing,
        output: r.output,
        ...(meta.replayed ? { replayed: true as const } : {}),
      });

    for (const d of t.downstreams) {
      this.#waiting[d]--;
      const dt = this.#tasks[d];
      if (!(dt.condition.kind === 'status' && dt.condition.dep === i)) this.#count(d, status, r.reason);
      // Only rules that may decide early need a look before the last upstream ends.
      if (this.#state[d] === 'pending' && (this.#waiting[d] === 0 || TRIGGER_RULE_TRAITS[dt.trigger].decidesEarly))
        this.#worklist.push(d);
    }
    if (status !== 'skipped') this.#route(t, status === 'succeeded' ? 'success' : 'failure');
    if (wasActive) this.#active--;
    this.#drain();
  }

  // ---- executing -----------------------------------------------------------------------------

  /** `edited`: the input an approval replaced the task's with (workflow-spec.md §2). */
  async #execute(t: PlanTask, visit: number, edited?: { readonly input: unknown }): Promise<void> {
    const { bus } = this.#o;
    const replayed = this.#o.replay?.successes.get(visitKey(t.id, visit));
    if (replayed) {
      const { output, label, labelSource, labelReason } = replayed;
      if (label && labelSource)
        bus.emit({
          type: 'task.labeled',
          taskId: t.id,
          label,
          source: labelSource,
          ...(labelReason ? { reason: labelReason } : {}),
        });
      // A microtask later, like a real call: the scheduler never re-enters itself.
      await undefined;
      const patch = label ? { output, label, labelSource, ...(labelReason ? { labelReason } : {}) } : { output };
      return this.#finish(t.index, 'succeeded', patch, {
        attempt: replayed.attempt,
        visit,
        durationMs: 0,
        replayed: true,
      });
    }
    const ctx = this.#templateContext();
    if (edited) delete this.#results[t.index].inputSources; // a human's edit, not where the fields came from
    const outcome = t.forEach
      ? await this.#runEach(t, visit, ctx)
      : await this.#runWithPolicy(t, edited ? edited.input : this.#inputFor(t, ctx), visit, ctx);
    const meta = {
      attempt: 'attempt' in outcome ? outcome.attempt : undefined,
      visit,
      durationMs: 'durationMs' in outcome ? outcome.durationMs : 0,
    };
    if ('skipped' in outcome)
      return this.#finish(
        t.index,
        'skipped',
        { reason: outcome.skipped, ...(outcome.error ? { error: toErrorRecord(outcome.error) } : {}) },
        meta,
      );
    if (!outcome.ok) return this.#finish(t.index, 'failed', { error: toErrorRecord(outcome.error) }, meta);
    // Most tasks have no label to decide: no classifier call to wait for (and no extra turn).
    if (!mayHaveLabel(t, outcome.output)) return this.#finish(t.index, 'succeeded', { output: outcome.output }, meta);
    try {
      const r = this.#results[t.index];
      const reported = this.#llmCalls[t.index];
      const label = await decideLabel(
        t,
        outcome.output,
        this.#o.classifier,
        { runId: this.#o.runId, signal: this.#controller.signal, context: outcome.input, admit: this.#admission(t) },
        this.#reporter(t),
      );
      const patch: Partial<TaskResult> = { output: outcome.output };
      if (label) {
        Object.assign(
          patch,
          { label: label.label, labelSource: label.source },
          label.reason ? { labelReason: label.reason } : {},
        );
        if (this.#llmCalls[t.index] === reported && label.usage) {
          // A classifier that reported no calls of its own (a custom one): its usage is one llm.call, so the record
          // adds up too.
          r.usage = addUsage(r.usage, label.usage);
          bus.emit({
            type: 'llm.call',
            taskId: t.id,
            provider: 'classifier',
            model: 'classifier',
            purpose: 'classify',
            latencyMs: 0,
            usage: label.usage,
          });
          this.#budget?.spend(label.usage);
        }
        bus.emit({
          type: 'task.labeled',
          taskId: t.id,
          label: label.label,
          source: label.source,
          ...(label.reason ? { reason: label.reason } : {}),
          ...(label.source === 'classifier' ? { candidates: t.labelCandidates } : {}),
        });
      }
      return this.#finish(t.index, 'succeeded', patch, meta);
    } catch (err) {
      return this.#finish(t.index, 'failed', { error: toErrorRecord(err) }, meta);
    }
  }

  /**
   * Attempts of one input until it succeeds or the failure policy gives up: `retries` first, then the
   * `on_failure` steps in order (retry, adjust the input, fall back to another tool, skip).
   */
  async #runWithPolicy(
    t: PlanTask,
    firstInput: unknown,
    visit: number,
    ctx: TemplateContext,
    item?: number,
  ): Promise<Outcome> {
    const { bus, retry } = this.#o;
    let input = firstInput;
    let tool = t.tool;
    let recovery = firstRecovery(t);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(t, tool, input, attempt, visit, item);
      if (outcome.status === 'cancelled') return { skipped: this.#skipReasonOnAbort() };
      if (outcome.status === 'succeeded')
        return { ok: true, output: outcome.output, input, attempt, durationMs: outcome.durationMs };
      const err = outcome.error;
      const failed = { ok: false as const, error: err, attempt, durationMs: outcome.durationMs };
      // Stopped (Ctrl-C, a signal, a budget, a run-fatal error): the attempt was aborted, not failed; the task is
      // skipped with the reason that names why (workflow-spec.md §7).
      if (this.#controller.signal.aborted) return { skipped: this.#skipReasonOnAbort(), error: err };
      let again = false;
      /** A plain retry (same tool, same input) waits with backoff; a changed input or tool runs at once. */
      let backoff = false;
      while (!again) {
        const next = recover(t.policy, recovery, err.retryable);
        recovery = next.state;
        const c = next.command;
        if (c.kind === 'fail') break;
        if (c.kind === 'retry') {
          again = backoff = true;
          break;
        }
        const base = { taskId: t.id, attempt, error: toErrorRecord(err), ...(item === undefined ? {} : { item }) };
        if (c.kind === 'skip') {
          bus.emit({ type: 'task.recovery', ...base, action: 'skip' });
          return { skipped: 'failure_skipped', error: err };
        } else if (c.kind === 'fallback') {
          tool = c.step.tool;
          if (c.step.input) input = c.step.input(ctx);
          again = true;
          bus.emit({ type: 'task.recovery', ...base, action: 'fallback', tool: c.step.name });
        } else {
          try {
            input = await adjustInput(
              c.step,
              tool,
              input,
              err,
              ctx,
              this.#o.llm && track(this.#o.llm, this.#reporter(t), this.#admission(t)),
              this.#controller.signal,
            );
            again = true;
            bus.emit({ type: 'task.recovery', ...base, action: 'adjust', input });
          } catch (adjustErr) {
            bus.emit({ type: 'task.recovery', ...base, action: 'adjust', failed: toErrorRecord(adjustErr) });
          }
        }
      }
      if (!again) return failed;
      if (backoff) {
        const delayMs = backoffDelay(attempt, retry);
        bus.emit({
          type: 'task.retrying',
          taskId: t.id,
          attempt,
          delayMs,
          error: toErrorRecord(err),
          ...(item === undefined ? {} : { item }),
        });
        await sleep(delayMs, this.#controller.signal);
      }
    }
  }

  /**
   * for_each: one instance per item (`item`, `index` in templates), at most `concurrency` at once; outputs in input
   * order.
   */
  async #runEach(t: PlanTask, visit: number, ctx: TemplateContext): Promise<Outcome> {
    let list: unknown;
    try {
      list = t.forEach!(ctx);
    } catch (err) {
      return { ok: false, error: err, durationMs: 0 };
    }
    if (!Array.isArray(list)) {
      const got = list === null ? 'null' : typeof list;
      return {
        ok: false,
        error: new BraidError('E_FOR_EACH', `for_each must give a list, got ${got}`, {
          taskId: t.id,
        }),
        durationMs: 0,
      };
    }
    const items = list;
    const outcomes: Outcome[] = new Array(items.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < items.length && !this.#controller.signal.aborted) {
        const i = next++;
        const itemCtx = { ...ctx, item: items[i], index: i };
        outcomes[i] = await this.#runWithPolicy(t, this.#inputFor(t, itemCtx), visit, itemCtx, i);
        done++;
        const status = itemOutcome(outcomes[i]);
        this.#o.bus.emit({
          type: 'task.progress',
          taskId: t.id,
          progress: done / items.length,
          message: `item ${i + 1} of ${items.length}: ${status}`,
          data: { item: i, status },
        });
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: Math.min(t.itemConcurrency, items.length) }, worker));
    const durationMs = Math.round(performance.now() - t0);
    if (this.#controller.signal.aborted) return { skipped: this.#skipReasonOnAbort() };
    const ended = decideForEach(outcomes.map(itemOutcome));
    if (ended.kind === 'failed') {
      const cause = toErrorRecord((outcomes[ended.item] as { error: unknown }).error);
      // The item's code when it is braid's; a tool's own code (`ENOENT`) is no braid code: said in the message instead.
      const code = isErrorCode(cause.code) ? cause.code : 'E_TOOL';
      return {
        ok: false,
        error: new BraidError(
          code,
          `item ${ended.item} failed: ${cause.message}${cause.code === undefined || code === cause.code ? '' : ` (${cause.code})`}`,
          { taskId: t.id },
        ),
        durationMs,
      };
    }
    // An item whose policy ended in skip leaves null in its place.
    const output = outcomes.map((o) => ('ok' in o && o.ok ? o.output : null));
    return { ok: true, output, input: items, attempt: 1, durationMs };
  }

  /** One attempt through the executor: the request is data; the host records the start and gives the tool its `ctx`. */
  async #attempt(
    t: PlanTask,
    tool: Tool,
    input: unknown,
    attempt: number,
    visit: number,
    item?: number,
  ): Promise<AttemptResult> {
    const { runId } = this.#o;
    const r = this.#results[t.index];
    const recorded = recordedInput(input);
    // The run is its own lineage root until forks exist (workflow-spec.md §7a).
    const key = idempotencyKey(runId, t.id, visit, item, recorded.inputHash);
    const host = new Host(this.#hostHooks, t, tool, attempt, visit, item, recorded, key);
    const calls = this.#o.replay?.calls;
    if (calls?.size) host.llmCalls = calls.get(attemptKey(t.id, visit, attempt, item)) ?? 0;
    const request = {
      runId,
      taskId: t.id,
      visit,
      attempt,
      tool: tool.name,
      input,
      idempotencyKey: key,
      ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
      ...(t.maxTokens === undefined ? {} : { maxTokens: t.maxTokens }),
      ...(item === undefined ? {} : { item }),
    };
    const result = await this.#o.executor.execute(request, host);
    if (result.status === 'cancelled') return result;
    // Calls made in another process that this one has not recorded (a takeover, a lost report) count all the same.
    if (result.calls && result.calls.length > host.llmCalls) {
      const report = this.#reporter(t, host);
      for (const info of result.calls.slice(host.llmCalls)) report(info);
    }
    const { endedAt } = result;
    r.endedAt = endedAt;
    const ok = result.status === 'succeeded';
    // Built then completed, not spread: one object shape for the common entry.
    const entry: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = {
      visit,
      attempt,
      status: ok ? 'succeeded' : 'failed',
      startedAt: host.startedAt,
      endedAt,
    };
    if (!ok) entry.error = toErrorRecord(result.error);
    if (host.usage) entry.usage = host.usage;
    if (item !== undefined) entry.item = item;
    if (tool !== t.tool) entry.tool = tool.name;
    // A literal of one, not [] then push (which reserves room for 17): most tasks make one attempt.
    if (r.history) r.history.push(entry);
    else r.history = [entry];
    return result;
  }

  /** What every attempt's {@link Host} asks of the run: made once per run, so an attempt allocates one object. */
  readonly #hostHooks: HostHooks = {
    signal: () => this.#controller.signal,
    started: (h, worker, startedAt) => {
      if (this.#controller.signal.aborted) return false;
      const { t, calls: tool, item } = h;
      const r = this.#results[t.index];
      r.attempts++;
      h.startedAt = startedAt ?? isoNow();
      r.startedAt ??= h.startedAt;
      const sources = tool === t.tool ? r.inputSources : undefined;
      this.#o.bus.emit({
        type: 'task.started',
        taskId: t.id,
        tool: tool.name,
        attempt: h.attempt,
        visit: h.visit,
        ...(item === undefined ? {} : { item }),
        ...(sources ? { sources } : {}),
        ...h.recorded,
        ...(worker ? { worker } : {}),
        ...(startedAt ? { startedAt } : {}),
      });
      return true;
    },
    context: (h, signal) => {
      const { t, attempt, visit, item } = h;
      const { bus, runId, services } = this.#o;
      const report = () => this.#reporter(t, h);
      const admit = () => this.#admission(t);
      const children = () =>
        this.#childRuns(t, h, signal, `${visit}.${attempt}${item === undefined ? '' : `.${item}`}`);
      return new TaskContext(
        signal,
        runId,
        t.id,
        attempt,
        visit,
        h.idempotencyKey,
        services ?? NO_SERVICES,
        bus,
        this.#o.llm,
        report,
        admit,
        children,
      );
    },
    forward: (h, e) => {
      if (e.type === 'llm') return this.#reporter(h.t, h)(e.info);
      if (e.type === 'log') return emitTaskLog(this.#o.bus, h.t.id, e.level, e.message, e.fields);
      const { type: _, ...progress } = e;
      emitTaskProgress(this.#o.bus, h.t.id, progress);
    },
  };

  /**
   * `ctx.children` for one attempt: child runs get ids `<runId>.<taskId>.<visit>.<attempt>[.<item>][-n]` (the runner
   * may add `-r2`...).
   */
  #childRuns(t: PlanTask, h: Host, signal: AbortSignal, coordinates: string): ChildRuns | undefined {
    const runner = this.#o.children;
    if (!runner) return undefined;
    const { bus, runId } = this.#o;
    let count = 0;
    return {
      tools: runner.tools,
      run: (workflow, input = {}) => {
        const childRunId = `${runId}.${t.id}.${coordinates}${count++ ? `-${count}` : ''}`;
        const report = this.#reporter(t, h);
        const onEvent = (e: RunEvent) => {
          // The child's model calls are this task's: its usage, the run's, and this run's budget (which stops the
          // child).
          if (e.type === 'llm.call') {
            const { provider, model, purpose, latencyMs, usage, error, temperature, prompt, requestHash } = e;
            const { maxTokens, reserved } = e;
            report({
              provider,
              model,
              purpose,
              latencyMs,
              usage,
              ...(error ? { error } : {}),
              childRunId: e.childRunId ?? e.runId,
              ...(temperature === undefined ? {} : { temperature }),
              ...(prompt ? { prompt } : {}),
              ...(requestHash ? { requestHash } : {}),
              ...(maxTokens === undefined ? {} : { maxTokens }),
              ...(reserved ? { reserved } : {}),
            });
          } else if (e.type === 'task.ready') this.#budget?.enter();
          if (
            e.type === 'task.started' ||
            e.type === 'task.succeeded' ||
            e.type === 'task.failed' ||
            e.type === 'task.skipped'
          ) {
            bus.emit({
              type: 'task.progress',
              taskId: t.id,
              message: `child ${e.runId}: ${e.taskId} ${e.type.slice(5)}`,
              data: { childRunId: e.runId },
            });
          }
        };
        // The runner settles the id (a resumed run must not reuse an earlier child's record), then announces it.
        const announce = (id: string) => bus.emit({ type: 'task.child', taskId: t.id, childRunId: id, workflow });
        return runner.run(workflow, input, {
          taskId: t.id,
          childRunId,
          signal,
          onEvent,
          announce,
          ...(this.#calls ? { budget: this.#calls } : {}),
        });
      },
    };
  }

  /**
   * The effective input (§5a): the rendered explicit input over run inputs and upstream outputs; notes where fields
   * came from.
   */
  #inputFor(t: PlanTask, ctx: TemplateContext): unknown {
    const explicit = t.render(ctx);
    if (!t.implicit) return explicit;
    const upstreams: UpstreamOutput[] = [];
    for (const u of t.upstreams) {
      if (this.#state[u] !== 'succeeded') continue;
      const r = this.#results[u];
      upstreams.push({
        taskId: this.#tasks[u].id,
        output: r.output,
        ...(r.label !== undefined ? { label: r.label } : {}),
        ...(r.labelReason !== undefined ? { labelReason: r.labelReason } : {}),
      });
    }
    const { input, sources } = effectiveInput(t.implicit, explicit, this.#o.input, upstreams);
    const r = this.#results[t.index];
    if (sources) r.inputSources = sources;
    else if (r.inputSources) delete r.inputSources; // from an earlier visit
    return input;
  }

  /** One per run: `tasks` is the live views object, so the same context serves every task. */
  #ctx?: TemplateContext;

  #templateContext(): TemplateContext {
    return (this.#ctx ??= { input: this.#o.input, tasks: this.#views, run: { id: this.#o.runId } });
  }
}
