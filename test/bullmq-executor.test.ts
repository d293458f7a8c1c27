/**
 * The BullMQ executor against a real redis-server: the attempt executor contract (with a worker in this
 * process), a workflow run through it giving the same result as in process, ctx reports crossing back,
 * deterministic job ids, and cancellation reaching a running tool.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineTool,
  runWorkflow,
  type AttemptExecutor,
  type AttemptHost,
  type AttemptRequest,
  type RunEvent,
} from '../src/index.js';
import type { LlmProvider } from '../src/llm/types.js';
import { OfflineProvider } from '../src/llm/offline.js';
import { BullmqExecutor } from '../src/executors/bullmq-executor.js';
import { BraidWorker } from '../src/executors/bullmq-worker.js';
import { contractTools, executorContract } from './support/executor-contract.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';
import { recorder } from './support/tools.js';

if (!hasRedis) console.log(SKIP_REDIS);

let redis: TestRedis;
const opened: { close(): Promise<void> }[] = [];

/** An executor and a worker of its own (a fresh key prefix: job ids repeat across the contract's tests). */
function pair(
  tools = Object.values(contractTools),
  llm?: LlmProvider,
): { executor: BullmqExecutor; worker: BraidWorker } {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const executor = new BullmqExecutor({ redis: redis.url, prefix });
  prefixes.set(executor, prefix);
  const worker = new BraidWorker({ redis: redis.url, prefix, tools, llm });
  opened.push(executor, { close: () => worker.close(1000) });
  return { executor, worker };
}

/** Sends once its worker listens. */
class Paired implements AttemptExecutor {
  readonly #pair = pair();
  readonly #ready = this.#pair.worker.start();
  async execute(request: AttemptRequest, host: AttemptHost) {
    await this.#ready;
    return this.#pair.executor.execute(request, host);
  }
  cancel(runId: string, reason: Error) {
    this.#pair.executor.cancel(runId, reason);
  }
}

