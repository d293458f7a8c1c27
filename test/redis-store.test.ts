/**
 * What only the Redis run store does, against a real redis-server (test/store-contract.test.ts holds it to what
 * every store does): following a live run as it is written, until it finishes or its writer is gone; leases that
 * renew while the writer lives, count generations, and tell the writer when they are lost; clear errors for a run
 * that is not there, a run created twice, an event that cannot be recorded and a Redis that does not answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../src/core/events.js';
import { Mac } from '../src/core/secret.js';
import { RedisRunStore } from '../src/store/redis-store.js';
import { RECORD_VERSION, type RunHeader } from '../src/store/types.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';
import { until } from './support/until.js';

if (!hasRedis) console.log(SKIP_REDIS);

let redis: TestRedis;
const opened: RedisRunStore[] = [];
let n = 0;

const SECRET = 'redis store tests';
const store = (prefix = `rs${++n}`, leaseMs = 5000) => {
  const s = new RedisRunStore(redis.url, { prefix, leaseMs, secret: SECRET });
  opened.push(s);
  return s;
};
const header = (runId: string): RunHeader => ({
  type: 'run.record',
  version: RECORD_VERSION,
  runId,
  createdAt: new Date().toISOString(),
  workflow: { name: 'w', tasks: [] } as never,
  input: {},
});
const event = (runId: string, seq: number, type = 'task.log', more: object = {}) =>
  ({ seq, ts: new Date().toISOString(), runId, type, level: 'info', message: `m${seq}`, ...more }) as RunEvent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const finished = (runId: string, seq: number) =>
  event(runId, seq, 'run.finished', { status: 'succeeded', durationMs: 1 });

async function collect(iterable: AsyncIterable<RunEvent>): Promise<number[]> {
  const seqs: number[] = [];
  for await (const e of iterable) seqs.push(e.seq);
  return seqs;
}

describe.skipIf(!hasRedis)('the Redis run store (real redis-server)', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close().catch(() => {})));
    await redis?.stop();
  });

  it('follow: the events after afterSeq, then new ones as they are written, ending with run.finished', async () => {
    const s = store();
    const log = await s.create(header('f1'));
    log.append(event('f1', 1));
    log.append(event('f1', 2));
    await log.flush();
    expect(await collect(s.follow('f1'))).toEqual([1, 2]);
    expect(await collect(s.follow('f1', { afterSeq: 1 }))).toEqual([2]);
    const following = collect(s.follow('f1', { follow: true, afterSeq: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    log.append(event('f1', 3));
    await log.flush();
    await new Promise((r) => setTimeout(r, 100));
    log.append(finished('f1', 4));
    await log.close();
    expect(await following).toEqual([2, 3, 4]);
  });

  it('follow ends when the writer is gone without finishing the run, and when its signal aborts', async () => {
    const s = store();
    const log = await s.create(header('f2'));
    log.append(event('f2', 1));
    await log.close(); // released without run.finished: an interrupted run
    const t0 = Date.now();
    expect(await collect(s.follow('f2', { follow: true }))).toEqual([1]);
    expect(Date.now() - t0).toBeLessThan(5000);

    const live = await s.create(header('f3'));
    live.append(event('f3', 1));
    await live.flush();
    const controller = new AbortController();
    const following = collect(s.follow('f3', { follow: true, signal: controller.signal }));
    setTimeout(() => controller.abort(), 150);
    expect(await following).toEqual([1]);
    await live.close();
  });

  it('follow skips a stream entry that fails its MAC check; read reports it', async () => {
    const s = store('forge1');
    const log = await s.create(header('f4'));
    log.append(event('f4', 1));
    await log.flush();
    await s.redis.xadd('forge1:run:f4:events', '*', 'e', JSON.stringify(event('f4', 2)), 'm', '0'.repeat(64));
    log.append(finished('f4', 3));
    await log.close();
    expect(await collect(s.follow('f4', { follow: true }))).toEqual([1, 3]);
    const record = await s.read('f4');
    expect(record.events.map((e) => e.seq)).toEqual([1, 3]);
    expect(record.problems).toEqual([expect.stringMatching(/^stream entry \S+ failed its MAC check/)]);
  });

  it('a run that is not there is E_RUN_NOT_FOUND for read, reopen and follow; one created twice is E_RUN_STATE', async () => {
    const s = store();
    const message = 'no run "ghost" in Redis (list them with: braid runs)';
    await expect(s.read('ghost')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND', message });
    await expect(s.reopen('ghost')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND', message });
    await expect(collect(s.follow('ghost'))).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND', message });
    const log = await s.create(header('twice'));
    await log.close();
    await expect(s.create(header('twice'))).rejects.toMatchObject({
      code: 'E_RUN_STATE',
      message: 'run "twice" already exists in Redis',
    });
    // The failed create gave its lock back: the run can be continued.
    const again = await s.reopen('twice');
    await again.close();
  });

  it('an event JSON cannot hold stops the log with E_STORE naming it; nothing after it is written', async () => {
    const s = store();
    const log = await s.create(header('bad'));
    let failure: Error | undefined;
    log.onFailure = (err) => (failure = err);
    log.append(event('bad', 1));
    log.append(event('bad', 2, 'task.log', { fields: { n: 1n } }));
    log.append(event('bad', 3));
    await expect(log.close()).rejects.toMatchObject({ code: 'E_STORE' });
    expect(failure?.message).toMatch(/^event 2 \(task\.log\) cannot be recorded: /);
    expect(log.failure).toBe(failure);
    expect((await s.read('bad')).events.map((e) => e.seq)).toEqual([1]);
  });

  it('a lease renews while its writer lives and counts generations; a held run names its holder', async () => {
    const prefix = `gen${++n}`;
    const a = store(prefix, 300);
    const b = store(prefix, 300);
    const log = await a.create(header('g1'));
    expect(a.generationOf('g1')).toBe(1);
    await new Promise((r) => setTimeout(r, 900)); // three leases long: renewed
    const err = await b.lock('g1').catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'E_LOCKED' });
    expect((err as Error).message).toMatch(/^run "g1" is being continued by process \d+/);
    await log.close();
    expect(a.generationOf('g1')).toBeUndefined();
    const next = await b.lock('g1');
    expect(b.generationOf('g1')).toBe(2);
    next.release();
    next.release(); // twice: nothing more happens
  });

  it('a writer whose lease was taken while it was renewing is told (E_LOCKED) before it writes again', async () => {
    const prefix = `lost${++n}`;
    const a = store(prefix, 300);
    const log = await a.create(header('l1'));
    const lost = new Promise<Error>((resolve) => (log.onFailure = resolve));
    await a.redis.set(`${prefix}:run:l1:lock`, JSON.stringify({ token: 'someone else' }));
    const err = await lost;
    expect(err).toMatchObject({ code: 'E_LOCKED' });
    expect(err.message).toBe(
      'lost the lease on run "l1" (this process stalled past it, or Redis lost it); another process may continue the run',
    );
    log.append(event('l1', 1));
    await expect(log.close()).rejects.toBe(err);
    expect((await a.read('l1')).events).toEqual([]);
  });

  it('flushSync sends what is buffered; reopen puts a finished run back among the open ones', async () => {
    const s = store();
    const log = await s.create(header('o1'));
    log.append(event('o1', 1));
    log.flushSync();
    await new Promise((r) => setTimeout(r, 100));
    expect((await s.read('o1')).events.map((e) => e.seq)).toEqual([1]);
    log.append(finished('o1', 2));
    await log.close();
    expect(await s.isOpen('o1')).toBe(false);
    const again = await s.reopen('o1');
    expect(await s.isOpen('o1')).toBe(true);
    expect(await s.openRuns()).toEqual([{ runId: 'o1', held: true }]);
    await again.close();
  });

  it('a Redis that does not answer is E_CONFIG naming where it was looked for', async () => {
    const s = new RedisRunStore('redis://127.0.0.1:1', { secret: 'x' });
    opened.push(s);
    const t0 = Date.now();
    const err = await s.reachable(300).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'E_CONFIG' });
    expect((err as Error).message).toMatch(/^cannot reach Redis at 127\.0\.0\.1:1: no answer in 300 ms$/);
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(store().reachable()).resolves.toBeUndefined();
  });
  it('a clean record has no problems; an entry with a valid MAC but the wrong fields or text that is not JSON is reported', async () => {
    const s = store('shape');
    const log = await s.create(header('sh1'));
    log.append(event('sh1', 1));
    await log.flush();
    expect((await s.read('sh1')).problems).toEqual([]);
    const mac = new Mac(SECRET, 'records');
    const line = JSON.stringify(event('sh1', 2));
    const key = 'shape:run:sh1:events';
    await s.redis.xadd(key, '*', 'x', line, 'm', mac.sign('event', 'sh1', line)); // not the event field
    await s.redis.xadd(key, '*', 'e', line, 'x', mac.sign('event', 'sh1', line)); // not the MAC field
    await s.redis.xadd(key, '*', 'e', line, 'm', mac.sign('event', 'other', line)); // signed for another run
    await s.redis.xadd(key, '*', 'e', 'not json', 'm', mac.sign('event', 'sh1', 'not json'));
    const record = await s.read('sh1');
    expect(record.events.map((e) => e.seq)).toEqual([1]);
    expect(record.problems).toHaveLength(4);
    expect(record.problems.slice(0, 3)).toEqual(Array(3).fill(expect.stringMatching(/failed its MAC check/)));
    expect(record.problems[3]).toMatch(/^stream entry \S+: .*JSON.*, ignored$/);
    await log.close();
  });

  it('a header signed for one run but naming another is not trusted', async () => {
    const s = store('swap');
    const mac = new Mac(SECRET, 'records');
    const json = JSON.stringify(header('someone-else'));
    await s.redis.set('swap:run:h1:header', JSON.stringify({ mac: mac.sign('header', 'h1', json), header: json }));
    expect(await s.trustedHeader('h1')).toBeUndefined();
    const record = await s.read('h1');
    expect(record.untrusted).toMatch(/^the header of run "h1" in Redis failed its MAC check/);
    expect(record.problems).toEqual([record.untrusted]);
  });

  it('trusted headers are kept (a header never changes), the first of a thousand and one forgotten', async () => {
    const s = store('cache');
    const log = await s.create(header('c0'));
    await log.close();
    expect((await s.trustedHeader('c0'))?.runId).toBe('c0');
    const sealed = await s.redis.get('cache:run:c0:header');
    await s.redis.del('cache:run:c0:header');
    expect((await s.trustedHeader('c0'))?.runId).toBe('c0'); // from memory
    const pipeline = s.redis.pipeline();
    const mac = new Mac(SECRET, 'records');
    for (let i = 1; i <= 1000; i++) {
      const json = JSON.stringify(header(`c${i}`));
      pipeline.set(`cache:run:c${i}:header`, JSON.stringify({ mac: mac.sign('header', `c${i}`, json), header: json }));
    }
    await pipeline.exec();
    for (let i = 1; i <= 999; i++) await s.trustedHeader(`c${i}`);
    expect((await s.trustedHeader('c0'))?.runId).toBe('c0'); // 1000 kept: still there
    await s.trustedHeader('c1000');
    expect(await s.trustedHeader('c0')).toBeUndefined(); // the oldest forgotten, and gone from Redis
    await s.redis.set('cache:run:c0:header', sealed!);
  });

  it("keys are under the prefix, 'braid' unless told", async () => {
    const s = new RedisRunStore(redis.url, { secret: SECRET });
    opened.push(s);
    await (await s.create(header('p1'))).close();
    expect(await s.redis.exists('braid:run:p1:header', 'braid:run:p1:events', 'braid:runs')).toBe(2); // no events
    expect(await s.redis.zscore('braid:runs', 'p1')).not.toBeNull();
  });

  it('list: every run, newest first by creation time', async () => {
    const s = store('list');
    for (const [runId, year] of [
      ['l-2021', 2021],
      ['l-2019', 2019],
      ['l-2020', 2020],
      ['l-bad', 0],
    ] as const) {
      const log = await s.create({ ...header(runId), createdAt: year ? `${year}-01-01T00:00:00.000Z` : 'not a date' });
      await log.close();
    }
    expect(await s.list()).toEqual(['l-bad', 'l-2021', 'l-2020', 'l-2019']); // no date: created now
  });

  it('appends reach Redis without a flush, batch after batch; close returns once the lease is given back', async () => {
    const s = store('gc');
    const log = await s.create(header('gc1'));
    const length = () => s.redis.xlen('gc:run:gc1:events');
    log.append(event('gc1', 1));
    await until(async () => (await length()) === 1);
    log.append(event('gc1', 2));
    log.append(event('gc1', 3));
    await until(async () => (await length()) === 3);
    await log.close();
    expect(await s.redis.exists('gc:run:gc1:lock')).toBe(0);
    const again = await s.reopen('gc1');
    void again.close(); // not awaited: idle() waits for it
    await s.idle();
    expect(await s.redis.exists('gc:run:gc1:lock')).toBe(0);
  });

  it('follow of a run with no events yet gets them as they come, past a second with nothing new', async () => {
    const s = store();
    const log = await s.create(header('e1'));
    const following = collect(s.follow('e1', { follow: true }));
    await sleep(1300); // one XREAD block with nothing: the writer still holds the run, so following goes on
    log.append(event('e1', 1));
    log.append(finished('e1', 2));
    await log.flush();
    expect(await following).toEqual([1, 2]);
    await log.close();
  });

  it('follow ends at run.finished even while its writer still holds the lease', async () => {
    const s = store();
    const log = await s.create(header('e2'));
    log.append(event('e2', 1));
    log.append(finished('e2', 2));
    await log.flush();
    expect(await collect(s.follow('e2', { follow: true }))).toEqual([1, 2]);
    expect(await s.redis.exists(`${'rs' + n}:run:e2:lock`)).toBe(1); // still held: it ended on run.finished
    await log.close();
  });

  it('a lease lost is reported once; an old handle released late leaves the new lease and generation alone', async () => {
    const prefix = `once${++n}`;
    const s = store(prefix, 150);
    const log = await s.create(header('o1'));
    let failures = 0;
    log.onFailure = () => failures++;
    await s.redis.del(`${prefix}:run:o1:lock`);
    await until(() => failures > 0);
    await sleep(300); // six renewals find the lease gone
    expect(failures).toBe(1);
    const next = await s.lock('o1');
    expect(s.generationOf('o1')).toBe(2);
    await log.close().catch(() => {});
    expect(s.generationOf('o1')).toBe(2);
    expect(await s.redis.exists(`${prefix}:run:o1:lock`)).toBe(1);
    next.release();
  });

  it('a Redis error while appending stops the log with E_STORE naming the run', async () => {
    const s = store('wrong');
    const log = await s.create(header('w1'));
    await s.redis.set('wrong:run:w1:events', 'not a stream');
    log.append(event('w1', 1));
    const err = await log.close().catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'E_STORE' });
    expect((err as Error).message).toMatch(/^Redis: could not record run "w1": WRONGTYPE/);
  });

  it('close quits a connection that is up and drops one that never came up', async () => {
    const s = store();
    await s.reachable();
    await s.close();
    await until(() => s.redis.status === 'end');
    const dead = new RedisRunStore('redis://127.0.0.1:1', { secret: 'x' });
    await dead.close(); // quitting would wait for ever for a Redis that is not there
    await until(() => dead.redis.status === 'end');
  });
});
