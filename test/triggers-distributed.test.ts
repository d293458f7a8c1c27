/**
 * Triggers across processes, for real (workflow-spec.md §10, issue 39 item 2): a redis-server on a loopback port,
 * two `braid serve --redis` and one `braid worker --coordinate -w`, all firing the same folder's triggers; one serve
 * killed with SIGKILL midway. A schedule every second starts exactly one run per due time, with no gap through the
 * kill; 1,000 events with 10% repeated ids, sent to both servers (a send the dead one did not answer is sent again to
 * the other, as a client would), start exactly the 900 distinct ids' runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRunStore } from '../src/store/redis-store.js';
import { BIN, BRAID_HOME, ROOT } from './support/cli.js';
import { hasRedis, SKIP_REDIS, startRedis } from './support/redis.js';
import { until } from './support/until.js';

if (!hasRedis) console.log(SKIP_REDIS);

const SECRET = 'triggers-distributed-test-secret';
let redis: Awaited<ReturnType<typeof startRedis>>;
const children: (ChildProcess & { err: string })[] = [];

function start(args: string[], env: Record<string, string>): ChildProcess & { err: string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', OPENAI_API_KEY: '', BRAID_HOME, ...env },
  }) as ChildProcess & { err: string };
  child.err = '';
  child.stderr!.on('data', (d) => (child.err += d));
  child.stdout!.resume();
  children.push(child);
  return child;
}

describe.skipIf(!hasRedis)('triggers across three processes sharing Redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await redis?.stop();
  });

  it('each due time and each event id starts exactly one run, through a kill -9', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-trig-'));
    const workflows = join(dir, 'workflows');
    mkdirSync(workflows);
    writeFileSync(
      join(workflows, 'tick.json'),
      JSON.stringify({
        name: 'tick',
        inputs: { type: 'object', properties: { n: { type: 'number' } } },
        triggers: [
          { name: 'every-second', schedule: { cron: '* * * * * *', overlap: 'allow_all' } },
          { name: 'ping', event: { name: 'ping', input: { n: '{{ event.data.n }}' } } },
        ],
        tasks: [{ id: 'a', tool: 'echo', input: { value: '{{ input.n }}' } }],
      }),
    );
    const env = { BRAID_REDIS_URL: redis.url, BRAID_SECRET: SECRET, BRAID_LEASE_MS: '2000' };
    const serveA = start(['serve', '--port', '0', '-w', workflows], env);
    const serveB = start(['serve', '--port', '0', '-w', workflows], env);
    const worker = start(['worker', '--coordinate', '-w', workflows, '--grace', '0'], env);
    const urlOf = (c: { err: string }) => /braid serve: (http:\/\/\S+) /.exec(c.err)?.[1];
    const [urlA, urlB] = await Promise.all([serveA, serveB].map((c) => until(() => urlOf(c), 30_000)));
    await until(() => worker.err.includes('braid worker '), 30_000);
    const readyAt = Date.now();

    // 1,000 sends: 900 distinct ids, then 100 of them again, shuffled; ten at a time, alternating servers.
    const ids = Array.from({ length: 900 }, (_, i) => `ev-${i}`);
    const sends = [...ids, ...ids.filter((_, i) => i % 9 === 0)].sort(() => Math.random() - 0.5);
    let killedAt = 0;
    const post = (url: string, id: string) =>
      fetch(`${url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ping', id, data: { n: Number(id.slice(3)) } }),
      }).then((r) =>
        r.ok ? (r.json() as Promise<{ duplicate: boolean }>) : Promise.reject(new Error(`HTTP ${r.status}`)),
      );
    let next = 0;
    const answers: { duplicate: boolean }[] = [];
    const sender = async (k: number) => {
      while (next < sends.length) {
        const i = next++;
        if (i === 400 && !killedAt) {
          serveA.kill('SIGKILL'); // midway through the events, and through the schedule
          killedAt = Date.now();
        }
        const first = (i + k) % 2 === 0 && !killedAt ? urlA : urlB;
        answers.push(await post(first, sends[i]).catch(() => post(urlB, sends[i])));
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, k) => sender(k)));
    // The schedule keeps going for a while after the kill.
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 10_000 - Date.now())));
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000)); // claims of the dead process expire; the survivors settle them
    for (const c of [serveB, worker]) c.kill('SIGTERM');
    await Promise.all(
      [serveB, worker].map((c) => new Promise((r) => (c.exitCode !== null ? r(0) : c.once('exit', r)))),
    );

    const store = new RedisRunStore(redis.url, { secret: SECRET });
    try {
      const headers = [];
      for (const runId of await store.list()) headers.push(await store.trustedHeader(runId));
      const triggered = headers.filter((h) => h?.trigger);
      const events = triggered.filter((h) => h!.trigger!.name === 'ping').map((h) => h!.trigger!.eventId!);
      expect(new Set(events).size).toBe(events.length); // no event id started twice
      expect(events.sort()).toEqual([...ids].sort()); // and every one started once
      // Every send was answered; a send the dead server settled but did not answer is answered as a repeat.
      expect(answers).toHaveLength(sends.length);
      expect(answers.filter((a) => !a.duplicate).length).toBeLessThanOrEqual(900);

      const dues = triggered
        .filter((h) => h!.trigger!.name === 'every-second')
        .map((h) => Date.parse(h!.trigger!.due!));
      expect(new Set(dues).size).toBe(dues.length); // no due time started twice
      dues.sort((a, b) => a - b);
      const expected = [];
      for (let t = dues[0]; t <= dues[dues.length - 1]; t += 1000) expected.push(t);
      expect(dues).toEqual(expected); // and none missed between the first and the last, the kill included
      expect(dues[0]).toBeLessThanOrEqual(readyAt + 1000);
      expect(dues[dues.length - 1]).toBeGreaterThanOrEqual(stoppedAt - 1000);
      expect(dues.some((d) => d > killedAt + 3000)).toBe(true);
      console.log(
        `triggers across processes: ${dues.length} due times (${new Date(dues[0]).toISOString()} .. ${new Date(dues[dues.length - 1]).toISOString()}), one run each; ${events.length} runs for ${sends.length} sends of ${ids.length} ids; serve killed at +${killedAt - readyAt} ms`,
      );
    } finally {
      await store.close();
    }
  });
});
