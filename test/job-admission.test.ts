/**
 * What a `braid worker` checks before it runs a signed job (service/job-admission.ts), against a real redis-server:
 * the job's run must have an authentic record, still be open, have the job's task, and that task must use the job's
 * tool (its own, or a fallback of its `on_failure` or of the workflow's defaults). Each refusal says which.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRequest } from '../src/executors/contract.js';
import { admitFromRecords } from '../src/service/job-admission.js';
import { RedisRunStore } from '../src/store/redis-store.js';
import { RECORD_VERSION, type RunHeader } from '../src/store/types.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';

if (!hasRedis) console.log(SKIP_REDIS);

let redis: TestRedis;
let store: RedisRunStore;

const request = (taskId: string, tool: string, runId = 'r1'): AttemptRequest => ({
  runId,
  taskId,
  visit: 1,
  attempt: 1,
  tool,
  input: {},
});

describe.skipIf(!hasRedis)('job admission (real redis-server)', () => {
  beforeAll(async () => {
    redis = await startRedis();
    store = new RedisRunStore(redis.url, { prefix: 'adm', secret: 'admission' });
    const header = (runId: string): RunHeader => ({
      type: 'run.record',
      version: RECORD_VERSION,
      runId,
      createdAt: new Date().toISOString(),
      workflow: {
        name: 'w',
        defaults: { on_failure: [{ retry: 1 }, { fallback: 'backup' }] },
        tasks: [
          { id: 'a', tool: 'search', on_failure: [{ retry: 2 }, { fallback: 'search_b' }, 'skip'] },
          { id: 'b', tool: 'write' },
        ],
      } as unknown as RunHeader['workflow'],
      input: {},
    });
    await (await store.create(header('r1'))).flush();
    const done = await store.create(header('done'));
    done.append({
      seq: 1,
      ts: new Date().toISOString(),
      runId: 'done',
      type: 'run.finished',
      status: 'succeeded',
      durationMs: 1,
    });
    await done.close();
  });
  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  it('admits a task’s own tool and the fallbacks of its on_failure and of the defaults', async () => {
    const admit = admitFromRecords(store);
    expect(await admit(request('a', 'search'))).toBeUndefined();
    expect(await admit(request('a', 'search_b'))).toBeUndefined();
    expect(await admit(request('a', 'backup'))).toBeUndefined();
    expect(await admit(request('b', 'write'))).toBeUndefined();
    expect(await admit(request('b', 'backup'))).toBeUndefined();
  });

  it('refuses, saying why: another tool, another task’s fallback, a task or run it does not know, a finished run', async () => {
    const admit = admitFromRecords(store);
    expect(await admit(request('a', 'write'))).toBe('task "a" of run "r1" does not use tool "write"');
    expect(await admit(request('b', 'search_b'))).toBe('task "b" of run "r1" does not use tool "search_b"');
    expect(await admit(request('c', 'search'))).toBe('run "r1" has no task "c"');
    expect(await admit(request('a', 'search', 'nope'))).toBe('run "nope" has no authentic record in Redis');
    expect(await admit(request('a', 'search', 'done'))).toBe('run "done" has finished');
  });
});
