/**
 * The scheduler's event stream, task by task: retries and `on_failure` steps, for_each items and their
 * progress, max_visits, the default run output, input sources. Events are compared without times, ids
 * and stacks; each task's own events are in a fixed order whatever the interleaving of tasks.
 */
import { inputHash } from '../src/core/input-hash.js';
import { describe, expect, it } from 'vitest';
import { runWorkflow, type RunEvent } from '../src/index.js';
import { ScriptedModel } from '../src/testing/index.js';
import { flow, recorder } from './support/tools.js';

const RETRY_NOW = { baseDelayMs: 0, maxDelayMs: 0 };

function strip(e: RunEvent): Record<string, unknown> {
  const { seq: _s, ts: _t, runId: _r, ...rest } = e as RunEvent & Record<string, unknown>;
  delete rest.durationMs;
  delete rest.latencyMs;
  // The received input and its hash are checked on their own (below): here the order of events is the point.
  if (rest.type === 'task.started') (delete rest.input, delete rest.inputHash);
  if (rest.error && typeof rest.error === 'object') {
    const { stack: _stack, ...error } = rest.error as Record<string, unknown>;
    rest.error = error;
  }
  return rest;
}

async function run(wf: unknown, opts: Record<string, unknown> = {}) {
  const rec = recorder();
  const events: RunEvent[] = [];
  const result = await runWorkflow(wf as never, {
    tools: rec.tools,
    store: false,
    retry: RETRY_NOW,
    onEvent: (e) => void events.push(e),
    ...opts,
  });
  const of = (taskId: string) => events.filter((e) => 'taskId' in e && e.taskId === taskId).map(strip);
  return { result, events, of, rec };
}

const failure = (task: string, attempt: number) => ({ message: `failure in ${task} attempt ${attempt}` });

describe('retries and on_failure steps, as events', () => {
  it('plain retries first (with backoff events), then an on_failure retry, then an adjust that fixes the input', async () => {
    const { result, of } = await run(
      flow([
        { id: 'a', input: { fail: 3 }, retries: 1, on_failure: [{ retry: 1 }, { adjust: { input: { fail: false } } }] },
      ]),
    );
    expect(result.status).toBe('succeeded');
    expect(of('a')).toEqual([
      { type: 'task.ready', taskId: 'a', visit: 1 },
      { type: 'task.started', taskId: 'a', tool: 'work', attempt: 1, visit: 1 },
      { type: 'task.retrying', taskId: 'a', attempt: 1, delayMs: 0, error: failure('a', 1) },
      { type: 'task.started', taskId: 'a', tool: 'work', attempt: 2, visit: 1 },
      { type: 'task.retrying', taskId: 'a', attempt: 2, delayMs: 0, error: failure('a', 2) },
      { type: 'task.started', taskId: 'a', tool: 'work', attempt: 3, visit: 1 },
      {
        type: 'task.recovery',
        taskId: 'a',
        attempt: 3,
        error: failure('a', 3),
        action: 'adjust',
        input: { fail: false },
      },
      { type: 'task.started', taskId: 'a', tool: 'work', attempt: 4, visit: 1 },
      { type: 'task.succeeded', taskId: 'a', attempt: 4, visit: 1, output: { taskId: 'a' } },
    ]);
    expect(result.tasks.a.attempts).toBe(4);
    expect(result.tasks.a.history?.map((h) => [h.attempt, h.status, h.error?.message])).toEqual([
      [1, 'failed', 'failure in a attempt 1'],
      [2, 'failed', 'failure in a attempt 2'],
      [3, 'failed', 'failure in a attempt 3'],
      [4, 'succeeded', undefined],
    ]);
  });

  it('a fallback to a task runs its tool and input at once (no backoff); a skip step ends the task failure_skipped', async () => {
    const { result, of } = await run(
      flow([
        { id: 'a', input: { fail: true, fatal: true }, on_failure: [{ fallback: 'b' }] },
        { id: 'b', input: { value: 'fb' }, dependencies: ['a'], trigger_rule: 'all_done' },
        { id: 'c', input: { fail: true }, on_failure: ['skip'] },
      ]),
    );
    expect(result.status).toBe('succeeded');
    expect(of('a')).toEqual([
      { type: 'task.ready', taskId: 'a', visit: 1 },
      { type: 'task.started', taskId: 'a', tool: 'work', attempt: 1, visit: 1 },
      {
        type: 'task.recovery',
        taskId: 'a',
        attempt: 1,
        error: { message: 'fatal failure in a', code: 'E_TOOL' },
        action: 'fallback',
        tool: 'b',
      },
      { type: 'task.started', taskId: 'a', tool: 'work', attempt: 2, visit: 1 },
      { type: 'task.succeeded', taskId: 'a', attempt: 2, visit: 1, output: 'fb' },
    ]);
    expect(of('c')).toEqual([
      { type: 'task.ready', taskId: 'c', visit: 1 },
      { type: 'task.started', taskId: 'c', tool: 'work', attempt: 1, visit: 1 },
      { type: 'task.recovery', taskId: 'c', attempt: 1, error: failure('c', 1), action: 'skip' },
      { type: 'task.skipped', taskId: 'c', reason: 'failure_skipped', error: failure('c', 1) },
    ]);
    expect(result.tasks.c).toMatchObject({ status: 'skipped', reason: 'failure_skipped', error: failure('c', 1) });
  });

  it('an adjust that cannot make an input is reported (failed) and the next step decides', async () => {
    const { result, of } = await run(
      flow([{ id: 'a', input: { fail: true }, on_failure: [{ adjust: { llm: true } }, 'skip'] }]),
      { llm: new ScriptedModel() },
    );
    expect(result.tasks.a.status).toBe('skipped');
    expect(of('a').filter((e) => e.type === 'task.recovery')).toEqual([
      {
        type: 'task.recovery',
        taskId: 'a',
        attempt: 1,
        error: failure('a', 1),
        action: 'adjust',
        failed: { message: 'ScriptedModel: no answer left for purpose "adjust"; answers left: none', code: 'E_LLM' },
      },
      { type: 'task.recovery', taskId: 'a', attempt: 1, error: failure('a', 1), action: 'skip' },
    ]);
  });
});

