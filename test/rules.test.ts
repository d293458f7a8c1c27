/** The contract of workflow-spec.md, rule by rule, through the public API. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, loadWorkflow, runWorkflow, type Classifier, type RunEvent } from '../src/index.js';
import { flow, recorder } from './support/tools.js';

const fast = { retry: { baseDelayMs: 1, maxDelayMs: 2 } };

async function run(
  tasks: Record<string, unknown>[],
  opts: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  const rec = recorder();
  const events: RunEvent[] = [];
  const result = await runWorkflow(flow(tasks, extra), {
    tools: rec.tools,
    onEvent: (e) => events.push(e),
    ...fast,
    ...opts,
  });
  return {
    result,
    rec,
    events,
    status: (id: string) => result.tasks[id].status,
    reason: (id: string) => result.tasks[id].reason,
  };
}

describe('conditions (§3)', () => {
  it('if_result runs the branch whose label matches and skips the other with condition_false', async () => {
    const r = await run([
      { id: 'task_1', input: { value: 'good' } },
      { id: 'task_2a', condition: { depends_on: 'task_1', if_result: 'good' } },
      { id: 'task_2b', condition: { depends_on: 'task_1', if_result: 'bad' } },
      { id: 'task_3', dependencies: ['task_2a', 'task_2b'] },
    ]);
    expect(r.status('task_2a')).toBe('succeeded');
    expect(r.status('task_2b')).toBe('skipped');
    expect(r.reason('task_2b')).toBe('condition_false');
    expect(r.status('task_3')).toBe('succeeded');
    expect(r.result.tasks.task_1).toMatchObject({ label: 'good', labelSource: 'output' });
    expect(r.result.status).toBe('succeeded');
  });

  it('if_result accepts a list (any of)', async () => {
    const r = await run([
      { id: 'a', input: { value: { label: 'ok' } } },
      { id: 'b', condition: { depends_on: 'a', if_result: ['great', 'ok'] } },
    ]);
    expect(r.status('b')).toBe('succeeded');
    expect(r.result.tasks.a.labelSource).toBe('field');
  });

  it('if_status: failed runs only when the upstream failed, and handles that failure', async () => {
    const r = await run([
      { id: 'a', input: { fail: true } },
      { id: 'on_fail', condition: { depends_on: 'a', if_status: 'failed' } },
      { id: 'on_ok', condition: { depends_on: 'a', if_status: 'succeeded' } },
    ]);
    expect(r.status('on_fail')).toBe('succeeded');
    expect(r.status('on_ok')).toBe('skipped');
    expect(r.reason('on_ok')).toBe('condition_false');
    expect(r.result.status).toBe('succeeded');
  });

  it('if_status: finished runs after any terminal status, including skipped', async () => {
    const r = await run([
      { id: 'a', input: { value: { label: 'x' } } },
      { id: 'b', condition: { depends_on: 'a', if_result: 'never' }, trigger_rule: 'all_done' },
      { id: 'c', condition: { depends_on: 'b', if_status: 'finished' } },
    ]);
    expect(r.status('b')).toBe('skipped');
    expect(r.status('c')).toBe('succeeded');
  });

  it('a JSONata `when` reads the depends_on output; falsy skips', async () => {
    const r = await run([
      { id: 'score', input: { value: { score: 0.8, items: [1, 2, 3] } } },
      { id: 'high', condition: { depends_on: 'score', when: 'output.score > 0.5 and $count(output.items) = 3' } },
      { id: 'low', condition: { depends_on: 'score', when: 'output.score <= 0.5' } },
    ]);
    expect(r.status('high')).toBe('succeeded');
    expect(r.reason('low')).toBe('condition_false');
  });

  it('a string condition reads input and tasks', async () => {
    const r = await run(
      [
        { id: 'a', input: { value: 3 } },
        { id: 'b', dependencies: ['a'], condition: 'tasks.a.output = input.want and tasks.a.status = "succeeded"' },
        { id: 'c', dependencies: ['a'], condition: 'tasks.a.output > 10' },
      ],
      { input: { want: 3 } },
    );
    expect(r.status('b')).toBe('succeeded');
    expect(r.status('c')).toBe('skipped');
  });

  it('an expression that throws at run time fails the task', async () => {
    const r = await run([{ id: 'a' }, { id: 'b', condition: { depends_on: 'a', when: '$error("boom")' } }]);
    expect(r.status('b')).toBe('failed');
    expect(r.result.tasks.b.error).toMatchObject({ code: 'E_EXPRESSION' });
    expect(r.result.status).toBe('failed');
  });
});

describe('labels (§3 Labels)', () => {
  const judge: Classifier = {
    async classify({ output, labels }) {
      const text = JSON.stringify(output);
      return { label: text.includes('kites') ? labels[0] : labels[1], reason: `looked for "kites" in ${text}` };
    },
  };

  it('the classifier labels an output that carries no label, with its reason kept', async () => {
    const r = await run(
      [
        { id: 'idea', input: { value: { text: 'solar kites' } }, classify: { labels: ['good', 'bad'] } },
        { id: 'email', condition: { depends_on: 'idea', if_result: 'good' } },
      ],
      { classifier: judge },
    );
    expect(r.result.tasks.idea).toMatchObject({ label: 'good', labelSource: 'classifier' });
    expect(r.result.tasks.idea.labelReason).toContain('kites');
    expect(r.status('email')).toBe('succeeded');
    expect(r.events.find((e) => e.type === 'task.labeled')).toMatchObject({
      taskId: 'idea',
      label: 'good',
      source: 'classifier',
    });
  });

  it('without a classifier a task that needs one fails with a clear message', async () => {
    const r = await run(
      [
        { id: 'idea', input: { value: { text: 'x' } } },
        { id: 'email', condition: { depends_on: 'idea', if_result: 'good' } },
      ],
      { classifier: null },
    );
    expect(r.status('idea')).toBe('failed');
    expect(r.result.tasks.idea.error?.message).toMatch(/needs a label \(one of good\).*no classifier/);
    expect(r.reason('email')).toBe('upstream_failed');
  });

  it('a classifier answer outside the candidate labels fails the task', async () => {
    const r = await run([{ id: 'a', input: { value: 1 }, classify: { labels: ['yes', 'no'] } }], {
      classifier: { classify: async () => ({ label: 'maybe' }) },
    });
    expect(r.result.tasks.a.error?.message).toMatch(/"maybe".*not one of yes, no/);
  });
});

describe('trigger rules and skip propagation (§4)', () => {
  it('a failure propagates as upstream_failed through a chain (a skip after a failure counts as failed)', async () => {
    const r = await run([
      { id: 'a', input: { fail: true } },
      { id: 'b', dependencies: ['a'] },
      { id: 'c', dependencies: ['b'] },
    ]);
    expect([r.status('a'), r.reason('b'), r.reason('c')]).toEqual(['failed', 'upstream_failed', 'upstream_failed']);
    expect(r.result.status).toBe('failed');
  });

  it('all_done runs after a failure and handles it', async () => {
    const r = await run([
      { id: 'a', input: { fail: true } },
      { id: 'b' },
      { id: 'cleanup', dependencies: ['a', 'b'], trigger_rule: 'all_done' },
    ]);
    expect(r.status('cleanup')).toBe('succeeded');
    expect(r.result.status).toBe('succeeded');
  });

  it('all_success skips a join after a skipped branch; the default rule runs it', async () => {
    const tasks = [
      { id: 'a', input: { value: 'good' } },
      { id: 'yes', condition: { depends_on: 'a', if_result: 'good' } },
      { id: 'no', condition: { depends_on: 'a', if_result: 'bad' } },
    ];
    const strict = await run([...tasks, { id: 'join', dependencies: ['yes', 'no'], trigger_rule: 'all_success' }]);
    expect(strict.reason('join')).toBe('upstream_skipped');
    const loose = await run([...tasks, { id: 'join', dependencies: ['yes', 'no'] }]);
    expect(loose.status('join')).toBe('succeeded');
  });

  it('one_success starts as soon as one upstream succeeds, before the slow one ends', async () => {
    const r = await run([
      { id: 'fast', input: { ms: 0 } },
      { id: 'slow', input: { ms: 60 } },
      { id: 'first', dependencies: ['fast', 'slow'], trigger_rule: 'one_success' },
    ]);
    const first = r.rec.intervals.find((i) => i.taskId === 'first')!;
    const slow = r.rec.intervals.find((i) => i.taskId === 'slow')!;
    expect(first.start).toBeLessThan(slow.end);
  });

  it('one_failed runs on a failure; none_failed accepts all-skipped upstreams', async () => {
    const r = await run([
      { id: 'a', input: { fail: true }, continue_on_error: true },
      { id: 'alert', dependencies: ['a'], trigger_rule: 'one_failed' },
      { id: 'x', input: { value: { label: 'n' } } },
      { id: 'y', condition: { depends_on: 'x', if_result: 'never' } },
      { id: 'z', dependencies: ['y'], trigger_rule: 'none_failed' },
    ]);
    expect(r.status('alert')).toBe('succeeded');
    expect(r.status('z')).toBe('succeeded');
  });

  it('continue_on_error keeps the run succeeded', async () => {
    const r = await run([{ id: 'a', input: { fail: true }, continue_on_error: true }, { id: 'b' }]);
    expect(r.status('a')).toBe('failed');
    expect(r.result.status).toBe('succeeded');
  });
});

describe('templates (§5)', () => {
  it('a whole-string template keeps the JSON type; inside text it is stringified; a skipped upstream gives null', async () => {
    const r = await run(
      [
        { id: 'a', input: { value: { n: 3, list: [1, 2], label: 'l' } } },
        { id: 's', input: { value: 'x' }, condition: { depends_on: 'a', if_result: 'nope' }, trigger_rule: 'all_done' },
        {
          id: 'b',
          dependencies: ['a', 's'],
          trigger_rule: 'all_done',
          input: {
            value: {
              n: '{{ tasks.a.output.n }}',
              list: '{{tasks.a.output.list}}',
              text: 'n={{ tasks.a.output.n }} topic={{ input.topic }}',
              skipped: '{{ tasks.s.output }}',
              first: '{{ tasks.a.output.list[0] }}',
            },
          },
        },
      ],
      { input: { topic: 'kites' } },
    );
    expect(r.result.tasks.b.output).toEqual({ n: 3, list: [1, 2], text: 'n=3 topic=kites', skipped: null, first: 1 });
  });

  it('a rendered input that fails the tool schema fails the task, naming the field, without retries', async () => {
    const r = await run([{ id: 'a', input: { ms: '{{ input.when }}' }, retries: 3 }], { input: { when: 'soon' } });
    expect(r.result.tasks.a.error).toMatchObject({ code: 'E_TOOL_INPUT' });
    expect(r.result.tasks.a.error?.message).toContain('ms:');
    expect(r.result.tasks.a.attempts).toBe(1);
  });
});

/** A tool that fails on its first call in the run and succeeds after. */
function failsFirstTime() {
  let calls = 0;
  return defineTool({
    name: 'once_bad',
    input: z.object({}),
    run: () => {
      if (calls++ === 0) throw new Error('first call fails');
      return 'ok';
    },
  });
}

