/**
 * Behaviours a hand-made mutation pass found unprotected: each test here names the rule it protects and
 * fails on the one-line bug described beside it.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createProvider,
  defineTool,
  NonRetriableError,
  OfflineProvider,
  OpenAIProvider,
  runWorkflow,
  type RunEvent,
} from '../src/index.js';
import { label, ScriptedModel } from '../src/testing/index.js';
import { backoffDelay } from '../src/core/backoff.js';
import { flow, recorder } from './support/tools.js';

const fast = { retry: { baseDelayMs: 1, maxDelayMs: 2 }, store: false as const };

describe('scheduling rules', () => {
  it('if_status with another dependency: runs when the tested task failed and the other finished (a mutant deadlocked it)', async () => {
    const rec = recorder();
    const tasks = (aFails: boolean) =>
      flow([
        { id: 'a', input: aFails ? { fail: true } : {} },
        { id: 'b', input: { ms: 5 } },
        { id: 'handler', dependencies: ['b'], condition: { depends_on: 'a', if_status: 'failed' } },
      ]);
    const failed = await runWorkflow(tasks(true), { tools: rec.tools, ...fast });
    expect(failed.tasks.handler.status).toBe('succeeded');
    expect(failed.status).toBe('succeeded'); // the handler handles a's failure
    const fine = await runWorkflow(tasks(false), { tools: rec.tools, ...fast });
    expect(fine.tasks.handler).toMatchObject({ status: 'skipped', reason: 'condition_false' });
  });

  it('routing into a task that is already running does not start a second visit', async () => {
    const rec = recorder();
    const r = await runWorkflow(
      flow([
        { id: 'slow', input: { ms: 60 } },
        { id: 'quick', next_task_id_on_success: 'slow' },
      ]),
      { tools: rec.tools, ...fast },
    );
    expect(r.tasks.slow.visits).toBe(1);
    expect(rec.ran().filter((t) => t === 'slow')).toHaveLength(1);
  });

  it('a task.routed event names the source, the target and the edge', async () => {
    const rec = recorder();
    const events: RunEvent[] = [];
    await runWorkflow(flow([{ id: 'a', input: { fail: true }, next_task_id_on_failure: 'h' }, { id: 'h' }]), {
      tools: rec.tools,
      ...fast,
      onEvent: (e) => events.push(e),
    });
    expect(events.find((e) => e.type === 'task.routed')).toMatchObject({ taskId: 'a', to: 'h', on: 'failure' });
  });
});

describe('retries and policies', () => {
  it('an on_failure retry step does not retry an error that is not retryable', async () => {
    const rec = recorder();
    const r = await runWorkflow(flow([{ id: 'a', input: { fail: true, fatal: true }, on_failure: [{ retry: 3 }] }]), {
      tools: rec.tools,
      ...fast,
    });
    expect(r.tasks.a.attempts).toBe(1);
  });

  it('the backoff formula: half of base × 2^(n-1) fixed, half random, capped', () => {
    expect(backoffDelay(1, { baseDelayMs: 200 }, () => 0)).toBe(100);
    expect(backoffDelay(1, { baseDelayMs: 200 }, () => 1)).toBe(200);
    expect(backoffDelay(3, { baseDelayMs: 200 }, () => 0.5)).toBe(600); // 800/2 + 800/2 × 0.5
    expect(backoffDelay(20, { baseDelayMs: 200, maxDelayMs: 1000 }, () => 1)).toBe(1000);
    expect(backoffDelay(20, { baseDelayMs: 200, maxDelayMs: 1000 }, () => 0)).toBe(500);
  });

  it("a tool's rateLimit holds: at most intervalCap starts in any interval (counted, not timed)", async () => {
    const starts: number[] = [];
    const limited = defineTool({
      name: 'limited',
      input: z.object({}),
      rateLimit: { intervalCap: 2, interval: 150 },
      run: () => void starts.push(performance.now()),
    });
    await runWorkflow(
      Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, tool: 'limited', input: {} })),
      { tools: [limited], ...fast },
    );
    expect(starts).toHaveLength(6);
    // p-queue opens fixed windows: the 3rd start is at least one interval after the 1st, the 5th after the 3rd
    for (let i = 0; i + 2 < starts.length; i++) expect(starts[i + 2] - starts[i]).toBeGreaterThanOrEqual(140);
  });
});

describe('budgets and usage', () => {
  const idea = { object: { idea: 'kites', pitch: 'fly', score: null } };

  it('max_cost_usd: a call whose worst case would pass it is not sent (E_BUDGET), and the next task is skipped', async () => {
    const flow = (max_cost_usd: number) => ({
      name: 'costly',
      budget: { max_cost_usd },
      tasks: [
        { id: 'a', tool: 'llm_generate_idea', input: { topic: 'x' } },
        { id: 'b', tool: 'llm_generate_idea', input: { topic: 'y' }, dependencies: ['a'] },
      ],
    });
    const events: RunEvent[] = [];
    const free = new ScriptedModel({ llm_generate_idea: [idea, idea] }, { model: 'gpt-4o' });
    await runWorkflow(flow(1), { llm: free, ...fast, onEvent: (e) => events.push(e) });
    const [first] = events.filter((e) => e.type === 'llm.call') as Extract<RunEvent, { type: 'llm.call' }>[];
    const worst = first.reserved!.costUsd!;
    const spent = first.usage.costUsd!;
    expect(spent).toBeGreaterThan(0);
    expect(worst).toBeGreaterThan(spent);
    // a's worst case fits; b's does not beside what a spent
    const model = new ScriptedModel({ llm_generate_idea: [idea, idea] }, { model: 'gpt-4o' });
    const r = await runWorkflow(flow(worst + spent / 2), { llm: model, ...fast });
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ code: 'E_BUDGET' });
    expect(r.error!.message).toMatch(/^budget exceeded: max_cost_usd [\d.e-]+ cannot hold the next model call/);
    expect(r.tasks.b).toMatchObject({ status: 'skipped', reason: 'budget_exceeded' });
    expect(model.calls).toHaveLength(1);
    expect(r.usage!.costUsd).toBe(spent);
  });

  it('token totals equal the sum of the llm.call events, classifier calls counted once', async () => {
    const model = new ScriptedModel({ llm_generate_idea: [idea], classify: [label('good')] });
    const events: RunEvent[] = [];
    const r = await runWorkflow(
      [
        { id: 'a', tool: 'llm_generate_idea', input: { topic: 'x' } },
        { id: 'b', tool: 'echo', input: { value: 1 }, condition: { depends_on: 'a', if_result: 'good' } },
      ],
      { llm: model, ...fast, onEvent: (e) => events.push(e) },
    );
    const calls = events.filter((e): e is Extract<RunEvent, { type: 'llm.call' }> => e.type === 'llm.call');
    expect(calls.map((c) => c.purpose).sort()).toEqual(['classify', 'llm_generate_idea']);
    const sum = calls.reduce((n, c) => n + c.usage.totalTokens, 0);
    expect(r.usage?.totalTokens).toBe(sum);
    expect(r.tasks.a.usage?.totalTokens).toBe(sum);
  });
});

describe('paths the suite did not cover', () => {
  it('the provider is chosen from the environment: a key selects the OpenAI client, BRAID_PROVIDER=offline forces offline', () => {
    const saved = { ...process.env };
    try {
      process.env.OPENAI_API_KEY = 'sk-test';
      process.env.BRAID_PROVIDER = '';
      expect(createProvider()).toBeInstanceOf(OpenAIProvider);
      process.env.BRAID_PROVIDER = 'offline';
      expect(createProvider()).toBeInstanceOf(OfflineProvider);
      process.env.BRAID_PROVIDER = '';
      process.env.OPENAI_API_KEY = '';
      expect(createProvider()).toBeInstanceOf(OfflineProvider);
    } finally {
      process.env = saved;
    }
  });

  it('NonRetriableError from a tool is not retried even with retries left', async () => {
    let calls = 0;
    const once = defineTool({
      name: 'once',
      input: z.object({}),
      run: () => {
        calls++;
        throw new NonRetriableError('no point');
      },
    });
    const r = await runWorkflow([{ id: 'a', tool: 'once', input: {}, retries: 4 }], { tools: [once], ...fast });
    expect(calls).toBe(1);
    expect(r.tasks.a.error).toMatchObject({ code: 'E_TOOL', message: 'no point' });
  });
});
