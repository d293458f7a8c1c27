/**
 * Workers on many machines, for real: `braid worker` processes and `braid run --redis` coordinators
 * around one redis-server (started here on a loopback port). A DAG spread over three workers, a worker and
 * a coordinator killed with SIGKILL mid-run, a rate limit across workers, cancellation reaching another
 * process, and Redis restarted mid-run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, braid, BRAID_HOME, ROOT } from './support/cli.js';
import { hasRedis, SKIP_REDIS, startRedis } from './support/redis.js';
import { until as waitUntil } from './support/until.js';

if (!hasRedis) console.log(SKIP_REDIS);

const TOOLS = join(ROOT, 'test/fixtures/worker-tools.mjs');
let redis: Awaited<ReturnType<typeof startRedis>>;
let dir: string;
const children: ChildProcess[] = [];

type Trace = { what: string; task: string; attempt: number; pid: number; at: number };
const trace = (): Trace[] =>
  existsSync(join(dir, 'trace.log'))
    ? readFileSync(join(dir, 'trace.log'), 'utf8')
        .trim()
        .split('\n')
        // The last line may be half written by a process appending to it right now.
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Trace];
          } catch {
            return [];
          }
        })
    : [];

const env = () => ({ TRACE_DIR: dir, BRAID_REDIS_URL: redis.url, BRAID_HOME });

/** The trials wait longer and look less often: real processes start and stop. */
const until = <T>(get: Parameters<typeof waitUntil<T>>[0], ms = 20_000) => waitUntil(get, ms, 50);

/** A `braid` process in the background (a worker, a coordinator); killed after the test if still alive. */
function start(
  args: string[],
  extraEnv: Record<string, string> = {},
  nodeArgs: string[] = [],
): ChildProcess & { err: string } {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', OPENAI_API_KEY: '', ...env(), ...extraEnv },
  }) as ChildProcess & { err: string };
  child.err = '';
  child.stderr!.on('data', (d) => (child.err += d));
  child.stdout!.resume();
  children.push(child);
  return child;
}

async function workers(n: number, extra: string[] = []): Promise<(ChildProcess & { err: string })[]> {
  const started = Array.from({ length: n }, () =>
    start(['worker', '--tools', TOOLS, '--lock-duration', '1000', '--grace', '0', ...extra]),
  );
  await Promise.all(started.map((w) => until(() => w.err.includes('braid worker '))));
  return started;
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));

function flowFile(name: string, tasks: unknown[]): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, tasks }));
  return file;
}

