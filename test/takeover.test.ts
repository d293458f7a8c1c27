/**
 * The takeover loop of `braid worker --coordinate` and `braid serve --redis`, in one process against a real
 * redis-server: a run whose writer died (its lease expired, no `run.finished`) is continued exactly once, by one
 * process; a run whose writer lives is left alone; a run that cannot be continued is reported once and not tried
 * again; the loop looks by itself every `intervalMs` until stopped, and rides through Redis being away.
 * test/distributed.test.ts does the same with real processes and `kill -9`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunEvent } from '../src/core/events.js';
import type { RunResult } from '../src/core/result.js';
import { takeOverRuns, type Takeover, type TakeoverOptions } from '../src/service/takeover.js';
import { RedisRunStore } from '../src/store/redis-store.js';
import { RECORD_VERSION, type RunHeader } from '../src/store/types.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';
import { until } from './support/until.js';

if (!hasRedis) console.log(SKIP_REDIS);

const SECRET = 'takeover tests';
let redis: TestRedis;
const opened: { close(): Promise<void> }[] = [];
let n = 0;

const ran: string[] = [];
const note = defineTool({
  name: 'note',
  input: z.object({ text: z.string() }),
  run: async ({ text }) => (ran.push(text), { text }),
});

const slow = defineTool({
  name: 'slow',
  input: z.object({ text: z.string() }),
  run: async ({ text }) => (await new Promise((r) => setTimeout(r, 800)), { text }),
});

const store = (prefix: string) => {
  const s = new RedisRunStore(redis.url, { prefix, secret: SECRET, leaseMs: 300 });
  opened.push(s);
  return s;
};

/**
 * A run whose writer died after its first task started: the header and events written under a lease that is then
 * never renewed (the writer's connection is cut, as when its process is killed).
 */
async function orphan(prefix: string, runId: string, tool = 'note'): Promise<void> {
  const writer = new RedisRunStore(redis.url, { prefix, secret: SECRET, leaseMs: 300 });
  const header: RunHeader = {
    type: 'run.record',
    version: RECORD_VERSION,
    runId,
    createdAt: new Date().toISOString(),
    workflow: {
      name: 'orphan',
      tasks: [
        { id: 'a', tool, input: { text: `${runId}:a` } },
        { id: 'b', tool, input: { text: `${runId}:b` }, dependencies: ['a'] },
      ],
    } as RunHeader['workflow'],
    input: {},
  };
  const log = await writer.create(header);
  const ts = new Date().toISOString();
  const events = [
    { type: 'run.started', workflow: 'orphan', tasks: 2, input: {} },
    { type: 'task.ready', taskId: 'a', visit: 1 },
    { type: 'task.started', taskId: 'a', tool, attempt: 1, visit: 1 },
  ];
  events.forEach((e, i) => log.append({ ...e, ts, runId, seq: i + 1 } as RunEvent));
  await log.flush();
  writer.redis.disconnect(); // the writer is gone: its lease runs out
}

/** A takeover loop with what it reports collected. */
function loop(s: RedisRunStore, more: Partial<TakeoverOptions> = {}) {
  const seen = {
    taken: [] as string[],
    finished: [] as [string, RunResult['status']][],
    errors: [] as [string, string | undefined][],
  };
  const takeover: Takeover = takeOverRuns({
    store: s,
    tools: [note, slow],
    intervalMs: 60_000,
    onTakeover: (runId) => seen.taken.push(runId),
    onFinished: (runId, result) => seen.finished.push([runId, result.status]),
    onError: (runId, err) => seen.errors.push([runId, (err as { code?: string }).code]),
    ...more,
  });
  opened.push({ close: async () => takeover.stop() });
  return { takeover, seen };
}

const leaseGone = (s: RedisRunStore, runId: string) =>
  until(async () => (await s.openRuns()).some((r) => r.runId === runId && !r.held));

