/**
 * One writer per run (issue 15.1): concurrent `braid resume` / `braid approve` of one run, with real processes;
 * stale-lock takeover after a dead owner; the same guard in the API and over HTTP (approve, cancel, resume).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlRunStore, OfflineProvider, resumeRun, runWorkflow } from '../src/index.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { startServer } from '../src/server/serve.js';
import { foldRun } from '../src/store/fold.js';
import { BIN, ROOT, braid, type CliResult } from './support/cli.js';
import { recorder } from './support/tools.js';

const TOOLS = 'test/fixtures/lock-tools.mjs';
/** Trials per contention test; BRAID_LOCK_TRIALS=20 for a longer soak. */
const TRIALS = Number(process.env.BRAID_LOCK_TRIALS ?? 2);
/** Response bodies in tests are read as loosely typed JSON. */
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'braid-lock-'));
  const env = { BRAID_HOME: join(dir, 'home'), COUNT_FILE: join(dir, 'count.txt'), NAP_MS: '200' };
  const counts = () =>
    existsSync(env.COUNT_FILE) ? readFileSync(env.COUNT_FILE, 'utf8').trim().split('\n').filter(Boolean) : [];
  const runIds = () =>
    readdirSync(join(env.BRAID_HOME, 'runs'))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => f.slice(0, -6));
  const record = (id: string) => readFileSync(join(env.BRAID_HOME, 'runs', `${id}.jsonl`), 'utf8');
  return { dir, env, counts, runIds, record };
}

/** The same command from several processes started together. */
function together(runs: string[][], env: Record<string, string>): Promise<CliResult[]> {
  return Promise.all(runs.map((args) => braid(args, { env })));
}

const duplicates = (ids: string[]) => ids.filter((id, i) => ids.indexOf(id) !== i);

/** Every line parses, seq runs 1..n without gaps or repeats. */
function checkRecord(text: string): void {
  const [, ...events] = text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
}

const LOCKED =
  /braid: run "[^"]+" is being continued by process \d+ \(since [^)]+\); wait for it to finish or stop it first/;