describe('for_each, as events', () => {
  it('one attempt per item, progress per item, outputs in input order, at most `concurrency` at once', async () => {
    const { result, of, rec } = await run(
      flow([
        { id: 'l', input: { value: [1, 2, 3] } },
        {
          id: 'f',
          dependencies: ['l'],
          for_each: '{{ tasks.l.output }}',
          concurrency: 2,
          input: { value: '{{ item }}', ms: 2 },
        },
      ]),
    );
    expect(result.tasks.f.output).toEqual([1, 2, 3]);
    const events = of('f');
    expect(events.filter((e) => e.type === 'task.started').map((e) => e.item)).toEqual([0, 1, 2]);
    expect(events.filter((e) => e.type === 'task.progress')).toEqual([
      {
        type: 'task.progress',
        taskId: 'f',
        progress: 1 / 3,
        message: 'item 1 of 3: succeeded',
        data: { item: 0, status: 'succeeded' },
      },
      {
        type: 'task.progress',
        taskId: 'f',
        progress: 2 / 3,
        message: 'item 2 of 3: succeeded',
        data: { item: 1, status: 'succeeded' },
      },
      {
        type: 'task.progress',
        taskId: 'f',
        progress: 1,
        message: 'item 3 of 3: succeeded',
        data: { item: 2, status: 'succeeded' },
      },
    ]);
    expect(events.at(-1)).toEqual({ type: 'task.succeeded', taskId: 'f', attempt: 1, visit: 1, output: [1, 2, 3] });
    expect(rec.maxRunning).toBe(2);
    expect(result.tasks.f.history?.map((h) => [h.item, h.status])).toEqual([
      [0, 'succeeded'],
      [1, 'succeeded'],
      [2, 'succeeded'],
    ]);
  });

  it('an item skipped by its policy leaves null; a failed item fails the task naming the item', async () => {
    const skipped = await run(
      flow([
        { id: 'l', input: { value: [true, false] } },
        {
          id: 'f',
          dependencies: ['l'],
          for_each: '{{ tasks.l.output }}',
          input: { fail: '{{ item }}' },
          on_failure: ['skip'],
        },
      ]),
    );
    expect(skipped.result.tasks.f).toMatchObject({ status: 'succeeded', output: [null, { taskId: 'f' }] });
    expect(
      skipped
        .of('f')
        .filter((e) => e.type === 'task.progress')
        .map((e) => e.message),
    ).toEqual(['item 1 of 2: skipped', 'item 2 of 2: succeeded']);
    expect(skipped.of('f').find((e) => e.type === 'task.recovery')).toMatchObject({ item: 0, action: 'skip' });

    const failed = await run(
      flow([
        { id: 'l', input: { value: [false, true] } },
        { id: 'f', dependencies: ['l'], for_each: '{{ tasks.l.output }}', input: { fail: '{{ item }}' } },
      ]),
    );
    expect(failed.result.status).toBe('failed');
    expect(failed.result.tasks.f.error).toEqual({ message: 'item 1 failed: failure in f attempt 1', code: 'E_TOOL' });
    expect(
      failed
        .of('f')
        .filter((e) => e.type === 'task.progress')
        .map((e) => e.message),
    ).toEqual(['item 1 of 2: succeeded', 'item 2 of 2: failed']);
  });

  it('for_each that does not give a list fails the task (E_FOR_EACH) without an attempt', async () => {
    for (const [value, got] of [
      ['x', 'string'],
      [{ a: 1 }, 'object'],
      [7, 'number'],
    ] as const) {
      const { result, of } = await run(
        flow([
          { id: 'l', input: { value } },
          { id: 'f', dependencies: ['l'], for_each: '{{ tasks.l.output }}' },
        ]),
      );
      expect(result.tasks.f).toMatchObject({
        status: 'failed',
        attempts: 0,
        error: { message: `for_each must give a list, got ${got}`, code: 'E_FOR_EACH' },
      });
      expect(of('f').at(-1)).toMatchObject({ type: 'task.failed', attempt: 0 });
    }
    const { result } = await run(
      flow([
        { id: 'l', input: { value: { list: null } } },
        { id: 'f', dependencies: ['l'], for_each: '{{ tasks.l.output.list }}' },
      ]),
    );
    expect(result.tasks.f.error?.message).toBe('for_each must give a list, got null');
  });
});

