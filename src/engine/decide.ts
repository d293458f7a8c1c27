/**
 * The decider: braid's scheduling rules as pure functions. Facts in (a task's upstream counts, a dependency's
 * status or label, a failed attempt and the task's failure policy, what is still pending), a command out
 * (wait, skip with a reason, enter, evaluate the condition expression; a visit's max_visits and approval;
 * the tasks a route enters; a for_each task's end; retry, fall back, adjust, skip, give up; skip unrouted
 * tasks; the run's status). No I/O, no timers, no promises: `step.ts` keeps the state and applies the commands,
 * the driver (`scheduler.ts`) performs them and feeds the facts back. `decide.test.ts` states the rules.
 */
import type { SkipReason, RunStatus, TaskResultStatus } from '../core/result.js';
import type { PlanPolicyStep, PlanTask } from './plan.js';
import { decideTrigger, type UpstreamCounts } from './trigger-rules.js';

// ---- a task: may it start? ------------------------------------------------------------------------

/**
 * A task's state as `step` keeps it: the one task vocabulary of a result and a record (`TaskResultStatus`);
 * `running` from the moment it is decided on (its condition evaluated, its attempt queued or running) to its end.
 */
export type TaskState = TaskResultStatus;

/** What the decider needs to know about a pending task. */
export interface TaskFacts {
  /** Set once the run is stopped (cancelled, budget crossed, failed from outside): the reason the rest is skipped. */
  readonly stopped: SkipReason | undefined;
  /** Upstreams not yet terminal. */
  readonly waiting: number;
  /** Terminal counts over the task's rule upstreams. */
  readonly counts: UpstreamCounts;
  /** The state of another task (the dependency of an `if_result` / `if_status` condition). */
  state(index: number): TaskState;
  /** The label of another task. */
  label(index: number): string | undefined;
}

export type TaskCommand =
  | { readonly kind: 'wait' }
  | { readonly kind: 'skip'; readonly reason: SkipReason }
  /** Start a visit (approval, budget and max_visits are checked on entering). */
  | { readonly kind: 'enter' }
  /** Evaluate the `when` expression, then {@link decideExpression}. */
  | { readonly kind: 'evaluate' };

const WAIT: TaskCommand = { kind: 'wait' };
const ENTER: TaskCommand = { kind: 'enter' };
const EVALUATE: TaskCommand = { kind: 'evaluate' };
const SKIPS = new Map<SkipReason, TaskCommand>();
/** One frozen command per reason: deciding allocates nothing. */
export function skip(reason: SkipReason): TaskCommand {
  let c = SKIPS.get(reason);
  if (!c) SKIPS.set(reason, (c = Object.freeze({ kind: 'skip', reason })));
  return c;
}

/**
 * A pending task: its trigger rule over its upstreams first (an `if_status` target is not counted by the
 * rule, but the task waits for it), then its condition.
 */
export function decideTask(t: PlanTask, f: TaskFacts): TaskCommand {
  if (f.stopped) return skip(f.stopped);
  const ruleReady = t.ruleUpstreams.length === t.upstreams.length || f.waiting === 0;
  if (!ruleReady) return WAIT; // an if_status target is still running
  const decision = decideTrigger(t.trigger, f.counts);
  if (decision === 'wait') return WAIT;
  if (decision !== 'run') return skip(decision);
  const c = t.condition;
  switch (c.kind) {
    case 'none':
      return ENTER;
    case 'result': {
      const label = f.label(c.dep);
      return f.state(c.dep) === 'succeeded' && label !== undefined && c.labels.has(label)
        ? ENTER
        : skip('condition_false');
    }
    case 'status':
      return c.status === f.state(c.dep) || c.status === 'finished' ? ENTER : skip('condition_false');
    case 'when':
      return EVALUATE;
  }
}

/** The `when` expression's value decided: enter when truthy, else skip (`condition_false`). */
export function decideExpression(truthy: boolean): TaskCommand {
  return truthy ? ENTER : skip('condition_false');
}

// ---- entering a task, and routing into one ------------------------------------------------------

export type VisitCommand =
  /** Entered more than `max_visits` times: the task fails with `E_MAX_VISITS` and so does the run. */
  | { readonly kind: 'over_max_visits' }
  /** `approval: true` with no decision recorded for this visit: the task waits. */
  | { readonly kind: 'wait_for_approval' }
  /** The recorded decision for this visit is a rejection: the task is skipped (`rejected`). */
  | { readonly kind: 'rejected' }
  | { readonly kind: 'execute' };

const VISIT = {
  over: { kind: 'over_max_visits' },
  wait: { kind: 'wait_for_approval' },
  rejected: { kind: 'rejected' },
  execute: { kind: 'execute' },
} as const satisfies Record<string, VisitCommand>;

/**
 * Entering visit `visit` of a task (the budget's task count is checked between the two questions, by the
 * driver): first `max_visits`, then the approval recorded for this visit (`undefined`: none yet).
 */
export function decideVisit(t: PlanTask, visit: number, approval: boolean | undefined): VisitCommand {
  if (visit > t.maxVisits) return VISIT.over;
  if (!t.approval) return VISIT.execute;
  if (approval === undefined) return VISIT.wait;
  return approval ? VISIT.execute : VISIT.rejected;
}

