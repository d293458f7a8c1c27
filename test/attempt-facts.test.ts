/**
 * What a record keeps of each attempt beyond its input (issue 31, workflow-spec.md §7a): the model calls its tool made
 * (each naming the attempt, its prompt file and a hash of the request), the versions of the tools a run calls, and
 * usage that adds up per attempt. A tool that ran in a worker reports its calls in its result too, so a coordinator
 * that did not hear its reports (it took the run over, or was away) still counts every call once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunEvent } from '../src/core/events.js';
import type { AttemptExecutor, AttemptHost, AttemptRequest, AttemptResult } from '../src/executors/contract.js';
import { Queue } from 'bullmq';
import { BullmqExecutor } from '../src/executors/bullmq-executor.js';
import { connectionOf, jobIdOf, queueOf } from '../src/executors/bullmq-wire.js';
import { BraidWorker } from '../src/executors/bullmq-worker.js';
import { resumeRun, runWorkflow } from '../src/engine/run.js';
import { OfflineProvider } from '../src/llm/offline.js';
import type { LlmCallInfo } from '../src/llm/types.js';
import { foldRun } from '../src/store/fold.js';
import { MemoryRunStore } from '../src/store/memory-store.js';
import { RECORD_VERSION } from '../src/store/types.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { toolVersion } from '../src/toolkit/version.js';
import { builtinTools } from '../tools/index.js';
import { hasRedis, startRedis, type TestRedis } from './support/redis.js';

/** A tool that asks the model twice, the second time at temperature 0. */
const twice = defineTool({
  name: 'twice',
  input: z.object({ topic: z.string() }),
  async run({ topic }, ctx) {
    await ctx.llm!.generate({ messages: [{ role: 'user', content: `one on ${topic}` }], purpose: 'first' });
    await ctx.llm!.generate({
      messages: [{ role: 'user', content: `two on ${topic}` }],
      purpose: 'second',
      temperature: 0,
    });
    return { ok: true };
  },
});

const calls = (events: readonly RunEvent[]) =>
  events.filter((e): e is Extract<RunEvent, { type: 'llm.call' }> => e.type === 'llm.call');