describe('one writer per run (real processes)', () => {
  it('three concurrent `braid resume` of one run: exactly one continues it, the others fail at once naming it; no task runs twice', async () => {
    const box = sandbox();
    let tried = 0;
    let locked = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const trialBox = { ...box.env, COUNT_FILE: join(box.dir, `count-${trial}.txt`) };
      const first = await braid(['run', 'test/fixtures/contended.yaml', '--tools', TOOLS, '--quiet'], {
        env: { ...trialBox, GATE_FAIL: '1' },
      });
      expect(first.code).toBe(1);
      const id = box.runIds().sort().at(-1)!;
      const results = await together(
        [
          ['resume', id, '--quiet'],
          ['resume', id, '--quiet'],
          ['resume', id, '--quiet'],
        ],
        trialBox,
      );
      tried += results.length;
      const ran = readFileSync(trialBox.COUNT_FILE, 'utf8').trim().split('\n');
      // One process ran the six tasks once each; a second resume after it finished only prints the result.
      expect(ran.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'gate', 'nap']);
      expect(duplicates(ran)).toEqual([]);
      for (const r of results) {
        if (r.code === 2) {
          locked++;
          expect(r.stderr).toMatch(LOCKED);
        } else expect(r.code, r.stderr).toBe(0);
      }
      expect(results.filter((r) => r.code === 0).length).toBeGreaterThanOrEqual(1);
      checkRecord(box.record(id));
      // Exactly one process continued the run (a later one found it succeeded and only printed it).
      expect(box.record(id).match(/"type":"run.resumed"/g)).toHaveLength(1);
      expect(foldRun(await new JsonlRunStore(join(box.env.BRAID_HOME, 'runs')).read(id)).status).toBe('succeeded');
    }
    console.info(
      `concurrent resumes: ${tried} processes in ${TRIALS} trials, ${locked} refused with E_LOCKED, 0 duplicate task runs`,
    );
    expect(locked).toBeGreaterThan(0);
  }, 60_000);

  it('concurrent `braid approve` and `braid approve --reject` of one waiting task: exactly one decision, send runs at most once', async () => {
    const box = sandbox();
    let tried = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const env = { ...box.env, COUNT_FILE: join(box.dir, `count-${trial}.txt`) };
      const paused = await braid(
        ['run', 'test/fixtures/approval.yaml', '--tools', 'test/fixtures/counting-tools.mjs', '--quiet'],
        { env },
      );
      expect(paused.code).toBe(3);
      const id = box.runIds().sort().at(-1)!;
      const results = await together(
        [
          ['approve', id, 'send', '--quiet'],
          ['approve', id, 'send', '--reject', '--quiet'],
        ],
        env,
      );
      tried += results.length;
      const winners = results.filter((r) => r.code !== 2);
      expect(winners, results.map((r) => r.stderr).join('\n')).toHaveLength(1);
      const loser = results.find((r) => r.code === 2)!;
      expect(loser.stderr).toMatch(
        new RegExp(`${LOCKED.source}|is (succeeded|failed|skipped), not waiting for approval`),
      );
      const text = box.record(id);
      checkRecord(text);
      expect(text.match(/"type":"task.approval"/g)).toHaveLength(1);
      const sent = readFileSync(env.COUNT_FILE, 'utf8')
        .trim()
        .split('\n')
        .filter((t) => t === 'send');
      expect(sent.length).toBe(/"approved":true/.test(text) ? 1 : 0);
    }
    console.info(`concurrent approvals: ${tried} processes in ${TRIALS} trials, 0 double decisions, 0 double sends`);
  }, 60_000);

  it('a stale lock (its owner was killed) is taken over by exactly one of six processes racing for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-stale-'));
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    let winners = 0;
    const rounds = Math.max(3, TRIALS);
    for (let round = 0; round < rounds; round++) {
      const path = join(dir, `r${round}.lock`);
      writeFileSync(
        path,
        JSON.stringify({ pid: Number(dead), host: hostname(), since: new Date().toISOString(), token: 'dead-owner' }),
      );
      const children = Array.from({ length: 6 }, () =>
        spawn(process.execPath, ['test/fixtures/lock-contender.mjs', path], {
          cwd: ROOT,
          stdio: ['pipe', 'pipe', 'inherit'],
        }),
      );
      // Each prints one line; the winner keeps holding the lock until every contender has answered.
      const outs = await Promise.all(
        children.map(
          (child) =>
            new Promise<string>((resolve) => {
              let out = '';
              child.stdout.on('data', (d) => {
                out += d;
                if (out.endsWith('\n')) resolve(out);
              });
            }),
        ),
      );
      for (const child of children) child.stdin.end();
      await Promise.all(
        children.map((child) => new Promise((r) => (child.exitCode === null ? child.on('close', r) : r(null)))),
      );
      const parsed = outs.map((o) => JSON.parse(o));
      expect(parsed.filter((p) => p.won)).toHaveLength(1);
      winners += parsed.filter((p) => p.won).length;
      for (const p of parsed.filter((q) => !q.won))
        expect(p).toMatchObject({
          code: 'E_LOCKED',
          message: expect.stringMatching(/is being continued by process \d+/),
        });
    }
    expect(winners).toBe(rounds);
    console.info(`stale takeover: ${rounds * 6} processes in ${rounds} rounds, exactly one winner each round`);
  }, 30_000);

  it('kill -9 of the writer: its lock is taken over at once by the next resume (no stale wait)', async () => {
    const box = sandbox();
    const child = spawn(process.execPath, [BIN, 'run', 'test/fixtures/contended.yaml', '--tools', TOOLS, '--quiet'], {
      cwd: ROOT,
      env: { ...process.env, ...box.env, NAP_MS: '60000' },
      stdio: 'ignore',
    });
    const t0 = Date.now();
    while (!(
      existsSync(join(box.env.BRAID_HOME, 'runs')) &&
      box.runIds().length &&
      /"taskId":"nap"/.test(box.record(box.runIds()[0]))
    )) {
      if (Date.now() - t0 > 15_000) throw new Error('the run did not start nap');
      await new Promise((r) => setTimeout(r, 20));
    }
    const [id] = box.runIds();
    // While it runs, a resume is refused naming the writer's pid.
    const refused = await braid(['resume', id, '--quiet'], { env: box.env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`is being continued by process ${child.pid}`));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const resumed = await braid(['resume', id, '--quiet'], { env: box.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(duplicates(box.counts())).toEqual([]);
  }, 30_000);
});

