/**
 * `braid worker`'s side of the BullMQ executor against a real redis-server: the `ctx` a tool gets there (the
 * attempt's coordinates and idempotency key, its logs at each level, progress), a job for a tool the worker does not
 * have, a tool's limits set as the queue's global ones, data written into Redis that is not a job, the `onAttempt`
 * report, and a close that does not wait for ever on a tool.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunEvent } from '../src/core/events.js';
import { runWorkflow } from '../src/engine/run.js';
import { BullmqExecutor } from '../src/executors/bullmq-executor.js';
import { BraidWorker, type BraidWorkerOptions } from '../src/executors/bullmq-worker.js';
import type { Tool } from '../src/tools/types.js';
import { connectionOf, Seal } from '../src/executors/bullmq-wire.js';
import type { AttemptHost, AttemptRequest, AttemptResult } from '../src/executors/contract.js';
import { defineTool } from '../src/tools/define-tool.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';

if (!hasRedis) console.log(SKIP_REDIS);

let redis: TestRedis;
/** A plain connection, to read and write Redis as another program would. */
let raw: Redis;
const opened: { close(): Promise<void> }[] = [];
const SECRET = 'worker tests';

const introspect = defineTool({
  name: 'introspect',
  input: z.object({ n: z.number() }),
  run: async ({ n }, ctx) => {
    ctx.logger.debug('d', { n });
    ctx.logger.info('i');
    ctx.logger.warn('w');
    ctx.logger.error('e');
    ctx.emit({ message: 'half', progress: 0.5 });
    const { runId, taskId, attempt, visit, idempotencyKey } = ctx;
    return { runId, taskId, attempt, visit, idempotencyKey, n };
  },
});

function pair(tools: Tool[], more: Partial<BraidWorkerOptions> = {}) {
  const prefix = `w${randomUUID().slice(0, 8)}`;
  const executor = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET });
  const worker = new BraidWorker({
    redis: redis.url,
    prefix,
    secret: SECRET,
    tools,
    ...more,
  });
  opened.push(executor, { close: () => worker.close(500) });
  return { executor, worker, prefix };
}

