/** The model layer: offline rules, the real `openai` client against a loopback server, the classifier. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClassifier, OfflineProvider, OpenAIProvider, runWorkflow, type RunEvent } from '../src/index.js';
import { costOf } from '../src/llm/cost.js';
import { pickLabel, textScore } from '../src/llm/offline.js';
import { loadAllPrompts, parsePrompt } from '../src/llm/prompts.js';
import { startLoopbackServer, type LoopbackServer } from './support/openai-server.js';

const signal = new AbortController().signal;
const ask = (labels: string[], output: unknown) => ({ output, labels, taskId: 't', runId: 'r', signal });

describe('offline provider rules', () => {
  it('an explicit score in the text decides; otherwise keywords move a stable base', () => {
    expect(textScore('{"idea":"x","score":0.82}')).toBe(0.82);
    expect(textScore('rated 3/10')).toBe(0.3);
    expect(textScore('a vague, generic and boring plan')).toBeLessThan(textScore('a vague, generic and boring plan'.replace(/vague|generic|boring/g, 'specific')));
    expect(textScore('same text')).toBe(textScore('same text'));
  });

  it('labels by polarity when the candidates have one, else by words in the text', () => {
    expect(pickLabel(['good', 'bad'], 'score: 0.9')).toBe('good');
    expect(pickLabel(['good', 'bad'], 'score: 0.1')).toBe('bad');
    expect(pickLabel(['sports', 'politics', 'tech'], 'the tech team shipped tech')).toBe('tech');
  });

  it('structured output is schema-valid and labelled offline', async () => {
    const schema = z.object({ subject: z.string(), priority: z.enum(['high', 'low']), score: z.number().nullable(), tags: z.array(z.string()) });
    const r = await new OfflineProvider().generate({ messages: [{ role: 'user', content: 'urgent: score 0.9' }], schema: { name: 's', schema } });
    expect(schema.safeParse(r.object).success).toBe(true);
    expect(r).toMatchObject({ provider: 'offline', model: 'offline', object: { priority: 'high', score: 0.9 } });
    expect(r.usage.totalTokens).toBeGreaterThan(0);
  });
});

describe('prompt files', () => {
  it('every file in prompts/ loads and declares its variables', () => {
    const names = loadAllPrompts().map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['classify', 'generate-idea', 'draft-email', 'summarize']));
  });
  it('an undeclared variable is an error that names it', () => {
    expect(() => parsePrompt('x', '---\nvariables: [a]\n---\n# user\n{{a}} {{b}}')).toThrow(/undeclared variables b/);
  });
});

describe('cost', () => {
  it('comes from the price table, and is null for an unknown model', () => {
    expect(costOf('gpt-4o-mini-2024-07-18', { promptTokens: 1_000_000, completionTokens: 1_000_000, totalTokens: 2_000_000 })).toBe(0.75);
    expect(costOf('loopback-model', { promptTokens: 10, completionTokens: 10, totalTokens: 20 })).toBeNull();
  });
});

describe('OpenAI-compatible provider over HTTP (loopback server, real openai client)', () => {
  let server: LoopbackServer;
  beforeAll(async () => (server = await startLoopbackServer()));
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    server.faults.length = 0;
    server.replies.length = 0;
  });
  const provider = (opts: Record<string, unknown> = {}) => new OpenAIProvider({ apiKey: 'test-key', baseURL: server.url, model: 'loopback-model', ...opts });

  it('sends chat messages with the key and records token usage', async () => {
    const r = await provider().generate({ messages: [{ role: 'user', content: 'hello there' }] });
    expect(r.text).toBe('loopback reply to: hello there');
    expect(r.provider).toBe('openai');
    expect(server.requests[0].authorization).toBe('Bearer test-key');
    expect(r.usage).toEqual({ promptTokens: 3, completionTokens: 8, totalTokens: 11 });
  });

  it('returns tool calls with parsed arguments', async () => {
    server.replies.push({ toolCalls: [{ name: 'web_search', arguments: { query: 'kites' } }] });
    const r = await provider().generate({ messages: [{ role: 'user', content: 'search kites' }], tools: [{ name: 'web_search', description: 'search', parameters: { type: 'object', properties: { query: { type: 'string' } } } }] });
    expect(r.toolCalls).toEqual([{ id: expect.any(String), name: 'web_search', arguments: { query: 'kites' } }]);
    expect(server.requests[0].body.tools?.[0].function.name).toBe('web_search');
  });

  it('classification asks for a strict json_schema with the labels as an enum and nullable fields', async () => {
    const r = await createClassifier(provider()).classify(ask(['good', 'bad'], { idea: 'kites' }));
    expect(r.label).toBe('good');
    const format = server.requests[0].body.response_format!;
    expect(format.type).toBe('json_schema');
    expect(format.json_schema?.strict).toBe(true);
    const props = format.json_schema!.schema.properties as Record<string, { enum?: string[]; anyOf?: unknown[]; type?: unknown }>;
    expect(props.label.enum).toEqual(['good', 'bad']);
    expect(JSON.stringify(props.confidence)).toContain('null');
    expect(format.json_schema!.schema.required).toEqual(['label', 'reason', 'confidence']);
  });

  it('retries a 429 after the retry-after delay', async () => {
    server.faults.push({ kind: '429', retryAfterSeconds: 1 });
    const r = await provider().generate({ messages: [{ role: 'user', content: 'x' }] });
    expect(r.text).toContain('loopback reply');
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(900);
  });

  it('retries a 500 and fails with E_LLM once retries are used up', async () => {
    server.faults.push({ kind: '500' });
    await expect(provider().generate({ messages: [{ role: 'user', content: 'x' }] })).resolves.toBeTruthy();
    server.faults.push({ kind: '500' }, { kind: '500' });
    await expect(provider({ maxRetries: 1 }).generate({ messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ code: 'E_LLM' });
  });

  it('a response slower than the timeout is an error after the retries', async () => {
    server.faults.push({ kind: 'slow', ms: 1500 }, { kind: 'slow', ms: 1500 });
    const err = await provider({ timeoutMs: 150, maxRetries: 1 }).generate({ messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toMatchObject({ code: 'E_LLM' });
    expect(err.message).toMatch(/timed out/i);
    expect(server.requests).toHaveLength(2);
  });

  it('malformed JSON is retried once by the classifier', async () => {
    server.faults.push({ kind: 'malformed' });
    const r = await createClassifier(provider()).classify(ask(['good', 'bad'], 'x'));
    expect(r.label).toBe('good');
    expect(server.requests).toHaveLength(2);
  });

  it('a label outside the enum is retried once, then fails with a clear error', async () => {
    server.faults.push({ kind: 'label', label: 'maybe' });
    expect((await createClassifier(provider()).classify(ask(['good', 'bad'], 'x'))).label).toBe('good');
    server.faults.push({ kind: 'label', label: 'maybe' }, { kind: 'label', label: 'perhaps' });
    await expect(createClassifier(provider()).classify(ask(['good', 'bad'], 'x'))).rejects.toThrow(/classifier answered "perhaps", not one of good, bad, twice/);
  });

  it('a workflow labels through the classifier, with llm.call events and usage per task and run', async () => {
    const events: RunEvent[] = [];
    const llm = provider({ model: 'gpt-4o-mini' });
    const result = await runWorkflow(
      [
        { id: 'idea', tool: 'echo', input: { value: { idea: 'solar kites' } }, classify: { labels: ['good', 'bad'], prompt: 'Is it good?' } },
        { id: 'yes', tool: 'echo', input: { value: 1 }, condition: { depends_on: 'idea', if_result: 'good' } },
      ],
      { llm, onEvent: (e) => events.push(e) },
    );
    expect(result.tasks.idea).toMatchObject({ label: 'good', labelSource: 'classifier', labelReason: 'loopback answer' });
    const call = events.find((e) => e.type === 'llm.call');
    expect(call).toMatchObject({ taskId: 'idea', provider: 'openai', model: 'gpt-4o-mini', purpose: 'classify' });
    expect(result.tasks.idea.usage?.totalTokens).toBeGreaterThan(0);
    expect(result.tasks.idea.usage?.costUsd).toBeGreaterThan(0);
    expect(result.usage).toEqual(result.tasks.idea.usage);
    expect(server.requests[0].body.messages.at(-1)?.content).toContain('Is it good?');
  });
});
