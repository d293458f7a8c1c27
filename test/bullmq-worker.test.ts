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
import type { Tool } from '../src/toolkit/types.js';
import { cancelledKey, connectionOf, Seal } from '../src/executors/bullmq-wire.js';
import { Mac } from '../src/core/secret.js';
import { BraidError } from '../src/errors.js';
import { until } from './support/until.js';
import type { AttemptHost, AttemptRequest, AttemptResult } from '../src/executors/contract.js';
import { defineTool } from '../src/toolkit/define-tool.js';
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

beforeAll(async () => {
  if (!hasRedis) return;
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all(opened.map((o) => o.close().catch(() => {})));
  raw?.disconnect();
  await redis?.stop();
});

describe.skipIf(!hasRedis)('the worker side (real redis-server)', () => {
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
    const startedAt = Date.now();
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
    const secondAt = Date.now();
    await second.start();
    const r = await run;
    expect(r.tasks.s).toMatchObject({ status: 'succeeded', output: 'done elsewhere', attempts: 1 });
    // Its time on the lost worker counts: the duration runs from the first start.
    const ended = events.find((e) => e.type === 'task.succeeded') as { durationMs: number } | undefined;
    expect(ended?.durationMs).toBeGreaterThanOrEqual(secondAt - startedAt - 50);
    expect(ended?.durationMs).toBeLessThan(60_000);
    // What it waited for was said once.
    expect(events.filter((e) => e.type === 'task.progress')).toHaveLength(1);
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

/** What an executor tells the run's process about one attempt: when it started (where), and what it forwarded. */
function watched(tool: Tool) {
  const seen = { started: [] as [string | undefined, string | undefined][], forwarded: [] as { type: string }[] };
  const host: AttemptHost = {
    tool: () => tool,
    started: (worker?: string, startedAt?: string) => (seen.started.push([worker, startedAt]), true),
    context: () => {
      throw new Error('runs in the worker');
    },
    signal: new AbortController().signal,
    forward: (e) => void seen.forwarded.push(e),
  };
  return { host, seen };
}

const request = (runId: string, tool: string, more: Partial<AttemptRequest> = {}): AttemptRequest => ({
  runId,
  taskId: 't',
  visit: 1,
  attempt: 1,
  tool,
  input: {},
  ...more,
});

describe.skipIf(!hasRedis)('a coordinator and its workers, attempt by attempt (real redis-server)', () => {
  /** Executors of generations 1 and 2 of one run, and a worker named w-<prefix>. */
  function coordinators(tools: Tool[], more: Partial<BraidWorkerOptions> = {}) {
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const old = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, generationOf: () => 1 });
    const now = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, generationOf: () => 2 });
    const worker = new BraidWorker({ redis: redis.url, prefix, secret: SECRET, tools, name: `w-${prefix}`, ...more });
    opened.push(old, now, { close: () => worker.close(500) });
    return { old, now, worker, prefix };
  }

  it('an attempt already done when a new coordinator sends it again is answered from its job: it does not run again', async () => {
    let runs = 0;
    const count = defineTool({ name: 'count', input: z.object({}), run: () => `ran ${++runs}` });
    const { old, now, worker, prefix } = coordinators([count]);
    await worker.start();
    const first = await old.execute(request('done-run', 'count'), watched(count).host);
    expect(first).toMatchObject({ status: 'succeeded', output: 'ran 1' });
    const { host, seen } = watched(count);
    const again = await now.execute(request('done-run', 'count'), host);
    expect(again).toMatchObject({ status: 'succeeded', output: 'ran 1' });
    expect(runs).toBe(1);
    // Its start is the job's: when and where a worker took it.
    expect(seen.started).toEqual([[`w-${prefix}`, expect.any(String)]]);
    expect(Date.parse(seen.started[0][1]!)).toBeLessThanOrEqual(
      Date.parse(first.status === 'succeeded' ? first.endedAt : ''),
    );
  });

  it('an attempt already running when a new coordinator sends it again keeps its first start, and runs once', async () => {
    let runs = 0;
    const slow = defineTool({
      name: 'slow',
      input: z.object({}),
      run: async () => (++runs, await new Promise((r) => setTimeout(r, 600)), 'slow done'),
    });
    const { old, now, worker, prefix } = coordinators([slow]);
    await worker.start();
    const first = old.execute(request('active-run', 'slow'), watched(slow).host);
    await until(() => runs === 1);
    await new Promise((r) => setTimeout(r, 100));
    const sentAt = Date.now();
    const { host, seen } = watched(slow);
    const again = now.execute(request('active-run', 'slow'), host);
    await until(() => seen.started.length > 0);
    expect(seen.started[0][0]).toBe(`w-${prefix}`);
    expect(Date.parse(seen.started[0][1]!)).toBeLessThan(sentAt);
    const result = await again;
    expect(result).toMatchObject({ status: 'succeeded', output: 'slow done' });
    // From its first start to its end: the time it ran before this coordinator sent it counts.
    expect((result as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(600);
    expect((result as { durationMs: number }).durationMs).toBeLessThan(10_000);
    await first;
    expect(runs).toBe(1);
  });

  it('a job the worker refuses fails as E_WORKER with the worker’s reason; sent again, it answers the same', async () => {
    const count = defineTool({ name: 'count', input: z.object({}), run: () => 'never' });
    const { old, now, worker, prefix } = coordinators([count], { admit: async () => 'not today' });
    await worker.start();
    const expected = {
      status: 'failed',
      error: { code: 'E_WORKER', retryable: true, message: `worker: refused by worker w-${prefix}: not today` },
    };
    expect(await old.execute(request('refused-run', 'count'), watched(count).host)).toMatchObject(expected);
    expect(await now.execute(request('refused-run', 'count'), watched(count).host)).toMatchObject(expected);
  });

  it('a live worker on a long attempt is not said to be lost', async () => {
    const slow = defineTool({
      name: 'slow',
      input: z.object({}),
      run: async () => (await new Promise((r) => setTimeout(r, 700)), 'ok'),
    });
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const executor = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, watchMs: 50 });
    const worker = new BraidWorker({ redis: redis.url, prefix, secret: SECRET, tools: [slow], lockDurationMs: 1000 });
    opened.push(executor, { close: () => worker.close(500) });
    await worker.start();
    const { host, seen } = watched(slow);
    expect(await executor.execute(request('alive-run', 'slow'), host)).toMatchObject({ status: 'succeeded' });
    expect(seen.forwarded.filter((e) => e.type === 'progress')).toEqual([]);
  });

  it('a cancel reaches only its own run’s attempts, each of them, however many ended before', async () => {
    const stopped: string[] = [];
    const wait = defineTool({
      name: 'wait',
      input: z.object({ ms: z.number() }),
      run: ({ ms }, ctx) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve('finished'), ms);
          const stop = () => (clearTimeout(timer), stopped.push(`${ctx.runId}/${ctx.taskId}`), resolve('stopped'));
          ctx.signal.addEventListener('abort', stop);
          setTimeout(() => ctx.signal.removeEventListener('abort', stop), ms);
        }),
    });
    const { old: executor, worker } = coordinators([wait]);
    await worker.start();
    const short = executor.execute(request('a-run', 'wait', { taskId: 's', input: { ms: 50 } }), watched(wait).host);
    const long = executor.execute(request('a-run', 'wait', { taskId: 'l', input: { ms: 5000 } }), watched(wait).host);
    const other = executor.execute(request('b-run', 'wait', { input: { ms: 700 } }), watched(wait).host);
    expect(await short).toMatchObject({ status: 'succeeded', output: 'finished' });
    await new Promise((r) => setTimeout(r, 200));
    executor.cancel('a-run', new Error('stop a-run'));
    expect(await long).toMatchObject({ status: 'failed', error: { code: 'E_CANCELLED', retryable: false } });
    await until(() => stopped.length > 0);
    expect(await other).toMatchObject({ status: 'succeeded', output: 'finished' });
    expect(stopped).toEqual(['a-run/l']);
  });

  it('a coordinator that lost its lease or its record does not tell the workers to stop (the next one awaits them)', async () => {
    const count = defineTool({ name: 'count', input: z.object({}), run: () => 'ok' });
    const { old: executor, prefix } = coordinators([count]);
    executor.cancel('lost-lease', new BraidError('E_LOCKED', 'lost the lease'));
    executor.cancel('lost-record', new BraidError('E_STORE', 'could not write'));
    executor.cancel('stopped', new BraidError('E_BUDGET', 'over budget'));
    await until(async () => (await raw.exists(cancelledKey(prefix, 'stopped'))) === 1);
    expect(await raw.exists(cancelledKey(prefix, 'lost-lease'), cancelledKey(prefix, 'lost-record'))).toBe(0);
  });

  it('a forged cancel mark stops nothing; a job whose id is not its attempt’s, or whose text is not JSON, is refused', async () => {
    const refused: string[] = [];
    const {
      old: executor,
      worker,
      prefix,
    } = coordinators([introspect], {
      onRefused: (_id: string, _q: string, why: string) => refused.push(why),
    });
    await worker.start();
    await raw.set(cancelledKey(prefix, 'marked'), JSON.stringify({ body: '{"message":"x","generation":9}', mac: '0' }));
    const r = await executor.execute(request('marked', 'introspect', { input: { n: 1 } }), watched(introspect).host);
    expect(r).toMatchObject({ status: 'succeeded', output: { n: 1, idempotencyKey: '' } });
    const queue = new Queue('attempts', { connection: connectionOf(redis.url), prefix });
    try {
      const seal = new Seal(SECRET);
      await queue.add('introspect', seal.seal('job', 'attempts|other', request('r', 'introspect')), { jobId: 'other' });
      const mac = new Mac(SECRET, 'jobs').sign('job', 'attempts|text', 'not json');
      await queue.add('introspect', { body: 'not json', mac }, { jobId: 'text' });
      await until(() => refused.length === 2);
      expect(refused.sort()).toEqual([
        'job id other is not the id of the attempt it carries',
        expect.stringMatching(/^unreadable job: .*JSON/),
      ]);
    } finally {
      await queue.close();
    }
  });

  it('an attempt that cannot be sent (its input is not JSON) fails at once as E_WORKER, retryable', async () => {
    const count = defineTool({ name: 'count', input: z.object({}), run: () => 'ok' });
    const { old: executor } = coordinators([count]);
    const r = await executor.execute(request('big', 'count', { input: { n: 1n } }), watched(count).host);
    expect(r).toMatchObject({
      status: 'failed',
      error: {
        code: 'E_WORKER',
        retryable: true,
        message: expect.stringMatching(/^could not send the attempt to Redis: .*BigInt/),
      },
    });
  });

  it('with a worker listening, no one is told that none listens', async () => {
    const count = defineTool({ name: 'count', input: z.object({}), run: () => 'ok' });
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const told: string[] = [];
    const executor = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, onNoWorker: (q) => told.push(q) });
    const worker = new BraidWorker({ redis: redis.url, prefix, secret: SECRET, tools: [count] });
    opened.push(executor, { close: () => worker.close(500) });
    await worker.start();
    expect(await executor.execute(request('heard', 'count'), watched(count).host)).toMatchObject({
      status: 'succeeded',
    });
    expect(told).toEqual([]);
  });

  it('closing a coordinator and a worker leaves no connection of theirs open', async () => {
    const clients = async () =>
      String(await raw.client('LIST'))
        .trim()
        .split('\n').length;
    const before = await clients();
    const limited = defineTool({ name: 'limited', input: z.object({}), concurrency: 1, run: () => 'ok' });
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const executor = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET });
    const worker = new BraidWorker({ redis: redis.url, prefix, secret: SECRET, tools: [introspect, limited] });
    await worker.start();
    await executor.execute(request('c1', 'limited'), watched(limited).host);
    await executor.execute(request('c2', 'introspect', { input: { n: 1 } }), watched(introspect).host);
    await executor.execute(request('c3', 'introspect', { input: { n: 2 } }), watched(introspect).host);
    expect(await clients()).toBeGreaterThan(before + 4);
    await executor.close();
    await worker.close(500);
    await until(async () => (await clients()) === before);
  });
});