describe('routing limits and the run result', () => {
  it('a routing loop past max_visits fails the run (E_MAX_VISITS), naming the task and the limit', async () => {
    const { result, of } = await run(
      flow([
        { id: 'a', next_task_id_on_success: 'b' },
        { id: 'b', next_task_id_on_success: 'a', max_visits: 2 },
      ]),
    );
    const error = {
      message: 'task "b" was entered 3 times, more than max_visits (2); the routing loop did not converge',
      code: 'E_MAX_VISITS',
    };
    expect(result.status).toBe('failed');
    expect(result.error).toEqual(error);
    expect(result.tasks.b).toMatchObject({ status: 'failed', visits: 2, error });
    expect(
      of('b')
        .filter((e) => e.type === 'task.ready')
        .map((e) => [e.visit, e.routedFrom]),
    ).toEqual([
      [1, undefined],
      [2, 'a'],
    ]);
    expect(of('a').filter((e) => e.type === 'task.routed')).toEqual([
      { type: 'task.routed', taskId: 'a', to: 'b', on: 'success' },
      { type: 'task.routed', taskId: 'a', to: 'b', on: 'success' },
      { type: 'task.routed', taskId: 'a', to: 'b', on: 'success' },
    ]);
  });

  it('without an output, the run output is the outputs of the succeeded tasks nothing depends on', async () => {
    const { result, events } = await run(
      flow([
        { id: 'a' },
        { id: 'b', dependencies: ['a'] },
        { id: 'c', input: { fail: true }, continue_on_error: true },
        { id: 'd', dependencies: ['c'], trigger_rule: 'all_success' },
      ]),
    );
    expect(result.status).toBe('succeeded');
    expect(result.output).toEqual({ b: { taskId: 'b' } });
    expect(strip(events.at(-1)!)).toEqual({
      type: 'run.finished',
      status: 'succeeded',
      output: { b: { taskId: 'b' } },
    });
    const none = await run(flow([{ id: 'a', input: { fail: true }, continue_on_error: true }]));
    expect('output' in none.result).toBe(false);
    expect('output' in none.events.at(-1)!).toBe(false);
  });

  it('task.started names where each input field came from; the run input and the task results keep them', async () => {
    const { result, of, events } = await run(
      flow([
        { id: 'a', input: { value: { ms: 0, value: 'up' } } },
        { id: 'b', dependencies: ['a'], input: { fail: false } },
      ]),
      { input: { fatal: false } },
    );
    const sources = { fatal: 'input.fatal', ms: 'tasks.a.output.ms', value: 'tasks.a.output.value', fail: 'explicit' };
    expect(of('b').find((e) => e.type === 'task.started')).toEqual({
      type: 'task.started',
      taskId: 'b',
      tool: 'work',
      attempt: 1,
      visit: 1,
      sources,
    });
    expect(result.tasks.b.inputSources).toEqual(sources);
    expect(result.tasks.a.inputSources).toEqual({ fatal: 'input.fatal', value: 'explicit', ms: 'default' });
    // ...and the effective input itself, merged from those sources, with its hash (workflow-spec.md §7a).
    const started = events.find((e) => e.type === 'task.started' && e.taskId === 'b') as {
      input: unknown;
      inputHash: string;
    };
    expect(started.input).toEqual({ fatal: false, ms: 0, value: 'up', fail: false });
    expect(started.inputHash).toBe(inputHash(started.input));
  });
});
