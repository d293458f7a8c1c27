/**
 * The driver of a run: it performs the commands of `step` (step.ts, the transition function that holds every
 * decision) and feeds their facts back. Read `step.ts` to understand braid's scheduling; this file only does what
 * `step` cannot: run attempts through an `AttemptExecutor` (src/executors: a data request in, a data result out;
 * p-queue in process, so limits live there and the driver never blocks), evaluate expressions, wait backoffs, ask
 * the classifier and the `adjust` model, record events, count model spending against the budget (whose
 * reservations hold each call's worst case before it is sent: budget.ts), start child runs, and abort what runs
 * when `step` stops the run.
 *
 * Facts are fed one at a time: a fact that arrives while another is being stepped (a tool that starts at once, a
 * budget crossed by a report) is queued and stepped next, so `step` never runs inside itself.
 */
import { setMaxListeners } from 'node:events';
import { BraidError, CancelledError, toErrorRecord } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { isTruthy } from '../spec/expression.js';
import { backoffDelay, sleep, type RetryOptions } from '../core/backoff.js';
import { isoNow } from '../core/clock.js';
import type { AttemptExecutor, AttemptResult } from '../executors/contract.js';
import { decideLabel, type Classifier } from './labels.js';
import { planTools, type Plan, type PlanTask } from './plan.js';
import type { RunResult } from '../core/result.js';
import { withCost } from '../llm/cost.js';
import type { CallAdmission, LlmCallInfo, LlmProvider } from '../llm/types.js';
import { addUsage } from '../core/usage.js';
import { emitTaskLog, emitTaskProgress, TaskContext } from './task-context.js';
import { adjustInput } from './recovery.js';
import { BudgetGuard, type CallBudget } from './budget.js';
import { admission, bothBudgets } from './call-admission.js';
import { recordedInput } from '../core/input-hash.js';
import { track } from '../llm/llm.js';
import { toolVersions } from '../toolkit/version.js';
import type { Budget } from '../spec/schema.js';
import { attemptKey, type Replay } from '../store/fold.js';
import { describeThrown } from '../core/thrown.js';
import { childRuns, Host, type ChildRunDeps, type ChildRunner, type HostHooks } from './attempt-host.js';
import { initialState, runResult, step, type Action, type Fact, type FatalError, type RunState } from './step.js';

export type { ChildRunner } from './attempt-host.js';

