/** Task generation: the offline planner, the model planner's repair loop, the plan tool's child run, braid plan. */
import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  builtinTools,
  defineTool,
  foldRun,
  JsonlRunStore,
  OfflineProvider,
  OpenAIProvider,
  resumeRun,
  runWorkflow,
  ToolRegistry,
  type RunEvent,
} from '../src/index.js';
import { planWorkflow, PlanError } from '../src/planner/planner.js';
import { braid } from './support/cli.js';
import { startLoopbackServer, type LoopbackServer } from './support/openai-server.js';

const registry = new ToolRegistry(builtinTools());
const answer = (tasks: object[]) => ({
  content: JSON.stringify({ name: 'planned', description: 'from the model', tasks }),
});

describe('offline planner', () => {
  it('"compare solar and wind costs and email me a summary" becomes search → summarize → draft → send, and runs offline', async () => {
    const planned = await planWorkflow('compare solar and wind costs and email me a summary', {
      llm: new OfflineProvider(),
      registry,
    });
    expect(planned.offline).toBe(true);
    const w = planned.workflow;
    expect(w.tasks.map((t) => `${t.id}:${t.tool}<-${(t.dependencies ?? []).join(',')}`)).toEqual([
      'search:web_search<-',
      'summarize:summarize_results<-search',
      'draft:draft_email<-summarize',
      'send:send_email<-draft',
    ]);
    expect(w.tasks[0].input).toMatchObject({ query: 'solar and wind costs' });
    const result = await runWorkflow(w);
    expect(result.status).toBe('succeeded');
    expect(result.tasks.send.output).toMatchObject({ transport: 'outbox', accepted: ['me@example.com'] });
  });

  it('gathers in parallel per clause, and says when no tool fits', async () => {
    const planned = await planWorkflow('calculate 350 km / 2 h to km/h and search for bike sharing news', {
      llm: new OfflineProvider(),
      registry,
    });
    const byId = Object.fromEntries(planned.workflow.tasks.map((t) => [t.id, t]));
    expect(byId.calculate.input).toEqual({ expression: '350 km / 2 h to km/h' });
    expect(byId.search.input).toMatchObject({ query: 'bike sharing news' });
    expect(byId.summarize.dependencies).toEqual(['calculate', 'search']);
    await expect(
      planWorkflow('hello there', {
        llm: new OfflineProvider(),
        registry: new ToolRegistry(builtinTools().filter((t) => t.name === 'echo')),
      }),
    ).rejects.toThrow(/found no registered tool for "hello there"/);
  });
});

describe('model planner (real openai client, loopback server)', () => {
  let server: LoopbackServer;
  beforeAll(async () => (server = await startLoopbackServer()));
  afterAll(() => server.close());
  afterEach(() => expect(server.rejected, 'requests the real API would refuse').toEqual([]));
  const llm = () => new OpenAIProvider({ apiKey: 'k', baseURL: server.url, model: 'loopback-model', maxRetries: 0 });

  it('validation errors go back to the model; a corrected answer is accepted', async () => {
    server.requests.length = 0;
    server.replies.push(
      answer([{ id: 'search', tool: 'web_search', input_json: '{"query":"kites"}', dependencies: ['serch'] }]),
      answer([
        { id: 'search', tool: 'web_search', input_json: '{"query":"kites"}', dependencies: [] },
        {
          id: 'sum',
          tool: 'summarize_results',
          input_json: '{"results":"{{ tasks.search.output }}"}',
          dependencies: ['search'],
        },
      ]),
    );
    const planned = await planWorkflow('research kites', { llm: llm(), registry });
    expect(planned.rounds).toBe(2);
    expect(planned.workflow.tasks.map((t) => t.id)).toEqual(['search', 'sum']);
    const first = server.requests[0].body;
    const schema = first.response_format!.json_schema!.schema as {
      properties: { tasks: { items: { properties: { tool: { enum: string[] } } } } };
    };
    expect(schema.properties.tasks.items.properties.tool.enum).toContain('web_search');
    expect(schema.properties.tasks.items.properties.tool.enum).not.toContain('plan');
    const repair = server.requests[1].body.messages.at(-1)!.content!;
    expect(repair).toMatch(/tasks\[0\]\.dependencies\[0\]: unknown task "serch" \(did you mean "search"\?\)/);
  });

  it('property: the repair loop stops after max_rounds answers with a clear failure', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), async (rounds) => {
        server.requests.length = 0;
        server.replies.length = 0;
        for (let i = 0; i < rounds + 2; i++)
          server.replies.push(answer([{ id: 'a', tool: 'no_such_tool', input_json: '{}', dependencies: [] }]));
        const err = await planWorkflow('anything', { llm: llm(), registry, maxRounds: rounds }).catch(
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(PlanError);
        expect((err as PlanError).message).toMatch(
          new RegExp(`no valid workflow after ${rounds} rounds?; last problems:\\n.*tasks\\[0\\]\\.tool`),
        );
        expect(server.requests).toHaveLength(rounds);
      }),
      { numRuns: 8 },
    );
  });
});