describe.skipIf(!hasRedis)('braid worker and braid run --redis (real redis-server, separate processes)', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a 200-task DAG run over 3 worker processes gives the same result as in process', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    const tasks = [];
    for (let layer = 0; layer < 10; layer++)
      for (let i = 0; i < 20; i++)
        tasks.push({
          id: `t${layer}_${i}`,
          tool: 'step',
          input: { ms: i % 7 === 0 ? 5 : 0 },
          ...(layer ? { dependencies: [`t${layer - 1}_${i}`, `t${layer - 1}_${(i + 1) % 20}`] } : {}),
        });
    const file = flowFile('dag200', tasks);
    const local = await braid(['run', file, '--tools', TOOLS, '--json', '--no-store'], {
      env: { TRACE_DIR: dir },
    });
    expect(local.code, local.stderr).toBe(0);
    const ws = await workers(3);
    const remote = await braid(['run', file, '--tools', TOOLS, '--json'], { env: env() });
    expect(remote.code, remote.stderr).toBe(0);
    const shape = (out: string) => {
      const r = JSON.parse(out) as { status: string; output: unknown; tasks: Record<string, any> };
      const tasks = Object.entries(r.tasks).map(([id, t]) => [id, t.status, t.attempts, t.output]);
      return { status: r.status, output: r.output, tasks };
    };
    expect(shape(remote.stdout)).toEqual(shape(local.stdout));
    expect(shape(remote.stdout).tasks).toHaveLength(200);
    // The attempts were spread over the workers, not run by the coordinator.
    const pids = new Set(
      trace()
        .filter((t) => t.what === 'start')
        .map((t) => t.pid),
    );
    const workerPids = new Set(ws.map((w) => w.pid));
    const remotePids = [...pids].filter((p) => workerPids.has(p));
    expect(remotePids.length).toBeGreaterThanOrEqual(2);
    // And the run is recorded in Redis: any braid command pointed at it sees it.
    const runs = await braid(['runs', '--json'], { env: env() });
    expect(JSON.parse(runs.stdout)[0]).toMatchObject({ workflow: 'dag200', status: 'succeeded' });
  }, 90_000);

  it('kill -9 of a worker mid-attempt: the attempt goes to another worker and the run succeeds', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    const ws = await workers(2);
    const file = flowFile('slow', [
      { id: 'slow', tool: 'step', input: { ms: 1500 } },
      { id: 'after', tool: 'step', dependencies: ['slow'] },
    ]);
    const run = braid(['run', file, '--tools', TOOLS, '--json'], { env: env() });
    const first = await until(() => trace().find((t) => t.task === 'slow' && t.what === 'start'));
    const victim = ws.find((w) => w.pid === first.pid)!;
    expect(victim).toBeDefined();
    victim.kill('SIGKILL');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    const slow = trace().filter((t) => t.task === 'slow');
    // Started twice (at least once: the dead worker's start), ended once, by the survivor.
    expect(slow.filter((t) => t.what === 'start').map((t) => t.pid)).toEqual([victim.pid, expect.any(Number)]);
    expect(slow.filter((t) => t.what === 'end').map((t) => t.pid)).toEqual([ws.find((w) => w !== victim)!.pid]);
    // The record says which worker was lost and which took over, what the attempt waited for meanwhile, and the
    // task keeps its first start: summary and record agree on its time.
    const runId = (JSON.parse(r.stdout) as { runId: string }).runId;
    const logs = (await braid(['logs', runId, '--json'], { env: env() })).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; taskId?: string; message?: string; ts: string; worker?: string });
    const survivor = ws.find((w) => w !== victim)!.pid;
    const redelivered = logs.find((e) => e.type === 'task.log' && /was lost mid-attempt/.test(e.message ?? ''));
    expect(redelivered?.message).toMatch(
      new RegExp(`worker \\S+:${victim.pid} was lost.*worker \\S+:${survivor} runs`),
    );
    const waited = logs.filter((e) => e.type === 'task.progress' && /^waiting: worker/.test(e.message ?? ''));
    expect(waited.map((e) => e.message)).toEqual([expect.stringContaining(`:${victim.pid} `)]);
    const started = logs.filter((e) => e.type === 'task.started' && e.taskId === 'slow');
    expect(started).toHaveLength(1);
    const show = JSON.parse((await braid(['show', runId, '--json'], { env: env() })).stdout) as {
      tasks: Record<string, { startedAt: string; endedAt: string }>;
    };
    expect(Date.parse(show.tasks.slow.startedAt)).toBeLessThanOrEqual(Date.parse(started[0].ts));
    expect(Date.parse(show.tasks.slow.startedAt)).toBeLessThan(Date.parse(redelivered!.ts));
    // The logs' duration is the summary's: from the first start to the end, the dead worker's time included.
    const succeeded = logs.find((e) => e.type === 'task.succeeded' && e.taskId === 'slow') as unknown as {
      durationMs: number;
    };
    const wall = Date.parse(show.tasks.slow.endedAt) - Date.parse(show.tasks.slow.startedAt);
    expect(succeeded.durationMs).toBeGreaterThan(1500 + 500); // the tool's 1.5 s and the wait for the lock
    expect(Math.abs(succeeded.durationMs - wall)).toBeLessThan(250);
  }, 60_000);

  it('SIGTERM stops a worker gracefully: its running attempt finishes, then it exits 0', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    const [w] = await workers(1, ['--grace', '10000']);
    const file = flowFile('graceful', [{ id: 'g', tool: 'step', input: { ms: 800 } }]);
    const run = braid(['run', file, '--tools', TOOLS, '--json'], { env: env() });
    await until(() => trace().find((t) => t.task === 'g' && t.what === 'start'));
    w.kill('SIGTERM');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    await exited(w);
    expect(w.exitCode).toBe(0);
    expect(
      trace()
        .filter((t) => t.task === 'g')
        .map((t) => [t.what, t.pid]),
    ).toEqual([
      ['start', w.pid],
      ['end', w.pid],
    ]);
  }, 30_000);

  it('kill -9 of the coordinator: a worker --coordinate takes the run over when its lease expires; no recorded success runs again', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    const lease = { BRAID_LEASE_MS: '1500' };
    start(['worker', '--tools', TOOLS, '--lock-duration', '1000', '--coordinate'], lease);
    await until(() => children[0] && (children[0] as ChildProcess & { err: string }).err.includes('braid worker '));
    const file = flowFile('chain', [
      { id: 'a', tool: 'step', input: { ms: 0 } },
      { id: 'b', tool: 'step', input: { ms: 1000 }, dependencies: ['a'] },
      { id: 'c', tool: 'step', input: { ms: 0 }, dependencies: ['b'] },
    ]);
    const coordinator = start(['run', file, '--tools', TOOLS, '--quiet'], lease);
    await until(() => trace().find((t) => t.task === 'b' && t.what === 'start'));
    coordinator.kill('SIGKILL');
    await exited(coordinator);
    const show = await until(async () => {
      const runs = await braid(['runs', '--json'], { env: env() });
      const latest = (JSON.parse(runs.stdout) as { runId: string; workflow: string; status: string }[]).find(
        (r) => r.workflow === 'chain',
      );
      return latest?.status === 'succeeded' && latest;
    });
    expect(show.status).toBe('succeeded');
    const starts = (task: string) => trace().filter((t) => t.task === task && t.what === 'start').length;
    expect(starts('a')).toBe(1); // recorded before the coordinator died: reused, not run again
    // b was running in the worker when its coordinator died: the new coordinator sends the same attempt (same
    // job id) and takes its result, instead of running it a second time.
    expect(starts('b')).toBe(1);
    expect(starts('c')).toBe(1);
    expect(children[0] && (children[0] as ChildProcess & { err: string }).err).toContain(`took over run ${show.runId}`);
    // b keeps its real start (the worker's, before the takeover), not the moment the run was taken over.
    const tasks = (
      JSON.parse((await braid(['show', show.runId, '--json'], { env: env() })).stdout) as {
        tasks: Record<string, { startedAt: string }>;
      }
    ).tasks;
    const bStart = trace().find((t) => t.task === 'b' && t.what === 'start')!.at;
    expect(Math.abs(Date.parse(tasks.b.startedAt) - bStart)).toBeLessThan(500);
  }, 60_000);

  it('cancelling a run reaches the tool running in a worker process', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    await workers(1);
    const file = flowFile('hang', [{ id: 'h', tool: 'hang' }]);
    const coordinator = start(['run', file, '--tools', TOOLS, '--quiet']);
    await until(() => trace().find((t) => t.task === 'h' && t.what === 'start'));
    coordinator.kill('SIGINT');
    await exited(coordinator);
    expect(coordinator.exitCode).toBe(1);
    const aborted = await until(() => trace().find((t) => t.what === 'aborted'), 5000);
    expect(aborted.pid).not.toBe(coordinator.pid);
  }, 30_000);

  it('a tool’s rate limit holds across 3 workers (starts counted per interval)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    await workers(3);
    const file = flowFile(
      'limited',
      Array.from({ length: 10 }, (_, i) => ({ id: `l${i}`, tool: 'limited' })),
    );
    const r = await braid(['run', file, '--tools', TOOLS, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const starts = trace()
      .filter((t) => t.what === 'start')
      .map((t) => t.at)
      .sort((x, y) => x - y);
    expect(starts).toHaveLength(10);
    expect(new Set(trace().map((t) => t.pid)).size).toBeGreaterThanOrEqual(2);
    // 2 per 400 ms (BullMQ's windows): any stretch of L ms holds at most 2 starts per window it touches. A
    // start is timed in the tool, up to ~150 ms after BullMQ let the job go on a loaded machine: that is the slack.
    for (let i = 0; i < starts.length; i++)
      for (let j = i; j < starts.length; j++)
        expect(j - i + 1, `starts ${i}..${j}`).toBeLessThanOrEqual(2 * Math.ceil((starts[j] - starts[i] + 150) / 400));
    expect(starts.at(-1)! - starts[0]).toBeGreaterThanOrEqual(3 * 400); // 5 windows at least
  }, 60_000);

  it('every braid command pointed at the same Redis sees the run: logs --follow, show, explain, resume, serve', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    await workers(1);
    const file = flowFile('seen', [
      { id: 'a', tool: 'step', input: { ms: 300 } },
      { id: 'b', tool: 'step', input: { ms: 300 }, dependencies: ['a'] },
      { id: 'bad', tool: 'hang', timeout_ms: 200, dependencies: ['b'] },
    ]);
    const run = braid(['run', file, '--tools', TOOLS, '--json'], { env: env() });
    const started = await until(() => trace().find((t) => t.task === 'a'));
    expect(started).toBeDefined();
    // Followed from another process while it runs (XREAD BLOCK), to its end.
    const logs = await braid(['logs', 'latest', '--follow', '--json'], { env: env() });
    const types = logs.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types[0]).toBe('run.started');
    expect(types.at(-1)).toBe('run.finished');
    const r = await run;
    expect(r.code).toBe(1);
    const runId = (JSON.parse(r.stdout) as { runId: string }).runId;
    const show = await braid(['show', runId, '--json'], { env: env() });
    expect(JSON.parse(show.stdout)).toMatchObject({ status: 'failed', tasks: { a: { status: 'succeeded' } } });
    const explain = await braid(['explain', runId, 'bad'], { env: env() });
    expect(explain.stdout).toMatch(/E_TIMEOUT|timed out|200 ?ms/);
    // Resumed from the record in Redis: a and b are reused (not run again), bad fails again.
    const resumed = await braid(['resume', runId, '--json'], { env: env() });
    expect(resumed.code).toBe(1);
    expect(trace().filter((t) => t.task === 'a' && t.what === 'start')).toHaveLength(1);
    // The dashboard's API over the same Redis lists it.
    const serve = start(['serve', '--port', '0', '--tools', TOOLS]);
    const url = await until(() => /http:\/\/127\.0\.0\.1:\d+/.exec(serve.err)?.[0]);
    const list = (await (await fetch(`${url}/runs`)).json()) as { runs?: { runId: string }[] } | { runId: string }[];
    const ids = (Array.isArray(list) ? list : (list.runs ?? [])).map((x) => x.runId);
    expect(ids).toContain(runId);
  }, 60_000);

  it('with BRAID_OTEL, BullMQ’s spans (bullmq-otel): the worker’s processing continues the trace of the coordinator’s send', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    const otel = ['--import', join(ROOT, 'test/fixtures/otel-setup.mjs')];
    const spans = (who: string) =>
      existsSync(join(dir, `${who}.spans`))
        ? readFileSync(join(dir, `${who}.spans`), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { name: string; trace: string; id: string; parent: string | null })
        : [];
    const w = start(['worker', '--tools', TOOLS], { BRAID_OTEL: '1', OTEL_TEST_OUT: join(dir, 'worker.spans') }, otel);
    await until(() => w.err.includes('braid worker '));
    const file = flowFile('traced', [{ id: 'one', tool: 'step', input: { ms: 0 } }]);
    const r = await braid(['run', file, '--tools', TOOLS, '--quiet'], {
      env: { ...env(), BRAID_OTEL: '1', OTEL_TEST_OUT: join(dir, 'coordinator.spans') },
      nodeArgs: otel,
    });
    expect(r.code, r.stderr).toBe(0);
    const sent = spans('coordinator');
    const processed = await until(() => spans('worker').find((s) => s.name.startsWith('process')));
    expect(sent.some((s) => s.name.startsWith('add'))).toBe(true);
    expect(sent.map((s) => s.trace)).toContain(processed.trace);
  }, 30_000);

  /**
   * Takeovers end with the truth: a coordinator that loses its lease (Redis down past it, or the coordinator
   * stalled past it) stops and exits without cancelling the attempts workers run; a worker --coordinate takes
   * the run over, keeps what happened as facts, and the run ends succeeded with every task run, never
   * "succeeded" with tasks skipped because of a cancel.
   */
  async function truthTrial(name: string, disrupt: (coordinator: ChildProcess) => Promise<void>) {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    const lease = { BRAID_LEASE_MS: '1000' };
    for (let i = 0; i < 2; i++)
      start(['worker', '--tools', TOOLS, '--lock-duration', '1000', '--coordinate', '--grace', '0'], lease);
    await until(() => children.every((c) => (c as ChildProcess & { err: string }).err.includes('braid worker ')));
    const fan = Array.from({ length: 6 }, (_, i) => `p${i}`);
    const chain = Array.from({ length: 4 }, (_, i) => `c${i}`);
    const file = flowFile(name, [
      { id: 's', tool: 'step', input: { ms: 200 } },
      ...fan.map((id) => ({ id, tool: 'step', input: { ms: 600 }, dependencies: ['s'] })),
      { id: 'j', tool: 'step', input: { ms: 100 }, dependencies: fan },
      ...chain.map((id, i) => ({ id, tool: 'step', input: { ms: 300 }, dependencies: [i ? chain[i - 1] : 'j'] })),
      { id: 'send', tool: 'step', input: { ms: 0 }, dependencies: [chain.at(-1)] },
    ]);
    const coordinator = start(['run', file, '--tools', TOOLS, '--quiet'], lease);
    await until(() => trace().find((t) => t.task === 'p0' && t.what === 'start'));
    await disrupt(coordinator);
    // A coordinator that lost its lease stops and exits (the trials that take its lease assert it); one that kept
    // it finishes the run, which BullMQ workers slow down after each Redis restart (they retry after a delay).
    await Promise.race([exited(coordinator), new Promise((r) => setTimeout(r, 30_000))]);
    const runs = async () =>
      (
        JSON.parse((await braid(['runs', '--json'], { env: env() })).stdout) as {
          runId: string;
          workflow: string;
          status: string;
        }[]
      ).find((r) => r.workflow === name);
    const ended = await until(async () => {
      const r = await runs();
      return r && r.status !== 'running' && r.status !== 'interrupted' && r;
    }, 120_000);
    const show = JSON.parse((await braid(['show', ended.runId, '--json'], { env: env() })).stdout) as {
      status: string;
      tasks: Record<string, { status: string; reason?: string }>;
    };
    expect(show.status).toBe('succeeded');
    for (const [id, t] of Object.entries(show.tasks)) {
      expect(t, id).toMatchObject({ status: 'succeeded' });
      expect(
        trace().some((x) => x.task === id && x.what === 'end'),
        `${id} ran to its end`,
      ).toBe(true);
    }
    return { coordinator, runId: ended.runId };
  }

  it('Redis down longer than the lease: the old coordinator exits, a worker --coordinate finishes the run, every task succeeded', async () => {
    const { coordinator } = await truthTrial('outage', () => redis.restart(2500));
    expect(coordinator.exitCode ?? coordinator.signalCode).not.toBeNull();
  }, 240_000);

  it('a coordinator stalled past its lease (SIGSTOP): it exits when it wakes, and the run that was taken over succeeds', async () => {
    const { coordinator, runId } = await truthTrial('stalled', async (c) => {
      c.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 2500));
      await until(() => children.some((w) => (w as ChildProcess & { err: string }).err.includes('took over run')));
      c.kill('SIGCONT');
    });
    expect((coordinator as ChildProcess & { err: string }).err).toMatch(/lost the lease/);
    expect(children.some((w) => (w as ChildProcess & { err: string }).err.includes(`took over run ${runId}`))).toBe(
      true,
    );
  }, 240_000);

  it('ten short Redis restarts during a run: it ends succeeded with every task run', async () => {
    await truthTrial('restarts', async () => {
      for (let i = 0; i < 10; i++) {
        await redis.restart(150);
        await new Promise((r) => setTimeout(r, 250));
      }
    });
  }, 240_000);

  it('Redis restarted mid-run (with persistence on): the run completes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'braid-dist-'));
    await workers(1);
    const file = flowFile(
      'chain6',
      Array.from({ length: 6 }, (_, i) => ({
        id: `s${i}`,
        tool: 'step',
        input: { ms: 300 },
        ...(i ? { dependencies: [`s${i - 1}`] } : {}),
      })),
    );
    const run = braid(['run', file, '--tools', TOOLS, '--json'], { env: env() });
    await until(() => trace().filter((t) => t.what === 'end').length >= 2);
    await redis.restart();
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { tasks: Record<string, { status: string }> };
    expect(Object.values(result.tasks).map((t) => t.status)).toEqual(Array(6).fill('succeeded'));
  }, 90_000); // BullMQ workers retry their loop 15 s after losing Redis
});

describe('Redis on the command line: clear errors', () => {
  it('braid worker without Redis, and a Redis that does not answer, exit 2 saying what to do', async () => {
    const none = await braid(['worker'], { env: { BRAID_REDIS_URL: '' } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('braid worker needs Redis: give --redis redis://host:6379 or set BRAID_REDIS_URL');
    const closed = await braid(['runs', '--redis', 'redis://127.0.0.1:1']);
    expect(closed.code).toBe(2);
    expect(closed.stderr).toMatch(/cannot reach Redis at 127\.0\.0\.1:1/);
  }, 30_000);
});