describe('the facts of an attempt, in process', () => {
  it('each model call names its attempt, prompt file and request; the run names the versions of its tools', async () => {
    const store = new MemoryRunStore();
    const idea = builtinTools().find((t) => t.name === 'llm_generate_idea')!;
    const versioned = defineTool({
      name: 'versioned',
      version: '2.1.0',
      input: z.object({}),
      run: () => ({ done: true }),
    });
    const r = await runWorkflow(
      {
        name: 'facts',
        tasks: [
          { id: 'idea', tool: 'llm_generate_idea', input: { topic: 'tea' } },
          { id: 'ask', tool: 'twice', input: { topic: 'tea' }, retries: 1 },
          { id: 'v', tool: 'versioned' },
        ],
      },
      { tools: [idea, twice, versioned], llm: new OfflineProvider(), store, onEvent: () => {} },
    );
    expect(r.status).toBe('succeeded');
    const record = await store.read(r.runId);
    expect(record.header?.version).toBe(RECORD_VERSION);
    const started = record.events.find((e) => e.type === 'run.started');
    expect(started).toMatchObject({
      tools: { versioned: '2.1.0', twice: toolVersion(twice), llm_generate_idea: toolVersion(idea) },
    });
    expect(toolVersion(twice)).toMatch(/^code:[0-9a-f]{16}$/);

    const [fromPrompt, first, second] = calls(record.events);
    expect(fromPrompt).toMatchObject({ taskId: 'idea', visit: 1, attempt: 1, purpose: 'llm_generate_idea' });
    expect(fromPrompt.prompt).toEqual({ name: 'generate-idea', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(first).toMatchObject({ taskId: 'ask', visit: 1, attempt: 1, purpose: 'first' });
    expect(first.temperature).toBeUndefined();
    expect(second).toMatchObject({ taskId: 'ask', visit: 1, attempt: 1, purpose: 'second', temperature: 0 });
    // One hash of what the model was asked: another message, another hash.
    for (const c of [fromPrompt, first, second]) expect(c.requestHash).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set([fromPrompt, first, second].map((c) => c.requestHash)).size).toBe(3);

    // An attempt's usage is the sum of its calls, and the task's the sum of its attempts'.
    const ask = r.tasks.ask;
    expect(ask.history).toHaveLength(1);
    expect(ask.history![0].usage?.totalTokens).toBe(first.usage.totalTokens + second.usage.totalTokens);
    expect(ask.usage?.totalTokens).toBe(ask.history![0].usage?.totalTokens);
  });

  it('asking the same thing twice gives the same request hash, in another run too', async () => {
    const seen: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const store = new MemoryRunStore();
      const r = await runWorkflow([{ id: 'ask', tool: 'twice', input: { topic: 'coffee' } }], {
        tools: [twice],
        llm: new OfflineProvider(),
        store,
        onEvent: () => {},
      });
      seen.push(calls((await store.read(r.runId)).events).map((c) => c.requestHash!));
    }
    expect(seen[0]).toEqual(seen[1]);
  });
  it('a label decided by the classifier records the candidates it chose from; its call names no attempt', async () => {
    const store = new MemoryRunStore();
    const idea = builtinTools().find((t) => t.name === 'llm_generate_idea')!;
    const r = await runWorkflow(
      {
        name: 'judged',
        tasks: [
          { id: 'idea', tool: 'llm_generate_idea', input: { topic: 'rooftop gardens' }, classify: { labels: ['meh'] } },
          { id: 'yes', tool: 'echo', input: { value: 1 }, condition: { depends_on: 'idea', if_result: 'good' } },
          { id: 'no', tool: 'echo', input: { value: 0 }, condition: { depends_on: 'idea', if_result: 'bad' } },
        ],
      },
      { tools: [idea, ...builtinTools().filter((t) => t.name === 'echo')], llm: new OfflineProvider(), store },
    );
    expect(r.status).toBe('succeeded');
    const { events } = await store.read(r.runId);
    const labeled = events.find((e) => e.type === 'task.labeled');
    expect(labeled).toMatchObject({ taskId: 'idea', source: 'classifier' });
    expect([...((labeled as { candidates?: readonly string[] }).candidates ?? [])].sort()).toEqual([
      'bad',
      'good',
      'meh',
    ]);
    const [tool, classify] = calls(events);
    expect(tool).toMatchObject({ taskId: 'idea', attempt: 1, visit: 1 });
    expect(classify).toMatchObject({ taskId: 'idea', purpose: 'classify' });
    expect(classify).not.toHaveProperty('attempt');
  });
});

/** An executor whose tool ran elsewhere and whose reports never arrived: only its result tells of the calls. */
class Unheard implements AttemptExecutor {
  constructor(readonly made: readonly LlmCallInfo[]) {}
  async execute(_request: AttemptRequest, host: AttemptHost): Promise<AttemptResult> {
    if (!host.started('elsewhere:1')) return { status: 'cancelled' };
    return {
      status: 'succeeded',
      output: { ok: true },
      durationMs: 1,
      endedAt: new Date().toISOString(),
      calls: this.made,
    };
  }
  cancel(): void {}
}

const call = (purpose: string, tokens: number): LlmCallInfo => ({
  provider: 'offline',
  model: 'offline',
  purpose,
  latencyMs: 1,
  usage: { promptTokens: tokens, completionTokens: 0, totalTokens: tokens },
});

