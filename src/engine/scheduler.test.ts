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
import { BraidError } from '../errors.js';
import { MemoryRunStore } from '../store/memory-store.js';
import { defineTool } from '../tools/define-tool.js';
import type { Tool } from '../tools/types.js';
import { toRegistry } from '../tools/registry.js';
import { validateWorkflow } from '../spec/validate.js';
import type { AttemptExecutor, AttemptHost, AttemptRequest, AttemptResult } from '../executors/contract.js';
import { LocalExecutor } from '../executors/local.js';
import { compilePlan, type Plan } from './plan.js';
import { resumeRun, runWorkflow } from './run.js';
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

/** Fails the first `failures` calls of each task and value, then answers `value`; each call takes `delayMs`. */
const flakyTool = (failures: number, delayMs = 0) => {
  const calls = new Map<string, number>();
  return defineTool({
    name: 'flaky',
    input: z.object({ value: z.unknown() }),
    run: async ({ value }, ctx) => {
      const key = `${ctx.taskId} ${JSON.stringify(value)}`;
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (n <= failures) throw new Error(`not yet (${n})`);
      return value;
    },
  });
};
const boom = defineTool({
  name: 'boom',
  input: z.object({}),
  run: () => {
    throw new BraidError('E_TOOL', 'boom', { retryable: false });
  },
});
const wait = defineTool({
  name: 'wait',
  input: z.object({ ms: z.number() }),
  run: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)),
});
const kit = (...more: Tool[]) => [echoValue, boom, wait, ...more] as Tool[];
const eventsOf = async (workflow: unknown, options: Parameters<typeof runWorkflow>[1] = {}) => {
  const events: RunEvent[] = [];
  const result = await runWorkflow(workflow, { ...quiet, tools: kit(), ...options, onEvent: (e) => events.push(e) });
  return { result, events };
};

