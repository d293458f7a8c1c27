/**
 * Trigger rules agree with Airflow's (workflow-spec.md §4). Every combination of one to three finished
 * upstream states (as a multiset: 34 of them) under each of the six rules (204 cases) is run as a real
 * workflow, and the join's outcome is compared with Airflow's rule definitions
 * (`airflow/ti_deps/deps/trigger_rule_dep.py`, `_evaluate_direct_relatives`), restated below.
 *
 * Airflow's upstream states and how they are made here:
 *   success          a task that succeeds
 *   failed           a task that fails
 *   skipped          a task whose condition is false (a plain skip)
 *   upstream_failed  a task below a failed task (braid: skipped with reason `upstream_failed`)
 * braid decides the rules once every upstream is terminal (Airflow may decide some earlier); only the
 * outcome is compared, which is what the table below is about.
 */
import { describe, expect, it } from 'vitest';
import { TRIGGER_RULES } from '../src/spec/schema.js';
import { explainTask, foldRun, JsonlRunStore, runWorkflow, type RunEvent, type TriggerRule } from '../src/index.js';
import { flow, recorder } from './support/tools.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type UpState = 'success' | 'failed' | 'skipped' | 'upstream_failed';
type Outcome = 'run' | 'skipped' | 'upstream_failed';
const STATES: UpState[] = ['success', 'failed', 'skipped', 'upstream_failed'];
const RULES: readonly TriggerRule[] = TRIGGER_RULES;

/** Airflow's rule definitions, once all upstreams are done. */
function airflow(rule: TriggerRule, states: UpState[]): Outcome {
  const n = (s: UpState) => states.filter((x) => x === s).length;
  const success = n('success');
  const failures = n('failed') + n('upstream_failed'); // Airflow tests `failed or upstream_failed` everywhere
  const skipped = n('skipped');
  switch (rule) {
    case 'all_success': // any failure: UPSTREAM_FAILED; else any skip: SKIPPED
      return failures ? 'upstream_failed' : skipped ? 'skipped' : 'run';
    case 'all_done':
      return 'run';
    case 'one_success': // done and all skipped: SKIPPED; done and no success: UPSTREAM_FAILED
      return success ? 'run' : skipped === states.length ? 'skipped' : 'upstream_failed';
    case 'one_failed': // done and no failure: SKIPPED
      return failures ? 'run' : 'skipped';
    case 'none_failed': // any failure: UPSTREAM_FAILED
      return failures ? 'upstream_failed' : 'run';
    case 'none_failed_min_one_success': // any failure: UPSTREAM_FAILED; all skipped: SKIPPED
      return failures ? 'upstream_failed' : skipped === states.length ? 'skipped' : 'run';
  }
}

/** Every multiset of 1..3 upstream states. */
function combinations(): UpState[][] {
  const out: UpState[][] = [];
  const grow = (prefix: UpState[], from: number) => {
    if (prefix.length) out.push(prefix);
    if (prefix.length === 3) return;
    for (let k = from; k < STATES.length; k++) grow([...prefix, STATES[k]], k);
  };
  grow([], 0);
  return out;
}

/** A workflow whose join has upstreams in exactly these states. */
function workflowFor(rule: TriggerRule, states: UpState[]) {
  const tasks: Record<string, unknown>[] = [];
  states.forEach((s, k) => {
    const id = `u${k}`;
    if (s === 'success') tasks.push({ id });
    if (s === 'failed') tasks.push({ id, input: { fail: true } });
    if (s === 'skipped') tasks.push({ id, condition: 'false' });
    if (s === 'upstream_failed') tasks.push({ id: `f${k}`, input: { fail: true } }, { id, dependencies: [`f${k}`] });
  });
  tasks.push({ id: 'join', dependencies: states.map((_, k) => `u${k}`), trigger_rule: rule });
  return flow(tasks);
}

function outcomeOf(task: { status: string; reason?: string }): Outcome {
  if (task.status === 'succeeded') return 'run';
  return task.reason === 'upstream_failed' ? 'upstream_failed' : 'skipped';
}

