/** Properties on random DAGs (fast-check): termination, ordering, concurrency bound, all-success. */
import fc from 'fast-check';
import { TRIGGER_RULES, type TriggerRule } from '../src/spec/schema.js';
import { describe, expect, it } from 'vitest';
import { runWorkflow, type RunEvent } from '../src/index.js';
import { recorder } from './support/tools.js';

/** A random DAG: task i may depend only on tasks before it. */
const dag = fc
  .integer({ min: 1, max: 25 })
  .chain((n) =>
    fc.tuple(
      fc.array(
        fc.record({
          deps: fc.uniqueArray(fc.nat({ max: 1000 }), { maxLength: 4 }),
          fail: fc.boolean(),
          ms: fc.integer({ min: 0, max: 3 }),
          rule: fc.constantFrom(...TRIGGER_RULES),
        }),
        { minLength: n, maxLength: n },
      ),
      fc.integer({ min: 1, max: 6 }),
    ),
  )
  .map(([specs, concurrency]) => ({
    concurrency,
    tasks: specs.map((s, i) => ({
      id: `t${i}`,
      tool: 'work',
      input: { ms: s.ms, fail: s.fail },
      dependencies: i === 0 ? [] : [...new Set(s.deps.map((d) => `t${d % i}`))],
      trigger_rule: s.rule,
    })),
  }));

/**
 * A small reference interpreter of the contract for DAGs without conditions or routing (docs/workflow-format.md,
 * "Semantics in short"), written the plain way: tasks in file order (upstreams come first), each decided once all its
 * upstreams are terminal; a task skipped because its upstream failed counts as failed below it.
 */
function interpret(
  tasks: { id: string; dependencies: string[]; trigger_rule: TriggerRule; input: { fail: boolean } }[],
) {
  const out = new Map<string, { status: 'succeeded' | 'failed' | 'skipped'; reason?: string }>();
  for (const t of tasks) {
    const ups = t.dependencies.map((d) => out.get(d)!);
    const n = ups.length;
    const s = ups.filter((u) => u.status === 'succeeded').length;
    const f = ups.filter((u) => u.status === 'failed' || u.reason === 'upstream_failed').length;
    const k = n - s - f;
    const blocked = f > 0 ? 'upstream_failed' : 'upstream_skipped';
    const rule = t.trigger_rule;
    let skip: string | undefined;
    if (n === 0) skip = undefined;
    else if (rule === 'all_success') skip = s === n ? undefined : blocked;
    else if (rule === 'all_done') skip = undefined;
    else if (rule === 'one_success') skip = s > 0 ? undefined : blocked;
    else if (rule === 'one_failed') skip = f > 0 ? undefined : k === n ? 'upstream_skipped' : 'condition_false';
    else if (rule === 'none_failed') skip = f === 0 ? undefined : 'upstream_failed';
    else skip = f === 0 && s > 0 ? undefined : blocked;
    out.set(t.id, skip ? { status: 'skipped', reason: skip } : { status: t.input.fail ? 'failed' : 'succeeded' });
  }
  // A failure is handled when a task below it runs on failure (all_done, one_failed, one_success).
  const handled = new Set(
    tasks
      .filter((t) => ['all_done', 'one_failed', 'one_success'].includes(t.trigger_rule))
      .flatMap((t) => t.dependencies),
  );
  const failed = [...out].some(([id, r]) => r.status === 'failed' && !handled.has(id));
  return { tasks: out, status: failed ? 'failed' : 'succeeded' };
}

describe('random DAGs', () => {
  it('every task reaches one terminal status once; none starts before its upstreams are terminal; concurrency holds', async () => {
    await fc.assert(
      fc.asyncProperty(dag, async ({ tasks, concurrency }) => {
        const rec = recorder();
        const events: RunEvent[] = [];
        const result = await runWorkflow({ tasks }, { tools: rec.tools, concurrency, onEvent: (e) => events.push(e) });
        const terminalAt = new Map<string, number>();
        for (const e of events) {
          if (e.type === 'task.succeeded' || e.type === 'task.failed' || e.type === 'task.skipped') {
            expect(terminalAt.has(e.taskId)).toBe(false);
            terminalAt.set(e.taskId, e.seq);
          }
        }
        expect([...terminalAt.keys()].sort()).toEqual(tasks.map((t) => t.id).sort());
        for (const e of events) {
          if (e.type !== 'task.started') continue;
          const task = tasks.find((t) => t.id === e.taskId)!;
          const early = task.trigger_rule === 'one_success' || task.trigger_rule === 'one_failed';
          const finished = task.dependencies.filter((d) => (terminalAt.get(d) ?? Infinity) < e.seq);
          if (early) expect(finished.length > 0 || task.dependencies.length === 0).toBe(true);
          else expect(finished).toEqual(task.dependencies);
        }
        expect(rec.maxRunning).toBeLessThanOrEqual(concurrency);
        expect(Object.values(result.tasks).every((t) => ['succeeded', 'failed', 'skipped'].includes(t.status))).toBe(
          true,
        );
        // The scheduler's stuck-task guard (E_INTERNAL) never fires: every task is decided by the rules.
        expect(result.error?.code).not.toBe('E_INTERNAL');
      }),
      { numRuns: 60 },
    );
  });

  it('random rules and outcomes: each task ends as the reference interpreter says, and so does the run', async () => {
    await fc.assert(
      fc.asyncProperty(dag, async ({ tasks, concurrency }) => {
        const rec = recorder();
        const result = await runWorkflow({ tasks }, { tools: rec.tools, concurrency });
        const want = interpret(tasks);
        for (const t of tasks) {
          const got = result.tasks[t.id];
          expect({ id: t.id, status: got.status, reason: got.reason }).toEqual({ id: t.id, ...want.tasks.get(t.id) });
        }
        expect(result.status).toBe(want.status);
        expect(rec.ran().sort()).toEqual(
          tasks
            .filter((t) => want.tasks.get(t.id)!.status !== 'skipped')
            .map((t) => t.id)
            .sort(),
        );
      }),
      { numRuns: 80 },
    );
  });

  it('with all-success tools and the default rule, every task succeeds', async () => {
    await fc.assert(
      fc.asyncProperty(dag, async ({ tasks, concurrency }) => {
        const rec = recorder();
        const ok = tasks.map(({ trigger_rule: _, ...t }) => ({ ...t, input: { ms: t.input.ms } }));
        const result = await runWorkflow({ tasks: ok }, { tools: rec.tools, concurrency });
        expect(result.status).toBe('succeeded');
        expect(Object.values(result.tasks).every((t) => t.status === 'succeeded')).toBe(true);
        expect(rec.calls).toHaveLength(tasks.length);
      }),
      { numRuns: 40 },
    );
  });
});