describe('the plan tool', () => {
  it('plans and runs a child workflow; the result is the task output; the child is linked in events, the record and braid graph', async () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-plan-'));
    const store = new JsonlRunStore(join(home, 'runs'));
    const events: RunEvent[] = [];
    const result = await runWorkflow(
      {
        name: 'parent',
        tasks: [
          { id: 'make', tool: 'plan', input: { goal: 'search for solar kites and summarize' } },
          { id: 'after', tool: 'echo', input: { value: '{{ tasks.make.output.run.status }}' }, dependencies: ['make'] },
        ],
      },
      { store, onEvent: (e) => void events.push(e) },
    );
    expect(result.status).toBe('succeeded');
    const out = result.tasks.make.output as {
      planner: string;
      run: { runId: string; status: string; tasks: Record<string, unknown> };
    };
    expect(out.planner).toBe('offline (keyword rules)');
    expect(out.run.status).toBe('succeeded');
    expect(Object.keys(out.run.tasks)).toEqual(['search', 'summarize']);
    expect(result.tasks.after.output).toBe('succeeded');
    const child = events.find((e) => e.type === 'task.child') as Extract<RunEvent, { type: 'task.child' }>;
    expect(child.childRunId).toBe(`${result.runId}.make.1.1`);
    expect(out.run.runId).toBe(child.childRunId);
    expect(existsSync(join(home, 'runs', `${child.childRunId}.jsonl`))).toBe(true);
    const graph = await braid(['graph', '--run', result.runId], { env: { BRAID_HOME: home } });
    expect(graph.stdout).toMatch(/n_make\["make<br\/><small>plan<\/small>"\]:::succeeded/);
    expect(graph.stdout).toMatch(
      new RegExp(`subgraph c0_run\\["child run ${child.childRunId.replace(/\./g, '\\.')}"\\]`),
    );
    expect(graph.stdout).toMatch(/c0_search\["search<br\/><small>web_search<\/small>"\]:::succeeded/);
    expect(graph.stdout).toMatch(/n_make -.->\|"child run"\| c0_run/);
  });
});

