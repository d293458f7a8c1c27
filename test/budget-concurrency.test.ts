/**
 * Budgets that hold under concurrency (workflow-spec.md §7 "Budgets", issue 35): 32 model calls at once through the
 * real OpenAI client, at a loopback server that bills every answer exactly its `max_completion_tokens`. Each call's
 * worst case is reserved before it is sent, so over 100 trials the run never spends more than its cap; calls that fit
 * are not serialised (with room for k worst cases, k requests are at the server at once); and when answers are
 * small, the run goes on until less than one worst case is left.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, OpenAIProvider, runWorkflow, type RunEvent } from '../src/index.js';
import type { Budget } from '../src/spec/schema.js';
import { startLoopbackServer, type LoopbackServer } from './support/openai-server.js';

let server: LoopbackServer;
beforeAll(async () => (server = await startLoopbackServer()));
afterAll(() => server.close());
beforeEach(() => server.reset());

const CALLS = 32;
const MAX_TOKENS = 40;

/** One model call per item, or `calls` in a row (each waits for the one before). */
const ask = defineTool({
  name: 'ask',
  description: 'Asks the model about an item',
  input: z.object({ item: z.number(), calls: z.number().default(1) }),
  async run({ item, calls }, ctx) {
    let last = '';
    for (let i = 0; i < calls; i++)
      last = (
        await ctx.llm!.generate({
          messages: [{ role: 'user', content: `Say something about item ${String(item).padStart(2, '0')}.` }],
          purpose: 'ask',
          signal: ctx.signal,
        })
      ).text;
    return last;
  },
});

const llm = (model = 'gpt-4o-mini') =>
  new OpenAIProvider({ apiKey: 'k', baseURL: server.url, model, maxRetries: 0, concurrency: 64 });

type Call = Extract<RunEvent, { type: 'llm.call' }>;

async function run(budget: Budget, options: { model?: string; calls?: number } = {}) {
  const events: RunEvent[] = [];
  const result = await runWorkflow(
    {
      budget,
      tasks: [
        {
          id: 'each',
          tool: 'ask',
          for_each: '{{ input.items }}',
          input: { item: '{{ item }}', calls: options.calls ?? 1 },
          max_tokens: MAX_TOKENS,
        },
      ],
    },
    {
      tools: [ask],
      llm: llm(options.model),
      input: { items: Array.from({ length: CALLS }, (_, i) => i) },
      classifier: null,
      store: false,
      onEvent: (e) => events.push(e),
    },
  );
  const calls = events.filter((e): e is Call => e.type === 'llm.call');
  return { result, calls, sent: calls.filter((c) => !c.error) };
}

/** The worst case of one call: every call of the tool is the same size (items are two digits). */
async function worstOne(): Promise<{ tokens: number; costUsd: number }> {
  const { calls } = await run({ max_tokens: 1e9, max_cost_usd: 1e6 });
  const worst = calls[0].reserved!;
  for (const c of calls) expect(c.reserved).toEqual(worst);
  server.reset();
  return { tokens: worst.tokens, costUsd: worst.costUsd! };
}

/** Deterministic trial parameters: k worst cases (1..31) and a remainder below one more. */
function* trials(n: number) {
  let seed = 35;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < n; i++) yield { k: 1 + Math.floor(next() * (CALLS - 1)), part: next() * 0.99 };
}

