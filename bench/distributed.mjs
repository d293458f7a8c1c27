// The distributed path (docs/scaling-out.md), side by side with raw BullMQ on the same redis-server:
// 1. per-attempt overhead: a chain of no-op tasks through BullmqExecutor + BraidWorker against a chain of
//    no-op BullMQ jobs (add, then wait for its completion through QueueEvents), both in this process;
// 2. throughput of a CPU-bound tool with 1 and 2 `braid worker` processes (concurrency 1 each).
// Needs redis-server on PATH (it starts one on a free loopback port in a temporary folder). Prints a
// Markdown section and returns it to bench/run.mjs; run alone: node bench/distributed.mjs
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { runWorkflow } from '../dist/bundle/index.js';
import { BraidWorker, BullmqExecutor } from '../dist/bundle/redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHAIN = Number(process.env.BENCH_CHAIN ?? 200);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const noop = { name: 'noop', run: () => ({ ok: true }) };

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'braid-bench-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve) => child.stdout.on('data', (d) => String(d).includes('Ready to accept') && resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => (child.kill(), rmSync(dir, { recursive: true, force: true })),
  };
}

/** Raw BullMQ: n no-op jobs one after the other, each added once the previous one completed. */
async function rawChain(url, prefix, n) {
  const connection = { url, maxRetriesPerRequest: null };
  const queue = new Queue('raw', { connection, prefix });
  const events = new QueueEvents('raw', { connection, prefix });
  const worker = new Worker('raw', async () => ({ ok: true }), { connection, prefix, concurrency: 4 });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  const times = [];
  for (let r = 0; r < REPEATS + 1; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await (await queue.add('noop', { i })).waitUntilFinished(events);
    if (r) times.push(performance.now() - t0); // the first round warms up
  }
  await Promise.all([worker.close(), events.close(), queue.close()]);
  return median(times);
}

/** braid: a chain of n no-op tasks, each attempt a job for a BraidWorker. */
async function braidChain(url, prefix, n) {
  const executor = new BullmqExecutor({ redis: url, prefix });
  const worker = new BraidWorker({ redis: url, prefix, tools: [noop] });
  await worker.start();
  const flow = {
    name: 'chain',
    tasks: Array.from({ length: n }, (_, i) => ({
      id: `c${i}`,
      tool: 'noop',
      ...(i ? { dependencies: [`c${i - 1}`] } : {}),
    })),
  };
  const times = [];
  for (let r = 0; r < REPEATS + 1; r++) {
    const t0 = performance.now();
    const result = await runWorkflow(flow, { tools: [noop], executor, store: false });
    if (result.status !== 'succeeded') throw new Error(`braid chain ${result.status}`);
    if (r) times.push(performance.now() - t0);
  }
  await Promise.all([executor.close(), worker.close(1000)]);
  return median(times);
}

/** 24 independent CPU-bound tasks (50 ms each) over `workers` braid worker processes. */
async function cpuRun(url, workers) {
  const spawnWorker = () => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/braid.mjs'),
        'worker',
        '--redis',
        url,
        '--tools',
        join(ROOT, 'bench/cpu-tools.mjs'),
        '-c',
        '1',
        '--grace',
        '0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return new Promise((resolve) =>
      child.stderr.on('data', (d) => String(d).includes('braid worker ') && resolve(child)),
    );
  };
  const children = await Promise.all(Array.from({ length: workers }, spawnWorker));
  const { spin } = await import('./cpu-tools.mjs');
  const executor = new BullmqExecutor({ redis: url });
  const flow = {
    name: 'cpu',
    tasks: Array.from({ length: 24 }, (_, i) => ({ id: `s${i}`, tool: 'spin', input: { ms: 50 } })),
  };
  const times = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const result = await runWorkflow(flow, { tools: [spin], executor, store: false });
    if (result.status !== 'succeeded') throw new Error(`cpu run ${result.status}`);
    if (r) times.push(performance.now() - t0);
  }
  await executor.close();
  for (const c of children) c.kill('SIGTERM');
  return median(times);
}

export async function benchDistributed() {
  if (spawnSync('redis-server', ['--version']).status !== 0)
    return '## Distributed path\n\nSkipped: no redis-server on PATH (`apt-get install -y redis-server`).\n';
  const redis = await startRedis();
  try {
    process.stderr.write('raw BullMQ chain...\n');
    const raw = await rawChain(redis.url, 'bench-raw', CHAIN);
    process.stderr.write('braid chain...\n');
    const ours = await braidChain(redis.url, 'bench-braid', CHAIN);
    process.stderr.write('CPU-bound, 1 and 2 workers...\n');
    const one = await cpuRun(redis.url, 1);
    const two = await cpuRun(redis.url, 2);
    const rows = [
      `## Distributed path (BullMQ on one local redis-server)`,
      '',
      `| measure | braid | raw BullMQ | ratio |`,
      `|---|---:|---:|---:|`,
      `| chain of ${CHAIN} no-op attempts, µs per attempt | ${((ours / CHAIN) * 1000).toFixed(0)} | ${((raw / CHAIN) * 1000).toFixed(0)} | ${(ours / raw).toFixed(2)} |`,
      '',
      `| CPU-bound tool, 24 × 50 ms | 1 worker | 2 workers | speed-up |`,
      `|---|---:|---:|---:|`,
      `| wall ms (median of 2 after a warm-up) | ${one.toFixed(0)} | ${two.toFixed(0)} | ${(one / two).toFixed(2)}× |`,
      '',
      'Per attempt, braid adds to the raw job round trip: the scheduler, the attempt request and result, the',
      "worker's start message (it records task.started with the worker's name) and its check that the run was not",
      "cancelled. Raw BullMQ here is a Queue, a QueueEvents and a Worker in one process, as braid's coordinator and",
      'worker are in that row. The CPU-bound rows run `braid worker` processes (concurrency 1 each).',
      '',
    ];
    return rows.join('\n');
  } finally {
    redis.stop();
  }
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1])) process.stdout.write(`${await benchDistributed()}\n`);