/**
 * A task finished with `on` (`success` or `failure`): the tasks its routes enter. A target already active
 * (deciding, queued or running) is not entered again: one visit serves both. A target that finished is
 * reset first (it and its finished downstream tasks become pending again). A stopped run routes nowhere.
 */
export function decideRoutes(
  from: PlanTask,
  on: 'success' | 'failure',
  state: (index: number) => TaskState,
  stopped: boolean,
): { readonly to: number; readonly enter: boolean; readonly reset: boolean }[] {
  if (stopped) return [];
  const out = [];
  for (const route of from.routes) {
    if (route.on !== on) continue;
    const s = state(route.to);
    out.push({ to: route.to, enter: s !== 'running', reset: s !== 'running' && s !== 'pending' });
  }
  return out;
}

// ---- for_each: the items' outcomes as the task's ----------------------------------------------------

export type ItemOutcome = 'succeeded' | 'failed' | 'skipped';

/**
 * A `for_each` task ends as its items did: failed with the first failed item (in input order), else
 * succeeded with the outputs in input order, `null` where an item's failure policy ended in skip.
 */
export function decideForEach(
  items: readonly ItemOutcome[],
): { readonly kind: 'failed'; readonly item: number } | { readonly kind: 'succeeded' } {
  const item = items.indexOf('failed');
  return item >= 0 ? { kind: 'failed', item } : { kind: 'succeeded' };
}

// ---- a failed attempt: what next? ---------------------------------------------------------------

/** Where a task's failure policy stands: plain retries left, and the next `on_failure` step. */
export interface RecoveryState {
  readonly retriesLeft: number;
  readonly step: number;
}

export type RecoveryCommand =
  /** The same tool and input again, after a backoff delay. */
  | { readonly kind: 'retry' }
  /** Run the fallback step's tool at once (its input if it has one). */
  | { readonly kind: 'fallback'; readonly step: Extract<PlanPolicyStep, { kind: 'fallback' }> }
  /** Adjust the input (template patch, model) and run again at once; if adjusting fails, decide again. */
  | { readonly kind: 'adjust'; readonly step: Extract<PlanPolicyStep, { kind: 'adjust' }> }
  /** End the task skipped (`failure_skipped`). */
  | { readonly kind: 'skip' }
  /** The task fails with this attempt's error. */
  | { readonly kind: 'fail' };

export const firstRecovery = (t: PlanTask): RecoveryState => ({ retriesLeft: t.retries, step: 0 });

/**
 * After a failed attempt: `retries` first (only for a retryable error), then the `on_failure` steps in
 * order: `retry` (retryable errors only, else the next step), `fallback`, `adjust`, `skip`; when none is
 * left, fail. A fallback uses up the plain retries.
 */
export function recover(
  policy: readonly PlanPolicyStep[],
  s: RecoveryState,
  retryable: boolean,
): { state: RecoveryState; command: RecoveryCommand } {
  if (retryable && s.retriesLeft > 0)
    return { state: { retriesLeft: s.retriesLeft - 1, step: s.step }, command: { kind: 'retry' } };
  for (let step = s.step; step < policy.length;) {
    const p = policy[step++];
    if (p.kind === 'retry') {
      if (retryable) return { state: { retriesLeft: p.times - 1, step }, command: { kind: 'retry' } };
    } else if (p.kind === 'skip') return { state: { retriesLeft: s.retriesLeft, step }, command: { kind: 'skip' } };
    else if (p.kind === 'fallback') return { state: { retriesLeft: 0, step }, command: { kind: 'fallback', step: p } };
    else return { state: { retriesLeft: s.retriesLeft, step }, command: { kind: 'adjust', step: p } };
  }
  return { state: { retriesLeft: s.retriesLeft, step: policy.length }, command: { kind: 'fail' } };
}

// ---- nothing is active: settle, then finish ------------------------------------------------------

/**
 * Nothing is active and no task is waiting for an approval (or the run was stopped). The pending tasks
 * nobody routed to are skipped `not_routed` (all of them with `stopped` when the run was stopped); a pending
 * task that is neither is `stuck`: no rule will ever decide it, a bug in braid.
 */
export function settle(
  pending: readonly PlanTask[],
  stopped: SkipReason | undefined,
): { skip: { task: PlanTask; reason: SkipReason }[]; stuck: PlanTask[] } {
  const unrouted = pending.filter((t) => stopped || t.routingOnly);
  const reason: SkipReason = stopped ?? 'not_routed';
  return { skip: unrouted.map((task) => ({ task, reason })), stuck: unrouted.length === 0 ? [...pending] : [] };
}

/** The run's status once nothing is active. */
export function runStatus(f: {
  readonly fatal: boolean;
  readonly aborted: boolean;
  readonly waitingApproval: number;
  readonly unhandledFailure: boolean;
}): RunStatus {
  if (f.fatal) return 'failed';
  if (f.aborted) return 'cancelled';
  if (f.waitingApproval > 0) return 'waiting';
  return f.unhandledFailure ? 'failed' : 'succeeded';
}
