/**
 * A request's worst case (src/llm/worst-case.ts), which budgets reserve before sending: its prompt bound is never
 * below the bytes of what it asks (no tokenizer makes more tokens than bytes), nor below what the loopback server or
 * the offline provider bill; its maxTokens comes from the task, else the tool, else the provider; its cost is never
 * below the cost of a usage within it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { costOf, worstCostOf } from '../src/llm/cost.js';
import { OfflineProvider } from '../src/llm/offline.js';
import type { ChatMessage, GenerateRequest, LlmProvider } from '../src/llm/types.js';
import { maxTokensAdmission, maxTokensFor, promptTokensBound, worstCase } from '../src/llm/worst-case.js';

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));
const message: fc.Arbitrary<ChatMessage> = fc.record({
  role: fc.constantFrom('system' as const, 'user' as const, 'assistant' as const),
  content: text,
});
const bytes = (s: string) => Buffer.byteLength(s);

describe('the worst case of a request', () => {
  it('property: the prompt bound covers the bytes of the messages, and what the test server and offline bill', async () => {
    const offline = new OfflineProvider();
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 6 }), async (messages) => {
        const request: GenerateRequest = { messages };
        const bound = promptTokensBound(request);
        const contents = messages.map((m) => m.content ?? '');
        expect(bound).toBeGreaterThanOrEqual(contents.reduce((n, c) => n + bytes(c), 0));
        // test/support/openai-server.ts: 4 characters a token over the contents
        expect(bound).toBeGreaterThanOrEqual(Math.ceil(contents.reduce((n, c) => n + c.length, 0) / 4));
        const answer = await offline.generate({ ...request, maxTokens: 5 });
        expect(bound).toBeGreaterThanOrEqual(answer.usage.promptTokens);
        expect(answer.usage.completionTokens).toBeLessThanOrEqual(5);
      }),
      { numRuns: 200 },
    );
  });

  it('functions and a structured-output schema count too', () => {
    const base: GenerateRequest = { messages: [{ role: 'user', content: 'hi' }] };
    const schema = z.object({ title: z.string().describe('a long description of the title field, in words') });
    const withSchema = promptTokensBound({ ...base, schema: { name: 'note', schema } });
    const withTool = promptTokensBound({
      ...base,
      tools: [{ name: 'search', description: 'Search the web for a query', parameters: { type: 'object' } }],
    });
    expect(withSchema).toBeGreaterThan(promptTokensBound(base) + bytes('a long description of the title field'));
    expect(withTool).toBeGreaterThan(promptTokensBound(base) + bytes('Search the web for a query'));
  });

  it("maxTokens: the task's, else the request's (the tool's), else the provider's, else BRAID_MAX_TOKENS or 1024", async () => {
    const provider = { maxTokens: 300 } as LlmProvider;
    const bare = {} as LlmProvider;
    const asked: GenerateRequest = { messages: [], maxTokens: 200 };
    expect(maxTokensFor(asked, provider, 100)).toBe(100);
    expect(maxTokensFor(asked, provider)).toBe(200);
    expect(maxTokensFor({ messages: [] }, provider)).toBe(300);
    expect(maxTokensFor({ messages: [] }, bare)).toBe(1024);
    process.env.BRAID_MAX_TOKENS = '77';
    try {
      expect(maxTokensFor({ messages: [] }, bare)).toBe(77);
    } finally {
      delete process.env.BRAID_MAX_TOKENS;
    }
    const admitted = await maxTokensAdmission(50)(asked, provider);
    expect([admitted.request.maxTokens, admitted.facts]).toEqual([50, { maxTokens: 50 }]);
  });

  it('property: the worst cost is never below the cost of a usage within its tokens; no price gives null', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('gpt-4o-mini', 'gpt-4o', 'o4-mini', 'gpt-4.1-nano-2025'),
        fc.nat({ max: 1e6 }),
        fc.nat({ max: 1e5 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (model, prompt, completion, a, b) => {
          const p = Math.floor(prompt * a);
          const c = Math.floor(completion * b);
          const used = costOf(model, { promptTokens: p, completionTokens: c, totalTokens: p + c })!;
          expect(worstCostOf(model, prompt, completion)!).toBeGreaterThanOrEqual(used);
        },
      ),
    );
    const provider = { provider: 'openai', model: 'unpriced-model' } as LlmProvider;
    expect(worstCase({ messages: [{ role: 'user', content: 'x' }], maxTokens: 10 }, provider).costUsd).toBeNull();
  });
});
