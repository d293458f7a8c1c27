/**
 * The scheduler's own edges: its guard against a task it can never decide (a bug shows as E_INTERNAL, never as a
 * quiet skip), and what its first mutation pass left alive (issue 21): labels nobody asked for, an executor
 * elsewhere that forwards what its tools report, the caller's abort signal after the run.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EventBus } from '../events/bus.js';
import type { RunEvent } from '../core/events.js';
import { defineTool } from '../tools/define-tool.js';
import { toRegistry } from '../tools/registry.js';
import { validateWorkflow } from '../spec/validate.js';
import type { AttemptExecutor, AttemptHost, AttemptRequest, AttemptResult } from '../executors/contract.js';
import { LocalExecutor } from '../executors/local.js';
import { compilePlan, type Plan } from './plan.js';
import { runWorkflow } from './run.js';
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

const quiet = { builtins: false, classifier: null, store: false } as const;
const echoValue = defineTool({ name: 'echo', input: z.object({ value: z.unknown() }), run: ({ value }) => value });

describe('labels', () => {
  it("an output's own label is recorded even when no condition asks for it; other outputs get none", async () => {
    const events: RunEvent[] = [];
    const r = await runWorkflow(
      [
        { id: 'tagged', tool: 'echo', input: { value: { label: 'draft', text: 'hi' } } },
        { id: 'plain', tool: 'echo', input: { value: { text: 'hi' } } },
        { id: 'word', tool: 'echo', input: { value: 'draft' } },
        { id: 'odd', tool: 'echo', input: { value: { label: 3 } } },
      ],
      { ...quiet, tools: [echoValue], onEvent: (e) => events.push(e) },
    );
    expect(r.tasks.tagged).toMatchObject({ label: 'draft', labelSource: 'field' });
    for (const id of ['plain', 'word', 'odd']) expect(r.tasks[id]).not.toHaveProperty('label');
    expect(events.filter((e) => e.type === 'task.labeled')).toEqual([
      expect.objectContaining({ taskId: 'tagged', label: 'draft', source: 'field' }),
    ]);
  });
});

/**
 * An executor that stands for one on another machine: it does not call the tool here, it starts the attempt,
 * forwards what "its" tool reported (a log line, progress, a model call) and answers with data.
 */
class ForwardingExecutor implements AttemptExecutor {
  async execute(request: AttemptRequest, host: AttemptHost): Promise<AttemptResult> {
    const endedAt = new Date().toISOString();
    if (request.taskId === 'refused') {
      // failed on the worker before it could start (e.g. the worker has no such tool)
      return { status: 'failed', error: { message: 'no tool here', retryable: false }, durationMs: 0, endedAt };
    }
    if (!host.started('worker-1:42')) return { status: 'cancelled' };
    host.forward({ type: 'log', level: 'info', message: 'working', fields: { n: 1 } });
    host.forward({ type: 'progress', message: 'half way', progress: 0.5 });
    host.forward({
      type: 'llm',
      info: {
        provider: 'p',
        model: 'm',
        purpose: 'tool',
        latencyMs: 3,
        usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
      },
    });
    return { status: 'succeeded', output: 'done remotely', durationMs: 1, endedAt };
  }
  cancel(): void {}
}

describe('an executor elsewhere', () => {
  it("what a worker forwards becomes the task's events and usage; the worker is named in task.started", async () => {
    const events: RunEvent[] = [];
    const r = await runWorkflow([{ id: 'far', tool: 'echo', input: { value: 1 } }], {
      ...quiet,
      tools: [echoValue],
      executor: new ForwardingExecutor(),
      onEvent: (e) => events.push(e),
    });
    expect(r.tasks.far.output).toBe('done remotely');
    expect(r.tasks.far.usage).toMatchObject({ promptTokens: 10, completionTokens: 5 });
    const of = (type: string) => events.filter((e) => e.type === type);
    expect(of('task.started')).toEqual([expect.objectContaining({ taskId: 'far', worker: 'worker-1:42' })]);
    expect(of('task.log')).toEqual([
      expect.objectContaining({ taskId: 'far', level: 'info', message: 'working', fields: { n: 1 } }),
    ]);
    expect(of('task.progress')).toEqual([
      expect.objectContaining({ taskId: 'far', message: 'half way', progress: 0.5 }),
    ]);
    expect(of('llm.call')).toEqual([
      expect.objectContaining({ taskId: 'far', provider: 'p', model: 'm', purpose: 'tool', latencyMs: 3 }),
    ]);
  });

  it('an attempt failed before it started is recorded without a start time', async () => {
    const r = await runWorkflow([{ id: 'refused', tool: 'echo', input: { value: 1 } }], {
      ...quiet,
      tools: [echoValue],
      executor: new ForwardingExecutor(),
    });
    expect(r.tasks.refused.status).toBe('failed');
    expect(r.tasks.refused.history).toEqual([
      expect.objectContaining({ attempt: 1, status: 'failed', startedAt: '', error: { message: 'no tool here' } }),
    ]);
  });
});

describe("the caller's abort signal", () => {
  it('is let go when the run ends: many runs on one signal leave no listener behind', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 3; i++)
      await runWorkflow([{ id: 'e', tool: 'echo', input: { value: i } }], {
        ...quiet,
        tools: [echoValue],
        signal: controller.signal,
      });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