describe('calls a coordinator did not hear', () => {
  it('are recorded from the attempt’s result, each once, when its reports were lost', async () => {
    const store = new MemoryRunStore();
    const r = await runWorkflow([{ id: 'ask', tool: 'twice', input: { topic: 'x' } }], {
      tools: [twice],
      executor: new Unheard([call('first', 3), call('second', 4)]),
      store,
      onEvent: () => {},
    });
    expect(r.status).toBe('succeeded');
    const recorded = calls((await store.read(r.runId)).events);
    expect(recorded.map((c) => [c.purpose, c.attempt, c.usage.totalTokens])).toEqual([
      ['first', 1, 3],
      ['second', 1, 4],
    ]);
    expect(r.tasks.ask.usage?.totalTokens).toBe(7);
    expect(r.usage?.totalTokens).toBe(7);
  });

  it('after a takeover, only the calls the record does not hold yet are added', async () => {
    const store = new MemoryRunStore();
    const runId = 'taken-over';
    // The first coordinator recorded the attempt's start and its first call, then died.
    const log = await store.create({
      type: 'run.record',
      version: RECORD_VERSION,
      runId,
      createdAt: new Date().toISOString(),
      workflow: { name: 'w', tasks: [{ id: 'ask', tool: 'twice', input: { topic: 'x' } }] } as never,
      input: {},
      pid: 4_194_305,
    });
    const ts = new Date().toISOString();
    const body: Record<string, unknown>[] = [
      { type: 'run.started', workflow: 'w', tasks: 1, input: {} },
      { type: 'task.ready', taskId: 'ask', visit: 1 },
      { type: 'task.started', taskId: 'ask', tool: 'twice', attempt: 1, visit: 1 },
      {
        type: 'llm.call',
        taskId: 'ask',
        visit: 1,
        attempt: 1,
        ...call('first', 3),
        usage: { ...call('first', 3).usage, costUsd: null },
      },
    ];
    body.forEach((e, i) => log.append({ ...e, ts, runId, seq: i + 1 } as RunEvent));
    await log.close();

    const r = await resumeRun(runId, {
      store,
      tools: [twice],
      executor: new Unheard([call('first', 3), call('second', 4)]),
      onEvent: () => {},
    });
    expect(r.status).toBe('succeeded');
    const record = await store.read(runId);
    expect(calls(record.events).map((c) => c.purpose)).toEqual(['first', 'second']);
    expect(foldRun(record).tasks.ask.usage?.totalTokens).toBe(7);
  });
});

describe.skipIf(!hasRedis)('a worker’s calls travel in its result (real redis-server)', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a coordinator that was away while the attempt ran counts the calls it never heard', async () => {
    const prefix = `f${randomUUID().slice(0, 8)}`;
    const runId = `away-${randomUUID().slice(0, 8)}`;
    // The first coordinator sends the attempt and goes away before any worker takes it.
    const first = new BullmqExecutor({ redis: redis.url, prefix });
    const request: AttemptRequest = {
      runId,
      taskId: 'ask',
      visit: 1,
      attempt: 1,
      tool: 'twice',
      input: { topic: 'x' },
    };
    const host: AttemptHost = {
      tool: () => twice,
      started: () => true,
      context: () => {
        throw new Error('not in this process');
      },
      signal: new AbortController().signal,
      forward: () => {},
    };
    void first.execute(request, host);
    await new Promise((r) => setTimeout(r, 300));
    await first.close();
    // A worker runs it while no coordinator listens.
    const worker = new BraidWorker({ redis: redis.url, prefix, tools: [twice], llm: new OfflineProvider() });
    await worker.start();
    const executor = new BullmqExecutor({ redis: redis.url, prefix });
    try {
      // Wait for the job to end, then let the coordinator that takes the run over find it done.
      const queue = new Queue(queueOf(twice), { connection: connectionOf(redis.url), prefix });
      for (let i = 0; i < 100 && (await queue.getJobState(jobIdOf(request))) !== 'completed'; i++)
        await new Promise((r) => setTimeout(r, 50));
      await queue.close();
      const store = new MemoryRunStore();
      const r = await runWorkflow([{ id: 'ask', tool: 'twice', input: { topic: 'x' } }], {
        runId,
        tools: [twice],
        executor,
        store,
        onEvent: () => {},
      });
      expect(r.status).toBe('succeeded');
      const recorded = calls((await store.read(runId)).events);
      expect(recorded.map((c) => [c.purpose, c.attempt])).toEqual([
        ['first', 1],
        ['second', 1],
      ]);
      expect(r.tasks.ask.usage?.totalTokens).toBeGreaterThan(0);
      expect(r.tasks.ask.history![0].usage).toEqual(r.tasks.ask.usage);
    } finally {
      await executor.close();
      await worker.close(1000);
    }
  });
});