const NO_SERVICES: Readonly<Record<string, unknown>> = Object.freeze({});

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

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #tasks: readonly PlanTask[];
  readonly #state: RunState;
  readonly #controller = new AbortController();
  /** Facts waiting to be stepped (see the header), and whether one is being stepped. */
  readonly #queued: Fact[] = [];
  #stepping = false;
  /** LLM calls reported per task. */
  readonly #llmCalls: Int32Array;
  #resolve!: () => void;
  readonly #budget?: BudgetGuard;
  /** Holds each model call's worst case: this run's token and cost caps, and a parent's; none when neither has one. */
  readonly #calls?: CallBudget;
  /** Each task's admission of model calls, made on first use. */
  readonly #admissions: (CallAdmission | undefined)[];
  /** What `ctx.children` needs of the run. */
  readonly #childDeps: ChildRunDeps;

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#tasks = options.plan.tasks;
    const n = this.#tasks.length;
    const { budget, replay } = options;
    this.#state = initialState({
      plan: options.plan,
      runId: options.runId,
      input: options.input,
      ...(replay ? { replay } : {}),
      ...(budget?.max_tasks === undefined ? {} : { maxTasks: budget.max_tasks }),
    });
    this.#llmCalls = new Int32Array(n);
    this.#admissions = new Array<CallAdmission | undefined>(n);
    // Every running tool may listen on the run's signal: hundreds of listeners are expected, not a leak.
    setMaxListeners(0, this.#controller.signal);
    if (budget && Object.values(budget).some((v) => v !== undefined)) {
      const spent = replay?.spent;
      this.#budget = new BudgetGuard(
        budget,
        (message) => this.#feed({ kind: 'stop', error: { message, code: 'E_BUDGET' }, reason: 'budget_exceeded' }),
        spent && { tokens: spent.tokens, costUsd: spent.costUsd, runningMs: spent.runningMs },
      );
    }
    this.#calls = bothBudgets(this.#budget?.reserves ? this.#budget : undefined, options.parentBudget);
    this.#childDeps = {
      ...(options.children ? { runner: options.children } : {}),
      bus: options.bus,
      runId: options.runId,
      reporter: (t, h) => this.#reporter(t, h),
      childTask: () => this.#feed({ kind: 'child_task' }),
      ...(this.#calls ? { budget: this.#calls } : {}),
    };
  }

  /** How task `t`'s model calls are admitted: its `max_tokens`, the budgets' reservations (workflow-spec.md §7). */
  #admission(t: PlanTask): CallAdmission {
    return (this.#admissions[t.index] ??= admission(t.maxTokens, this.#calls, this.#controller.signal));
  }

  /**
   * Stop the run from outside (e.g. its record cannot be written): running tasks are cancelled, nothing new starts, the
   * run fails with `error`.
   */
  fail(error: FatalError): void {
    this.#feed({ kind: 'stop', error });
  }

  async run(): Promise<RunResult> {
    const { bus, plan, signal, replay } = this.#o;
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => (this.#resolve = resolve));
    const onAbort = () => this.#feed({ kind: 'stop' });
    const tools = toolVersions(planTools(plan));
    if (replay) bus.emit({ type: 'run.resumed', reused: replay.successes.size, pid: process.pid, tools });
    else
      bus.emit({
        type: 'run.started',
        workflow: plan.workflow.name,
        tasks: this.#tasks.length,
        input: this.#o.input,
        tools,
      });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    this.#budget?.start();
    this.#feed({ kind: 'start' });
    await done;
    this.#budget?.stop();
    signal?.removeEventListener('abort', onAbort);

    const result = runResult(this.#state, { startedAt, endedAt: new Date().toISOString() });
    const { status, error, output, empty } = result;
    const durationMs = Math.round(performance.now() - t0);
    bus.emit({
      type: 'run.finished',
      status,
      durationMs,
      ...(error ? { error } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(empty ? { empty } : {}),
    });
    return result;
  }

  /** Step a fact now, or after the one being stepped (see the header); then perform its commands, in order. */
  #feed(fact: Fact): void {
    if (this.#stepping) return void this.#queued.push(fact);
    this.#stepping = true;
    try {
      this.#step(fact);
      for (let k = 0; k < this.#queued.length; k++) this.#step(this.#queued[k]);
    } finally {
      this.#queued.length = 0;
      this.#stepping = false;
    }
  }

  #step(fact: Fact): void {
    for (const c of step(this.#state, fact, performance.now())) {
      if ('type' in c) this.#o.bus.emit(c);
      else this.#perform(c);
    }
  }

  #perform(c: Action): void {
    switch (c.kind) {
      case 'attempt':
        return void this.#attempt(c);
      case 'evaluate': {
        const { task, purpose } = c;
        // Under a time budget (the task's timeout_ms, else the expression default) and a depth budget.
        c.expression.evaluate(c.scope, c.timeoutMs === undefined ? {} : { timeoutMs: c.timeoutMs }).then(
          (value) => this.#feed({ kind: 'evaluated', task, purpose, truthy: isTruthy(value) }),
          (err) => this.#feed({ kind: 'evaluated', task, purpose, error: describeThrown(err).message }),
        );
        return;
      }
      case 'backoff': {
        const { task, item, attempt, error } = c;
        const delayMs = backoffDelay(attempt, this.#o.retry);
        const taskId = this.#tasks[task].id;
        this.#o.bus.emit({
          type: 'task.retrying',
          taskId,
          attempt,
          delayMs,
          error,
          ...(item === undefined ? {} : { item }),
        });
        void sleep(delayMs, this.#controller.signal).then(() => this.#feed({ kind: 'backoff_done', task, item }));
        return;
      }
      case 'adjust': {
        const { task, item } = c;
        const t = this.#tasks[task];
        const llm = this.#o.llm && track(this.#o.llm, this.#reporter(t), this.#admission(t));
        adjustInput(c.step, c.tool, c.input, c.error, c.ctx, llm, this.#controller.signal).then(
          (input) => this.#feed({ kind: 'adjusted', task, item, input }),
          (err) => this.#feed({ kind: 'adjusted', task, item, error: toErrorRecord(err) }),
        );
        return;
      }
      case 'label':
        return void this.#label(c);
      case 'abort': {
        if (this.#controller.signal.aborted) return;
        const err = c.error ? new BraidError(c.error.code, c.error.message) : new CancelledError();
        this.#controller.abort(err);
        // Attempts in flight fail at once, by the run's id (the executor may be elsewhere).
        this.#o.executor.cancel(this.#o.runId, err);
        return;
      }
      case 'finish':
        return this.#resolve();
    }
  }

  /** A succeeded task's label (labels.ts): its output's, or the classifier's. */
  async #label(c: Extract<Action, { kind: 'label' }>): Promise<void> {
    const t = this.#tasks[c.task];
    try {
      const reported = this.#llmCalls[t.index];
      const signal = this.#controller.signal;
      const request = { runId: this.#o.runId, signal, context: c.input, admit: this.#admission(t) };
      const label = await decideLabel(t, c.output, this.#o.classifier, request, this.#reporter(t));
      if (label?.usage && this.#llmCalls[t.index] === reported) {
        // A classifier that reported no calls of its own (a custom one): its usage is one llm.call, so the record
        // adds up too.
        this.#feed({ kind: 'usage', task: t.index, usage: label.usage });
        this.#o.bus.emit({
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
      this.#feed({ kind: 'labeled', task: t.index, ...(label ? { label } : {}) });
    } catch (err) {
      this.#feed({ kind: 'labeled', task: t.index, error: toErrorRecord(err) });
    }
  }

  /**
   * Reports a task's LLM calls: an `llm.call` event each, tokens and cost added to the task and the budget; with `h`,
   * calls of that attempt's tool (the event names the attempt, whose usage adds up too).
   */
  #reporter(t: PlanTask, h?: Host): (info: LlmCallInfo) => void {
    return (info) => {
      const usage = withCost(info.model, info.usage, info.provider);
      this.#llmCalls[t.index]++;
      this.#feed({ kind: 'usage', task: t.index, usage });
      if (h) {
        h.llmCalls++;
        h.usage = addUsage(h.usage, usage);
        const at = { visit: h.visit, attempt: h.attempt, ...(h.item === undefined ? {} : { item: h.item }) };
        this.#o.bus.emit({ type: 'llm.call', taskId: t.id, ...info, usage, ...at });
      } else this.#o.bus.emit({ type: 'llm.call', taskId: t.id, ...info, usage });
      this.#budget?.spend(usage);
    };
  }

  /** One attempt through the executor: the request is data; the host records the start and gives the tool its `ctx`. */
  async #attempt(c: Extract<Action, { kind: 'attempt' }>): Promise<void> {
    const { runId } = this.#o;
    const { task, visit, attempt, item, tool, input } = c;
    const t = this.#tasks[task];
    const recorded = recordedInput(input);
    // The run is its own lineage root until forks exist (workflow-spec.md §7a).
    const host = new Host(this.#hostHooks, t, tool, attempt, visit, item, recorded, runId);
    const calls = this.#o.replay?.calls;
    if (calls?.size) host.llmCalls = calls.get(attemptKey(t.id, visit, attempt, item)) ?? 0;
    const request = {
      runId,
      taskId: t.id,
      visit,
      attempt,
      tool: tool.name,
      input,
      ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
      ...(t.maxTokens === undefined ? {} : { maxTokens: t.maxTokens }),
      ...(item === undefined ? {} : { item }),
    };
    let result: AttemptResult;
    try {
      result = await this.#o.executor.execute(request, host);
    } catch (err) {
      // An executor answers with data; one that throws is a bug, recorded as the attempt's failure.
      const error = { ...toErrorRecord(err), retryable: false };
      result = { status: 'failed', error, durationMs: 0, endedAt: isoNow() };
    }
    // Calls made in another process that this one has not recorded (a takeover, a lost report) count all the same.
    if (result.status !== 'cancelled' && result.calls && result.calls.length > host.llmCalls) {
      const report = this.#reporter(t, host);
      for (const info of result.calls.slice(host.llmCalls)) report(info);
    }
    this.#feed({
      kind: 'attempted',
      task,
      visit,
      attempt,
      ...(item === undefined ? {} : { item }),
      tool: tool.name,
      startedAt: host.startedAt,
      result,
      ...(host.usage ? { usage: host.usage } : {}),
    });
  }

  /** What every attempt's {@link Host} asks of the run: made once per run, so an attempt allocates one object. */
  readonly #hostHooks: HostHooks = {
    signal: () => this.#controller.signal,
    started: (h, worker, startedAt) => {
      if (this.#controller.signal.aborted || this.#state.stopped) return false;
      h.startedAt = startedAt ?? isoNow();
      const { t, calls: tool, attempt, visit, item, recorded } = h;
      this.#feed({
        kind: 'started',
        task: t.index,
        visit,
        attempt,
        ...(item === undefined ? {} : { item }),
        tool: tool.name,
        startedAt: h.startedAt,
        recorded,
        ...(worker ? { worker } : {}),
        ...(startedAt ? { reportedStart: startedAt } : {}),
      });
      return true;
    },
    context: (h, signal) => {
      const { t, attempt, visit, item } = h;
      const { bus, runId, services } = this.#o;
      const report = () => this.#reporter(t, h);
      const admit = () => this.#admission(t);
      const children = () =>
        childRuns(this.#childDeps, t, h, signal, `${visit}.${attempt}${item === undefined ? '' : `.${item}`}`);
      return new TaskContext(
        signal,
        runId,
        t.id,
        attempt,
        visit,
        () => h.idempotencyKey,
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
}