describe('trigger rules agree with Airflow on every combination of upstream states', () => {
  const cases = combinations();
  it('there are 34 combinations of 1-3 upstream states, 204 cases with the six rules', () => {
    expect(cases.length * RULES.length).toBe(204);
  });
  for (const rule of RULES) {
    it(`${rule}: every combination decides as Airflow does`, async () => {
      const rec = recorder();
      const disagreements: string[] = [];
      for (const states of cases) {
        const result = await runWorkflow(workflowFor(rule, states), {
          tools: rec.tools,
          retry: { baseDelayMs: 1, maxDelayMs: 1 },
        });
        // the states were realised as intended
        states.forEach((s, k) => {
          const u = result.tasks[`u${k}`];
          const got =
            u.status === 'succeeded'
              ? 'success'
              : u.status === 'failed'
                ? 'failed'
                : u.reason === 'upstream_failed'
                  ? 'upstream_failed'
                  : 'skipped';
          expect(got).toBe(s);
        });
        const got = outcomeOf(result.tasks.join);
        const want = airflow(rule, states);
        if (got !== want) disagreements.push(`[${states.join(', ')}]: braid ${got}, Airflow ${want}`);
      }
      expect(disagreements).toEqual([]);
    });
  }
});

describe('a failure anywhere upstream stops the default join below it', () => {
  it('A fails, B below A is skipped: the join C of B and a succeeded D does not run (default rule and none_failed)', async () => {
    for (const rule of ['none_failed_min_one_success', 'none_failed'] as const) {
      const rec = recorder();
      const result = await runWorkflow(
        flow([
          { id: 'A', input: { fail: true } },
          { id: 'B', dependencies: ['A'] },
          { id: 'D' },
          { id: 'C', dependencies: ['B', 'D'], trigger_rule: rule },
        ]),
        { tools: rec.tools },
      );
      expect(result.tasks.B).toMatchObject({ status: 'skipped', reason: 'upstream_failed' });
      expect(result.tasks.C).toMatchObject({ status: 'skipped', reason: 'upstream_failed' });
      expect(rec.ran()).not.toContain('C');
      expect(result.status).toBe('failed');
    }
  });

  it('a failure propagates down a chain as upstream_failed, not upstream_skipped', async () => {
    const rec = recorder();
    const result = await runWorkflow(
      flow([
        { id: 'a', input: { fail: true } },
        { id: 'b', dependencies: ['a'] },
        { id: 'c', dependencies: ['b'] },
        { id: 'd', dependencies: ['c'] },
      ]),
      { tools: rec.tools },
    );
    expect(['b', 'c', 'd'].map((id) => result.tasks[id].reason)).toEqual([
      'upstream_failed',
      'upstream_failed',
      'upstream_failed',
    ]);
  });

  it('test_one_failure_tr_success_no_failed: a one_failed handler below two tasks skipped after a failure fires', async () => {
    const rec = recorder();
    const result = await runWorkflow(
      flow([
        { id: 'A', input: { fail: true } },
        { id: 'B1', dependencies: ['A'] },
        { id: 'B2', dependencies: ['A'] },
        { id: 'alert', dependencies: ['B1', 'B2'], trigger_rule: 'one_failed' },
      ]),
      { tools: rec.tools },
    );
    expect(result.tasks.alert.status).toBe('succeeded');
    expect(rec.ran()).toContain('alert');
  });

  it('all_done still runs below a failure, and plain skips (condition_false) stay plain skips', async () => {
    const rec = recorder();
    const result = await runWorkflow(
      flow([
        { id: 'A', input: { fail: true } },
        { id: 'B', dependencies: ['A'] },
        { id: 'S', condition: 'false' },
        { id: 'cleanup', dependencies: ['B', 'S'], trigger_rule: 'all_done' },
        { id: 'quiet', dependencies: ['S'], trigger_rule: 'one_failed' },
      ]),
      { tools: rec.tools },
    );
    expect(result.tasks.cleanup.status).toBe('succeeded');
    expect(result.tasks.quiet).toMatchObject({ status: 'skipped' });
    expect(result.tasks.quiet.reason).not.toBe('upstream_failed');
  });

  it('braid explain says which task could not run after which failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-explain-'));
    try {
      const store = new JsonlRunStore(dir);
      const rec = recorder();
      const events: RunEvent[] = [];
      const result = await runWorkflow(
        flow([
          { id: 'task_a', input: { fail: true } },
          { id: 'task_b', dependencies: ['task_a'] },
          { id: 'task_d' },
          { id: 'task_c', dependencies: ['task_b', 'task_d'] },
        ]),
        { tools: rec.tools, store, onEvent: (e) => events.push(e) },
      );
      const log = await store.read(result.runId);
      const lines = await explainTask(log.header!, foldRun(log), 'task_c');
      expect(lines.join('\n')).toMatch(/task_c was skipped \(upstream_failed\)/);
      expect(lines.join('\n')).toMatch(/skipped because task_b could not run after task_a failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
