/**
 * Redis is not a trust root (workflow-spec.md §9), against a real redis-server: whatever is written into Redis
 * by something without the shared secret (a forged run header, forged or replayed jobs, a rogue worker's result,
 * a forged event) is refused and reported, and nothing is spawned, written or run because of it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, runWorkflow, type RunResult } from '../src/index.js';
import { BullmqExecutor } from '../src/executors/bullmq-executor.js';
import { BraidWorker } from '../src/executors/bullmq-worker.js';
import { jobIdOf, Seal } from '../src/executors/bullmq-wire.js';
import type { AttemptRequest } from '../src/executors/contract.js';
import { admitFromRecords } from '../src/service/job-admission.js';
import { takeOverRuns } from '../src/service/takeover.js';
import { RedisRunStore } from '../src/store/redis-store.js';
import type { RunHeader } from '../src/store/types.js';
import { BIN, braid, ROOT } from './support/cli.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';
import { until } from './support/until.js';

if (!hasRedis) console.log(SKIP_REDIS);

const SECRET = 'the secret every genuine process shares';
let redis: TestRedis;
let dir: string;
const opened: { close(): Promise<void> }[] = [];
let n = 0;

/** A tool with a side effect: it creates the file it is given. */
const touched: string[] = [];
const touch = defineTool({
  name: 'touch',
  input: z.object({ path: z.string() }),
  run: async ({ path }) => {
    touched.push(path);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'written');
    return { path };
  },
});

/** A fresh namespace: a store, its queue prefix, and what a genuine coordinator and worker use. */
function world() {
  const id = `trust${++n}x${process.pid}`;
  const store = new RedisRunStore(redis.url, { prefix: id, secret: SECRET, leaseMs: 300 });
  const queues = { redis: redis.url, prefix: `${id}:q`, secret: SECRET };
  opened.push(store);
  return { id, store, queues };
}

/** A worker as `braid worker` runs one: jobs checked against the records; what it refuses is collected. */
function guardedWorker(store: RedisRunStore, queues: ReturnType<typeof world>['queues']) {
  const refused: string[] = [];
  const worker = new BraidWorker({
    ...queues,
    tools: [touch],
    admit: admitFromRecords(store),
    onRefused: (jobId, _queue, reason) => refused.push(`${jobId}: ${reason}`),
  });
  opened.push({ close: () => worker.close(1000) });
  return { worker, refused };
}

const header = (runId: string, workflow: RunHeader['workflow']): RunHeader => ({
  type: 'run.record',
  version: 1,
  runId,
  createdAt: new Date().toISOString(),
  workflow,
  input: {},
});