describe('routing (§6)', () => {
  it('next_task_id_on_failure runs a handler that is not a root; the failure is handled', async () => {
    const r = await run([
      { id: 'a', input: { fail: true }, next_task_id_on_failure: 'handler' },
      { id: 'handler' },
      { id: 'fine', next_task_id_on_failure: 'never_routed' },
      { id: 'never_routed' },
    ]);
    expect(r.status('handler')).toBe('succeeded');
    expect(r.reason('never_routed')).toBe('not_routed');
    expect(r.result.status).toBe('succeeded');
    expect(r.rec.ran()).not.toContain('never_routed');
  });

  it('a handler only reachable by routing is skipped as not_routed when the source succeeds', async () => {
    const r = await run([
      { id: 'a', next_task_id_on_failure: 'handler' },
      { id: 'handler' },
      { id: 'after', dependencies: ['handler'], trigger_rule: 'all_done' },
    ]);
    expect(r.reason('handler')).toBe('not_routed');
    expect(r.status('after')).toBe('succeeded');
  });

  it('a routing loop re-runs the loop body, and a new visit sees the latest output', async () => {
    let n = 0;
    const counter = defineTool({
      name: 'counter',
      input: z.object({ feedback: z.unknown() }),
      run: ({ feedback }) => ({ n: ++n, label: n >= 3 ? 'good' : 'bad', feedback }),
    });
    const rec = recorder();
    const result = await runWorkflow(
      flow([
        { id: 'gen', tool: 'counter', input: { feedback: '{{ tasks.improve.output }}' } },
        {
          id: 'improve',
          condition: { depends_on: 'gen', if_result: 'bad' },
          input: { value: 'try harder {{ tasks.gen.output.n }}' },
          next_task_id_on_success: 'gen',
        },
        { id: 'done', condition: { depends_on: 'gen', if_result: 'good' } },
      ]),
      { tools: [...rec.tools, counter], ...fast },
    );
    expect(result.status).toBe('succeeded');
    expect(result.tasks.gen).toMatchObject({ visits: 3, output: { n: 3, feedback: 'try harder 2' } });
    expect(result.tasks.improve.visits).toBe(2);
    expect(result.tasks.done.status).toBe('succeeded');
    expect(result.tasks.gen.history?.map((h) => h.visit)).toEqual([1, 2, 3]);
  });

  it('roots: a task inside a routing loop does not start at the beginning (start → gen → check, check →(failure) gen)', async () => {
    const r = await run(
      [
        { id: 'start', next_task_id_on_success: 'gen' },
        { id: 'gen', next_task_id_on_success: 'check' },
        { id: 'check', tool: 'once_bad', next_task_id_on_failure: 'gen' },
      ],
      { tools: [...recorder().tools, failsFirstTime()] },
    );
    // start, then gen, then check (fails once), gen again, check again (succeeds)
    expect(r.events.filter((e) => e.type === 'task.started').map((e) => (e as { taskId: string }).taskId)).toEqual([
      'start',
      'gen',
      'check',
      'gen',
      'check',
    ]);
    expect(r.result.tasks.check).toMatchObject({ status: 'succeeded', visits: 2 });
    expect(r.result.status).toBe('succeeded');
  });

  it('roots: an error handler routed to from inside the run never runs at the start (start → a, a →(failure) fix →(success) a)', async () => {
    const r = await run([
      { id: 'start' },
      { id: 'a', dependencies: ['start'], next_task_id_on_failure: 'fix' },
      { id: 'fix', next_task_id_on_success: 'a' },
    ]);
    expect(r.rec.ran()).toEqual(['start', 'a']);
    expect(r.reason('fix')).toBe('not_routed');
  });

  it('roots: with no entry task, a loop back to the start begins at the task without upstreams (a → b →(failure) a)', async () => {
    const r = await run(
      [{ id: 'a' }, { id: 'b', tool: 'once_bad', dependencies: ['a'], next_task_id_on_failure: 'a' }],
      { tools: [...recorder().tools, failsFirstTime()] },
    );
    expect(r.events.filter((e) => e.type === 'task.started').map((e) => (e as { taskId: string }).taskId)).toEqual([
      'a',
      'b',
      'a',
      'b',
    ]);
  });

  it('a loop that never converges fails the run after max_visits entries', async () => {
    const r = await run([
      { id: 'gen', input: { value: 'bad' }, max_visits: 2 },
      { id: 'improve', condition: { depends_on: 'gen', if_result: ['bad'] }, next_task_id_on_success: 'gen' },
    ]);
    expect(r.result.status).toBe('failed');
    expect(r.result.error?.message).toMatch(/"gen" was entered 3 times, more than max_visits \(2\)/);
    expect(r.rec.ran().filter((t) => t === 'gen')).toHaveLength(2);
  });
});