describe('budget reservations under 32 concurrent calls', () => {
  it('every request is sent with max_completion_tokens, and each call reserved at least what it used', async () => {
    server.completionTokens = 'max';
    const { result, calls } = await run({ max_tokens: 1e9, max_cost_usd: 1e6 });
    expect(result.status).toBe('succeeded');
    expect(server.rejected).toEqual([]);
    expect(server.requests.map((r) => r.body.max_completion_tokens)).toEqual(Array(CALLS).fill(MAX_TOKENS));
    for (const c of calls) {
      expect(c.maxTokens).toBe(MAX_TOKENS);
      expect(c.usage.completionTokens).toBe(MAX_TOKENS);
      expect(c.usage.totalTokens).toBeLessThanOrEqual(c.reserved!.tokens);
      expect(c.usage.costUsd).toBeLessThanOrEqual(c.reserved!.costUsd!);
    }
  });

  it('max_tokens: 100 of 100 trials spend at most the cap; with room for k worst cases, k requests are in flight at once', async () => {
    const { tokens: w } = await worstOne();
    const figures = { maxSpentOverCap: 0, minInFlightOverK: Infinity, trials: 0 };
    for (const { k, part } of trials(100)) {
      server.reset();
      server.completionTokens = 'max';
      server.gather = { count: k, ms: 1000 };
      const cap = k * w + Math.floor(part * w);
      const { result } = await run({ max_tokens: cap, on_exhausted: 'wait' });
      const spent = result.usage?.totalTokens ?? 0;
      expect(spent).toBeLessThanOrEqual(cap);
      expect(server.stats.maxInFlight).toBeGreaterThanOrEqual(k);
      expect(server.rejected).toEqual([]);
      figures.maxSpentOverCap = Math.max(figures.maxSpentOverCap, spent / cap);
      figures.minInFlightOverK = Math.min(figures.minInFlightOverK, server.stats.maxInFlight / k);
      figures.trials++;
    }
    console.log(`max_tokens trials: ${JSON.stringify(figures)}`);
    expect(figures.trials).toBe(100);
  });

  it('max_cost_usd, a model with a price: 100 of 100 trials spend at most the cap; k requests in flight at once', async () => {
    const { costUsd: w } = await worstOne();
    const figures = { maxSpentOverCap: 0, minInFlightOverK: Infinity, trials: 0 };
    for (const { k, part } of trials(100)) {
      server.reset();
      server.completionTokens = 'max';
      server.gather = { count: k, ms: 1000 };
      const cap = k * w + part * w;
      const { result } = await run({ max_cost_usd: cap, on_exhausted: 'wait' });
      const spent = result.usage?.costUsd ?? 0;
      expect(spent).toBeLessThanOrEqual(cap);
      expect(server.stats.maxInFlight).toBeGreaterThanOrEqual(k);
      figures.maxSpentOverCap = Math.max(figures.maxSpentOverCap, spent / cap);
      figures.minInFlightOverK = Math.min(figures.minInFlightOverK, server.stats.maxInFlight / k);
      figures.trials++;
    }
    console.log(`max_cost_usd trials: ${JSON.stringify(figures)}`);
    expect(figures.trials).toBe(100);
  });

  it('on_exhausted: fail: the first call that does not fit is not sent and fails the run; spending stays under the cap', async () => {
    const { tokens: w } = await worstOne();
    for (const { k, part } of trials(20)) {
      server.reset();
      server.completionTokens = 'max';
      server.latencyMs = 4;
      const cap = k * w + Math.floor(part * w);
      const { result, calls } = await run({ max_tokens: cap });
      expect(result.status).toBe('failed');
      expect(result.error).toMatchObject({ code: 'E_BUDGET', message: expect.stringContaining('cannot hold') });
      expect(result.tasks.each).toMatchObject({ status: 'skipped', reason: 'budget_exceeded' });
      expect(result.usage?.totalTokens ?? 0).toBeLessThanOrEqual(cap);
      // k calls were admitted (some may be aborted with the run before the server answers); the k+1st was not sent
      expect(calls.length).toBeLessThanOrEqual(k);
      expect(server.requests.length).toBeLessThanOrEqual(k);
    }
  });

  it('small answers (wait): the run spends at least the cap minus one worst case, and ends only with nothing in flight', async () => {
    const { tokens: w } = await worstOne();
    let least = Infinity;
    for (const k of [1, 2, 4, 8, 16]) {
      server.reset();
      server.completionTokens = 1;
      server.latencyMs = 2;
      const cap = k * w;
      const { result, sent } = await run({ max_tokens: cap, on_exhausted: 'wait' }, { calls: 40 });
      const spent = result.usage!.totalTokens;
      expect(result.error).toMatchObject({
        code: 'E_BUDGET',
        message: expect.stringMatching(/held by 0 calls in flight\)$/),
      });
      expect(spent).toBeLessThanOrEqual(cap);
      expect(spent).toBeGreaterThanOrEqual(cap - w);
      if (k > 1) expect(sent.length).toBeGreaterThan(k); // settled calls gave their unused reservation back
      least = Math.min(least, (spent - (cap - w)) / w);
    }
    console.log(`small answers: min (spent - (cap - w)) / w = ${least}`);
  });

  it('wait completes more calls than fail under the same cap', async () => {
    const { tokens: w } = await worstOne();
    server.completionTokens = 1;
    server.latencyMs = 2;
    const failed = await run({ max_tokens: 4 * w });
    server.reset();
    server.completionTokens = 1;
    server.latencyMs = 2;
    const waited = await run({ max_tokens: 4 * w, on_exhausted: 'wait' });
    expect(failed.result.error?.code).toBe('E_BUDGET');
    expect(waited.sent.length).toBeGreaterThan(failed.sent.length);
    expect(waited.result.usage!.totalTokens).toBeGreaterThan(failed.result.usage?.totalTokens ?? 0);
  });

  it('max_cost_usd with a model that has no price: E_PRICE_UNKNOWN, and nothing is sent', async () => {
    const { result, calls } = await run({ max_cost_usd: 1 }, { model: 'loopback-model' });
    expect(result.status).toBe('failed');
    expect(result.tasks.each.error).toMatchObject({ message: expect.stringContaining('loopback-model') });
    expect(JSON.stringify(result.tasks.each.error)).toContain('no price is known');
    expect(calls).toEqual([]);
    expect(server.requests).toEqual([]);
    // Under max_tokens alone the price does not matter.
    const tokens = await run({ max_tokens: 1e9 }, { model: 'loopback-model' });
    expect(tokens.result.status).toBe('succeeded');
  });
});
