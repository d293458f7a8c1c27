/**
 * The dataflow scheduler: decides what runs, when. Read this file to understand braid's scheduling.
 *
 * - Every task keeps a count of upstreams that are not yet terminal, and counts of succeeded / failed /
 *   skipped upstreams. When an upstream becomes terminal, its downstream tasks are re-decided at once:
 *   no levels, no barriers; a task starts the moment its trigger rule allows.
 * - Deciding is pure (`decideTrigger`, condition checks); running goes through an `Executor`
 *   (p-queue in process), so limits live there and the scheduler never blocks.
 * - Routing edges (`next_task_id_on_*`) enter a task whatever its other rules; re-entering a finished task
 *   resets it and everything downstream of it to pending, so the loop body runs again.
 * - A run ends when nothing is active: tasks only reachable by routing and never routed to are then
 *   skipped (`not_routed`), which may unblock joins; when nothing is left, the result is built.
 */
import { setMaxListeners } from 'node:events';
import { BraidError, CancelledError, toErrorRecord } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { ErrorRecord, Usage } from '../events/types.js';
import { isTruthy } from '../spec/expression.js';
import type { TemplateContext } from '../spec/template.js';
import { backoffDelay, callWithSignal, sleep, type CancelSet, type RetryOptions } from './attempt.js';
import { isoNow } from '../events/clock.js';
import type { Executor } from './executor.js';
import { decideLabel, type Classifier } from './labels.js';
import type { Plan, PlanTask } from './plan.js';
import type { RunResult, RunStatus, SkipReason, TaskResult, TaskStatus } from './result.js';
import { withCost } from '../llm/cost.js';
import type { LlmCallInfo, LlmProvider } from '../llm/types.js';
import { addUsage } from './usage.js';
import { validateToolInput, validateToolOutput } from './tool-call.js';
import { TaskContext } from './task-context.js';
import { decideTrigger } from './trigger-rules.js';
import { REJECTED, visitKey, type Replay } from '../store/fold.js';

const NO_SERVICES: Readonly<Record<string, unknown>> = Object.freeze({});

type State = 'pending' | 'active' | 'waiting' | TaskStatus;

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
  readonly executor: Executor;
  readonly bus: EventBus;
  readonly classifier?: Classifier;
  readonly signal?: AbortSignal;
  readonly retry?: RetryOptions;
  readonly services?: Readonly<Record<string, unknown>>;
  /** The model tools reach through `ctx.llm`; calls are reported as `llm.call` events. */
  readonly llm?: LlmProvider;
  /** Continue a recorded run: its successes are reused, its approvals apply. */
  readonly replay?: Replay;
}

