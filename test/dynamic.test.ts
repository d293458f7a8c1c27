/** Dynamic behaviour: on_failure (adjust, fallback, skip), for_each, budgets. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, OpenAIProvider, runWorkflow, validateWorkflow, type RunEvent } from '../src/index.js';
import { startLoopbackServer } from './support/openai-server.js';

/** A search tool that rejects big requests, like an API with a page-size limit. */
function pickySearch() {
  const calls: unknown[] = [];
  const tool = defineTool({
    name: 'picky_search',
    description: 'Search; fails when max_results is over 3',
    input: z.object({ query: z.string(), max_results: z.number().int() }),
    run(input) {
      calls.push(input);
      if (input.max_results > 3) throw new Error(`max_results ${input.max_results} is over the limit of 3`);
      return { results: Array.from({ length: input.max_results }, (_, i) => ({ title: `${input.query} ${i}` })) };
    },
  });
  return { tool, calls };
}

const down = defineTool({
  name: 'down',
  description: 'A tool whose service is down',
  input: z.object({ query: z.string().optional() }),
  run: () => Promise.reject(new Error('503 service unavailable')),
});
const backup = defineTool({
  name: 'backup',
  description: 'The stand-in',
  input: z.object({ query: z.string() }),
  run: ({ query }) => ({ from: 'backup', query }),
});

const collect = () => {
  const events: RunEvent[] = [];
  return { events, onEvent: (e: RunEvent) => void events.push(e) };
};

describe('on_failure', () => {
  it('adjust by template: the search fails, its input is patched, it succeeds', async () => {
    const { tool, calls } = pickySearch();
    const { events, onEvent } = collect();
    const result = await runWorkflow(
      {
        tasks: [
          {
            id: 'search',
            tool: 'picky_search',
            input: { query: 'solar', max_results: 10 },
            on_failure: [{ adjust: { input: { max_results: 3, note: 'after: {{ error.message }}' } } }],
          },
        ],
      },
      { tools: [tool], onEvent, classifier: null, retry: { baseDelayMs: 1 } },
    );
    expect(result.status).toBe('succeeded');
    expect(result.tasks.search.attempts).toBe(2);
    expect(calls).toEqual([
      { query: 'solar', max_results: 10 },
      { query: 'solar', max_results: 3 },
    ]);
    const recovery = events.find((e) => e.type === 'task.recovery');
    expect(recovery).toMatchObject({
      action: 'adjust',
      attempt: 1,
      error: { message: 'max_results 10 is over the limit of 3' },
      input: { max_results: 3, note: 'after: max_results 10 is over the limit of 3' },
    });
  });

  it('adjust by the LLM (real openai client, loopback): it sees the error and the schema, its answer is validated', async () => {
    const server = await startLoopbackServer();
    try {
      const { tool, calls } = pickySearch();
      server.replies.push({ content: JSON.stringify({ query: 'solar', max_results: 2 }) });
      const llm = new OpenAIProvider({ apiKey: 'k', baseURL: server.url, model: 'loopback-model' });
      const result = await runWorkflow(
        {
          tasks: [
            {
              id: 'search',
              tool: 'picky_search',
              input: { query: 'solar', max_results: 10 },
              on_failure: [{ adjust: { llm: true, prompt: 'Keep the query.' } }],
            },
          ],
        },
        { tools: [tool], llm, classifier: null },
      );
      expect(result.status).toBe('succeeded');
      expect(calls.at(-1)).toEqual({ query: 'solar', max_results: 2 });
      const request = server.requests[0].body;
      expect(request.response_format?.type).toBe('json_schema');
      expect(request.messages.map((m) => m.content).join('\n')).toMatch(
        /max_results 10 is over the limit of 3[\s\S]*Keep the query\./,
      );
      expect(result.tasks.search.usage?.totalTokens).toBeGreaterThan(0); // the repair's tokens count for the task
      expect(request.response_format?.json_schema?.strict).toBe(true);
      expect(server.rejected).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a tool that is down: retry, then an offline LLM adjust that cannot help, then the fallback tool stands in', async () => {
    const { events, onEvent } = collect();
    const result = await runWorkflow(
      {
        tasks: [
          {
            id: 'fetch',
            tool: 'down',
            input: { query: 'wind' },
            on_failure: [{ retry: 1 }, { adjust: { llm: true } }, { fallback: 'backup' }],
          },
          { id: 'use', tool: 'echo', input: { value: '{{ tasks.fetch.output.from }}' }, dependencies: ['fetch'] },
        ],
      },
      { tools: [down, backup], onEvent, classifier: null, retry: { baseDelayMs: 1 } },
    );
    expect(result.status).toBe('succeeded');
    expect(result.tasks.fetch.output).toEqual({ from: 'backup', query: 'wind' });
    expect(result.tasks.use.output).toBe('backup');
    expect(result.tasks.fetch.history!.map((h) => h.tool ?? 'down')).toEqual(['down', 'down', 'down', 'backup']);
    expect(events.filter((e) => e.type === 'task.recovery').map((e) => (e as { action: string }).action)).toEqual([
      'adjust',
      'fallback',
    ]);
  });

  it('skip: the task ends skipped (failure_skipped), the run goes on and succeeds', async () => {
    const result = await runWorkflow(
      {
        tasks: [
          { id: 'flaky', tool: 'down', on_failure: ['skip'] },
          { id: 'after', tool: 'echo', input: { value: 'ran' }, dependencies: ['flaky'], trigger_rule: 'all_done' },
          { id: 'strict', tool: 'echo', input: { value: 'x' }, dependencies: ['flaky'] },
        ],
      },
      { tools: [down], classifier: null },
    );
    expect(result.status).toBe('succeeded');
    expect(result.tasks.flaky).toMatchObject({ status: 'skipped', reason: 'failure_skipped', attempts: 1 });
    expect(result.tasks.after.output).toBe('ran');
    expect(result.tasks.strict).toMatchObject({ status: 'skipped', reason: 'upstream_skipped' });
  });

  it('validation names bad steps by path', () => {
    const r = validateWorkflow(
      {
        tasks: [
          {
            id: 'a',
            tool: 'echo',
            input: { value: '{{ item }}' },
            on_failure: [{ adjust: {} }, { fallback: 'bakup' }],
          },
        ],
      },
      { toolNames: ['echo', 'backup'] },
    );
    expect(r.success).toBe(false);
    const issues = r.success ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        'tasks[0].input.value: "{{ item }}" reads item, which only for_each tasks have',
        'tasks[0].on_failure[0].adjust: adjust needs `input` (a patch) or `llm: true`',
        'tasks[0].on_failure[1].fallback: unknown tool or task "bakup"',
      ]),
    );
  });
});

