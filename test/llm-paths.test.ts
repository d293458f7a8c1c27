/**
 * Every path on which braid talks to a model, through the real `openai` client against the loopback server that
 * refuses what OpenAI's API refuses (unknown parameters, message order, strict schemas that break Structured
 * Outputs' rules): the classifier, every LLM built-in tool, adjust by the LLM, the planner and its child run, both
 * branches of the conditional example, the retry loop with its feedback and its max_visits path. A test fails if
 * any request is refused.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIProvider, runWorkflow, type RunEvent } from '../src/index.js';
import { startLoopbackServer, type LoopbackServer, type RecordedRequest } from './support/openai-server.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopbackServer();
  process.env.BRAID_OUTBOX = mkdtempSync(join(tmpdir(), 'braid-outbox-'));
});
afterAll(() => server.close());
afterEach(() => {
  expect(server.rejected, 'requests the real API would refuse').toEqual([]);
  server.reset();
});

const llm = () => new OpenAIProvider({ apiKey: 'k', baseURL: server.url, model: 'gpt-4o-mini', maxRetries: 0 });
const formatOf = (r: RecordedRequest) => r.body.response_format?.json_schema;
const prompt = (r: RecordedRequest) => r.body.messages.map((m) => m.content ?? '').join('\n');
const byFormat = (name: string) => server.requests.filter((r) => formatOf(r)?.name === name);
const collect = () => {
  const events: RunEvent[] = [];
  return { events, onEvent: (e: RunEvent) => void events.push(e) };
};

/** The classifier says `labels` in turn (with a numbered reason); ideas are numbered so a prompt can be traced back. */
function judge(labels: string[]) {
  let ideas = 0;
  let verdicts = 0;
  server.answer = (body) => {
    const name = body.response_format?.json_schema?.name;
    if (name === 'classify') {
      const label = labels[Math.min(verdicts, labels.length - 1)];
      verdicts++;
      return {
        content: JSON.stringify({
          label,
          reason: `verdict ${verdicts}: ${label === 'bad' ? 'too vague, no budget or date' : 'specific enough'}`,
          confidence: 0.8,
        }),
      };
    }
    if (name === 'generate_idea' || name === 'improve_idea')
      return { content: JSON.stringify({ idea: `idea #${++ideas}`, pitch: `pitch #${ideas}`, score: null }) };
    return undefined;
  };
}