type AttemptOutcome = { ok: true; output: unknown; durationMs: number } | { ok: false; error: unknown; durationMs: number } | { cancelled: true };

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
  /** Attempts in flight; cancellation rejects them all at once. */
  readonly #inflight: CancelSet = new Set();
  /** Tasks deciding, queued or running; the run ends when this reaches 0. */
  #active = 0;
  /** Tasks paused for a human approval; the run ends `waiting` when nothing else is active. */
  #waitingApproval = 0;
  #worklist: number[] = [];
  #draining = false;
  #fatal?: ErrorRecord;
  /** LLM calls reported per task. */
  readonly #llmCalls: Int32Array;
  readonly #finishedOnce: Uint8Array;
  #finished = false;
  #resolve!: () => void;

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
    // Every running tool may listen on the run's signal: hundreds of listeners are expected, not a leak.
    setMaxListeners(0, this.#controller.signal);
    this.#results = this.#tasks.map(() => ({ status: 'pending', attempts: 0, visits: 0 }) as TaskResult);
    for (const t of this.#tasks) this.#waiting[t.index] = t.upstreams.length;
  }

  async run(): Promise<RunResult> {
    const { bus, plan, signal } = this.#o;
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => (this.#resolve = resolve));
    const onAbort = () => {
      const err = new CancelledError();
      this.#controller.abort(err);
      for (const cancel of [...this.#inflight]) cancel(err);
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });

    const { replay } = this.#o;
    if (replay) bus.emit({ type: 'run.resumed', reused: replay.successes.size, pid: process.pid });
    else bus.emit({ type: 'run.started', workflow: plan.workflow.name, tasks: this.#tasks.length, input: this.#o.input });
    for (const t of this.#tasks) if (t.upstreams.length === 0 && !t.routingOnly) this.#worklist.push(t.index);
    this.#drain();
    await done;
    signal?.removeEventListener('abort', onAbort);

    const status = this.#runStatus();
    const durationMs = Math.round(performance.now() - t0);
    bus.emit({ type: 'run.finished', status, durationMs, ...(this.#fatal ? { error: this.#fatal } : {}) });
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
      tasks,
      ...(usage ? { usage } : {}),
    };
  }

  /** Reports a task's LLM calls: an `llm.call` event each, tokens and cost added to the task. */
  #reporter(t: PlanTask): (info: LlmCallInfo) => void {
    return (info) => {
      const usage = withCost(info.model, info.usage, info.provider);
      this.#llmCalls[t.index]++;
      this.#results[t.index].usage = addUsage(this.#results[t.index].usage, usage);
      this.#o.bus.emit({ type: 'llm.call', taskId: t.id, ...info, usage });
    };
  }

  #runStatus(): RunStatus {
    if (this.#controller.signal.aborted) return 'cancelled';
    if (this.#fatal) return 'failed';
    if (this.#waitingApproval > 0) return 'waiting';
    const unhandled = this.#tasks.some((t) => this.#state[t.index] === 'failed' && !t.failureHandled);
    return unhandled ? 'failed' : 'succeeded';
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
   * nothing changed. (Defensively, a task still pending after that is skipped too.)
   */
  #settleUnreached(): boolean {
    const cancelled = this.#controller.signal.aborted;
    const pending = this.#tasks.filter((t) => this.#state[t.index] === 'pending');
    const unrouted = pending.filter((t) => cancelled || t.routingOnly);
    for (const t of unrouted) this.#skip(t.index, cancelled ? 'cancelled' : 'not_routed');
    if (unrouted.length === 0 && pending.length > 0) this.#skip(pending[0].index, 'upstream_skipped');
    return pending.length > 0;
  }

  #decide(i: number): void {
    if (this.#state[i] !== 'pending') return;
    if (this.#controller.signal.aborted) return this.#skip(i, 'cancelled');
    const t = this.#tasks[i];
    const rule = t.ruleUpstreams.length === t.upstreams.length || this.#waiting[i] === 0 ? t.trigger : undefined;
    if (!rule) return; // an if_status target is still running
    const decision = decideTrigger(rule, {
      total: t.ruleUpstreams.length,
      succeeded: this.#succeeded[i],
      failed: this.#failed[i],
      skipped: this.#skipped[i],
    });
    if (decision === 'wait') return;
    if (decision !== 'run') return this.#skip(i, decision);
    const c = t.condition;
    if (c.kind === 'none') return this.#enter(i);
    if (c.kind === 'result') {
      const dep = this.#results[c.dep];
      const ok = this.#state[c.dep] === 'succeeded' && dep.label !== undefined && c.labels.has(dep.label);
      return ok ? this.#enter(i) : this.#skip(i, 'condition_false');
    }
    if (c.kind === 'status') {
      const s = this.#state[c.dep] as TaskStatus;
      return c.status === s || c.status === 'finished' ? this.#enter(i) : this.#skip(i, 'condition_false');
    }
    // An expression: evaluated asynchronously, the task counts as active meanwhile.
    this.#state[i] = 'active';
    this.#active++;
    const ctx = { input: this.#o.input, tasks: this.#views, output: c.dep === undefined ? undefined : this.#views[this.#tasks[c.dep].id]?.output };
    c.expression.evaluate(ctx).then(
      (value) => (isTruthy(value) ? this.#enter(i) : this.#finish(i, 'skipped', { reason: 'condition_false' })),
      (err) => this.#finish(i, 'failed', { error: { message: `condition expression failed: ${(err as Error).message}`, code: 'E_EXPRESSION' } }),
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
    if (r.visits > t.maxVisits) {
      const error = { message: `task "${t.id}" was entered ${r.visits} times, more than max_visits (${t.maxVisits}); the routing loop did not converge`, code: 'E_MAX_VISITS' };
      this.#fatal ??= error;
      r.visits--;
      return this.#finish(i, 'failed', { error });
    }
    this.#o.bus.emit({ type: 'task.ready', taskId: t.id, visit: r.visits, ...(routedFrom ? { routedFrom } : {}) });
    if (t.approval) {
      const decision = this.#o.replay?.approvals.get(visitKey(t.id, r.visits));
      if (decision === false) return this.#finish(i, 'failed', { error: REJECTED });
      if (decision === undefined) {
        this.#state[i] = 'waiting';
        r.status = 'waiting';
        this.#active--;
        this.#waitingApproval++;
        this.#o.bus.emit({ type: 'task.waiting', taskId: t.id, visit: r.visits });
        return;
      }
    }
    void this.#execute(t, r.visits);
  }

  #route(from: PlanTask, on: 'success' | 'failure'): void {
    if (this.#fatal || this.#controller.signal.aborted) return;
    for (const route of from.routes) {
      if (route.on !== on) continue;
      const target = this.#tasks[route.to];
      this.#o.bus.emit({ type: 'task.routed', taskId: from.id, to: target.id, on });
      const s = this.#state[route.to];
      if (s === 'active') continue; // already deciding or running: one visit serves both
      if (s !== 'pending') this.#reset(route.to);
      this.#enter(route.to, from.id);
    }
  }

  /** Re-entering a finished task: it and its finished downstream tasks become pending again. */
  #reset(root: number): void {
    const closure = [root];
    const seen = new Set(closure);
    for (let k = 0; k < closure.length; k++) {
      for (const d of this.#tasks[closure[k]].downstreams) if (!seen.has(d)) seen.add(d), closure.push(d);
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
      if (s === 'succeeded') this.#succeeded[i]++;
      else if (s === 'failed') this.#failed[i]++;
      else if (s === 'skipped') this.#skipped[i]++;
    }
  }

  // ---- finishing -----------------------------------------------------------------------------

  /** Make task i terminal, emit its event, update downstream counts, follow routing edges. */
  #finish(i: number, status: TaskStatus, patch: Partial<TaskResult>, meta: { attempt?: number; visit?: number; durationMs?: number; replayed?: boolean } = {}): void {
    const t = this.#tasks[i];
    const r = this.#results[i];
    const wasActive = this.#state[i] === 'active';
    this.#state[i] = status;
    // Only a task finishing again (after a routing reset) can hold stale fields; `delete` is slow, so skip it otherwise.
    if (this.#finishedOnce[i]) delete r.reason, delete r.output, delete r.label, delete r.labelSource, delete r.labelReason, delete r.error;
    this.#finishedOnce[i] = 1;
    r.status = status;
    Object.assign(r, patch);
    this.#views[t.id] = { status, output: status === 'succeeded' ? r.output : null, label: r.label, labelReason: r.labelReason, error: r.error };
    const { bus } = this.#o;
    const timing = { attempt: meta.attempt ?? r.attempts, visit: meta.visit ?? r.visits, durationMs: meta.durationMs ?? 0 };
    if (status === 'skipped') bus.emit({ type: 'task.skipped', taskId: t.id, reason: r.reason! });
    else if (status === 'failed') bus.emit({ type: 'task.failed', taskId: t.id, ...timing, error: r.error! });
    else bus.emit({ type: 'task.succeeded', taskId: t.id, ...timing, output: r.output, ...(meta.replayed ? { replayed: true as const } : {}) });

    for (const d of t.downstreams) {
      this.#waiting[d]--;
      const dt = this.#tasks[d];
      if (!(dt.condition.kind === 'status' && dt.condition.dep === i)) {
        if (status === 'succeeded') this.#succeeded[d]++;
        else if (status === 'failed') this.#failed[d]++;
        else this.#skipped[d]++;
      }
      // Only rules that may decide early need a look before the last upstream ends.
      if (this.#state[d] === 'pending' && (this.#waiting[d] === 0 || dt.trigger === 'one_success' || dt.trigger === 'one_failed')) this.#worklist.push(d);
    }
    if (status !== 'skipped') this.#route(t, status === 'succeeded' ? 'success' : 'failure');
    if (wasActive) this.#active--;
    this.#drain();
  }

  // ---- executing -----------------------------------------------------------------------------

  async #execute(t: PlanTask, visit: number): Promise<void> {
    const { bus, executor, retry } = this.#o;
    const r = this.#results[t.index];
    const replayed = this.#o.replay?.successes.get(visitKey(t.id, visit));
    if (replayed) {
      const { output, label, labelSource, labelReason } = replayed;
      if (label && labelSource) bus.emit({ type: 'task.labeled', taskId: t.id, label, source: labelSource, ...(labelReason ? { reason: labelReason } : {}) });
      // A microtask later, like a real call: the scheduler never re-enters itself.
      await undefined;
      const patch = label ? { output, label, labelSource, ...(labelReason ? { labelReason } : {}) } : { output };
      return this.#finish(t.index, 'succeeded', patch, { attempt: replayed.attempt, visit, durationMs: 0, replayed: true });
    }
    const input = t.render(this.#templateContext());
    for (let attempt = 1; ; attempt++) {
      const outcome = await executor.run(t.tool, () => this.#attempt(t, input, attempt, visit));
      if ('cancelled' in outcome) return this.#finish(t.index, 'skipped', { reason: 'cancelled' });
      const meta = { attempt, visit, durationMs: outcome.durationMs };
      if (outcome.ok) {
        try {
          const reported = this.#llmCalls[t.index];
          const label = await decideLabel(t, outcome.output, this.#o.classifier, { runId: this.#o.runId, signal: this.#controller.signal, context: input }, this.#reporter(t));
          const patch: Partial<TaskResult> = { output: outcome.output };
          if (label) {
            Object.assign(patch, { label: label.label, labelSource: label.source }, label.reason ? { labelReason: label.reason } : {});
            if (this.#llmCalls[t.index] === reported) r.usage = addUsage(r.usage, label.usage); // a classifier that reported no calls
            bus.emit({ type: 'task.labeled', taskId: t.id, label: label.label, source: label.source, ...(label.reason ? { reason: label.reason } : {}) });
          }
          return this.#finish(t.index, 'succeeded', patch, meta);
        } catch (err) {
          return this.#finish(t.index, 'failed', { error: toErrorRecord(err) }, meta);
        }
      }
      const err = outcome.error;
      const retryable = !BraidError.is(err) || err.retryable;
      if (!retryable || attempt > t.retries || this.#controller.signal.aborted) {
        return this.#finish(t.index, 'failed', { error: toErrorRecord(err) }, meta);
      }
      const delayMs = backoffDelay(attempt, retry);
      bus.emit({ type: 'task.retrying', taskId: t.id, attempt, delayMs, error: toErrorRecord(err) });
      await sleep(delayMs, this.#controller.signal);
    }
  }

  /** One attempt, inside the executor's slot. */
  async #attempt(t: PlanTask, rawInput: unknown, attempt: number, visit: number): Promise<AttemptOutcome> {
    if (this.#controller.signal.aborted) return { cancelled: true };
    const { bus, runId, services } = this.#o;
    const r = this.#results[t.index];
    r.attempts++;
    const startedAt = isoNow();
    r.startedAt ??= startedAt;
    const t0 = performance.now();
    bus.emit({ type: 'task.started', taskId: t.id, tool: t.tool.name, attempt, visit });
    let output: unknown;
    let error: unknown;
    let ok = false;
    try {
      const input = validateToolInput(t.tool, rawInput, t.id);
      const report = () => this.#reporter(t);
      const raw = await callWithSignal((signal) => t.tool.run(input, new TaskContext(signal, runId, t.id, attempt, visit, services ?? NO_SERVICES, bus, this.#o.llm, report)), this.#controller.signal, this.#inflight, t.timeoutMs, t.id);
      output = validateToolOutput(t.tool, raw, t.id);
      ok = true;
    } catch (err) {
      error = err;
    }
    const endedAt = isoNow();
    r.endedAt = endedAt;
    const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    (r.history ??= []).push({ visit, attempt, status: ok ? 'succeeded' : 'failed', startedAt, endedAt, ...(ok ? {} : { error: toErrorRecord(error) }) });
    return ok ? { ok: true, output, durationMs } : { ok: false, error, durationMs };
  }

  #templateContext(): TemplateContext {
    return { input: this.#o.input, tasks: this.#views, run: { id: this.#o.runId } };
  }
}
