/**
 * Random workflows with every kind of decision braid makes (fast-check): trigger rules, label, status and expression
 * conditions, retries of flaky and non-retryable failures, `on_failure` skip / fallback / adjust, `for_each` with
 * failing items, routing loops under `max_visits`, and budgets. Used by the re-decide property (test/redecide.test.ts)
 * and to write records with another build (scripts/record-fixtures.ts).
 */
import fc from 'fast-check';
import { TRIGGER_RULES } from '../../src/spec/schema.js';

const outcome = fc.constantFrom(false, false, false, true, 1, 2);

const taskArb = fc.record({
  deps: fc.uniqueArray(fc.nat({ max: 1000 }), { maxLength: 3 }),
  rule: fc.constantFrom(...TRIGGER_RULES),
  ms: fc.integer({ min: 0, max: 3 }),
  fail: outcome,
  fatal: fc.boolean(),
  label: fc.constantFrom('good', 'bad', undefined),
  n: fc.integer({ min: 0, max: 3 }),
  retries: fc.constantFrom(0, 0, 1, 2),
  recovery: fc.constantFrom('none', 'none', 'skip', 'fallback', 'adjust', 'retry'),
  condition: fc.constantFrom('none', 'none', 'none', 'if_result', 'if_status', 'when', 'expression'),
  status: fc.constantFrom('succeeded', 'failed', 'skipped', 'finished'),
  forEach: fc.constantFrom(false, false, false, false, true),
  route: fc.constantFrom('none', 'none', 'none', 'none', 'success', 'failure'),
  routeTo: fc.nat({ max: 1000 }),
});

export interface RandomWorkflow {
  readonly workflow: { name: string; tasks: Record<string, unknown>[]; budget?: Record<string, number> };
  readonly input: Record<string, unknown>;
  readonly concurrency: number;
}

/** A random workflow of 1 to `max` tasks over the `work` tool (test/support/tools.ts `recorder`). */
export function randomWorkflow(max = 12): fc.Arbitrary<RandomWorkflow> {
  return fc
    .tuple(
      fc.array(taskArb, { minLength: 1, maxLength: max }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.record({ ms: fc.integer({ min: 0, max: 2 }), fail: fc.boolean() }), { maxLength: 4 }),
      fc.constantFrom(undefined, undefined, undefined, 2, 5),
    )
    .map(([specs, concurrency, items, maxTasks]) => {
      const tasks = specs.map((s, i) => {
        const deps = i === 0 ? [] : [...new Set(s.deps.map((d) => `t${d % i}`))];
        const task: Record<string, unknown> = {
          id: `t${i}`,
          tool: 'work',
          input: {
            ms: s.ms,
            fail: s.fail,
            ...(s.fatal ? { fatal: true } : {}),
            value: { ...(s.label ? { label: s.label } : {}), n: s.n },
          },
          dependencies: deps,
          trigger_rule: s.rule,
        };
        if (s.retries) task.retries = s.retries;
        if (s.recovery === 'skip') task.on_failure = ['skip'];
        else if (s.recovery === 'fallback') task.on_failure = [{ fallback: 'work', input: { value: { n: 9 } } }];
        else if (s.recovery === 'adjust') task.on_failure = [{ adjust: { input: { fail: false } } }];
        else if (s.recovery === 'retry') task.on_failure = [{ retry: 1 }, 'skip'];
        const dep = deps[0];
        if (dep !== undefined && s.condition !== 'none') {
          if (s.condition === 'if_result') task.condition = { depends_on: dep, if_result: 'good' };
          else if (s.condition === 'if_status') task.condition = { depends_on: dep, if_status: s.status };
          else if (s.condition === 'when') task.condition = { depends_on: dep, when: 'output.n > 1' };
          else task.condition = `tasks.${dep}.status = "succeeded"`;
          // A condition's dependency is its only upstream here (the rule decides the rest otherwise).
          task.dependencies = [];
        }
        if (s.forEach) {
          task.for_each = '{{ input.items }}';
          task.input = { ms: '{{ item.ms }}', fail: '{{ item.fail }}' };
        }
        return { task, s };
      });
      // Routing edges back to an earlier task (a loop) or forward, each target bounded by max_visits.
      for (const [i, { task, s }] of tasks.entries()) {
        if (s.route === 'none' || i === 0) continue;
        const to = tasks[s.routeTo % i].task;
        task[s.route === 'success' ? 'next_task_id_on_success' : 'next_task_id_on_failure'] = to.id;
        to.max_visits = 2;
      }
      return {
        workflow: {
          name: 'random',
          tasks: tasks.map((t) => t.task),
          ...(maxTasks === undefined ? {} : { budget: { max_tasks: maxTasks } }),
        },
        input: { items },
        concurrency,
      };
    });
}