describe.skipIf(!hasRedis)('taking over runs whose writer died (real redis-server)', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(opened.map((o) => o.close().catch(() => {})));
    await redis?.stop();
  });

  it('continues an orphaned run to its end, reports it, and forgets it once done', async () => {
    const prefix = `to${++n}`;
    const s = store(prefix);
    await orphan(prefix, 'r1');
    await leaseGone(s, 'r1');
    const { takeover, seen } = loop(s);
    await takeover.scan();
    expect(seen.taken).toEqual(['r1']);
    const continued = takeover.running.get('r1');
    expect(continued).toBeDefined();
    const result = await continued!;
    expect(result?.status).toBe('succeeded');
    expect(seen.finished).toEqual([['r1', 'succeeded']]);
    expect(ran.filter((t) => t.startsWith('r1:'))).toEqual(['r1:a', 'r1:b']);
    await until(() => !takeover.running.has('r1'));
    expect(await s.openRuns()).toEqual([]);
    // Finished: the next look finds nothing to do.
    await takeover.scan();
    expect(seen.taken).toEqual(['r1']);
    expect(seen.errors).toEqual([]);
  });

  it('leaves a run whose writer lives alone', async () => {
    const prefix = `to${++n}`;
    const s = store(prefix);
    const writer = store(prefix);
    const log = await writer.create({
      type: 'run.record',
      version: RECORD_VERSION,
      runId: 'alive',
      createdAt: new Date().toISOString(),
      workflow: { name: 'w', tasks: [{ id: 'a', tool: 'note', input: { text: 'x' } }] } as RunHeader['workflow'],
      input: {},
    });
    const { takeover, seen } = loop(s);
    await takeover.scan();
    await new Promise((r) => setTimeout(r, 500)); // longer than the lease: it is renewed
    await takeover.scan();
    expect(seen.taken).toEqual([]);
    expect(takeover.running.size).toBe(0);
    await log.close();
  });

  it('two processes looking at once: exactly one continues the run, the other says nothing', async () => {
    const prefix = `to${++n}`;
    await orphan(prefix, 'r2');
    const one = loop(store(prefix));
    const two = loop(store(prefix));
    await leaseGone(store(prefix), 'r2');
    await Promise.all([one.takeover.scan(), two.takeover.scan()]);
    expect([...one.seen.taken, ...two.seen.taken]).toEqual(['r2']);
    await Promise.all([...one.takeover.running.values(), ...two.takeover.running.values()]);
    expect([...one.seen.errors, ...two.seen.errors]).toEqual([]);
    expect(ran.filter((t) => t === 'r2:b')).toHaveLength(1);
  });

  it('a run that cannot be continued is reported once and not tried again', async () => {
    const prefix = `to${++n}`;
    const s = store(prefix);
    // Its tool is not one this process has: continuing it fails before it starts.
    await orphan(prefix, 'r3', 'missing_tool');
    await leaseGone(s, 'r3');
    const { takeover, seen } = loop(s);
    await takeover.scan();
    await takeover.scan();
    expect(seen.taken).toEqual([]);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0][0]).toBe('r3');
  });

  it('a continued run that loses its lease ends failed (E_LOCKED) here, and is continued once its holder is gone', async () => {
    const prefix = `to${++n}`;
    const s = store(prefix);
    await orphan(prefix, 'r7', 'slow');
    await leaseGone(s, 'r7');
    const { takeover, seen } = loop(s);
    await takeover.scan();
    expect(seen.taken).toEqual(['r7']);
    await s.redis.set(`${prefix}:run:r7:lock`, JSON.stringify({ token: 'another process' }), 'PX', 1000);
    const lost = await takeover.running.get('r7');
    expect(lost).toMatchObject({ status: 'failed', error: { code: 'E_LOCKED' } });
    expect(seen.errors).toEqual([]);
    await leaseGone(s, 'r7');
    await takeover.scan();
    expect(seen.taken).toEqual(['r7', 'r7']);
    expect(await takeover.running.get('r7')).toMatchObject({ status: 'succeeded' });
  });

  it('looks by itself every intervalMs, and not any more once stopped', async () => {
    const prefix = `to${++n}`;
    const s = store(prefix);
    const { takeover, seen } = loop(s, { intervalMs: 50 });
    await orphan(prefix, 'r5');
    await until(() => seen.finished.some(([id]) => id === 'r5'));
    takeover.stop();
    await orphan(prefix, 'r6');
    await leaseGone(s, 'r6');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.taken).toEqual(['r5']);
    await takeover.scan(); // stopped: a scan takes nothing over
    expect(seen.taken).toEqual(['r5']);
  });

  it('Redis away: a look fails quietly and the next one works', async () => {
    const prefix = `to${++n}`;
    const s = new RedisRunStore('redis://127.0.0.1:1', { prefix, secret: SECRET, leaseMs: 300 });
    s.redis.disconnect();
    const { takeover, seen } = loop(s);
    await expect(takeover.scan()).resolves.toBeUndefined();
    expect(seen.errors).toEqual([]);
  });
});