describe.skipIf(!hasRedis)('the worker side (real redis-server)', () => {
  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    await Promise.all(opened.map((o) => o.close().catch(() => {})));
    raw?.disconnect();
    await redis?.stop();
  });

  it('a tool in a worker gets the attempt’s coordinates and key; its logs keep their level; onAttempt hears each end', async () => {
    const ended: [AttemptRequest, AttemptResult][] = [];
    const { executor, worker } = pair([introspect], {
      onAttempt: (q: AttemptRequest, r: AttemptResult) => ended.push([q, r]),
    });
    await worker.start();
    const events: RunEvent[] = [];
    const r = await runWorkflow([{ id: 'look', tool: 'introspect', input: { n: 7 } }], {
      tools: [introspect],
      executor,
      store: false,
      onEvent: (e) => void events.push(e),
    });
    expect(r.status).toBe('succeeded');
    const started = events.find((e) => e.type === 'task.started') as Extract<RunEvent, { type: 'task.started' }>;
    expect(r.tasks.look.output).toEqual({
      runId: r.runId,
      taskId: 'look',
      attempt: 1,
      visit: 1,
      idempotencyKey: expect.stringMatching(/^[0-9a-f]{64}$/),
      n: 7,
    });
    expect(started.inputHash).toBeDefined();
    const logs = events.filter((e) => e.type === 'task.log').map((e) => [e.level, e.message, e.fields]);
    expect(logs).toEqual([
      ['debug', 'd', { n: 7 }],
      ['info', 'i', undefined],
      ['warn', 'w', undefined],
      ['error', 'e', undefined],
    ]);
    expect(events.find((e) => e.type === 'task.progress')).toMatchObject({ message: 'half', progress: 0.5 });
    expect(ended).toHaveLength(1);
    expect(ended[0][0]).toMatchObject({ runId: r.runId, taskId: 'look', tool: 'introspect', input: { n: 7 } });
    expect(ended[0][1]).toMatchObject({ status: 'succeeded', output: { n: 7 } });
  });

  it('a job for a tool this worker does not have fails with E_WORKER, saying how to give it the tool', async () => {
    const ghost = defineTool({ name: 'ghost', input: z.object({}), run: () => 'boo' });
    const { executor, worker } = pair([introspect]);
    await worker.start();
    const r = await runWorkflow([{ id: 'g', tool: 'ghost', retries: 2 }], {
      tools: [ghost],
      executor,
      store: false,
      retry: { baseDelayMs: 1 },
      onEvent: () => {},
    });
    expect(r.tasks.g).toMatchObject({
      status: 'failed',
      attempts: 1, // not retried: another try would meet the same worker
      error: {
        code: 'E_WORKER',
        message: 'this worker has no tool "ghost" (start it with the --tools module that defines it)',
      },
    });
  });

  it('a tool’s concurrency and rate limit become its own queue’s global limits', async () => {
    const limited = defineTool({
      name: 'limited',
      input: z.object({}),
      concurrency: 2,
      rateLimit: { intervalCap: 5, interval: 1000 },
      run: () => 'ok',
    });
    const { worker, prefix } = pair([introspect, limited], { concurrency: 8 });
    expect(worker.queues).toEqual(['attempts', 'tool.limited']);
    await worker.start();
    const queue = new Queue('tool.limited', { connection: connectionOf(redis.url), prefix });
    try {
      expect(await queue.getGlobalConcurrency()).toBe(2);
      const meta = await raw.hgetall(`${prefix}:tool.limited:meta`);
      expect(meta).toMatchObject({ max: '5', duration: '1000' });
    } finally {
      await queue.close();
    }
  });

  it('data in Redis that is not JSON is refused once and failed for good, not retried for ever', async () => {
    const refused: string[] = [];
    const { worker, prefix } = pair([introspect], {
      onRefused: (id: string, q: string, why: string) => refused.push(`${q}/${id}: ${why}`),
    });
    const queue = new Queue('attempts', { connection: connectionOf(redis.url), prefix });
    try {
      const seal = new Seal(SECRET);
      const job = await queue.add('introspect', seal.seal('job', 'attempts|x', { runId: 'x' }), { jobId: 'x' });
      await raw.hset(`${prefix}:attempts:${job.id}`, 'data', '{not json');
      await worker.start();
      for (let i = 0; i < 100 && (await queue.getJobState('x')) !== 'failed'; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(await queue.getJobState('x')).toBe('failed');
      // Read as a job without its MAC: refused as any job no process with the secret sealed.
      expect(refused).toEqual([
        'attempts/x: a job in Redis failed its MAC check (attempts|x): it was not written by a braid process with this secret (every coordinator and worker must share BRAID_SECRET); refused',
      ]);
    } finally {
      await queue.close();
    }
  });

  it('a worker closed past its grace period stops at once; the run says so, and another worker runs the attempt', async () => {
    const stuck = defineTool({ name: 'stuck', input: z.object({}), run: () => new Promise(() => {}) });
    const prefix = `w${randomUUID().slice(0, 8)}`;
    const executor = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, watchMs: 100 });
    const first = new BraidWorker({
      redis: redis.url,
      prefix,
      secret: SECRET,
      tools: [stuck],
      lockDurationMs: 1000,
      name: 'w1',
    });
    opened.push(executor);
    await first.start();
    const events: RunEvent[] = [];
    const run = runWorkflow([{ id: 's', tool: 'stuck' }], {
      tools: [stuck],
      executor,
      store: false,
      onEvent: (e) => void events.push(e),
    });
    for (let i = 0; i < 100 && !events.some((e) => e.type === 'task.started'); i++)
      await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await first.close(200);
    expect(Date.now() - t0).toBeLessThan(3000);
    // The run says what the attempt waits for once the lock is gone.
    for (let i = 0; i < 200 && !events.some((e) => e.type === 'task.progress'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(events.filter((e) => e.type === 'task.progress').map((e) => e.message)).toEqual([
      expect.stringMatching(
        /^waiting: worker w1 (stopped renewing its lock on this attempt \(it died or blocks its event loop\)|was lost \(its lock on the attempt expired\)); BullMQ hands the attempt to another worker$/,
      ),
    ]);
    // Another worker has a tool of that name that ends: the attempt runs there.
    const done = defineTool({ name: 'stuck', input: z.object({}), run: () => 'done elsewhere' });
    const second = new BraidWorker({
      redis: redis.url,
      prefix,
      secret: SECRET,
      tools: [done],
      lockDurationMs: 1000,
      name: 'w2',
    });
    opened.push({ close: () => second.close(500) });
    await second.start();
    const r = await run;
    expect(r.tasks.s).toMatchObject({ status: 'succeeded', output: 'done elsewhere', attempts: 1 });
    const started = events.filter((e) => e.type === 'task.started');
    expect(started).toEqual([expect.objectContaining({ worker: 'w1' })]);
    expect(events.find((e) => e.type === 'task.log')).toMatchObject({
      level: 'warn',
      message: 'worker w1 was lost mid-attempt; worker w2 runs the attempt again (BullMQ redelivery)',
      fields: { lostWorker: 'w1', worker: 'w2' },
    });
  }, 20_000);

  it('a cancel from an older lease generation is not the attempt’s result: the attempt is sent again and runs', async () => {
    let calls = 0;
    const once = defineTool({
      name: 'once',
      input: z.object({}),
      run: (_, ctx) =>
        ++calls === 1
          ? new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
          : 'second try',
    });
    const prefix = `w${randomUUID().slice(0, 8)}`;
    const old = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, generationOf: () => 1 });
    const now = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, generationOf: () => 2 });
    const worker = new BraidWorker({ redis: redis.url, prefix, secret: SECRET, tools: [once] });
    opened.push(old, now, { close: () => worker.close(500) });
    await worker.start();
    const request: AttemptRequest = { runId: 'gen-run', taskId: 't', visit: 1, attempt: 1, tool: 'once', input: {} };
    const host = (): AttemptHost & { started: () => boolean } => ({
      tool: () => once,
      started: () => true,
      context: () => {
        throw new Error('runs in the worker');
      },
      signal: new AbortController().signal,
      forward: () => {},
    });
    const first = old.execute(request, host());
    while (calls === 0) await new Promise((r) => setTimeout(r, 20));
    // A coordinator of the next generation takes the run over and awaits the same job.
    const second = now.execute(request, host());
    await new Promise((r) => setTimeout(r, 200));
    // The old coordinator, which lost the run, stops it: its cancel reaches the attempt.
    old.cancel('gen-run', new Error('stopped by the old coordinator'));
    expect(await first).toMatchObject({ status: 'failed' });
    expect(await second).toMatchObject({ status: 'succeeded', output: 'second try' });
    expect(calls).toBe(2);
  }, 20_000);
});