describe('labels', () => {
  it("an output's own label is recorded even when no condition asks for it; other outputs get none", async () => {
    const { result: r, events } = await eventsOf([
      { id: 'tagged', tool: 'echo', input: { value: { label: 'draft', text: 'hi' } } },
      { id: 'plain', tool: 'echo', input: { value: { text: 'hi' } } },
      { id: 'word', tool: 'echo', input: { value: 'draft' } },
      { id: 'odd', tool: 'echo', input: { value: { label: 3 } } },
    ]);
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
    const { result: r, events } = await eventsOf([{ id: 'far', tool: 'echo', input: { value: 1 } }], {
      executor: new ForwardingExecutor(),
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
    const { result: r } = await eventsOf([{ id: 'refused', tool: 'echo', input: { value: 1 } }], {
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
      await eventsOf([{ id: 'e', tool: 'echo', input: { value: i } }], { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('deciding and finishing', () => {
  it('a failure at the head of a 20 000-task chain skips the rest without deep recursion', async () => {
    const tasks = [{ id: 't0', tool: 'boom', input: {} }];
    for (let i = 1; i < 20_000; i++)
      tasks.push({ id: `t${i}`, tool: 'boom', input: {}, dependencies: [`t${i - 1}`] } as never);
    const r = await runWorkflow(tasks, { ...quiet, tools: kit() });
    expect(r.tasks.t19999).toMatchObject({ status: 'skipped', reason: 'upstream_failed' });
  });

  it('a condition expression that throws fails its task, saying so', async () => {
    const { result } = await eventsOf([
      { id: 'a', tool: 'echo', input: { value: 1 } },
      { id: 'b', tool: 'echo', input: { value: 2 }, condition: { depends_on: 'a', when: '$error("no such thing")' } },
    ]);
    expect(result.tasks.b.error).toEqual({
      message: 'condition expression failed: no such thing',
      code: 'E_EXPRESSION',
    });
  });

  it('a task the task budget leaves out is skipped without being entered', async () => {
    const { result, events } = await eventsOf({
      name: 'w',
      budget: { max_tasks: 1 },
      tasks: [
        { id: 'a', tool: 'echo', input: { value: 1 } },
        { id: 'b', tool: 'echo', input: { value: 2 }, dependencies: ['a'] },
      ],
    });
    expect(result.tasks.b).toMatchObject({ status: 'skipped', reason: 'budget_exceeded', visits: 0 });
    expect(events.filter((e) => e.type === 'task.ready').map((e) => e.taskId)).toEqual(['a']);
  });

  it('a skipped task takes no routing edge; a failed one does', async () => {
    const { result } = await eventsOf([
      { id: 'a', tool: 'echo', input: { value: 1 } },
      { id: 'off', tool: 'echo', input: { value: 2 }, condition: '$false', next_task_id_on_failure: 'h1' },
      { id: 'bad', tool: 'boom', input: {}, next_task_id_on_failure: 'h2' },
      { id: 'h1', tool: 'echo', input: { value: 'h1' } },
      { id: 'h2', tool: 'echo', input: { value: 'h2' } },
    ]);
    expect(result.tasks.off.status).toBe('skipped');
    expect(result.tasks.h1).toMatchObject({ status: 'skipped', reason: 'not_routed' });
    expect(result.tasks.h2.output).toBe('h2');
  });

  it('a stopped run takes no routing edge: over max_visits, the failure route is not followed', async () => {
    const { result } = await eventsOf(
      [
        { id: 'start', tool: 'echo', input: { value: 0 }, next_task_id_on_success: 'a' },
        {
          id: 'a',
          tool: 'echo',
          input: { value: 1 },
          max_visits: 1,
          next_task_id_on_success: 'b',
          next_task_id_on_failure: 'after',
        },
        { id: 'b', tool: 'flaky', input: { value: 2 }, next_task_id_on_failure: 'a' },
        { id: 'after', tool: 'echo', input: { value: 3 } },
      ],
      { tools: kit(flakyTool(5)) },
    );
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('E_MAX_VISITS');
    expect(result.tasks.after.status).not.toBe('succeeded');
  });

  it('one_failed fires as soon as one upstream failed, before the others end', async () => {
    const { events } = await eventsOf([
      { id: 'fast', tool: 'boom', input: {} },
      { id: 'slow', tool: 'wait', input: { ms: 300 } },
      { id: 'alarm', tool: 'echo', input: { value: '!' }, dependencies: ['fast', 'slow'], trigger_rule: 'one_failed' },
    ]);
    const at = (type: string, taskId: string) =>
      events.findIndex((e) => e.type === type && 'taskId' in e && e.taskId === taskId);
    expect(at('task.succeeded', 'alarm')).toBeGreaterThan(-1);
    expect(at('task.succeeded', 'alarm')).toBeLessThan(at('task.succeeded', 'slow'));
  });

  it("a failed task's output reads as null in expressions", async () => {
    const { result } = await eventsOf([
      { id: 'x', tool: 'boom', input: {}, continue_on_error: true },
      {
        id: 'y',
        tool: 'echo',
        input: { value: 'ran' },
        condition: { depends_on: 'x', when: 'output = null' },
        trigger_rule: 'all_done',
      },
    ]);
    expect(result.tasks.y.output).toBe('ran');
  });
});

describe('routing back into a finished task', () => {
  /**
   * `a` runs twice: `check` fails its first visit and routes back to `a`. It takes 50 ms, so a's downstream tasks
   * have finished when `a` is reset.
   */
  const loop = (downstream: object[]) => [
    { id: 'ok', tool: 'echo', input: { value: 'ok' } },
    { id: 'bad', tool: 'boom', input: {}, continue_on_error: true },
    { id: 'off', tool: 'echo', input: { value: 0 }, condition: '$false' },
    { id: 'start', tool: 'echo', input: { value: 's' }, next_task_id_on_success: 'a' },
    { id: 'a', tool: 'echo', input: { value: 'a' }, next_task_id_on_success: 'check' },
    { id: 'check', tool: 'flaky', input: { value: 'good' }, next_task_id_on_failure: 'a' },
    ...downstream,
  ];

  it('its downstream tasks decide again over all their upstreams, the finished ones included', async () => {
    const { result } = await eventsOf(
      loop([
        { id: 'all', tool: 'echo', input: { value: 1 }, dependencies: ['a', 'ok'] },
        { id: 'alarm', tool: 'echo', input: { value: 2 }, dependencies: ['a', 'bad'], trigger_rule: 'one_failed' },
        { id: 'clean', tool: 'echo', input: { value: 3 }, dependencies: ['a', 'off'], trigger_rule: 'none_failed' },
        {
          id: 'strict',
          tool: 'echo',
          input: { value: 4 },
          dependencies: ['a', 'off'],
          trigger_rule: 'none_failed_min_one_success',
        },
      ]),
      { tools: kit(flakyTool(1, 50)) },
    );
    expect(result.tasks.a.visits).toBe(2);
    for (const id of ['all', 'alarm', 'clean', 'strict']) expect(result.tasks[id]).toMatchObject({ visits: 2 });
    expect(result.tasks.check).toMatchObject({ status: 'succeeded', output: 'good', visits: 2 });
    expect(result.tasks.check).not.toHaveProperty('error');
  });

  it('a task that already finished through one_success is not run again when its routed upstream first runs', async () => {
    const { result } = await eventsOf(
      [
        { id: 'x', tool: 'echo', input: { value: 'x' } },
        { id: 'gate', tool: 'wait', input: { ms: 20 }, next_task_id_on_success: 'target' },
        { id: 'target', tool: 'echo', input: { value: 't' } },
        { id: 'd', tool: 'echo', input: { value: 'd' }, dependencies: ['x', 'target'], trigger_rule: 'one_success' },
      ],
      {},
    );
    expect(result.tasks.target.status).toBe('succeeded');
    expect(result.tasks.d).toMatchObject({ status: 'succeeded', visits: 1, attempts: 1 });
  });
});

describe('labels from a classifier, and a resumed run', () => {
  const classifier = {
    classify: async () => ({
      label: 'good',
      reason: 'it reads well',
      usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10, costUsd: null },
    }),
  };
  const flow = {
    name: 'judged',
    tasks: [
      { id: 'idea', tool: 'echo', input: { value: 'kites' }, classify: { labels: ['good', 'bad'] } },
      { id: 'send', tool: 'echo', input: { value: 'sent' }, dependencies: ['idea'], approval: true },
    ],
  };

  it("a classifier's usage is one llm.call of the task; a resumed run keeps the label, its source and reason", async () => {
    const store = new MemoryRunStore();
    const first = await eventsOf(flow, { classifier, store });
    expect(first.result.tasks.idea).toMatchObject({
      label: 'good',
      labelSource: 'classifier',
      labelReason: 'it reads well',
    });
    expect(first.result.tasks.idea.usage).toMatchObject({ promptTokens: 7, completionTokens: 3 });
    expect(first.events.filter((e) => e.type === 'llm.call')).toEqual([
      expect.objectContaining({ taskId: 'idea', provider: 'classifier', model: 'classifier', purpose: 'classify' }),
    ]);
    const events: RunEvent[] = [];
    const done = await resumeRun(first.result.runId, {
      ...quiet,
      tools: kit(),
      classifier,
      store,
      approve: { taskId: 'send', approved: true },
      onEvent: (e) => events.push(e),
    });
    expect(done.tasks.idea).toMatchObject({ label: 'good', labelSource: 'classifier', labelReason: 'it reads well' });
    expect(events.filter((e) => e.type === 'llm.call')).toEqual([]);
    expect(events.find((e) => e.type === 'task.labeled')).toMatchObject({
      taskId: 'idea',
      label: 'good',
      source: 'classifier',
      reason: 'it reads well',
    });
    expect(events.find((e) => e.type === 'task.succeeded' && e.taskId === 'idea')).toMatchObject({
      attempt: 1,
      visit: 1,
      durationMs: 0,
      replayed: true,
    });
  });
});

/** The LocalExecutor, with the requests it was given kept. */
const recording = () => {
  const local = new LocalExecutor();
  const requests: AttemptRequest[] = [];
  const executor: AttemptExecutor = {
    execute: (request, host) => (requests.push(request), local.execute(request, host)),
    cancel: (runId, reason) => local.cancel(runId, reason),
  };
  return { executor, requests };
};

describe('for_each items', () => {
  it('every event, request and attempt of an item names it; progress counts the items; the output keeps their order', async () => {
    const { executor, requests } = recording();
    const { result, events } = await eventsOf(
      [
        {
          id: 'each',
          tool: 'flaky',
          input: { value: '{{ item }}' },
          for_each: '{{ input.list }}',
          concurrency: 1,
          retries: 1,
        },
      ],
      { tools: kit(flakyTool(1)), executor, input: { list: ['a', 'b'] }, retry: { baseDelayMs: 1 } },
    );
    expect(result.tasks.each.output).toEqual(['a', 'b']);
    expect(result.tasks.each.history?.map((h) => [h.item, h.attempt, h.status])).toEqual([
      [0, 1, 'failed'],
      [0, 2, 'succeeded'],
      [1, 1, 'failed'],
      [1, 2, 'succeeded'],
    ]);
    for (const h of result.tasks.each.history ?? []) expect(h).not.toHaveProperty('tool');
    expect(requests.map((r) => r.item)).toEqual([0, 0, 1, 1]);
    for (const r of requests) expect(r).not.toHaveProperty('timeoutMs');
    const items = (type: string) => events.flatMap((e) => (e.type === type ? [(e as { item?: number }).item] : []));
    expect(items('task.started')).toEqual([0, 0, 1, 1]);
    expect(items('task.retrying')).toEqual([0, 1]);
    const progress = events.filter((e) => e.type === 'task.progress');
    expect(progress).toEqual([
      expect.objectContaining({
        progress: 0.5,
        message: 'item 1 of 2: succeeded',
        data: { item: 0, status: 'succeeded' },
      }),
      expect.objectContaining({
        progress: 1,
        message: 'item 2 of 2: succeeded',
        data: { item: 1, status: 'succeeded' },
      }),
    ]);
    const done = events.find((e) => e.type === 'task.succeeded') as { durationMs: number };
    expect(done.durationMs).toBeLessThan(60_000);
  });

  it('an item whose failure policy skips it leaves null, with the item in its recovery event', async () => {
    const { result, events } = await eventsOf(
      [{ id: 'each', tool: 'boom', input: {}, for_each: '{{ input.list }}', on_failure: ['skip'] }],
      { input: { list: [1] } },
    );
    expect(result.tasks.each.output).toEqual([null]);
    expect(events.find((e) => e.type === 'task.recovery')).toMatchObject({ action: 'skip', item: 0 });
  });

  it('a for_each that is not a list fails its task, naming what it got', async () => {
    const { result } = await eventsOf([{ id: 'each', tool: 'echo', input: { value: 1 }, for_each: '{{ input.n }}' }], {
      input: { n: 5 },
    });
    expect(result.tasks.each.error).toEqual({ message: 'for_each must give a list, got number', code: 'E_FOR_EACH' });
  });
});

describe('after a cancel', () => {
  const hold = defineTool({
    name: 'hold',
    input: z.object({}),
    run: (_, ctx) =>
      new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
  });

  it('no failure policy runs and no queued attempt starts', async () => {
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const run = runWorkflow(
      [
        { id: 'held', tool: 'hold', input: {}, on_failure: ['skip'] },
        { id: 'queued', tool: 'echo', input: { value: 1 } },
      ],
      {
        ...quiet,
        tools: kit(hold),
        concurrency: 1,
        signal: controller.signal,
        onEvent: (e) => (events.push(e), e.type === 'task.started' && controller.abort()),
      },
    );
    const result = await run;
    expect(result.status).toBe('cancelled');
    expect(events.filter((e) => e.type === 'task.recovery')).toEqual([]);
    expect(events.filter((e) => e.type === 'task.started').map((e) => e.taskId)).toEqual(['held']);
  });
});

describe('child runs of an attempt', () => {
  const twice = defineTool({
    name: 'twice',
    input: z.object({}),
    run: async (_, ctx) => {
      const child = [
        { id: 'c1', tool: 'echo', input: { value: 1 } },
        { id: 'c2', tool: 'echo', input: { value: 2 } },
      ];
      const a = await ctx.children!.run(child);
      const b = await ctx.children!.run(child);
      return [a.runId, b.runId];
    },
  });

  it("get numbered ids; their tasks show as the parent's progress; their tasks count against its budget", async () => {
    const { result, events } = await eventsOf([{ id: 'p', tool: 'twice', input: {} }], { tools: kit(twice) });
    const base = `${result.runId}.p.1.1`;
    expect(result.tasks.p.output).toEqual([base, `${base}-2`]);
    const progress = events.filter((e) => e.type === 'task.progress');
    expect(progress).toContainEqual(
      expect.objectContaining({ taskId: 'p', message: `child ${base}: c1 started`, data: { childRunId: base } }),
    );
    expect(progress).toContainEqual(expect.objectContaining({ message: `child ${base}-2: c2 succeeded` }));
    const limited = await eventsOf(
      { name: 'w', budget: { max_tasks: 2 }, tasks: [{ id: 'p', tool: 'twice', input: {} }] },
      {
        tools: kit(twice),
      },
    );
    expect(limited.result.status).toBe('failed');
    expect(limited.result.error?.code).toBe('E_BUDGET');
  });
});

describe('templates', () => {
  it('{{ run.id }} is the run id', async () => {
    const { result } = await eventsOf([{ id: 'e', tool: 'echo', input: { value: '{{ run.id }}' } }]);
    expect(result.tasks.e.output).toBe(result.runId);
  });
});

describe('the run as a whole', () => {
  it('run.finished gives the run its duration; a run waiting for approval has no output yet', async () => {
    const before = performance.now();
    const { result, events } = await eventsOf([
      { id: 'a', tool: 'echo', input: { value: 1 } },
      { id: 'b', tool: 'echo', input: { value: 2 }, dependencies: ['a'], approval: true },
      { id: 'c', tool: 'echo', input: { value: 3 } },
    ]);
    const took = performance.now() - before;
    expect(result.status).toBe('waiting');
    expect(result.tasks.c.output).toBe(3);
    expect(result).not.toHaveProperty('output');
    const finished = events.find((e) => e.type === 'run.finished') as { durationMs: number };
    expect(finished.durationMs).toBeGreaterThanOrEqual(0);
    expect(finished.durationMs).toBeLessThanOrEqual(Math.ceil(took));
  });
});