describe('every structured request is strict and accepted', () => {
  it('conditional.yaml, good branch: idea → classifier → draft_email → send_email', async () => {
    judge(['good']);
    const { events, onEvent } = collect();
    const result = await runWorkflow('examples/conditional.yaml', { llm: llm(), onEvent });
    expect(result.status).toBe('succeeded');
    expect(result.tasks.task_1).toMatchObject({
      label: 'good',
      labelSource: 'classifier',
      labelReason: 'verdict 1: specific enough',
    });
    expect(result.tasks.task_2a.status).toBe('succeeded');
    expect(result.tasks.task_2b.reason).toBe('condition_false');
    expect(server.requests.map((r) => formatOf(r)?.name)).toEqual(['generate_idea', 'classify', 'draft_email']);
    for (const r of server.requests) expect(formatOf(r)?.strict).toBe(true);
    // The draft's answer was mapped and validated; the run's usage adds up every call.
    expect(result.tasks.task_2a.output).toMatchObject({ subject: 'loopback answer', provider: 'openai' });
    const calls = events.filter((e) => e.type === 'llm.call');
    expect(result.usage?.totalTokens).toBe(
      calls.reduce((n, e) => n + (e as { usage: { totalTokens: number } }).usage.totalTokens, 0),
    );
  });

  it("conditional.yaml, bad branch: retry_generate_idea is shown the idea and the judge's reason", async () => {
    judge(['bad']);
    const result = await runWorkflow('examples/conditional.yaml', { llm: llm(), input: { topic: 'bike sharing' } });
    expect(result.status).toBe('succeeded');
    expect(result.tasks.task_1.label).toBe('bad');
    expect(result.tasks.task_2b.output).toMatchObject({ idea: 'idea #2' });
    const [improve] = byFormat('improve_idea');
    expect(formatOf(improve)?.strict).toBe(true);
    expect(prompt(improve)).toContain('Previous idea: idea #1');
    expect(prompt(improve)).toContain('Reviewer feedback: verdict 1: too vague, no budget or date');
    expect(result.tasks.task_3.status).toBe('succeeded');
  });

  it("retry-loop.yaml: each new attempt sees the previous idea and the judge's reason, until the idea is good", async () => {
    judge(['bad', 'bad', 'good']);
    const result = await runWorkflow('examples/retry-loop.yaml', { llm: llm() });
    expect(result.status).toBe('succeeded');
    expect(result.tasks.generate).toMatchObject({ visits: 3, label: 'good', output: { idea: 'idea #3' } });
    const [first, second, third] = server.requests.filter((r) =>
      ['generate_idea', 'improve_idea'].includes(formatOf(r)?.name ?? ''),
    );
    expect(formatOf(first)?.name).toBe('generate_idea');
    expect(prompt(second)).toMatch(/Previous idea: idea #1\nReviewer feedback: verdict 1: too vague/);
    expect(prompt(third)).toMatch(/Previous idea: idea #2\nReviewer feedback: verdict 2: too vague/);
    expect(result.tasks.send.status).toBe('succeeded');
  });

  it('retry-loop.yaml: an idea judged bad every time takes the max_visits path and the run says why', async () => {
    judge(['bad']);
    const result = await runWorkflow('examples/retry-loop.yaml', { llm: llm() });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({
      code: 'E_MAX_VISITS',
      message: expect.stringMatching(/"generate" was entered 4 times, more than max_visits \(3\)/),
    });
    expect(byFormat('classify')).toHaveLength(3);
    expect(result.tasks.send.status).toBe('skipped');
  });

  it('parallel.yaml: summarize_results (plain text) over the search and the calculation', async () => {
    const result = await runWorkflow('examples/parallel.yaml', { llm: llm() });
    expect(result.status).toBe('succeeded');
    const [summary] = server.requests;
    expect(summary.body.response_format).toBeUndefined();
    expect(prompt(summary)).toContain('175 km / h');
    expect(result.tasks.summarize.output).toMatchObject({
      summary: expect.stringMatching(/^loopback reply to:/),
      provider: 'openai',
    });
  });

  it('a label outside the set is asked again, and both calls count for the task', async () => {
    server.faults.push({ kind: 'label', label: 'maybe' });
    const { events, onEvent } = collect();
    const result = await runWorkflow(
      [{ id: 'idea', tool: 'echo', input: { value: { idea: 'kites' } }, classify: { labels: ['good', 'bad'] } }],
      { llm: llm(), onEvent },
    );
    expect(result.tasks.idea).toMatchObject({ label: 'good', labelSource: 'classifier' });
    expect(byFormat('classify')).toHaveLength(2);
    const calls = events.filter((e) => e.type === 'llm.call' && e.taskId === 'idea') as Extract<
      RunEvent,
      { type: 'llm.call' }
    >[];
    expect(calls).toHaveLength(2);
    expect(result.tasks.idea.usage?.totalTokens).toBe(calls[0].usage.totalTokens + calls[1].usage.totalTokens);
  });

  it('an answer that is not JSON is asked again, and its tokens count too', async () => {
    server.faults.push({ kind: 'malformed' });
    const { events, onEvent } = collect();
    const result = await runWorkflow(
      [{ id: 'idea', tool: 'echo', input: { value: 'x' }, classify: { labels: ['good', 'bad'] } }],
      { llm: llm(), onEvent },
    );
    expect(result.tasks.idea.label).toBe('good');
    const calls = events.filter((e) => e.type === 'llm.call') as Extract<RunEvent, { type: 'llm.call' }>[];
    expect(calls.map((c) => Boolean(c.error))).toEqual([true, false]);
    expect(calls[0].usage.totalTokens).toBeGreaterThan(0);
    expect(result.tasks.idea.usage?.totalTokens).toBe(calls[0].usage.totalTokens + calls[1].usage.totalTokens);
  });

  it("adjust by the LLM repairs a built-in tool's input: strict schema, null for an optional field means its default", async () => {
    server.answer = (body) =>
      body.response_format?.json_schema?.name === 'adjust_input'
        ? { content: JSON.stringify({ query: 'solar kites', max_results: null }) }
        : undefined;
    const result = await runWorkflow(
      [
        {
          id: 'search',
          tool: 'web_search',
          input: { query: 'solar kites', max_results: 500 },
          on_failure: [{ adjust: { llm: true, prompt: 'Stay within the limits.' } }],
        },
      ],
      { llm: llm(), classifier: null },
    );
    expect(result.status).toBe('succeeded');
    const [repair] = byFormat('adjust_input');
    expect(formatOf(repair)).toMatchObject({
      strict: true,
      schema: { required: expect.arrayContaining(['query', 'max_results']), additionalProperties: false },
    });
    expect(prompt(repair)).toMatch(/max_results/);
    expect(result.tasks.search.attempts).toBe(2);
  });

  it("the planner (strict workflow schema) plans, the plan runs as a child run, and the child's calls count for the parent task", async () => {
    server.answer = (body) => {
      if (body.response_format?.json_schema?.name !== 'workflow') return undefined;
      return {
        content: JSON.stringify({
          name: 'planned',
          description: 'search then summarize',
          tasks: [
            { id: 'search', tool: 'web_search', input_json: '{"query":"solar kites"}', dependencies: [] },
            {
              id: 'sum',
              tool: 'summarize_results',
              input_json: '{"results":"{{ tasks.search.output }}"}',
              dependencies: ['search'],
            },
          ],
        }),
      };
    };
    const { events, onEvent } = collect();
    const result = await runWorkflow(
      { name: 'parent', tasks: [{ id: 'make', tool: 'plan', input: { goal: 'research solar kites' } }] },
      { llm: llm(), onEvent },
    );
    expect(result.status).toBe('succeeded');
    expect(formatOf(byFormat('workflow')[0])?.strict).toBe(true);
    const calls = events.filter((e) => e.type === 'llm.call') as Extract<RunEvent, { type: 'llm.call' }>[];
    expect(calls.map((c) => c.purpose)).toEqual(['plan', 'summarize_results']);
    expect(calls[1]).toMatchObject({ taskId: 'make', childRunId: `${result.runId}.make.1.1` });
    expect(result.tasks.make.usage?.totalTokens).toBe(calls[0].usage.totalTokens + calls[1].usage.totalTokens);
    expect(result.usage).toEqual(result.tasks.make.usage);
  });
});
