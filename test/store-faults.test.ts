/**
 * Run record integrity under faults (issue 15.2-15.5): a full disk and a read-only store (a real tmpfs),
 * oversized input and unserializable events, synchronous tools, forged records.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineTool,
  foldRun,
  JsonlRunStore,
  OfflineProvider,
  parseRunLog,
  resumeRun,
  runWorkflow,
} from '../src/index.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { startServer } from '../src/server/serve.js';
import { BIN, ROOT, braid } from './support/cli.js';

const TOOLS = 'test/fixtures/fault-tools.mjs';
const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

function writeFlow(dir: string, flow: unknown): string {
  const file = join(dir, 'flow.json');
  writeFileSync(file, JSON.stringify(flow));
  return file;
}

/** A tiny tmpfs, when this machine lets us mount one (root in CI); else the tests using it skip, saying so. */
const mounts: string[] = [];
function mountTmpfs(options: string): string | undefined {
  const dir = tmp('braid-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  mounts.push(dir);
  return dir;
}
const canMount = (() => {
  const dir = mountTmpfs('size=64k');
  if (!dir)
    console.info(
      'store fault tests: cannot mount a tmpfs here (not root, or no mount permission): the disk-full and read-only tests are skipped',
    );
  return Boolean(dir);
})();
afterAll(() => {
  for (const dir of mounts) spawnSync('umount', ['-l', dir]);
});

describe('write failures end the run cleanly (15.2)', () => {
  it.skipIf(!canMount)(
    'disk full (a 64 KiB tmpfs): the run fails with E_STORE naming the file, running tasks are cancelled, the record stays readable and resumable, no crash',
    async () => {
      const disk = mountTmpfs('size=64k')!;
      const work = tmp('braid-full-');
      // A chain of tasks with 4 KiB outputs fills the disk; `nap` runs beside them for a minute unless cancelled.
      const tasks = [
        { id: 'nap', tool: 'nap' },
        ...Array.from({ length: 40 }, (_, i) => ({
          id: `h${i}`,
          tool: 'hog',
          ...(i ? { dependencies: [`h${i - 1}`] } : {}),
        })),
      ];
      const file = writeFlow(work, { name: 'filler', tasks });
      const t0 = Date.now();
      const r = await braid(['run', file, '--tools', TOOLS, '--tools', 'test/fixtures/counting-tools.mjs'], {
        env: { BRAID_HOME: join(disk, 'home'), COUNT_FILE: join(work, 'count.txt'), NAP_MS: '60000' },
      });
      expect(Date.now() - t0).toBeLessThan(15_000); // nap was cancelled, not waited for
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace: not a crash
      const runsDir = join(disk, 'home', 'runs');
      const [name] = readdirSync(runsDir).filter((f) => f.endsWith('.jsonl'));
      expect(r.stdout).toMatch(
        new RegExp(`cannot write the run record ${join(runsDir, name).replace(/[.]/g, '\\.')} \\(ENOSPC`),
      );
      // The running task was aborted by the run-fatal error: skipped (run_failed), never failed (workflow-spec.md §7).
      expect(r.stdout).toMatch(/nap\s+↷ skipped.*run_failed/);
      const record = parseRunLog(readFileSync(join(runsDir, name), 'utf8'));
      expect(record.problems).toEqual([]); // whatever was written is whole lines
      expect(record.header?.workflow.name).toBe('filler');
      expect(record.events[0].type).toBe('run.started');
      const written = record.events.filter((e) => e.type === 'task.succeeded').length;
      expect(written).toBeGreaterThan(3);
      expect(written).toBeLessThan(40);
      // The lock was released: another process can continue the run (here it fails again for lack of space).
      const shown = await braid(['show', name.slice(0, -6), '--json'], { env: { BRAID_HOME: join(disk, 'home') } });
      expect(shown.code).toBe(0);
      expect(JSON.parse(shown.stdout).status).toBe('interrupted');
    },
    30_000,
  );

  it.skipIf(!canMount)('a read-only store at start: exit 2 with a clear message, nothing runs', async () => {
    const ro = mountTmpfs('size=64k,ro')!;
    const work = tmp('braid-ro-');
    const file = writeFlow(work, { name: 'ro', tasks: [{ id: 'a', tool: 'count' }] });
    const env = { BRAID_HOME: join(ro, 'home'), COUNT_FILE: join(work, 'count.txt') };
    const r = await braid(['run', file, '--tools', 'test/fixtures/counting-tools.mjs'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `braid: cannot create the run store folder ${join(ro, 'home', 'runs')} (EROFS: read-only file system)\n`,
    );
    expect(existsSync(env.COUNT_FILE)).toBe(false);

    // The folder exists but files cannot be created in it.
    const rw = mountTmpfs('size=64k')!;
    mkdirSync(join(rw, 'home', 'runs', '.locks'), { recursive: true });
    expect(spawnSync('mount', ['-o', 'remount,ro', rw]).status).toBe(0);
    const again = await braid(['run', file, '--tools', 'test/fixtures/counting-tools.mjs'], {
      env: { ...env, BRAID_HOME: join(rw, 'home') },
    });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^braid: cannot create the run lock .*\.lock \(EROFS: read-only file system\)\n$/);
  });
});

describe('the header is sacred (15.3)', () => {
  /** JSON text of a value nested n deep (built as text: no recursion in the test itself). */
  const deep = (n: number) => `${'{"v":'.repeat(n)}"leaf"${'}'.repeat(n)}`;

  it('an input nested 5,000 deep is refused before the run starts: exit 2 from the CLI, 400 over HTTP, nothing recorded', async () => {
    const work = tmp('braid-deep-');
    const home = join(work, 'home');
    const inputFile = join(work, 'input.json');
    writeFileSync(inputFile, `{"topic":${deep(5000)}}`);
    const r = await braid(['run', 'examples/parallel.yaml', '--input-file', inputFile], { env: { BRAID_HOME: home } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /input: nested deeper than 64 levels \(run input is limited to 64 levels and 1048576 bytes of JSON\)/,
    );
    expect(
      existsSync(join(home, 'runs')) ? readdirSync(join(home, 'runs')).filter((f) => f.endsWith('.jsonl')) : [],
    ).toEqual([]);

    const store = new JsonlRunStore(join(work, 'srv'));
    const catalog = await WorkflowCatalog.load('test/fixtures/service');
    const llm = new OfflineProvider();
    const server = await startServer({ catalog, llm, store, runs: new RunManager({ catalog, llm, store }), port: 0 });
    try {
      const body = `{"workflow":"greet","input":{"name":"x","extra":${deep(5000)}}}`;
      expect(body.length).toBeGreaterThan(30_000);
      const res = await fetch(`${server.url}/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'E_INPUT', path: 'input' });
      expect(await store.list()).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('an event that cannot be serialized fails the run loudly (E_STORE); the header and run.started stay, the run can be resumed', async () => {
    const store = new JsonlRunStore(tmp('braid-ser-'));
    const bigint = defineTool({ name: 'bigint', input: z.object({}), run: () => ({ n: 10n }) });
    const echo = defineTool({ name: 'plain', input: z.object({}), run: () => 'ok' });
    const flow = {
      name: 'unserializable',
      tasks: [
        { id: 'a', tool: 'plain' },
        { id: 'b', tool: 'bigint', dependencies: ['a'] },
        { id: 'c', tool: 'plain', dependencies: ['b'] },
      ],
    };
    const result = await runWorkflow(flow, { tools: [bigint, echo], store, classifier: null });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({
      code: 'E_STORE',
      message: expect.stringMatching(
        /event \d+ \(task.succeeded of b\) cannot be written to .*\.jsonl: Do not know how to serialize a BigInt/,
      ),
    });
    const text = readFileSync(store.path(result.runId), 'utf8');
    const first = JSON.parse(text.split('\n')[0]);
    expect(first).toMatchObject({ type: 'run.record', runId: result.runId, workflow: { name: 'unserializable' } });
    const record = parseRunLog(text);
    expect(record.problems).toEqual([]);
    expect(record.events[0]).toMatchObject({ type: 'run.started', workflow: 'unserializable' });
    // Resumable: the header is whole. With a serializable tool the run completes, `a` is reused.
    const fixed = defineTool({ name: 'bigint', input: z.object({}), run: () => ({ n: 10 }) });
    const resumed = await resumeRun(result.runId, { store, tools: [fixed, echo], classifier: null });
    expect(resumed.status).toBe('succeeded');
    expect(resumed.tasks.b.output).toEqual({ n: 10 });
  });

  it('a second header line in a record (forged or glued) is reported and ignored, never replaces the first', () => {
    const header = {
      type: 'run.record',
      version: 1,
      runId: 'r1',
      createdAt: '2026-01-01T00:00:00Z',
      workflow: { name: 'real', tasks: [{ id: 'a', tool: 'echo' }] },
      input: {},
    };
    const forged = { ...header, workflow: { name: 'forged', tasks: [] } };
    const record = parseRunLog(
      `${JSON.stringify(header)}\n${JSON.stringify({ seq: 1, ts: 'x', runId: 'r1', type: 'run.started', workflow: 'real', tasks: 1, input: {} })}\n${JSON.stringify(forged)}\n`,
    );
    expect(record.header?.workflow.name).toBe('real');
    expect(record.problems).toEqual(['line 3: a second header, ignored (the header is the first line)']);
  });
});

describe('durable while tools block (15.4)', () => {
  it('with synchronous tools the header, run.started and finished tasks reach the disk while the run goes on', async () => {
    const work = tmp('braid-sync-');
    const home = join(work, 'home');
    const tasks = Array.from({ length: 40 }, (_, i) => ({
      id: `s${i}`,
      tool: 'block',
      ...(i ? { dependencies: [`s${i - 1}`] } : {}),
    }));
    const file = writeFlow(work, { name: 'blocking', tasks });
    const child = spawn(process.execPath, [BIN, 'run', file, '--tools', TOOLS, '--quiet'], {
      cwd: ROOT,
      env: { ...process.env, BRAID_HOME: home, BLOCK_MS: '60' },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.on('exit', r));
    let seen = '';
    const t0 = Date.now();
    // The run takes ~2.4 s of blocked thread; look at the file in the middle of it.
    while (Date.now() - t0 < 20_000) {
      const runs = join(home, 'runs');
      const [name] = existsSync(runs) ? readdirSync(runs).filter((f) => f.endsWith('.jsonl')) : [];
      seen = name ? readFileSync(join(runs, name), 'utf8') : '';
      if ((seen.match(/"type":"task.succeeded"/g) ?? []).length >= 5) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const lines = seen.trimEnd().split('\n');
    expect(JSON.parse(lines[0]).type).toBe('run.record');
    expect(JSON.parse(lines[1]).type).toBe('run.started');
    expect(seen).not.toMatch(/run.finished/); // read while the run was still going
    expect((seen.match(/"type":"task.succeeded"/g) ?? []).length).toBeGreaterThanOrEqual(5);
    await exited;
  }, 30_000);
});

describe('a forged or damaged record harms only itself (15.5)', () => {
  const forgedRecord = (runId: string) =>
    [
      {
        type: 'run.record',
        version: 1,
        runId,
        createdAt: '2026-01-01T00:00:00.000Z',
        workflow: { name: 'forged', tasks: [{ id: 'a', tool: 'echo' }] },
        input: {},
      },
      { seq: 1, ts: '2026-01-01T00:00:00.001Z', runId, type: 'run.started', workflow: 'forged', tasks: 1, input: {} },
      { seq: 2, ts: '2026-01-01T00:00:00.002Z', runId, type: 'task.ready', taskId: '__proto__', visit: 7 },
      {
        seq: 3,
        ts: '2026-01-01T00:00:00.003Z',
        runId,
        type: 'task.started',
        taskId: '__proto__',
        tool: 'echo',
        attempt: 1,
        visit: 7,
      },
      {
        seq: 4,
        ts: '2026-01-01T00:00:00.004Z',
        runId,
        type: 'task.succeeded',
        taskId: 'constructor',
        attempt: 1,
        visit: 1,
        durationMs: 1,
        output: { polluted: true },
      },
      {
        seq: 5,
        ts: '2026-01-01T00:00:00.005Z',
        runId,
        type: 'task.failed',
        taskId: 'a',
        attempt: 1,
        visit: 1,
        durationMs: 1,
      },
      {
        seq: 6,
        ts: '2026-01-01T00:00:00.006Z',
        runId,
        type: 'llm.call',
        taskId: 'a',
        provider: 'x',
        model: 'y',
        purpose: 'z',
        latencyMs: 1,
        usage: 'lots',
      },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n') + '\n';

  it('folding a record with task ids __proto__ and constructor pollutes nothing; malformed events are reported', () => {
    const record = parseRunLog(forgedRecord('f1'));
    const run = foldRun(record);
    expect(({} as Record<string, unknown>).visits).toBeUndefined();
    expect(({} as Record<string, unknown>).status).toBeUndefined();
    expect(Object.keys(run.tasks).sort()).toEqual(['__proto__', 'a', 'constructor']);
    expect(run.tasks.__proto__).toMatchObject({ status: 'running', visits: 7, attempts: 1 });
    expect(run.tasks.constructor).toMatchObject({ status: 'succeeded', output: { polluted: true } });
    expect(record.problems).toEqual([
      'line 6: task.failed without a valid error, ignored',
      'line 7: llm.call without a valid usage, ignored',
    ]);
  });

  it('braid runs / show / logs / explain on a forged record: no crash, the problem named for that run only', async () => {
    const home = tmp('braid-forged-');
    mkdirSync(join(home, 'runs'), { recursive: true });
    writeFileSync(join(home, 'runs', '20260101T000000-f0f0f0.jsonl'), forgedRecord('20260101T000000-f0f0f0'));
    const good = await braid(['run', 'test/fixtures/service/greet.yaml', '--input', 'name=Ada', '--quiet', '--json'], {
      env: { BRAID_HOME: home },
    });
    const { runId } = JSON.parse(good.stdout);
    const runs = await braid(['runs'], { env: { BRAID_HOME: home } });
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(new RegExp(`${runId}\\s+greet\\s+✔ succeeded`));
    expect(runs.stdout).toMatch(/20260101T000000-f0f0f0\s+forged/);
    const explained = await braid(['explain', '20260101T000000-f0f0f0', '__proto__'], { env: { BRAID_HOME: home } });
    expect(explained.code).toBe(2);
    expect(explained.stderr).toMatch(/has no task "__proto__" in its workflow \(tasks: a\)\n$/);
    for (const args of [
      ['show', '20260101T000000-f0f0f0'],
      ['logs', '20260101T000000-f0f0f0'],
      ['explain', '20260101T000000-f0f0f0', 'a'],
      ['show', runId],
    ]) {
      const r = await braid(args, { env: { BRAID_HOME: home } });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
    }
    const shown = await braid(['show', '20260101T000000-f0f0f0'], { env: { BRAID_HOME: home } });
    expect(shown.stderr).toMatch(/line 6: task.failed without a valid error, ignored/);
  });

  it('braid serve: GET of a forged run answers for that run; every other route keeps working', async () => {
    const store = new JsonlRunStore(tmp('braid-forged-srv-'));
    mkdirSync(store.dir, { recursive: true });
    writeFileSync(store.path('forged-1'), forgedRecord('forged-1'));
    const catalog = await WorkflowCatalog.load('test/fixtures/service');
    const llm = new OfflineProvider();
    const server = await startServer({ catalog, llm, store, runs: new RunManager({ catalog, llm, store }), port: 0 });
    try {
      const res = await fetch(`${server.url}/runs/forged-1`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body.problems).toContain('line 6: task.failed without a valid error, ignored');
      expect((await fetch(`${server.url}/runs/forged-1/events`)).status).toBe(200);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect((await fetch(`${server.url}/workflows`)).status).toBe(200);
      const started = await fetch(`${server.url}/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workflow: 'greet', input: { name: 'Lin' } }),
      });
      expect(started.status).toBe(202);
    } finally {
      await server.close();
    }
  });
});
