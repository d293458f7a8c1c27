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
import { defineTool } from '../toolkit/define-tool.js';
import type { Tool } from '../toolkit/types.js';
import type { LlmProvider } from '../llm/types.js';
import { toRegistry } from '../toolkit/registry.js';
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

async function run(plan: Plan, input: Record<string, unknown> = {}) {
  const events: RunEvent[] = [];
  const result = await new Scheduler({
    runId: 'r1',
    plan,
    input,
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
    expect(result.tasks.b).toMatchObject({ status: 'skipped', reason: 'run_failed' });
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
/** A classifier that finds every output good, and says why. */
const classifier = {
  classify: async () => ({
    label: 'good',
    reason: 'it reads well',
    usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10, costUsd: null },
  }),
};
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

  it('an attempt a worker starts after the run was cancelled is refused: no task.started, no attempt', async () => {
    const controller = new AbortController();
    const late: AttemptExecutor = {
      execute: (_request, host) =>
        new Promise<AttemptResult>((resolve) => {
          const start = () =>
            resolve(
              host.started('worker-1:42')
                ? { status: 'succeeded', output: 'late', durationMs: 0, endedAt: new Date().toISOString() }
                : { status: 'cancelled' },
            );
          host.signal.addEventListener('abort', start, { once: true });
          controller.abort();
        }),
      cancel: () => {},
    };
    const events: RunEvent[] = [];
    const result = await runWorkflow([{ id: 'far', tool: 'echo', input: { value: 1 } }], {
      ...quiet,
      tools: kit(),
      executor: late,
      signal: controller.signal,
      onEvent: (e) => events.push(e),
    });
    expect(result.status).toBe('cancelled');
    expect(result.tasks.far).toMatchObject({ status: 'skipped', reason: 'cancelled', attempts: 0 });
    expect(events.filter((e) => e.type === 'task.started')).toEqual([]);
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

  it("a condition expression runs under its task's timeout_ms", async () => {
    const { result } = await eventsOf([
      { id: 'a', tool: 'echo', input: { value: 1 } },
      {
        id: 'b',
        tool: 'echo',
        input: { value: 2 },
        timeout_ms: 20,
        condition: { depends_on: 'a', when: '($f := function($n){ $f($n + 1) }; $f(0))' },
      },
    ]);
    expect(result.tasks.b.status).toBe('failed');
    expect(result.tasks.b.error!.message).toMatch(/ran past its time budget of 20 ms/);
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

  it('an all_success join below it counts the upstreams that finished before the reset as successes', async () => {
    const { result } = await eventsOf(
      loop([{ id: 'all', tool: 'echo', input: { value: 1 }, dependencies: ['a', 'ok'], trigger_rule: 'all_success' }]),
      { tools: kit(flakyTool(1, 50)) },
    );
    expect(result.tasks.all).toMatchObject({ status: 'succeeded', visits: 2 });
  });

  it('a task below it still waits for an upstream that is running at the reset', async () => {
    const { result } = await eventsOf(
      loop([
        { id: 'slow', tool: 'wait', input: { ms: 150 } },
        { id: 'late', tool: 'echo', input: { value: '{{ tasks.slow.output }}' }, dependencies: ['a', 'slow'] },
      ]),
      { tools: kit(flakyTool(1, 50)) },
    );
    expect(result.status).toBe('succeeded');
    expect(result.tasks.late).toMatchObject({ status: 'succeeded', output: 150 });
  });

  it('a task still running when its upstream is re-entered is never started again alongside itself', async () => {
    const { result, events } = await eventsOf(
      loop([{ id: 'busy', tool: 'wait', input: { ms: 150 }, dependencies: ['a'] }]),
      { tools: kit(flakyTool(1, 50)) },
    );
    expect(result.tasks.a.visits).toBe(2);
    const seen = events.flatMap((e) =>
      (e.type === 'task.started' || e.type === 'task.succeeded') && e.taskId === 'busy' ? [e.type] : [],
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).toEqual(seen.map((_, k) => (k % 2 === 0 ? 'task.started' : 'task.succeeded')));
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
  const flow = {
    name: 'judged',
    tasks: [
      { id: 'idea', tool: 'echo', input: { value: 'kites' }, classify: { labels: ['good', 'bad'] } },
      { id: 'send', tool: 'echo', input: { value: 'sent' }, dependencies: ['idea'], approval: true },
    ],
  };

  /** Resume a run waiting at `send`, approving it. */
  const approveSend = (runId: string, store: MemoryRunStore, onEvent?: (e: RunEvent) => void) =>
    resumeRun(runId, {
      ...quiet,
      tools: kit(),
      classifier,
      store,
      approve: { taskId: 'send', approved: true },
      onEvent,
    });

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
    const done = await approveSend(first.result.runId, store, (e) => events.push(e));
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

  it("a resumed run's templates read a reused success's output, label and reason", async () => {
    const store = new MemoryRunStore();
    const value =
      '{{ tasks.idea.output }}/{{ tasks.idea.label }}/{{ tasks.idea.labelReason }}/{{ tasks.plain.output }}';
    const tasks = [
      { id: 'idea', tool: 'echo', input: { value: 'kites' }, classify: { labels: ['good', 'bad'] } },
      { id: 'plain', tool: 'echo', input: { value: 'string' } },
      { id: 'send', tool: 'echo', input: { value }, dependencies: ['idea', 'plain'], approval: true },
    ];
    const first = await eventsOf({ name: 'judged', tasks }, { classifier, store });
    expect(first.result.status).toBe('waiting');
    const done = await approveSend(first.result.runId, store);
    expect(done.tasks.send.output).toBe('kites/good/it reads well/string');
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

  it('a for_each list that cannot be read fails its task with the reason', async () => {
    const input = {
      get list(): unknown {
        throw new Error('the list is unreadable');
      },
    };
    const { result } = await run(
      planOf([{ id: 'each', tool: 'echo', input: {}, for_each: '{{ input.list }}' }]),
      input,
    );
    expect(result.tasks.each).toMatchObject({ status: 'failed', error: { message: 'the list is unreadable' } });
  });

  it("a for_each task's duration is the time its items took", async () => {
    const before = performance.now();
    const { events } = await eventsOf(
      [{ id: 'each', tool: 'wait', input: { ms: '{{ item }}' }, for_each: '{{ input.list }}' }],
      { input: { list: [10, 10] } },
    );
    const took = performance.now() - before;
    const done = events.find((e) => e.type === 'task.succeeded') as { durationMs: number };
    expect(done.durationMs).toBeGreaterThanOrEqual(5);
    expect(done.durationMs).toBeLessThanOrEqual(Math.ceil(took));
  });

  it('a task that is not a for_each names no item in its events, requests or attempts', async () => {
    const { executor, requests } = recording();
    const { result, events } = await eventsOf(
      [
        { id: 'once', tool: 'flaky', input: { value: 1 }, retries: 1 },
        { id: 'given_up', tool: 'boom', input: {}, on_failure: ['skip'] },
      ],
      { tools: kit(flakyTool(1)), executor, retry: { baseDelayMs: 1 } },
    );
    const named = events.filter((e) => ['task.started', 'task.retrying', 'task.recovery'].includes(e.type));
    expect(named.map((e) => e.type).sort()).toEqual([
      'task.recovery',
      'task.retrying',
      'task.started',
      'task.started',
      'task.started',
    ]);
    const attempts = [...(result.tasks.once.history ?? []), ...(result.tasks.given_up.history ?? [])];
    expect(attempts).toHaveLength(3);
    expect(requests).toHaveLength(3);
    for (const x of [...named, ...requests, ...attempts]) expect(Object.keys(x)).not.toContain('item');
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

  it('a for_each cancelled among its items is skipped as cancelled, not finished with the items it has', async () => {
    const controller = new AbortController();
    const result = await runWorkflow(
      [{ id: 'each', tool: 'hold', input: {}, for_each: '{{ input.list }}', concurrency: 1 }],
      {
        ...quiet,
        tools: kit(hold),
        input: { list: [1, 2] },
        signal: controller.signal,
        onEvent: (e) => e.type === 'task.started' && controller.abort(),
      },
    );
    expect(result.status).toBe('cancelled');
    expect(result.tasks.each).toMatchObject({ status: 'skipped', reason: 'cancelled' });
    expect(result.tasks.each).not.toHaveProperty('output');
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

  it('each task of a child run counts once against the budget: a budget that fits them all is enough', async () => {
    const { result } = await eventsOf(
      { name: 'w', budget: { max_tasks: 5 }, tasks: [{ id: 'p', tool: 'twice', input: {} }] },
      { tools: kit(twice) },
    );
    expect(result.status).toBe('succeeded');
  });

  it("a for_each item's child runs are numbered by its item too", async () => {
    const { result } = await eventsOf([{ id: 'p', tool: 'twice', input: {}, for_each: '{{ input.list }}' }], {
      tools: kit(twice),
      input: { list: ['x'] },
    });
    const base = `${result.runId}.p.1.1.0`;
    expect(result.tasks.p.output).toEqual([[base, `${base}-2`]]);
  });

  it("a child's model calls are the task's, naming the child; its failed and skipped tasks are progress", async () => {
    const model: LlmProvider = {
      specificationVersion: 'v1',
      provider: 'fake',
      model: 'm1',
      generate: async (request) => {
        if (request.purpose === 'refused') throw new Error('the model said no');
        const usage = { promptTokens: 2, completionTokens: 1, totalTokens: 3 };
        return { text: 'hi', toolCalls: [], usage, provider: 'fake', model: 'm1' };
      },
    };
    const talk = defineTool({
      name: 'talk',
      input: z.object({}),
      run: async (_, ctx) => {
        await ctx.llm!.generate({ messages: [{ role: 'user', content: 'hi' }], purpose: 'greet' });
        return ctx.llm!.generate({ messages: [{ role: 'user', content: 'and?' }], purpose: 'refused' });
      },
    });
    const spawn = defineTool({
      name: 'spawn',
      input: z.object({}),
      run: async (_, ctx) => {
        const child = await ctx.children!.run([
          { id: 'talk', tool: 'talk', input: {}, retries: 0 },
          { id: 'after', tool: 'echo', input: { value: 1 }, dependencies: ['talk'] },
        ]);
        return child.status;
      },
    });
    const { result, events } = await eventsOf([{ id: 'p', tool: 'spawn', input: {} }], {
      tools: kit(talk, spawn),
      llm: model,
    });
    const child = `${result.runId}.p.1.1`;
    expect(result.tasks.p.output).toBe('failed');
    expect(events.filter((e) => e.type === 'llm.call')).toEqual([
      expect.objectContaining({ taskId: 'p', purpose: 'greet', childRunId: child }),
      expect.objectContaining({
        taskId: 'p',
        purpose: 'refused',
        childRunId: child,
        error: { message: 'the model said no' },
      }),
    ]);
    const progress = events.flatMap((e) => (e.type === 'task.progress' ? [e.message] : []));
    expect(progress).toEqual(expect.arrayContaining([`child ${child}: talk failed`, `child ${child}: after skipped`]));
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

describe('effective input from upstreams', () => {
  it('an upstream mapping sees the upstreams that succeeded, a label and reason only where they have one', async () => {
    const seen: unknown[] = [];
    const collect = defineTool({
      name: 'collect',
      input: z.object({ from: z.unknown() }),
      upstream: {
        description: 'the ids of all upstreams',
        provides: () => ['from'],
        take: (upstreams) => (
          seen.push(...upstreams),
          { from: { value: upstreams.map((u) => u.taskId), from: 'tasks' } }
        ),
      },
      run: ({ from }) => from,
    });
    const { result } = await eventsOf(
      [
        { id: 'tagged', tool: 'echo', input: { value: { label: 'draft' } } },
        { id: 'plain', tool: 'echo', input: { value: 'p' } },
        { id: 'judged', tool: 'echo', input: { value: 'kites' }, classify: { labels: ['good', 'bad'] } },
        { id: 'bad', tool: 'boom', input: {}, continue_on_error: true },
        { id: 'all', tool: 'collect', dependencies: ['tagged', 'plain', 'judged', 'bad'], trigger_rule: 'all_done' },
      ],
      { tools: kit(collect), classifier },
    );
    expect(result.tasks.all.output).toEqual(['tagged', 'plain', 'judged']);
    expect(seen).toStrictEqual([
      { taskId: 'tagged', output: { label: 'draft' }, label: 'draft' },
      { taskId: 'plain', output: 'p' },
      { taskId: 'judged', output: 'kites', label: 'good', labelReason: 'it reads well' },
    ]);
  });

  it('a fallback attempt names no input sources: only the tool that took them does', async () => {
    const { events } = await eventsOf(
      [
        { id: 'src', tool: 'echo', input: { value: { value: 'v' } } },
        { id: 'd', tool: 'flaky', dependencies: ['src'], retries: 0, on_failure: [{ fallback: 'echo' }] },
      ],
      { tools: kit(flakyTool(1)) },
    );
    const started = events.filter((e) => e.type === 'task.started' && e.taskId === 'd');
    expect(started).toEqual([
      expect.objectContaining({ tool: 'flaky', sources: { value: 'tasks.src.output.value' } }),
      expect.objectContaining({ tool: 'echo' }),
    ]);
    expect(Object.keys(started[1])).not.toContain('sources');
  });

  it('input sources are recorded only for a visit that took something beyond its explicit input', async () => {
    const outputs: unknown[] = [{ value: 'v' }, 'plain'];
    const turns = defineTool({ name: 'turns', input: z.object({}), run: () => outputs.shift() });
    const note = defineTool({
      name: 'note',
      input: z.object({ text: z.string().optional() }),
      run: ({ text }) => text,
    });
    const { result, events } = await eventsOf(
      [
        { id: 'bare', tool: 'note' },
        { id: 'start', tool: 'echo', input: { value: 's' }, next_task_id_on_success: 'a' },
        { id: 'a', tool: 'turns', input: {}, next_task_id_on_success: 'check' },
        { id: 'check', tool: 'flaky', input: { value: 'good' }, next_task_id_on_failure: 'a' },
        { id: 'd', tool: 'echo', dependencies: ['a'] },
      ],
      { tools: kit(turns, note, flakyTool(1, 50)) },
    );
    expect(Object.keys(result.tasks.bare)).not.toContain('inputSources');
    const started = events.filter((e) => e.type === 'task.started' && e.taskId === 'd');
    expect(started).toEqual([
      expect.objectContaining({ visit: 1, sources: { value: 'tasks.a.output.value' } }),
      expect.objectContaining({ visit: 2 }),
    ]);
    expect(Object.keys(started[1])).not.toContain('sources');
    expect(Object.keys(result.tasks.d)).not.toContain('inputSources');
  });
});