describe('the plan tool: usage and budgets include the child run', () => {
  it("the child's tokens and cost count for the plan task and the run, in the result and in the record", async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-plan-usage-')));
    const result = await runWorkflow(
      {
        name: 'parent',
        tasks: [{ id: 'make', tool: 'plan', input: { goal: 'search for solar kites and summarize' } }],
      },
      { store },
    );
    const child = (result.tasks.make.output as { run: { usage: { totalTokens: number } } }).run;
    expect(child.usage.totalTokens).toBeGreaterThan(0);
    expect(result.tasks.make.usage).toEqual(child.usage); // the offline planner itself spends nothing
    expect(result.usage).toEqual(child.usage);
    const record = await store.read(result.runId);
    expect(foldRun(record).usage).toEqual(result.usage);
    const calls = record.events.filter((e) => e.type === 'llm.call');
    expect(calls).toEqual([
      expect.objectContaining({ taskId: 'make', purpose: 'summarize_results', childRunId: `${result.runId}.make.1.1` }),
    ]);
  });

  it("the parent's budget bounds the child: past max_tokens the child is stopped and the parent fails with E_BUDGET", async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-plan-budget-')));
    const outbox = mkdtempSync(join(tmpdir(), 'braid-plan-outbox-'));
    process.env.BRAID_OUTBOX = outbox;
    const result = await runWorkflow(
      {
        name: 'parent',
        budget: { max_tokens: 50 },
        tasks: [{ id: 'make', tool: 'plan', input: { goal: 'compare solar and wind costs and email me a summary' } }],
      },
      { store },
    );
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({
      code: 'E_BUDGET',
      // The child's first model call cannot fit its worst case: it is not sent.
      message: expect.stringMatching(/^budget exceeded: max_tokens 50 cannot hold the next model call \(worst case/),
    });
    // Stopped by the budget while its child ran: skipped with the reason (workflow-spec.md §7), the error kept.
    expect(result.tasks.make).toMatchObject({
      status: 'skipped',
      reason: 'budget_exceeded',
      error: { code: 'E_BUDGET' },
    });
    const childId = (await store.read(result.runId)).events.find((e) => e.type === 'task.child') as {
      childRunId: string;
    };
    const child = foldRun(await store.read(childId.childRunId));
    expect(child.status).toBe('cancelled');
    expect(child.tasks.summarize).toMatchObject({
      status: 'skipped', // the child was cancelled: its aborted task is not a failure (workflow-spec.md §7)
      reason: 'cancelled',
      error: { code: 'E_CANCELLED' },
    });
    expect(child.tasks.summarize.usage).toBeUndefined(); // its call could not be held: it was never sent
    expect(child.tasks.draft).toMatchObject({ status: 'skipped', reason: 'cancelled' });
    expect(child.tasks.send.status).toBe('skipped');
    expect(readdirSync(outbox)).toEqual([]); // nothing was sent

    const tasks = await runWorkflow({
      name: 'parent',
      budget: { max_tasks: 3 },
      tasks: [{ id: 'make', tool: 'plan', input: { goal: 'compare solar and wind costs and email me a summary' } }],
    });
    expect(tasks.error).toMatchObject({ code: 'E_BUDGET', message: 'budget exceeded: max_tasks 3 reached' });
  });
});

describe('the plan tool on resume', () => {
  it('a re-run plan task gets a new child run id instead of clashing with the earlier child record', async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-plan-resume-')));
    let broken = true;
    const probe = defineTool({
      name: 'flaky_probe',
      description: 'A probe that fails until fixed',
      input: z.object({}),
      run: () => (broken ? Promise.reject(new Error('probe broken')) : { ok: true }),
    });
    const flow = { name: 'outer', tasks: [{ id: 'make', tool: 'plan', input: { goal: 'run the flaky probe' } }] };
    const first = await runWorkflow(flow, { tools: [probe], store });
    expect(first.tasks.make.error?.message).toMatch(
      /the planned workflow failed \(child run .*\.make\.1\.1; flaky_probe: probe broken\)/,
    );
    broken = false;
    const again = await resumeRun(first.runId, { store, tools: [probe] });
    expect(again.status).toBe('succeeded');
    const record = await store.read(first.runId);
    const children = record.events
      .filter((e) => e.type === 'task.child')
      .map((e) => (e as { childRunId: string }).childRunId);
    expect(children).toEqual([`${first.runId}.make.1.1`, `${first.runId}.make.1.1-r2`]);
  });
});

describe('braid plan', () => {
  it('writes a valid workflow file from a sentence, shows its graph, and --run runs it offline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-planfile-'));
    const out = join(dir, 'flow.yaml');
    const r = await braid(['plan', 'compare solar and wind costs and email me a summary', '--out', out, '--run']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wrote .*flow\.yaml \(4 tasks, validated; offline planner/);
    expect(r.stdout).toMatch(/^flowchart TD\n/);
    expect(r.stdout).toMatch(/compare-solar-and-wind-costs succeeded/);
    expect(readFileSync(out, 'utf8')).toMatch(
      /^# Planned by braid from: compare solar and wind costs and email me a summary\n/,
    );
    expect((await braid(['validate', out, '--strict'])).code).toBe(0);
  });
});
