/** The decider's rules, stated as tests, and checked against a small oracle on random facts. */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SkipReason } from '../core/result.js';
import { TRIGGER_RULES, type TriggerRule } from '../spec/schema.js';
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
  type TaskFacts,
  type TaskState,
} from './decide.js';
import type { PlanCondition, PlanPolicyStep, PlanTask } from './plan.js';

/** A plan task with just what the decider reads. */
function task(
  p: {
    trigger?: TriggerRule;
    upstreams?: number;
    ifStatusOn?: number;
    condition?: PlanCondition;
    retries?: number;
    policy?: PlanPolicyStep[];
    routingOnly?: boolean;
    id?: string;
    maxVisits?: number;
    approval?: boolean;
    routes?: { to: number; on: 'success' | 'failure' }[];
  } = {},
): PlanTask {
  const upstreams = Array.from({ length: p.upstreams ?? 0 }, (_, i) => i + 10);
  const condition =
    p.condition ??
    (p.ifStatusOn !== undefined ? { kind: 'status', dep: p.ifStatusOn, status: 'failed' } : { kind: 'none' });
  const ruleUpstreams = condition.kind === 'status' ? upstreams.filter((u) => u !== condition.dep) : upstreams;
  return {
    id: p.id ?? 't',
    upstreams,
    ruleUpstreams,
    trigger: p.trigger ?? 'all_success',
    condition,
    retries: p.retries ?? 0,
    policy: p.policy ?? [],
    routingOnly: p.routingOnly ?? false,
    maxVisits: p.maxVisits ?? 10,
    approval: p.approval ?? false,
    routes: p.routes ?? [],
  } as unknown as PlanTask;
}

function facts(
  p: Partial<Omit<TaskFacts, 'counts'>> & {
    counts?: Partial<TaskFacts['counts']>;
    states?: Record<number, TaskState>;
    labels?: Record<number, string>;
  } = {},
): TaskFacts {
  return {
    stopped: p.stopped,
    waiting: p.waiting ?? 0,
    counts: { total: 0, succeeded: 0, failed: 0, skipped: 0, ...p.counts },
    state: (i) => p.states?.[i] ?? 'pending',
    label: (i) => p.labels?.[i],
  };
}

const all = (n: number, k: 'succeeded' | 'failed' | 'skipped') => ({
  total: n,
  succeeded: 0,
  failed: 0,
  skipped: 0,
  [k]: n,
});

