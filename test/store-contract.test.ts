/**
 * One contract for every run store: the JSONL files, memory, and Redis (a real redis-server on a loopback
 * port). Runs recorded, read back, listed newest first, continued by exactly one writer, approved and
 * resumed with the same results whatever the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveTask, foldRun, JsonlRunStore, resumeRun, runWorkflow, type RunStore } from '../src/index.js';
import { MemoryRunStore } from '../src/store/memory-store.js';
import { RedisRunStore } from '../src/store/redis-store.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';
import { flow, recorder } from './support/tools.js';

if (!hasRedis) console.log(SKIP_REDIS);

function storeContract(name: string, make: () => RunStore | Promise<RunStore>, skip = false) {
  describe.skipIf(skip)(`run store contract: ${name}`, () => {
    it('records a run: the header, every event in order with seq 1, 2, 3, ..., read back and folded to the same result', async () => {
      const store = await make();
      const rec = recorder();
      const r = await runWorkflow(flow([{ id: 'a' }, { id: 'b', dependencies: ['a'] }]), { tools: rec.tools, store });
      const record = await store.read(r.runId);
      expect(record.header).toMatchObject({ runId: r.runId, workflow: { name: 'test' } });
      expect(record.events.map((e) => e.seq)).toEqual(record.events.map((_, i) => i + 1));
      expect(record.events[0].type).toBe('run.started');
      expect(record.events.at(-1)).toMatchObject({ type: 'run.finished', status: 'succeeded' });
      const folded = foldRun(record);
      expect(folded.status).toBe('succeeded');
      expect(folded.tasks.b).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(record.problems).toEqual([]);
    });

    it('lists runs newest first, and reading an unknown run is a clear error', async () => {
      const store = await make();
      const rec = recorder();
      const first = await runWorkflow(flow([{ id: 'a' }]), {
        tools: rec.tools,
        store,
        runId: '20261129T000001-aaaaaa',
      });
      const second = await runWorkflow(flow([{ id: 'a' }]), {
        tools: rec.tools,
        store,
        runId: '20261129T000002-bbbbbb',
      });
      const ids = await store.list();
      expect(ids.indexOf(second.runId)).toBeLessThan(ids.indexOf(first.runId));
      await expect(store.read('20991231T000000-000000')).rejects.toThrow(/no run/);
    });

    it('one writer per run: a second lock fails with E_LOCKED while the first is held, and succeeds after release', async () => {
      const store = await make();
      const rec = recorder();
      const r = await runWorkflow(flow([{ id: 'a' }]), { tools: rec.tools, store });
      const held = await store.lock(r.runId);
      await expect(store.lock(r.runId)).rejects.toMatchObject({ code: 'E_LOCKED' });
      await expect(resumeRun(r.runId, { store, tools: rec.tools })).rejects.toMatchObject({ code: 'E_LOCKED' });
      held.release();
      const again = await store.lock(r.runId);
      again.release();
    });

    it('an approval and a resume continue the run in the same record, with continued numbering', async () => {
      const store = await make();
      const rec = recorder();
      const wf = flow([
        { id: 'draft' },
        { id: 'send', approval: true, dependencies: ['draft'] },
        { id: 'after', dependencies: ['send'] },
      ]);
      const paused = await runWorkflow(wf, { tools: rec.tools, store });
      expect(paused.status).toBe('waiting');
      await approveTask(store, paused.runId, 'send', { approved: true, by: 'ana' });
      const done = await resumeRun(paused.runId, { store, tools: rec.tools });
      expect(done.status).toBe('succeeded');
      expect(rec.ran()).toEqual(['draft', 'send', 'after']); // draft not run again
      const { events } = await store.read(paused.runId);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'task.approval')).toHaveLength(1);
    });
  });
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
storeContract('JSONL files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'braid-contract-'));
  dirs.push(dir);
  return new JsonlRunStore(dir);
});
storeContract('memory', () => new MemoryRunStore());

let redis: TestRedis | undefined;
const opened: RedisRunStore[] = [];
if (hasRedis) {
  beforeAll(async () => {
    redis = await startRedis();
  }, 20_000);
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await redis?.stop();
  });
}
let prefixes = 0;
storeContract(
  'Redis',
  () => {
    const store = new RedisRunStore(redis!.url, { prefix: `t${++prefixes}` });
    opened.push(store);
    return store;
  },
  !hasRedis,
);

describe.skipIf(!hasRedis)('Redis store: the lease', () => {
  const header = (runId: string) => ({
    type: 'run.record' as const,
    version: 1 as const,
    runId,
    createdAt: new Date().toISOString(),
    workflow: { name: 'w', tasks: [] } as never,
    input: {},
  });
  const event = (seq: number, type = 'task.log') =>
    ({ seq, ts: new Date().toISOString(), runId: 'x', type, level: 'info', message: String(seq) }) as never;

  it('fences appends: a writer whose lease another process took stops with E_LOCKED and writes nothing more', async () => {
    const a = new RedisRunStore(redis!.url, { prefix: `lease${++prefixes}`, leaseMs: 200 });
    const b = new RedisRunStore(redis!.url, { prefix: `lease${prefixes}`, leaseMs: 5000 });
    opened.push(a, b);
    const log = await a.create(header('r1'));
    log.append(event(1));
    await log.flush();
    // The writer stalls past its lease (its renewals stop); another process takes the run over.
    await a.redis.del(`lease${prefixes}:run:r1:lock`);
    const lock = await b.lock('r1');
    let failed: Error | undefined;
    log.onFailure = (err) => (failed = err);
    log.append(event(2));
    await log.flush();
    expect(failed).toMatchObject({ code: 'E_LOCKED' });
    expect((await b.read('r1')).events.map((e) => e.seq)).toEqual([1]);
    lock.release();
  });

  it('knows which runs are open and whether a live writer holds them (read() says live; fold needs no pid); version changes with the record', async () => {
    const store = new RedisRunStore(redis!.url, { prefix: `lease${++prefixes}` });
    opened.push(store);
    const log = await store.create(header('r2'));
    log.append(event(1, 'run.started'));
    await log.flush();
    expect(await store.openRuns()).toEqual([{ runId: 'r2', held: true }]);
    expect((await store.read('r2')).live).toBe(true);
    const v1 = await store.version('r2');
    log.append({ ...(event(2, 'run.finished') as object), status: 'succeeded', durationMs: 1 } as never);
    await log.close();
    expect(await store.openRuns()).toEqual([]);
    expect((await store.read('r2')).live).toBe(false);
    // The cache key of a record (the dashboard's run list) changes with it, and only with it.
    const v2 = await store.version('r2');
    expect(v2).not.toBe(v1);
    expect(await store.version('r2')).toBe(v2);
  });
});