describe.skipIf(!hasRedis)('BullMQ executor (real redis-server)', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(opened.map((o) => o.close()));
    await redis?.stop();
  });

  executorContract('BullmqExecutor + BraidWorker', () => new Paired());

  it('runs a workflow with the same statuses, outputs, attempts and events as in process', async () => {
    const flow = {
      name: 'dist',
      tasks: [
        { id: 'a', tool: 'work', input: { ms: 1 } },
        { id: 'b', tool: 'work', input: { ms: 1, fail: true }, dependencies: ['a'], retries: 1 },
        { id: 'c', tool: 'work', input: { ms: 5 }, dependencies: ['b'], trigger_rule: 'all_done' },
        { id: 'd', tool: 'work', input: { ms: 1 }, dependencies: ['a'] },
      ],
    };
    const shape = async (executor?: AttemptExecutor) => {
      const events: string[] = [];
      const r = await runWorkflow(flow, {
        tools: recorder().tools,
        executor,
        store: false,
        retry: { baseDelayMs: 1 },
        onEvent: (e) => void (e.type.startsWith('task.') && events.push(`${e.type} ${'taskId' in e ? e.taskId : ''}`)),
      });
      const tasks = Object.entries(r.tasks).map(([id, t]) => [id, t.status, t.attempts, t.output]);
      return { status: r.status, tasks, events: events.sort() };
    };
    const { executor, worker } = pair(recorder().tools);
    await worker.start();
    expect(await shape(executor)).toEqual(await shape());
  });

  it('brings a tool’s logs, progress and model calls back as the run’s events, in order, with their usage', async () => {
    const talk = defineTool({
      name: 'talk',
      input: z.object({}),
      run: async (_, ctx) => {
        ctx.logger.info('one', { k: 1 });
        ctx.emit({ message: 'half', progress: 0.5 });
        await ctx.llm!.generate({ messages: [{ role: 'user', content: 'hi' }], purpose: 'test' });
        ctx.logger.warn('two');
        return { ok: true };
      },
    });
    const { executor, worker } = pair([talk], new OfflineProvider());
    await worker.start();
    const events: RunEvent[] = [];
    const r = await runWorkflow(
      { tasks: [{ id: 't', tool: 'talk' }] },
      { tools: [talk], executor, store: false, onEvent: (e) => void events.push(e) },
    );
    expect(r.status).toBe('succeeded');
    const mine = events.filter((e) => 'taskId' in e && e.taskId === 't');
    expect(mine.map((e) => e.type)).toEqual([
      'task.ready',
      'task.started',
      'task.log',
      'task.progress',
      'llm.call',
      'task.log',
      'task.succeeded',
    ]);
    // The start names the worker process that ran the attempt.
    expect(mine[1]).toMatchObject({ worker: `${hostname()}:${process.pid}` });
    expect(mine[2]).toMatchObject({ level: 'info', message: 'one', fields: { k: 1 } });
    expect(mine[3]).toMatchObject({ message: 'half', progress: 0.5 });
    expect(r.tasks.t.usage?.totalTokens).toBeGreaterThan(0);
  });

  it('holds the run’s concurrency in the coordinator, whatever the workers could take', async () => {
    let running = 0;
    let most = 0;
    const busy = defineTool({
      name: 'busy',
      input: z.object({}),
      run: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return {};
      },
    });
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const executor = new BullmqExecutor({ redis: redis.url, prefix, concurrency: 2 });
    const worker = new BraidWorker({ redis: redis.url, prefix, tools: [busy], concurrency: 8 });
    opened.push(executor, { close: () => worker.close(1000) });
    await worker.start();
    const tasks = Array.from({ length: 8 }, (_, i) => ({ id: `b${i}`, tool: 'busy' }));
    const r = await runWorkflow({ tasks }, { tools: [busy], executor, store: false });
    expect(r.status).toBe('succeeded');
    expect(most).toBe(2);
  });

  it('runs a tool marked runsInProcess in the run’s process, the others on the worker', async () => {
    const here = defineTool({
      name: 'here',
      input: z.object({}),
      runsInProcess: true,
      run: () => ({ pid: process.pid }),
    });
    const there = defineTool({ name: 'there', input: z.object({}), run: () => ({ pid: process.pid }) });
    const { executor, worker } = pair([there]); // the worker does not even know `here`
    await worker.start();
    const events: RunEvent[] = [];
    const r = await runWorkflow(
      {
        tasks: [
          { id: 'a', tool: 'here' },
          { id: 'b', tool: 'there', dependencies: ['a'] },
        ],
      },
      { tools: [here, there], executor, store: false, onEvent: (e) => void events.push(e) },
    );
    expect(r.status).toBe('succeeded');
    const started = events.filter((e) => e.type === 'task.started');
    expect(started.map((e) => [e.taskId, 'worker' in e && Boolean(e.worker)])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  it('says once per queue when no worker listens; the attempts wait for one', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const told: string[] = [];
    const executor = new BullmqExecutor({ redis: redis.url, prefix, onNoWorker: (q) => void told.push(q) });
    opened.push(executor);
    const controller = new AbortController();
    const tool = Object.values(contractTools)[0];
    const run = runWorkflow(
      { tasks: [0, 1, 2].map((i) => ({ id: `t${i}`, tool: tool.name, input: { n: i } })) },
      { tools: [tool], executor, store: false, signal: controller.signal },
    );
    await until(() => told.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(told).toEqual(['attempts']);
    controller.abort();
    expect((await run).status).toBe('cancelled');
  });

  it('sends each attempt as one job whose id is its coordinates; a tool running in a worker is cancelled with the run', async () => {
    let started = 0;
    let aborted = 0;
    const hang = defineTool({
      name: 'hang',
      input: z.object({}),
      run: (_, ctx) =>
        new Promise((resolve) => {
          started++;
          ctx.signal.addEventListener('abort', () => (aborted++, resolve('stopped')));
        }),
    });
    const { executor, worker } = pair([hang]);
    await worker.start();
    const controller = new AbortController();
    const run = runWorkflow(
      { tasks: [{ id: 'h', tool: 'hang' }] },
      { tools: [hang], executor, store: false, signal: controller.signal },
    );
    await until(() => started === 1);
    controller.abort();
    const r = await run;
    expect(r.status).toBe('cancelled');
    await until(() => aborted === 1);
    const { Queue } = await import('bullmq');
    const queue = new Queue('attempts', { connection: { url: redis.url }, prefix: prefixOf(executor) });
    const job = await queue.getJob(`${r.runId}|h|1|1`);
    await queue.close();
    // The job carries the request as sealed JSON text (its MAC binds it to this queue and job id).
    expect(JSON.parse((job?.data as { body: string }).body)).toMatchObject({
      runId: r.runId,
      taskId: 'h',
      visit: 1,
      attempt: 1,
      tool: 'hang',
    });
    expect((job?.data as { mac: string }).mac).toMatch(/^[0-9a-f]{64}$/);
  });
});

const prefixes = new WeakMap<BullmqExecutor, string>();
const prefixOf = (e: BullmqExecutor) => prefixes.get(e)!;

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