describe('decideTask: may a pending task start?', () => {
  it('a task without upstreams and without a condition enters at once', () => {
    expect(decideTask(task(), facts())).toEqual({ kind: 'enter' });
  });

  it('once the run is stopped, every pending task is skipped with the reason the run stopped', () => {
    expect(decideTask(task(), facts({ stopped: 'cancelled' }))).toEqual({ kind: 'skip', reason: 'cancelled' });
    expect(decideTask(task(), facts({ stopped: 'budget_exceeded' }))).toEqual({
      kind: 'skip',
      reason: 'budget_exceeded',
    });
  });

  it('the default rule waits for every upstream, runs when all succeeded, and skips upstream_failed after a failure', () => {
    const t = task({ upstreams: 2 });
    expect(decideTask(t, facts({ waiting: 1, counts: { total: 2, succeeded: 1 } }))).toEqual({ kind: 'wait' });
    expect(decideTask(t, facts({ counts: all(2, 'succeeded') }))).toEqual({ kind: 'enter' });
    expect(decideTask(t, facts({ counts: { total: 2, succeeded: 1, failed: 1 } }))).toEqual({
      kind: 'skip',
      reason: 'upstream_failed',
    });
    expect(decideTask(t, facts({ counts: { total: 2, succeeded: 1, skipped: 1 } }))).toEqual({
      kind: 'skip',
      reason: 'upstream_skipped',
    });
  });

  it('one_success decides as soon as one upstream succeeded', () => {
    expect(
      decideTask(
        task({ upstreams: 3, trigger: 'one_success' }),
        facts({ waiting: 2, counts: { total: 3, succeeded: 1 } }),
      ),
    ).toEqual({ kind: 'enter' });
  });

  it('an if_status task waits for the upstream it tests even when its rule could decide without it', () => {
    const t = task({ upstreams: 2, ifStatusOn: 10 });
    expect(decideTask(t, facts({ waiting: 1, counts: all(1, 'succeeded'), states: { 10: 'running' } }))).toEqual({
      kind: 'wait',
    });
    expect(decideTask(t, facts({ counts: all(1, 'succeeded'), states: { 10: 'failed' } }))).toEqual({ kind: 'enter' });
    expect(decideTask(t, facts({ counts: all(1, 'succeeded'), states: { 10: 'succeeded' } }))).toEqual({
      kind: 'skip',
      reason: 'condition_false',
    });
  });

  it("if_status: finished enters whatever the upstream's status", () => {
    const t = task({ upstreams: 1, condition: { kind: 'status', dep: 10, status: 'finished' } });
    for (const s of ['succeeded', 'failed', 'skipped'] as const)
      expect(decideTask(t, facts({ counts: { total: 0 }, states: { 10: s } }))).toEqual({ kind: 'enter' });
  });

  it('if_result enters only when its upstream succeeded with one of the expected labels', () => {
    const t = task({ upstreams: 1, condition: { kind: 'result', dep: 10, labels: new Set(['good']) } });
    const ok = facts({ counts: all(1, 'succeeded'), states: { 10: 'succeeded' }, labels: { 10: 'good' } });
    expect(decideTask(t, ok)).toEqual({ kind: 'enter' });
    expect(
      decideTask(t, facts({ counts: all(1, 'succeeded'), states: { 10: 'succeeded' }, labels: { 10: 'bad' } })),
    ).toEqual({ kind: 'skip', reason: 'condition_false' });
    expect(decideTask(t, facts({ counts: all(1, 'succeeded'), states: { 10: 'succeeded' } }))).toEqual({
      kind: 'skip',
      reason: 'condition_false',
    });
  });

  it('if_result does not enter on a label kept from an upstream that did not succeed (a trigger rule that runs on failure)', () => {
    const t = task({
      trigger: 'all_done',
      upstreams: 1,
      condition: { kind: 'result', dep: 10, labels: new Set(['good']) },
    });
    for (const s of ['failed', 'skipped'] as const)
      expect(decideTask(t, facts({ counts: all(1, s), states: { 10: s }, labels: { 10: 'good' } }))).toEqual({
        kind: 'skip',
        reason: 'condition_false',
      });
  });

  it('deciding is a function of the facts: the same facts give the same command, which no caller can change', () => {
    const a = decideTask(task(), facts({ stopped: 'cancelled' }));
    expect(decideTask(task(), facts({ stopped: 'cancelled' }))).toEqual(a);
    expect(() => Object.assign(a, { reason: 'condition_false' })).toThrow(TypeError);
    expect(decideExpression(false)).toEqual({ kind: 'skip', reason: 'condition_false' });
  });

  it('a when expression is evaluated by the driver; its truth decides enter or condition_false', () => {
    const t = task({ condition: { kind: 'when', expression: {} as never } });
    expect(decideTask(t, facts())).toEqual({ kind: 'evaluate' });
    expect(decideExpression(true)).toEqual({ kind: 'enter' });
    expect(decideExpression(false)).toEqual({ kind: 'skip', reason: 'condition_false' });
  });

  /** The oracle: the rules of docs/workflow-format.md "Semantics in short", written the plain way. */
  function oracle(
    rule: TriggerRule,
    n: number,
    s: number,
    f: number,
    k: number,
    waiting: number,
    cond: 'none' | 'labelOk' | 'labelBad',
    stopped?: SkipReason,
  ): string {
    if (stopped) return `skip ${stopped}`;
    const done = s + f + k === n;
    const blocked = f > 0 ? 'skip upstream_failed' : 'skip upstream_skipped';
    let d: string;
    if (n === 0) d = 'run';
    else if (rule === 'one_success') d = s > 0 ? 'run' : done ? blocked : 'wait';
    else if (rule === 'one_failed')
      d = f > 0 ? 'run' : !done ? 'wait' : k === n ? 'skip upstream_skipped' : 'skip condition_false';
    else if (!done) d = 'wait';
    else if (rule === 'all_done') d = 'run';
    else if (rule === 'all_success') d = s === n ? 'run' : blocked;
    else if (rule === 'none_failed') d = f === 0 ? 'run' : 'skip upstream_failed';
    else d = f === 0 && s > 0 ? 'run' : blocked;
    void waiting;
    if (d !== 'run') return d;
    return cond === 'labelBad' ? 'skip condition_false' : 'enter';
  }

  it('agrees with the oracle on random upstream counts, rules, conditions and stops', () => {
    const rules = TRIGGER_RULES;
    fc.assert(
      fc.property(
        fc.constantFrom(...rules),
        fc.array(fc.constantFrom('s', 'f', 'k', 'pending'), { maxLength: 6 }),
        fc.constantFrom('none', 'labelOk', 'labelBad'),
        fc.option(fc.constantFrom<SkipReason>('cancelled', 'budget_exceeded'), { nil: undefined }),
        (rule, ups, cond, stopped) => {
          const count = (x: string) => ups.filter((u) => u === x).length;
          const t = task({
            upstreams: ups.length,
            trigger: rule,
            ...(cond === 'none' ? {} : { condition: { kind: 'result', dep: 99, labels: new Set(['ok']) } }),
          });
          const f = facts({
            stopped,
            waiting: count('pending'),
            counts: { total: ups.length, succeeded: count('s'), failed: count('f'), skipped: count('k') },
            states: { 99: 'succeeded' },
            labels: { 99: cond === 'labelOk' ? 'ok' : 'no' },
          });
          const c = decideTask(t, f);
          const got = c.kind === 'skip' ? `skip ${c.reason}` : c.kind;
          expect(got).toBe(
            oracle(rule, ups.length, count('s'), count('f'), count('k'), count('pending'), cond, stopped),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('recover: after a failed attempt', () => {
  const fallback = { kind: 'fallback', tool: {} as never, name: 'backup' } as const;
  const adjust = { kind: 'adjust', llm: false } as const;

  it('retries a retryable error while retries are left, then fails', () => {
    let s = firstRecovery(task({ retries: 2 }));
    const kinds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = recover([], s, true);
      kinds.push(r.command.kind);
      s = r.state;
    }
    expect(kinds).toEqual(['retry', 'retry', 'fail']);
  });

  it('does not retry an error that is not retryable (invalid input, NonRetriableError)', () => {
    expect(recover([], firstRecovery(task({ retries: 3 })), false).command).toEqual({ kind: 'fail' });
  });

  it('then follows on_failure in order; a retry step applies to retryable errors only', () => {
    const policy: PlanPolicyStep[] = [{ kind: 'retry', times: 2 }, fallback, adjust, { kind: 'skip' }];
    const r1 = recover(policy, firstRecovery(task()), true);
    expect([r1.command.kind, r1.state]).toEqual(['retry', { retriesLeft: 1, step: 1 }]);
    const r2 = recover(policy, r1.state, true);
    expect(r2.command.kind).toBe('retry');
    const r3 = recover(policy, r2.state, true);
    expect(r3.command).toEqual({ kind: 'fallback', step: fallback });
    expect(r3.state.retriesLeft).toBe(0);
    const r4 = recover(policy, r3.state, true);
    expect(r4.command).toEqual({ kind: 'adjust', step: adjust });
    expect(recover(policy, r4.state, true).command).toEqual({ kind: 'skip' });
    // not retryable: the retry step is passed over
    expect(recover(policy, firstRecovery(task()), false).command).toEqual({ kind: 'fallback', step: fallback });
  });
});

describe('decideVisit: entering a task', () => {
  it('fails a visit past max_visits, whatever the approval', () => {
    expect(decideVisit(task({ maxVisits: 2 }), 2, undefined)).toEqual({ kind: 'execute' });
    expect(decideVisit(task({ maxVisits: 2 }), 3, undefined)).toEqual({ kind: 'over_max_visits' });
    expect(decideVisit(task({ maxVisits: 2, approval: true }), 3, true)).toEqual({ kind: 'over_max_visits' });
  });

  it('an approval task waits for its decision, runs when approved, fails when rejected', () => {
    const t = task({ approval: true });
    expect(decideVisit(t, 1, undefined)).toEqual({ kind: 'wait_for_approval' });
    expect(decideVisit(t, 1, true)).toEqual({ kind: 'execute' });
    expect(decideVisit(t, 1, false)).toEqual({ kind: 'rejected' });
  });

  it('a task without approval ignores any recorded decision', () => {
    expect(decideVisit(task(), 1, false)).toEqual({ kind: 'execute' });
  });
});

describe('decideRoutes: where a finished task routes', () => {
  const from = task({
    routes: [
      { to: 1, on: 'success' },
      { to: 2, on: 'success' },
      { to: 3, on: 'failure' },
      { to: 4, on: 'success' },
    ],
  });
  const states: Record<number, TaskState> = { 1: 'pending', 2: 'succeeded', 3: 'pending', 4: 'running' };

  it('enters the targets of the outcome: a pending one as it is, a finished one reset first', () => {
    expect(decideRoutes(from, 'success', (i) => states[i], false)).toEqual([
      { to: 1, enter: true, reset: false },
      { to: 2, enter: true, reset: true },
      { to: 4, enter: false, reset: false },
    ]);
    expect(decideRoutes(from, 'failure', (i) => states[i], false)).toEqual([{ to: 3, enter: true, reset: false }]);
  });

  it('does not enter a target that is already active (one visit serves both), and routes nowhere once stopped', () => {
    expect(decideRoutes(from, 'success', () => 'running', false).every((r) => !r.enter && !r.reset)).toBe(true);
    expect(decideRoutes(from, 'success', (i) => states[i], true)).toEqual([]);
  });

  it('resets a target that ended in any terminal status, or waits for approval', () => {
    for (const s of ['succeeded', 'failed', 'skipped', 'waiting'] as TaskState[])
      expect(decideRoutes(task({ routes: [{ to: 1, on: 'success' }] }), 'success', () => s, false)).toEqual([
        { to: 1, enter: true, reset: true },
      ]);
  });
});

describe('decideForEach: a for_each task ends as its items did', () => {
  it('fails with the first failed item in input order, else succeeds (skipped items leave null)', () => {
    expect(decideForEach(['succeeded', 'failed', 'skipped', 'failed'])).toEqual({ kind: 'failed', item: 1 });
    expect(decideForEach(['succeeded', 'skipped'])).toEqual({ kind: 'succeeded' });
    expect(decideForEach([])).toEqual({ kind: 'succeeded' });
  });
});

describe('settle: nothing is active', () => {
  const a = task({ id: 'a', routingOnly: true });
  const b = task({ id: 'b' });

  it('skips the tasks nobody routed to as not_routed', () => {
    expect(settle([a], undefined)).toEqual({ skip: [{ task: a, reason: 'not_routed' }], stuck: [] });
  });

  it('skips every pending task with the stop reason once the run was stopped', () => {
    expect(settle([a, b], 'cancelled')).toEqual({
      skip: [
        { task: a, reason: 'cancelled' },
        { task: b, reason: 'cancelled' },
      ],
      stuck: [],
    });
  });

  it('calls a pending task that is neither unrouted nor stopped stuck (a bug), never a quiet skip', () => {
    expect(settle([b], undefined)).toEqual({ skip: [], stuck: [b] });
  });
});

describe('runStatus', () => {
  const base = { fatal: false, aborted: false, waitingApproval: 0, unhandledFailure: false };
  it('fatal beats cancelled beats waiting beats an unhandled failure', () => {
    expect(runStatus({ ...base, fatal: true, aborted: true })).toBe('failed');
    expect(runStatus({ ...base, aborted: true, waitingApproval: 1 })).toBe('cancelled');
    expect(runStatus({ ...base, waitingApproval: 1, unhandledFailure: true })).toBe('waiting');
    expect(runStatus({ ...base, unhandledFailure: true })).toBe('failed');
    expect(runStatus(base)).toBe('succeeded');
  });
});

describe('the decider is pure', () => {
  // Under Stryker the source is instrumented (its helpers read globals): the check is about the real file.
  const instrumented = readFileSync(new URL('./decide.ts', import.meta.url), 'utf8').includes('stryMutAct_9fa48');
  it.skipIf(instrumented)('imports nothing that does I/O: only types, and the pure trigger rules', () => {
    const imports = (file: string) =>
      [...readFileSync(new URL(file, import.meta.url), 'utf8').matchAll(/^import (type )?.*from '([^']+)';$/gm)].map(
        (m) => `${m[1] ? 'type ' : ''}${m[2]}`,
      );
    expect(imports('./decide.ts').filter((i) => !i.startsWith('type '))).toEqual(['./trigger-rules.js']);
    expect(imports('./trigger-rules.ts').filter((i) => !i.startsWith('type '))).toEqual([]);
    const source = readFileSync(new URL('./decide.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/\b(setTimeout|setInterval|Promise|async|await|process\.|Date\.now|performance)\b/);
  });
});