describe('one writer per run (API and HTTP)', () => {
  it('two resumeRun calls at once in one process: one continues, the other fails with E_LOCKED', async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-lock-api-')));
    const rec = recorder();
    const flow = {
      name: 'twice',
      tasks: [
        { id: 'a', tool: 'work', input: { fail: true } },
        { id: 'b', tool: 'work', input: { ms: 50 }, dependencies: ['a'] },
      ],
    };
    const first = await runWorkflow(flow, { tools: rec.tools, store, classifier: null });
    const settled = await Promise.allSettled([
      resumeRun(first.runId, { store, tools: rec.tools, classifier: null }),
      resumeRun(first.runId, { store, tools: rec.tools, classifier: null }),
    ]);
    expect(settled.map((s) => s.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringMatching(new RegExp(`is being continued by process ${process.pid}`)),
    });
    expect(rec.ran().filter((t) => t === 'a')).toHaveLength(2); // once in the first run, once in the one resume
  });

  it('HTTP: two approvals at once get one 202 and one 409; a locked run is 409 E_LOCKED; cancel and resume of recorded runs', async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-lock-http-')));
    const catalog = await WorkflowCatalog.load('test/fixtures/service');
    const llm = new OfflineProvider();
    const runs = new RunManager({ catalog, llm, store });
    const server = await startServer({ catalog, llm, store, runs, port: 0 });
    const post = (path: string, body: unknown = {}) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const waitFor = async (id: string, status: string) => {
      for (let i = 0; i < 200; i++) {
        const r = await json(fetch(`${server.url}/runs/${id}`));
        if (r.status === status) return r;
        await new Promise((res) => setTimeout(res, 20));
      }
      throw new Error(`run ${id} never became ${status}`);
    };
    try {
      const { runId } = await json(post('/runs', { workflow: 'gated' }));
      await waitFor(runId, 'waiting');
      const [one, two] = await Promise.all([
        post(`/runs/${runId}/approve`, { taskId: 'publish' }),
        post(`/runs/${runId}/approve`, { taskId: 'publish', reject: true }),
      ]);
      expect([one.status, two.status].sort()).toEqual([202, 409]);
      const loser = await json(one.status === 409 ? one : two);
      expect(loser.error.code).toMatch(/E_LOCKED|E_CONFLICT/);
      // A rejection skips the task: the run succeeds either way.
      await waitFor(runId, 'succeeded');
      expect((await store.read(runId)).events.filter((e) => e.type === 'task.approval')).toHaveLength(1);

      // Cancel of a run waiting for an approval (not running anywhere): recorded as cancelled.
      const { runId: waiting } = await json(post('/runs', { workflow: 'gated' }));
      await waitFor(waiting, 'waiting');
      const lock = await store.lock(waiting); // another writer holds it: every continuing route is a 409
      for (const path of ['cancel', 'approve', 'resume']) {
        const res = await post(`/runs/${waiting}/${path}`, path === 'approve' ? { taskId: 'publish' } : {});
        expect(res.status).toBe(409);
        expect((await json(res)).error).toMatchObject({
          code: 'E_LOCKED',
          message: expect.stringMatching(/is being continued by process \d+/),
        });
      }
      lock.release();
      const cancelled = await post(`/runs/${waiting}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(await json(cancelled)).toMatchObject({ status: 'cancelled' });
      const after = await json(fetch(`${server.url}/runs/${waiting}`));
      expect(after).toMatchObject({
        status: 'cancelled',
        tasks: { publish: { status: 'skipped', reason: 'cancelled' }, draft: { status: 'succeeded' } },
      });
      expect((await post(`/runs/${waiting}/cancel`)).status).toBe(409); // already finished

      // Resume over HTTP continues a cancelled run: the approval task waits again.
      expect((await post(`/runs/${waiting}/resume`)).status).toBe(202);
      await waitFor(waiting, 'waiting');
    } finally {
      await server.close();
    }
  });
});