describe.skipIf(!hasRedis)('Redis is not a trust root (real redis-server)', () => {
  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'braid-trust-'));
  });
  afterAll(async () => {
    await Promise.all(opened.map((o) => o.close().catch(() => {})));
    await redis?.stop();
  });

  it('a forged header (unsigned, or signed under another secret) naming an MCP server is never taken over: nothing is spawned', async () => {
    const { id, store } = world();
    const marker = join(dir, 'spawned');
    const evil = {
      name: 'evil',
      mcp_servers: { evil: { command: 'sh', args: ['-c', `touch ${marker}`] } },
      tasks: [{ id: 'a', tool: 'evil.run' }],
    } as unknown as RunHeader['workflow'];
    // Unsigned, as `redis-cli SET` writes it.
    await store.redis
      .multi()
      .set(`${id}:run:forged1:header`, JSON.stringify(header('forged1', evil)))
      .sadd(`${id}:open`, 'forged1')
      .exec();
    // Signed, but by a store with another secret.
    const other = new RedisRunStore(redis.url, { prefix: id, secret: 'not the secret' });
    opened.push(other);
    const log = await other.create(header('forged2', evil));
    await store.redis.del(`${id}:run:forged2:lock`); // its writer "died"
    void log;
    const errors: { runId: string; code?: string; message: string }[] = [];
    const taken: string[] = [];
    const takeover = takeOverRuns({
      store,
      tools: [touch],
      intervalMs: 60_000,
      onTakeover: (runId) => taken.push(runId),
      onError: (runId, err) => errors.push({ runId, code: (err as { code?: string }).code, message: err.message }),
    });
    await takeover.scan();
    takeover.stop();
    expect(taken).toEqual([]);
    expect(errors.map((e) => [e.runId, e.code]).sort()).toEqual([
      ['forged1', 'E_UNTRUSTED'],
      ['forged2', 'E_UNTRUSTED'],
    ]);
    expect(errors[0].message).toMatch(/failed its MAC check/);
    // Shown with its problem, never as genuine.
    const record = await store.read('forged1');
    expect(record.header).toBeUndefined();
    expect(record.untrusted).toMatch(/MAC/);
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(marker)).toBe(false);
  });

  it('a forged header that uses only built-in tools gets nothing signed and run: no job is sent, no file written', async () => {
    const { id, store, queues } = world();
    const target = join(dir, 'tools-module.mjs');
    await store.redis
      .multi()
      .set(
        `${id}:run:forged3:header`,
        JSON.stringify(header('forged3', { name: 'w', tasks: [{ id: 'w', tool: 'touch', input: { path: target } }] })),
      )
      .sadd(`${id}:open`, 'forged3')
      .exec();
    const executor = new BullmqExecutor(queues);
    opened.push(executor);
    const errors: string[] = [];
    const takeover = takeOverRuns({
      store,
      tools: [touch],
      executor,
      intervalMs: 60_000,
      onError: (_, err) => errors.push((err as { code?: string }).code ?? ''),
    });
    await takeover.scan();
    takeover.stop();
    expect(errors).toEqual(['E_UNTRUSTED']);
    const queue = new Queue('attempts', { connection: { url: redis.url }, prefix: queues.prefix });
    expect(Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0)).toBe(0);
    await queue.close();
    expect(existsSync(target)).toBe(false);
  });

  it('a genuine record whose mcp_servers are not in the allow-list is not continued: E_CONFIG names the server', async () => {
    const { id, store } = world();
    const marker = join(dir, 'not-allowed');
    await store.create(
      header('genuine1', {
        name: 'g',
        mcp_servers: { files: { command: 'sh', args: ['-c', `touch ${marker}`] } },
        tasks: [{ id: 'a', tool: 'files.read' }],
      } as unknown as RunHeader['workflow']),
    );
    await store.redis.del(`${id}:run:genuine1:lock`);
    const errors: Error[] = [];
    const takeover = takeOverRuns({ store, tools: [touch], intervalMs: 60_000, onError: (_, err) => errors.push(err) });
    await takeover.scan();
    takeover.stop();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'E_CONFIG' });
    expect(errors[0].message).toMatch(/MCP server "files" is not in this process's allow-list/);
    expect(existsSync(marker)).toBe(false);
  });

  it('forged jobs (unsigned, under another secret, replayed for another task, replayed after the run ended, naming another tool) are refused; the tool runs only for the genuine one', async () => {
    const { store, queues } = world();
    const { worker, refused } = guardedWorker(store, queues);
    const executor = new BullmqExecutor(queues);
    opened.push(executor);
    await worker.start();
    touched.length = 0;
    const genuine = join(dir, 'genuine');
    const r: RunResult = await runWorkflow(
      { name: 'g', tasks: [{ id: 'a', tool: 'touch', input: { path: genuine } }] },
      { tools: [touch], executor, store },
    );
    expect(r.status).toBe('succeeded');
    expect(touched).toEqual([genuine]);

    const queue = new Queue('attempts', { connection: { url: redis.url }, prefix: queues.prefix });
    const outside = join(dir, 'outside');
    const request = (over: Partial<AttemptRequest> = {}): AttemptRequest => ({
      runId: r.runId,
      taskId: 'a',
      visit: 1,
      attempt: 2,
      tool: 'touch',
      input: { path: outside },
      ...over,
    });
    const jobs: string[] = [];
    const add = async (data: unknown, jobId: string) => (jobs.push(jobId), queue.add('touch', data, { jobId }));
    // Unsigned: what `redis-cli` or a plain BullMQ client writes.
    await add(request(), jobIdOf(request()));
    // Sealed under another secret.
    const wrong = request({ attempt: 3 });
    await add(new Seal('not the secret').seal('job', `attempts|${jobIdOf(wrong)}`, wrong), jobIdOf(wrong));
    // The genuine job's data replayed under another job id (another attempt of the same task).
    const original = await queue.getJob(`${r.runId}|a|1|1`);
    await add(original!.data, `${r.runId}|a|1|4`);
    // Replayed under its own id once BullMQ forgot it: its run has finished.
    await original!.remove();
    await add(original!.data, `${r.runId}|a|1|1`);
    // Sealed with the secret, but for a run still open whose task uses another tool.
    const open = await store.create(header('open1', { name: 'o', tasks: [{ id: 'a', tool: 'echo' }] }));
    const other = request({ runId: 'open1', attempt: 1 });
    await add(new Seal(SECRET).seal('job', `attempts|${jobIdOf(other)}`, other), jobIdOf(other));

    await until(() => refused.length === jobs.length);
    expect(refused.join('\n')).toMatch(/failed its MAC check[\s\S]*failed its MAC check[\s\S]*failed its MAC check/);
    expect(refused.find((l) => l.startsWith(`${r.runId}|a|1|1`))).toMatch(/has finished/);
    expect(refused.find((l) => l.startsWith('open1'))).toMatch(/does not use tool "touch"/);
    for (const id of jobs) {
      const job = await queue.getJob(id);
      expect(await job!.getState()).toBe('failed');
      expect(job!.failedReason).toMatch(/refused by worker/);
      expect(job!.attemptsMade).toBeLessThanOrEqual(1);
    }
    expect(touched).toEqual([genuine]);
    expect(existsSync(outside)).toBe(false);
    await queue.close();
    await open.close();
  });

  it('a job whose stored data is not JSON is refused and failed at once, not left to stall for ever', async () => {
    const { store, queues } = world();
    const queue = new Queue('attempts', { connection: { url: redis.url }, prefix: queues.prefix });
    await queue.add('touch', { body: '{}', mac: 'x' }, { jobId: 'garbled' });
    await store.redis.hset(`${queues.prefix}:attempts:garbled`, 'data', 'not json {');
    const { worker, refused } = guardedWorker(store, queues);
    await worker.start();
    await until(() => refused.length === 1);
    expect(refused[0]).toMatch(/^garbled: .*failed its MAC check/);
    await until(async () => (await queue.getJobState('garbled')) === 'failed');
    await queue.close();
  });

  it('a rogue worker without the secret cannot make an attempt succeed: its result is refused and the run fails saying so', async () => {
    const { queues } = world();
    const executor = new BullmqExecutor(queues);
    opened.push(executor);
    const rogue = new Worker(
      'attempts',
      async () => ({
        status: 'succeeded',
        output: { path: 'forged' },
        durationMs: 1,
        endedAt: new Date().toISOString(),
      }),
      { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: queues.prefix },
    );
    opened.push({ close: () => rogue.close() });
    const r = await runWorkflow(
      { name: 'rogue', tasks: [{ id: 'a', tool: 'touch', input: { path: join(dir, 'rogue') } }] },
      { tools: [touch], executor, store: false },
    );
    expect(r.status).toBe('failed');
    expect(r.tasks.a.error).toMatchObject({ code: 'E_UNTRUSTED' });
    expect(r.tasks.a.error?.message).toMatch(/a result in Redis failed its MAC check/);
  });

  it('an event added to a genuine record without its MAC is reported and left out', async () => {
    const { id, store } = world();
    const r = await runWorkflow({ name: 'e', tasks: [{ id: 'a', tool: 'echo', input: { value: 'hi' } }] }, { store });
    await store.idle();
    await store.redis.xadd(
      `${id}:run:${r.runId}:events`,
      '*',
      'e',
      JSON.stringify({
        seq: 99,
        ts: new Date().toISOString(),
        runId: r.runId,
        type: 'task.skipped',
        taskId: 'a',
        reason: 'x',
      }),
    );
    const record = await store.read(r.runId);
    expect(record.untrusted).toBeUndefined();
    expect(record.events.some((e) => e.seq === 99)).toBe(false);
    expect(record.problems).toEqual([expect.stringMatching(/failed its MAC check .*ignored/)]);
  });

  it('braid worker --coordinate reports a forged header it will not take over; nothing is spawned', async () => {
    const { id } = world();
    const marker = join(dir, 'cli-spawned');
    const plain = new RedisRunStore(redis.url, { prefix: 'braid', secret: SECRET });
    opened.push(plain);
    const runId = `forged-cli-${id}`;
    await plain.redis
      .multi()
      .set(
        `braid:run:${runId}:header`,
        JSON.stringify(
          header(runId, {
            name: 'evil',
            mcp_servers: { evil: { command: 'sh', args: ['-c', `touch ${marker}`] } },
            tasks: [{ id: 'a', tool: 'evil.run' }],
          } as unknown as RunHeader['workflow']),
        ),
      )
      .sadd('braid:open', runId)
      .exec();
    const child = spawn(process.execPath, [BIN, 'worker', '--coordinate', '--grace', '0'], {
      cwd: ROOT,
      env: { ...process.env, BRAID_REDIS_URL: redis.url, BRAID_SECRET: SECRET, BRAID_LEASE_MS: '600', NO_COLOR: '1' },
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      await until(() => err.includes(`could not continue run ${runId}`), 15_000);
      expect(err).toMatch(/failed its MAC check/);
      expect(existsSync(marker)).toBe(false);
    } finally {
      child.kill('SIGKILL');
      await plain.redis.multi().del(`braid:run:${runId}:header`).srem('braid:open', runId).exec();
    }
  }, 30_000);
});

describe('a Redis beyond loopback must take a password', () => {
  it('braid refuses redis:// to another host without one (exit 2, before connecting), and names --insecure-redis', async () => {
    const r = await braid(['runs', '--redis', 'redis://redis.internal.invalid:6379']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/without a password/);
    expect(r.stderr).toMatch(/--insecure-redis/);
  });
});