describe('for_each', () => {
  const lister = defineTool({
    name: 'lister',
    input: z.object({ n: z.number().int() }),
    run: ({ n }) => ({ results: Array.from({ length: n }, (_, i) => ({ title: `r${i}` })) }),
  });

  it('fans out over a search result and merges outputs in input order; an empty list gives []', async () => {
    const { events, onEvent } = collect();
    let running = 0;
    let most = 0;
    const slowUpper = defineTool({
      name: 'upper',
      input: z.object({ text: z.string(), at: z.number() }),
      async run({ text, at }) {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, (7 - at) * 3)); // later items finish first
        running--;
        return `${at}:${text.toUpperCase()}`;
      },
    });
    const flow = (n: number) => ({
      tasks: [
        { id: 'search', tool: 'lister', input: { n } },
        {
          id: 'each',
          tool: 'upper',
          for_each: '{{ tasks.search.output.results }}',
          concurrency: 2,
          input: { text: '{{ item.title }}', at: '{{ index }}' },
          dependencies: ['search'],
        },
      ],
    });
    const r = await runWorkflow(flow(6), { tools: [lister, slowUpper], onEvent, classifier: null });
    expect(r.tasks.each.output).toEqual(['0:R0', '1:R1', '2:R2', '3:R3', '4:R4', '5:R5']);
    expect(most).toBe(2);
    expect(
      events.filter((e) => e.type === 'task.started' && e.taskId === 'each').map((e) => (e as { item?: number }).item),
    ).toEqual([0, 1, 2, 3, 4, 5]);
    const empty = await runWorkflow(flow(0), { tools: [lister, slowUpper], classifier: null });
    expect(empty.tasks.each).toMatchObject({ status: 'succeeded', output: [] });
  });

  it('a failing item follows the policy (skip leaves null); without one the task fails naming the item; a non-list fails', async () => {
    const odd = defineTool({
      name: 'odd',
      input: z.object({ n: z.number() }),
      run: ({ n }) => (n % 2 ? Promise.reject(new Error(`odd ${n}`)) : n * 10),
    });
    const spec = (extra: object) => ({
      tasks: [{ id: 'each', tool: 'odd', for_each: '{{ input.list }}', input: { n: '{{ item }}' }, ...extra }],
    });
    const skipped = await runWorkflow(spec({ on_failure: ['skip'] }), {
      tools: [odd],
      input: { list: [2, 3, 4] },
      classifier: null,
    });
    expect(skipped.tasks.each.output).toEqual([20, null, 40]);
    const failed = await runWorkflow(spec({}), { tools: [odd], input: { list: [2, 3, 4] }, classifier: null });
    expect(failed.tasks.each).toMatchObject({ status: 'failed', error: { message: 'item 1 failed: odd 3' } });
    const notList = await runWorkflow(spec({}), { tools: [odd], input: { list: { a: 1 } }, classifier: null });
    expect(notList.tasks.each.error).toEqual({ code: 'E_FOR_EACH', message: 'for_each must give a list, got object' });
  });

  it("an item that failed with a tool's own code fails the task with E_TOOL, that code in the message", async () => {
    const gone = defineTool({
      name: 'gone',
      input: z.object({ n: z.number() }),
      run: () => Promise.reject(Object.assign(new Error('no such file'), { code: 'ENOENT' })),
    });
    const failed = await runWorkflow(
      { tasks: [{ id: 'each', tool: 'gone', for_each: '{{ input.list }}', input: { n: '{{ item }}' } }] },
      { tools: [gone], input: { list: [1] }, classifier: null },
    );
    expect(failed.tasks.each.error).toEqual({ code: 'E_TOOL', message: 'item 0 failed: no such file (ENOENT)' });
  });

  it('property: for any list and any finishing order, outputs keep input order and count', async () => {
    const echoLater = defineTool({
      name: 'later',
      input: z.object({ v: z.unknown(), ms: z.number() }),
      run: async ({ v, ms }) => (await new Promise((r) => setTimeout(r, ms)), v),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.oneof(fc.integer(), fc.string(), fc.boolean()), fc.integer({ min: 0, max: 4 })), {
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 8 }),
        async (pairs, concurrency) => {
          const list = pairs.map(([v, ms]) => ({ v, ms }));
          const r = await runWorkflow(
            {
              tasks: [
                {
                  id: 'each',
                  tool: 'later',
                  for_each: '{{ input.list }}',
                  concurrency,
                  input: { v: '{{ item.v }}', ms: '{{ item.ms }}' },
                },
              ],
            },
            { tools: [echoLater], input: { list }, classifier: null },
          );
          expect(r.tasks.each.output).toEqual(pairs.map(([v]) => v));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('budgets', () => {
  const ideas = (n: number) => ({
    defaults: { max_tokens: 100 },
    tasks: Array.from({ length: n }, (_, i) => ({
      id: `idea${i}`,
      tool: 'llm_generate_idea',
      input: { topic: `topic ${i}` },
      ...(i ? { dependencies: [`idea${i - 1}`] } : {}),
    })),
  });

  it('a run stops cleanly at its token budget: nothing new starts, the record says which budget', async () => {
    const { events, onEvent } = collect();
    // Each call reserves its worst case (its prompt's bytes and max_tokens 100, about 800 tokens) and spends ~110.
    const r = await runWorkflow({ ...ideas(5), budget: { max_tokens: 1000 } }, { onEvent, classifier: null });
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({
      code: 'E_BUDGET',
      message: expect.stringMatching(
        /^budget exceeded: max_tokens 1000 cannot hold the next model call \(worst case \d+ tokens; \d+ used, 0 held by 0 calls in flight\)$/,
      ),
    });
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', status: 'failed', error: { code: 'E_BUDGET' } });
    const statuses = Object.values(r.tasks).map((t) => t.status);
    expect(statuses.filter((s) => s === 'succeeded').length).toBeGreaterThanOrEqual(2);
    expect(Object.values(r.tasks).filter((t) => t.reason === 'budget_exceeded').length).toBeGreaterThanOrEqual(1);
    expect(r.usage!.totalTokens).toBeLessThanOrEqual(1000); // the call that could not fit was not sent
  });

  it('max_tasks and max_duration_ms (which aborts the running tool); flags override the workflow', async () => {
    const tasks = await runWorkflow(
      { ...ideas(3), budget: { max_tasks: 10 } },
      { classifier: null, budget: { max_tasks: 2 } },
    );
    expect(tasks.status).toBe('failed');
    expect(tasks.tasks.idea2).toMatchObject({ status: 'skipped', reason: 'budget_exceeded' });
    const t0 = Date.now();
    const slow = await runWorkflow(
      {
        tasks: [
          { id: 'nap', tool: 'sleep', input: { ms: 10_000 } },
          { id: 'after', tool: 'echo', input: { value: 1 }, dependencies: ['nap'] },
        ],
        budget: { max_duration_ms: 80 },
      },
      { classifier: null },
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(slow.error?.message).toBe('budget exceeded: max_duration_ms 80 reached');
    // Its attempt was aborted by the budget: skipped with the reason, never failed (workflow-spec.md §7).
    expect(slow.tasks.nap).toMatchObject({ status: 'skipped', reason: 'budget_exceeded', error: { code: 'E_BUDGET' } });
    expect(slow.tasks.after).toMatchObject({ status: 'skipped', reason: 'budget_exceeded' });
  });
});
