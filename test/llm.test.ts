/** The model layer: offline rules, the real `openai` client against a loopback server, the classifier. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createClassifier,
  foldRun,
  JsonlRunStore,
  OfflineProvider,
  OpenAIProvider,
  runWorkflow,
  type RunEvent,
} from '../src/index.js';
import { costOf } from '../src/llm/cost.js';
import { pickLabel, SCORE_WORDS, textScore } from '../src/llm/offline.js';
import { createProvider } from '../src/llm/llm.js';
import { modelSchema } from '../src/llm/model-schema.js';
import { loadAllPrompts, parsePrompt } from '../src/llm/prompts.js';
import { startLoopbackServer, type LoopbackServer } from './support/openai-server.js';

const signal = new AbortController().signal;
const ask = (labels: string[], output: unknown) => ({ output, labels, taskId: 't', runId: 'r', signal });

describe('offline provider rules', () => {
  it('an explicit score in the text decides; otherwise keywords move a stable base', () => {
    expect(textScore('{"idea":"x","score":0.82}')).toBe(0.82);
    expect(textScore('rated 3/10')).toBe(0.3);
    expect(textScore('a vague, generic and boring plan')).toBeLessThan(
      textScore('a vague, generic and boring plan'.replace(/vague|generic|boring/g, 'specific')),
    );
    expect(textScore('same text')).toBe(textScore('same text'));
  });

  it('labels by polarity when the candidates have one, else by words in the text', () => {
    expect(pickLabel(['good', 'bad'], 'score: 0.9')).toBe('good');
    expect(pickLabel(['good', 'bad'], 'score: 0.1')).toBe('bad');
    expect(pickLabel(['sports', 'politics', 'tech'], 'the tech team shipped tech')).toBe('tech');
  });

  it("the offline judge's reason quotes the score that decided, for the negative label too", async () => {
    const judge = createClassifier(new OfflineProvider());
    const bad = await judge.classify(ask(['good', 'bad'], { idea: 'kites', score: 0.34 }));
    expect(bad).toMatchObject({
      label: 'bad',
      reason: 'offline provider rule: score 0.34 (given in the output) is below 0.5, so "bad", not "good"',
    });
    const good = await judge.classify(ask(['good', 'bad'], { idea: 'kites', score: 0.8 }));
    expect(good.reason).toBe(
      'offline provider rule: score 0.8 (given in the output) is at least 0.5, so "good", not "bad"',
    );
    const topic = await judge.classify(ask(['sports', 'tech'], 'the tech team shipped tech'));
    expect(topic.reason).toBe('offline provider rule: "tech" is the candidate the output names most often (2 times)');
  });

  it('structured output is schema-valid and labelled offline', async () => {
    const schema = z.object({
      subject: z.string(),
      priority: z.enum(['high', 'low']),
      score: z.number().nullable(),
      tags: z.array(z.string()),
    });
    const r = await new OfflineProvider().generate({
      messages: [{ role: 'user', content: 'urgent: score 0.9' }],
      schema: { name: 's', schema },
    });
    expect(schema.safeParse(r.object).success).toBe(true);
    expect(r).toMatchObject({ provider: 'offline', model: 'offline', object: { priority: 'high', score: 0.9 } });
    expect(r.usage.totalTokens).toBeGreaterThan(0);
  });
});

describe('classifier usage', () => {
  it("a custom classifier's usage counts for its task, the run, the record and the budget", async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-cls-')));
    const classifier = {
      classify: async () => ({
        label: 'good',
        reason: 'custom',
        usage: { promptTokens: 30, completionTokens: 12, totalTokens: 42, costUsd: 0.01 },
      }),
    };
    const flow = [
      { id: 'idea', tool: 'echo', input: { value: 'x' }, classify: { labels: ['good', 'bad'] } },
      { id: 'next', tool: 'echo', input: { value: 1 }, dependencies: ['idea'] },
    ];
    const result = await runWorkflow(flow, { classifier, store });
    expect(result.tasks.idea.usage).toEqual({ promptTokens: 30, completionTokens: 12, totalTokens: 42, costUsd: 0.01 });
    expect(result.usage).toEqual(result.tasks.idea.usage);
    expect(foldRun(await store.read(result.runId)).tasks.idea.usage).toEqual(result.tasks.idea.usage);
    const capped = await runWorkflow(flow, { classifier, budget: { max_tokens: 10 } });
    expect(capped.error).toMatchObject({
      code: 'E_BUDGET',
      message: 'budget exceeded: max_tokens 10 exceeded (used 42)',
    });
    expect(capped.tasks.next.reason).toBe('budget_exceeded');
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
    expect(
      costOf('gpt-4o-mini-2024-07-18', {
        promptTokens: 1_000_000,
        completionTokens: 1_000_000,
        totalTokens: 2_000_000,
      }),
    ).toBe(0.75);
    expect(costOf('loopback-model', { promptTokens: 10, completionTokens: 10, totalTokens: 20 })).toBeNull();
  });
});

describe('OpenAI-compatible provider over HTTP (loopback server, real openai client)', () => {
  let server: LoopbackServer;
  beforeAll(async () => (server = await startLoopbackServer()));
  afterAll(() => server.close());
  beforeEach(() => server.reset());
  afterEach(() => expect(server.rejected, 'requests the real API would refuse').toEqual([]));
  const provider = (opts: Record<string, unknown> = {}) =>
    new OpenAIProvider({ apiKey: 'test-key', baseURL: server.url, model: 'loopback-model', ...opts });

  it('sends chat messages with the key and records token usage', async () => {
    const r = await provider().generate({ messages: [{ role: 'user', content: 'hello there' }] });
    expect(r.text).toBe('loopback reply to: hello there');
    expect(r.provider).toBe('openai');
    expect(server.requests[0].authorization).toBe('Bearer test-key');
    expect(r.usage).toEqual({ promptTokens: 3, completionTokens: 8, totalTokens: 11 });
  });

  it('returns tool calls with parsed arguments', async () => {
    server.replies.push({ toolCalls: [{ name: 'web_search', arguments: { query: 'kites' } }] });
    const r = await provider().generate({
      messages: [{ role: 'user', content: 'search kites' }],
      tools: [
        {
          name: 'web_search',
          description: 'search',
          parameters: { type: 'object', properties: { query: { type: 'string' } } },
        },
      ],
    });
    expect(r.toolCalls).toEqual([{ id: expect.any(String), name: 'web_search', arguments: { query: 'kites' } }]);
    expect(server.requests[0].body.tools?.[0].function.name).toBe('web_search');
  });

  it('classification asks for a strict json_schema with the labels as an enum and nullable fields', async () => {
    const r = await createClassifier(provider()).classify(ask(['good', 'bad'], { idea: 'kites' }));
    expect(r.label).toBe('good');
    const format = server.requests[0].body.response_format!;
    expect(format.type).toBe('json_schema');
    expect(format.json_schema?.strict).toBe(true);
    const props = format.json_schema!.schema.properties as Record<
      string,
      { enum?: string[]; anyOf?: unknown[]; type?: unknown }
    >;
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
    await expect(
      provider({ maxRetries: 1 }).generate({ messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({ code: 'E_LLM' });
  });

  it('a response slower than the timeout is an error after the retries', async () => {
    server.faults.push({ kind: 'slow', ms: 1500 }, { kind: 'slow', ms: 1500 });
    const err = await provider({ timeoutMs: 150, maxRetries: 1 })
      .generate({ messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
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
    await expect(createClassifier(provider()).classify(ask(['good', 'bad'], 'x'))).rejects.toThrow(
      /classifier answered "perhaps", not one of good, bad, twice/,
    );
  });

  it('a workflow labels through the classifier, with llm.call events and usage per task and run', async () => {
    const events: RunEvent[] = [];
    const llm = provider({ model: 'gpt-4o-mini' });
    const result = await runWorkflow(
      [
        {
          id: 'idea',
          tool: 'echo',
          input: { value: { idea: 'solar kites' } },
          classify: { labels: ['good', 'bad'], prompt: 'Is it good?' },
        },
        { id: 'yes', tool: 'echo', input: { value: 1 }, condition: { depends_on: 'idea', if_result: 'good' } },
      ],
      { llm, onEvent: (e) => events.push(e) },
    );
    expect(result.tasks.idea).toMatchObject({
      label: 'good',
      labelSource: 'classifier',
      labelReason: 'loopback answer',
    });
    const call = events.find((e) => e.type === 'llm.call');
    expect(call).toMatchObject({ taskId: 'idea', provider: 'openai', model: 'gpt-4o-mini', purpose: 'classify' });
    expect(result.tasks.idea.usage?.totalTokens).toBeGreaterThan(0);
    expect(result.tasks.idea.usage?.costUsd).toBeGreaterThan(0);
    expect(result.usage).toEqual(result.tasks.idea.usage);
    expect(server.requests[0].body.messages.at(-1)?.content).toContain('Is it good?');
  });

  it("classifier calls count toward their task when it gives up too, and toward the run's budget", async () => {
    server.faults.push({ kind: 'label', label: 'maybe' }, { kind: 'label', label: 'perhaps' });
    const events: RunEvent[] = [];
    const failed = await runWorkflow(
      [{ id: 'idea', tool: 'echo', input: { value: 'x' }, classify: { labels: ['good', 'bad'] } }],
      { llm: provider({ model: 'gpt-4o-mini' }), onEvent: (e) => events.push(e) },
    );
    expect(failed.tasks.idea).toMatchObject({ status: 'failed', error: { code: 'E_LABEL' } });
    const calls = events.filter((e) => e.type === 'llm.call') as Extract<RunEvent, { type: 'llm.call' }>[];
    expect(calls).toHaveLength(2);
    expect(failed.tasks.idea.usage?.totalTokens).toBe(calls[0].usage.totalTokens + calls[1].usage.totalTokens);

    const sent = server.requests.length;
    const capped = await runWorkflow(
      [
        { id: 'idea', tool: 'echo', input: { value: 'x' }, classify: { labels: ['good', 'bad'] } },
        { id: 'next', tool: 'echo', input: { value: 1 }, dependencies: ['idea'] },
      ],
      { llm: provider({ model: 'gpt-4o-mini' }), budget: { max_tokens: 10 } },
    );
    expect(capped.status).toBe('failed');
    expect(capped.error).toMatchObject({
      code: 'E_BUDGET',
      // Its first classifier call's worst case cannot fit: it is not sent.
      message: expect.stringMatching(/^budget exceeded: max_tokens 10 cannot hold the next model call \(worst case/),
    });
    expect(capped.tasks.next.reason).toBe('budget_exceeded');
    expect(server.requests.length).toBe(sent);
  });

  it('structured output is strict: optional fields go required and nullable, and a null comes back as the default', async () => {
    const schema = z.object({
      title: z.string(),
      tags: z.array(z.string()).default([]),
      tone: z.enum(['plain', 'warm']).optional(),
    });
    server.replies.push({ content: JSON.stringify({ title: 'kites', tags: null, tone: null }) });
    const r = await provider().generate({
      messages: [{ role: 'user', content: 'note' }],
      schema: { name: 'note', schema },
    });
    expect(r.object).toEqual({ title: 'kites', tags: [] });
    expect(server.requests[0].body.response_format?.json_schema).toMatchObject({
      name: 'note',
      strict: true,
      schema: { required: ['title', 'tags', 'tone'], additionalProperties: false },
    });
  });

  it('a schema strict mode cannot express goes with strict: false, and the answer is still validated', async () => {
    const schema = z.object({ counts: z.record(z.string(), z.number()) });
    server.replies.push(
      { content: JSON.stringify({ counts: { a: 1 } }) },
      { content: JSON.stringify({ counts: { a: 'one' } }) },
    );
    const ask = () =>
      provider().generate({ messages: [{ role: 'user', content: 'count' }], schema: { name: 'counts', schema } });
    expect((await ask()).object).toEqual({ counts: { a: 1 } });
    expect(server.requests[0].body.response_format?.json_schema?.strict).toBe(false);
    await expect(ask()).rejects.toThrow(/answer does not match the schema: counts\.a/);
  });

  it('function tools are strict and their arguments come back without the nulls', async () => {
    server.replies.push({ toolCalls: [{ name: 'greet', arguments: { name: 'Ada', greeting: null } }] });
    const parameters = {
      type: 'object',
      properties: { name: { type: 'string' }, greeting: { type: 'string', default: 'hello' } },
      required: ['name'],
    };
    const r = await provider().generate({
      messages: [{ role: 'user', content: 'greet Ada' }],
      tools: [{ name: 'greet', description: 'Greet someone', parameters }],
    });
    expect(r.toolCalls[0].arguments).toEqual({ name: 'Ada' });
    expect(server.requests[0].body.tools?.[0].function).toMatchObject({
      strict: true,
      parameters: { required: ['name', 'greeting'], additionalProperties: false },
    });
  });

  it('a request the API refuses (400) is not retried, and the error says what the API said', async () => {
    const err = await provider()
      .generate({
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ name: 'bad name', description: 'x', parameters: { type: 'object', properties: {} } }],
      })
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'E_LLM', retryable: false });
    expect(err.message).toMatch(
      /^openai loopback-model: HTTP 400: Invalid 'tools\[0\]\.function\.name': string does not match pattern/,
    );
    expect(server.requests).toHaveLength(1);
    server.rejected.length = 0; // refused on purpose
  });
});

describe('provider faults: every call ends within its deadline, with an error that says why', () => {
  let server: LoopbackServer;
  beforeAll(async () => (server = await startLoopbackServer()));
  afterAll(() => server.close());
  beforeEach(() => server.reset());
  const provider = (opts: Record<string, unknown> = {}) =>
    new OpenAIProvider({ apiKey: 'k', baseURL: server.url, model: 'loopback-model', ...opts });
  const hello = { messages: [{ role: 'user' as const, content: 'hello' }] };
  const timed = async (p: Promise<unknown>) => {
    const t0 = Date.now();
    const error = await p.then(
      () => undefined,
      (e: Error & { code?: string; retryable?: boolean }) => e,
    );
    return { error, ms: Date.now() - t0 };
  };

  it('a hanging server: each attempt ends at its deadline, then E_LLM (timed out)', async () => {
    server.faults.push({ kind: 'hang' }, { kind: 'hang' });
    const { error, ms } = await timed(provider({ timeoutMs: 300, maxRetries: 1 }).generate(hello));
    expect(error).toMatchObject({ code: 'E_LLM' });
    expect(error?.message).toMatch(
      /no complete answer within 300 ms \(BRAID_LLM_TIMEOUT_MS, the whole response\), 2 attempts; timed out/,
    );
    expect(server.requests).toHaveLength(2);
    expect(ms).toBeLessThan(2500);
  });

  it('a dripping body counts against the deadline: headers in time do not reset it', async () => {
    server.faults.push({ kind: 'drip', everyMs: 20 });
    const { error, ms } = await timed(provider({ timeoutMs: 400, maxRetries: 0 }).generate(hello));
    expect(error?.message).toMatch(/no complete answer within 400 ms/);
    expect(ms).toBeGreaterThanOrEqual(380);
    expect(ms).toBeLessThan(1500);
  });

  it('a 429 asking for an hour fails at once with E_RATE_LIMIT, saying how long it asked for', async () => {
    server.faults.push({ kind: '429', retryAfterSeconds: 3600 });
    const { error, ms } = await timed(provider().generate(hello));
    expect(error).toMatchObject({ code: 'E_RATE_LIMIT', retryable: false });
    expect(error?.message).toMatch(
      /rate limited \(HTTP 429: Rate limit reached for requests\); the server asked to wait 3600 s before retrying, more than braid waits \(60 s, BRAID_LLM_MAX_RETRY_AFTER_MS\)/,
    );
    expect(server.requests).toHaveLength(1);
    expect(ms).toBeLessThan(1000);
  });

  it('retry-after-ms is honoured within the cap; a 429 that persists ends as E_RATE_LIMIT', async () => {
    server.faults.push({ kind: '429', retryAfterSeconds: 0.3, header: 'retry-after-ms' });
    expect((await timed(provider().generate(hello))).error).toBeUndefined();
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(280);
    server.reset();
    server.faults.push({ kind: '429', retryAfterSeconds: 0.05 }, { kind: '429', retryAfterSeconds: 0.05 });
    const { error } = await timed(provider({ maxRetries: 1 }).generate(hello));
    expect(error).toMatchObject({
      code: 'E_RATE_LIMIT',
      retryable: true,
      message: expect.stringMatching(/rate limited \(HTTP 429: .*\), 2 attempts/),
    });
  });

  it('a 200 that is not a chat completion (an HTML page, another JSON) is E_LLM_RESPONSE and not retried', async () => {
    server.faults.push({ kind: 'html' });
    const html = await timed(provider().generate(hello));
    expect(html.error).toMatchObject({ code: 'E_LLM_RESPONSE', retryable: false });
    expect(html.error?.message).toMatch(
      /is not a chat completion \(HTTP 200, text\/html; charset=utf-8\): <!doctype html>.*; check OPENAI_BASE_URL/,
    );
    expect(server.requests).toHaveLength(1);
    server.faults.push({ kind: 'not-completion' });
    const other = await timed(provider().generate(hello));
    expect(other.error).toMatchObject({ code: 'E_LLM_RESPONSE' });
    expect(other.error?.message).toContain('{"object":"list","data":[]}');
  });

  it('an abort ends the call at once: during a retry-after wait, during a stalled response, while queued', async () => {
    for (const fault of [{ kind: '429', retryAfterSeconds: 30 }, { kind: 'hang' }] as const) {
      server.faults.push(fault);
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('stop now')), 200);
      const { error, ms } = await timed(provider().generate({ ...hello, signal: controller.signal }));
      expect(error?.message).toBe('stop now');
      expect(ms).toBeLessThan(800);
    }
    server.faults.push({ kind: 'hang' });
    const one = provider({ concurrency: 1, timeoutMs: 1000, maxRetries: 0 });
    const first = timed(one.generate(hello));
    const controller = new AbortController();
    const second = timed(one.generate({ ...hello, signal: controller.signal }));
    setTimeout(() => controller.abort(new Error('left the queue')), 100);
    expect((await second).error?.message).toBe('left the queue');
    expect((await second).ms).toBeLessThan(500);
    expect((await first).error?.message).toMatch(/timed out/);
  });
});

describe('provider limits', () => {
  let server: LoopbackServer;
  beforeAll(async () => (server = await startLoopbackServer()));
  afterAll(() => server.close());
  beforeEach(() => server.reset());
  const hello = { messages: [{ role: 'user' as const, content: 'hello' }] };

  it('at most `concurrency` requests in flight; BRAID_LLM_CONCURRENCY sets the default; a bad value is a clear error', async () => {
    server.latencyMs = 150;
    const three = new OpenAIProvider({ apiKey: 'k', baseURL: server.url, concurrency: 3 });
    await Promise.all(Array.from({ length: 9 }, () => three.generate(hello)));
    expect(server.stats.maxInFlight).toBe(3);
    server.reset();
    server.latencyMs = 150;
    process.env.BRAID_LLM_CONCURRENCY = '10';
    try {
      const ten = new OpenAIProvider({ apiKey: 'k', baseURL: server.url });
      expect(ten.concurrency).toBe(10);
      await Promise.all(Array.from({ length: 12 }, () => ten.generate(hello)));
      expect(server.stats.maxInFlight).toBe(10);
      process.env.BRAID_LLM_CONCURRENCY = 'lots';
      expect(() => new OpenAIProvider({ apiKey: 'k', baseURL: server.url })).toThrow(
        'BRAID_LLM_CONCURRENCY must be an integer of at least 1, got "lots"',
      );
    } finally {
      delete process.env.BRAID_LLM_CONCURRENCY;
    }
    expect(new OpenAIProvider({ apiKey: 'k' }).concurrency).toBe(8);
  });

  it('createProvider shares one provider (one queue) per configuration across runs', () => {
    process.env.OPENAI_API_KEY = 'k';
    process.env.OPENAI_BASE_URL = server.url;
    try {
      expect(createProvider()).toBe(createProvider());
      expect(createProvider({ concurrency: 3 })).toBe(createProvider({ concurrency: 3 }));
      expect(createProvider({ concurrency: 3 })).not.toBe(createProvider());
    } finally {
      process.env.OPENAI_API_KEY = '';
      process.env.OPENAI_BASE_URL = '';
    }
  });
});

describe('the loopback server refuses what the real API refuses', () => {
  let server: LoopbackServer;
  beforeAll(async () => (server = await startLoopbackServer()));
  afterAll(() => server.close());
  const post = async (body: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], ...body }),
    });
    return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
  };
  const ideaInput = z.object({ topic: z.string(), audience: z.string().default('everyone') });

  it("a strict schema as z.toJSONSchema emits it (no additionalProperties: false, defaults not required): the API's 400 body", async () => {
    const raw = z.toJSONSchema(ideaInput, { io: 'input' });
    const r = await post({
      response_format: { type: 'json_schema', json_schema: { name: 'idea', schema: raw, strict: true } },
    });
    expect(r).toEqual({
      status: 400,
      body: {
        error: {
          message:
            "Invalid schema for response_format 'idea': In context=(), 'additionalProperties' is required to be supplied and to be false.",
          type: 'invalid_request_error',
          param: 'response_format',
          code: 'invalid_json_schema',
        },
      },
    });
    const closed = await post({
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'idea', schema: { ...raw, additionalProperties: false }, strict: true },
      },
    });
    expect(closed.body.error.message).toMatch(
      /'required' is required to be supplied and to be an array including every key in properties\. Missing 'audience'\./,
    );
    const sent = await post({
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'idea', schema: modelSchema(ideaInput).schema, strict: true },
      },
    });
    expect(sent.status).toBe(200);
  });

  it('strict function parameters, unknown parameters, tool messages out of order', async () => {
    const fn = await post({
      tools: [
        {
          type: 'function',
          function: {
            name: 'tag',
            parameters: z.toJSONSchema(z.object({ tags: z.record(z.string(), z.string()) })),
            strict: true,
          },
        },
      ],
    });
    expect(fn.body.error).toMatchObject({
      param: 'tools[0].function.parameters',
      code: 'invalid_function_parameters',
      message: expect.stringMatching(/^Invalid schema for function 'tag': /),
    });
    expect((await post({ strict: true })).body.error.message).toBe('Unrecognized request argument supplied: strict');
    const orphan = await post({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', tool_call_id: 'call_1', content: '{}' },
      ],
    });
    expect(orphan.body.error.message).toMatch(
      /messages with role 'tool' must be a response to a preceeding message with 'tool_calls'/,
    );
    const unanswered = await post({
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'user', content: 'y' },
      ],
    });
    expect(unanswered.body.error.message).toMatch(/The following tool_call_ids did not have response messages: call_1/);
  });
});

describe('offline templates are honest', () => {
  it('no offline answer template carries words of its own that move the offline score', () => {
    for (const p of loadAllPrompts()) {
      if (!p.offline) continue;
      const own =
        p.offline
          .replace(/\{\{\s*\w+\s*\}\}/g, ' ')
          .toLowerCase()
          .match(/[a-z]+/g) ?? [];
      expect(
        own.filter((w) => SCORE_WORDS.positive.includes(w) || SCORE_WORDS.negative.includes(w)),
        `prompts/${p.name}.md`,
      ).toEqual([]);
    }
  });
});
