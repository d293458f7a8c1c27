/** The scheduler's guard against a task it can never decide: a bug shows as E_INTERNAL, never as a quiet skip. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EventBus } from '../events/bus.js';
import type { RunEvent } from '../core/events.js';
import { defineTool } from '../tools/define-tool.js';
import { toRegistry } from '../tools/registry.js';
import { validateWorkflow } from '../spec/validate.js';
import { LocalExecutor } from '../executors/local.js';
import { compilePlan, type Plan } from './plan.js';
import { Scheduler } from './scheduler.js';

const echo = defineTool({ name: 'echo', input: z.object({}).passthrough(), run: async () => 'ok' });

function planOf(tasks: unknown[]): Plan {
  const registry = toRegistry([echo]);
  const v = validateWorkflow({ tasks }, { toolNames: registry.names() });
  if (!v.success) throw new Error(JSON.stringify(v.issues));
  return compilePlan(v.workflow, registry);
}

async function run(plan: Plan) {
  const events: RunEvent[] = [];
  const result = await new Scheduler({
    runId: 'r1',
    plan,
    input: {},
    bus: new EventBus('r1', [(e) => events.push(e)]),
    executor: new LocalExecutor(),
  }).run();
  return { result, events };
}

describe('a task the scheduler can never decide', () => {
  const tasks = [
    { id: 'a', tool: 'echo' },
    { id: 'b', tool: 'echo', dependencies: ['a'] },
    { id: 'c', tool: 'echo', dependencies: ['b'] },
  ];

  it('a sound plan runs every task (the guard stays quiet)', async () => {
    const { result } = await run(planOf(tasks));
    expect(result.status).toBe('succeeded');
    expect(result.error).toBeUndefined();
  });

  it('fails the run with E_INTERNAL naming the stuck tasks, instead of skipping them as upstream_skipped', async () => {
    const plan = planOf(tasks);
    // Corrupt the plan: a no longer tells b it finished, so b waits forever.
    (plan.tasks[0] as { downstreams: readonly number[] }).downstreams = [];
    const { result, events } = await run(plan);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'E_INTERNAL' });
    expect(result.error!.message).toContain('b, c');
    expect(result.tasks.a.status).toBe('succeeded');
    expect(result.tasks.b).toMatchObject({ status: 'skipped', reason: 'cancelled' });
    expect(events.filter((e) => e.type === 'task.skipped').map((e) => (e as { reason: string }).reason)).not.toContain(
      'upstream_skipped',
    );
  });
});