describe('retries, timeouts and cancellation (§2, §7)', () => {
  it('retries with backoff until an attempt succeeds, emitting task.retrying', async () => {
    const r = await run([{ id: 'flaky', input: { fail: 2 }, retries: 2 }]);
    expect(r.status('flaky')).toBe('succeeded');
    expect(r.result.tasks.flaky.attempts).toBe(3);
    const retrying = r.events.filter((e) => e.type === 'task.retrying');
    expect(retrying.map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
  });

  it('gives up after `retries` extra attempts', async () => {
    const r = await run([{ id: 'bad', input: { fail: true }, retries: 1 }]);
    expect(r.result.tasks.bad).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('a NonRetriableError stops retries at once', async () => {
    const r = await run([{ id: 'bad', input: { fail: true, fatal: true }, retries: 5 }]);
    expect(r.result.tasks.bad.attempts).toBe(1);
  });

  it('timeout_ms holds for a tool that blocks the event loop: its late answer is E_TIMEOUT, not a success', async () => {
    const block = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const syncTool = defineTool({
      name: 'busy',
      input: z.object({ ms: z.number() }),
      run: ({ ms }) => (block(ms), 'done'),
    });
    const asyncTool = defineTool({
      name: 'busy_async',
      input: z.object({ ms: z.number() }),
      run: async ({ ms }) => (await Promise.resolve(), block(ms), 'done'),
    });
    const rec = recorder();
    const result = await runWorkflow(
      flow([
        { id: 'sync', tool: 'busy', input: { ms: 120 }, timeout_ms: 40 },
        { id: 'async', tool: 'busy_async', input: { ms: 120 }, timeout_ms: 40 },
        { id: 'quick', tool: 'busy', input: { ms: 1 }, timeout_ms: 1000 },
      ]),
      { tools: [...rec.tools, syncTool, asyncTool], ...fast },
    );
    expect(result.tasks.sync.error).toMatchObject({ code: 'E_TIMEOUT' });
    expect(result.tasks.async.error).toMatchObject({ code: 'E_TIMEOUT' });
    expect(result.tasks.quick.status).toBe('succeeded');
  });

  it('timeout_ms aborts the attempt through its signal, even for a tool that ignores it', async () => {
    const r = await run([
      { id: 'polite', input: { ms: 5000 }, timeout_ms: 20 },
      { id: 'rude', input: { ms: 300, ignoreAbort: true }, timeout_ms: 20 },
    ]);
    for (const id of ['polite', 'rude']) expect(r.result.tasks[id].error).toMatchObject({ code: 'E_TIMEOUT' });
  });

  it('defaults apply to tasks that do not set a field', async () => {
    const r = await run([{ id: 'flaky', input: { fail: 1 } }], {}, { defaults: { retries: 1 } });
    expect(r.result.tasks.flaky).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('cancellation aborts running tools, starts nothing new and ends the run cancelled', async () => {
    const controller = new AbortController();
    const p = run(
      [
        { id: 'long', input: { ms: 5000 } },
        { id: 'after', dependencies: ['long'] },
      ],
      {
        signal: controller.signal,
        onEvent: (e: RunEvent) => e.type === 'task.started' && setTimeout(() => controller.abort(), 20),
      },
    );
    const r = await p;
    expect(r.result.status).toBe('cancelled');
    expect(r.result.tasks.long).toMatchObject({
      status: 'skipped',
      reason: 'cancelled',
      error: { code: 'E_CANCELLED' },
    });
    expect(r.reason('after')).toBe('cancelled');
    expect(r.rec.ran()).toEqual(['long']);
  });
});

describe('concurrency (§4)', () => {
  it('independent tasks overlap; `concurrency` bounds how many run at once', async () => {
    const tasks = Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, input: { ms: 10 } }));
    const free = await run(tasks);
    expect(free.rec.maxRunning).toBe(8);
    const bounded = await run(tasks, { concurrency: 3 });
    expect(bounded.rec.maxRunning).toBe(3);
  });

  it('per-tool concurrency limits one tool without holding back others', async () => {
    const limited = defineTool({
      name: 'limited',
      concurrency: 1,
      input: z.object({}),
      run: () => new Promise((r) => setTimeout(() => r('ok'), 10)),
    });
    const rec = recorder();
    const result = await runWorkflow(
      flow([
        { id: 'l1', tool: 'limited' },
        { id: 'l2', tool: 'limited' },
        { id: 'w1', input: { ms: 5 } },
        { id: 'w2', input: { ms: 5 } },
      ]),
      { tools: [limited, ...rec.tools] },
    );
    expect(result.status).toBe('succeeded');
    expect(rec.maxRunning).toBe(2);
    const [first, second] = [result.tasks.l1, result.tasks.l2].sort(
      (a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!),
    );
    expect(Date.parse(second.startedAt!)).toBeGreaterThanOrEqual(Date.parse(first.endedAt!));
  });

  it('a task starts when its own upstream ends, not when its level ends (no barriers)', async () => {
    const r = await run([
      { id: 'slow', input: { ms: 80 } },
      { id: 'quick', input: { ms: 0 } },
      { id: 'after_quick', dependencies: ['quick'] },
    ]);
    const after = r.rec.intervals.find((i) => i.taskId === 'after_quick')!;
    const slow = r.rec.intervals.find((i) => i.taskId === 'slow')!;
    expect(after.end).toBeLessThan(slow.end);
  });
});

describe('events (§8)', () => {
  it('every event carries seq, ts, runId; sequence is gapless; each task ends with one terminal event', async () => {
    const r = await run([
      { id: 'a', input: { value: 'y' } },
      { id: 'b', dependencies: ['a'] },
      { id: 'c', condition: { depends_on: 'a', if_result: ['x', 'y'] }, trigger_rule: 'all_done' },
    ]);
    expect(r.events.map((e) => e.seq)).toEqual(r.events.map((_, i) => i + 1));
    expect(new Set(r.events.map((e) => e.runId))).toEqual(new Set([r.result.runId]));
    expect(r.events[0].type).toBe('run.started');
    expect(r.events.at(-1)).toMatchObject({ type: 'run.finished', status: 'succeeded' });
    const terminal = r.events
      .filter((e) => ['task.succeeded', 'task.failed', 'task.skipped'].includes(e.type))
      .map((e) => (e as { taskId: string }).taskId);
    expect(terminal.sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('a validated workflow run again', () => {
  it('reuses its compiled plan only with the same tools: a different tool under a name is the one that runs', async () => {
    const { workflow } = await loadWorkflow(
      {
        tasks: [
          { id: 'a', tool: 'pick' },
          { id: 'b', tool: 'pick', dependencies: ['a'] },
        ],
      },
      { toolNames: ['pick'] },
    );
    const first = { name: 'pick', run: () => 'first' };
    const second = { name: 'pick', run: () => 'second' };
    const opts = { builtins: false, classifier: null, store: false } as const;
    expect((await runWorkflow(workflow, { ...opts, tools: [first] })).tasks.b.output).toBe('first');
    expect((await runWorkflow(workflow, { ...opts, tools: [first] })).tasks.b.output).toBe('first');
    expect((await runWorkflow(workflow, { ...opts, tools: [second] })).tasks.b.output).toBe('second');
    expect((await runWorkflow(workflow, { ...opts, tools: [first] })).tasks.b.output).toBe('first');
  });
});
