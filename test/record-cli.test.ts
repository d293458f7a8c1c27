/** Run records through the real CLI: kill -9 and resume, show/logs/explain/runs, approvals, a corrupt tail. */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, braid } from './support/cli.js';

const TOOLS = 'test/fixtures/counting-tools.mjs';

function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'braid-rec-'));
  const env = { BRAID_HOME: join(dir, 'home'), COUNT_FILE: join(dir, 'count.txt') };
  const counts = () => (existsSync(env.COUNT_FILE) ? readFileSync(env.COUNT_FILE, 'utf8').trim().split('\n') : []);
  const runIds = () =>
    readdirSync(join(env.BRAID_HOME, 'runs'))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => f.replace(/\.jsonl$/, ''));
  const record = (id: string) => join(env.BRAID_HOME, 'runs', `${id}.jsonl`);
  return { env, counts, runIds, record };
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

describe('kill -9 and braid resume', () => {
  it('a run killed mid-flight leaves a readable record; resume reruns only what had not succeeded', async () => {
    const box = sandbox();
    const child = spawn(process.execPath, [BIN, 'run', 'test/fixtures/resumable.yaml', '--tools', TOOLS, '--quiet'], {
      cwd: ROOT,
      env: { ...process.env, ...box.env, NO_COLOR: '1' },
      stdio: 'ignore',
    });
    // Wait until `two` succeeded durably and `nap` is running, then kill without warning.
    await until(
      () =>
        existsSync(join(box.env.BRAID_HOME, 'runs')) &&
        box.runIds().length === 1 &&
        /"task.succeeded","taskId":"two"/.test(readFileSync(box.record(box.runIds()[0]), 'utf8')) &&
        /"task.started","taskId":"nap"/.test(readFileSync(box.record(box.runIds()[0]), 'utf8')),
      'two to succeed',
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const [id] = box.runIds();
    expect(box.counts().sort()).toEqual(['one', 'two']);

    const shown = await braid(['show', id], { env: box.env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/resumable interrupted/);
    expect(shown.stdout).toMatch(/nap\s+▶ running/);
    expect(shown.stdout).toMatch(/braid resume/);

    const resumed = await braid(['resume', id, '--json'], { env: { ...box.env, NAP_MS: '20' } });
    expect(resumed.code).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result.status).toBe('succeeded');
    expect(result.tasks.nap.attempts).toBe(2); // the killed attempt counts
    expect(result.tasks.three.output).toEqual({ task: 'three', note: 'two' }); // reads a reused output
    // No task that had succeeded ran twice; the interrupted one ran once more, to completion.
    expect(box.counts()).toEqual(['one', 'two', 'nap', 'three']);
    expect(resumed.stderr).toMatch(/one succeeded in 0ms \(recorded result reused\)/);
  }, 30_000);

  it('a truncated last line is reported, not fatal, and resume cuts it off before appending', async () => {
    const box = sandbox();
    const first = await braid(['run', 'test/fixtures/failing.yaml', '--quiet'], { env: box.env });
    expect(first.code).toBe(1);
    const [id] = box.runIds();
    appendFileSync(box.record(id), '{"seq":999,"ts":"2026-');
    const shown = await braid(['show', id], { env: box.env });
    expect(shown.code).toBe(0);
    expect(shown.stderr).toMatch(/truncated last line \(\d+ bytes.*ignored/);
    const resumed = await braid(['resume', id, '--quiet'], { env: box.env });
    expect(resumed.code).toBe(1); // the workflow still fails, but the record stays readable
    const lines = readFileSync(box.record(id), 'utf8').trimEnd().split('\n');
    expect(() => lines.forEach((l) => JSON.parse(l))).not.toThrow();
    expect((await braid(['logs', id, '--all'], { env: box.env })).stderr).toBe('');
  });
});

describe('inspecting runs', () => {
  it('braid show answers what happened, where time and tokens went, and why task_2b was skipped', async () => {
    const box = sandbox();
    const run = await braid(['run', 'examples/conditional.yaml', '--json', '--quiet'], { env: box.env });
    const { runId } = JSON.parse(run.stdout);
    const shown = await braid(['show', runId], { env: box.env });
    expect(shown.stdout).toMatch(/conditional succeeded/);
    expect(shown.stdout).toMatch(/timeline\n.*\ntask_1\s+█/);
    expect(shown.stdout).toMatch(/task_1: \d+ tokens \(\d+ in, \d+ out\)/);
    expect(shown.stdout).toMatch(
      /task_2b was skipped \(condition_false\)\.\n\s+Its condition if_result "bad" on task_1 did not hold: task_1 was labeled "good" by classifier \(reason: .+\)/,
    );

    const explained = await braid(['explain', runId, 'task_3'], { env: box.env });
    expect(explained.stdout).toMatch(/task_3 ran \(1 attempt\) and succeeded/);
    expect(explained.stdout).toMatch(
      /trigger rule none_failed_min_one_success .* upstreams: task_2a succeeded, task_2b skipped \(condition_false\)/,
    );

    const mermaid = await braid(['show', runId, '--mermaid'], { env: box.env });
    expect(mermaid.stdout).toMatch(/^gantt\n/);
    expect(mermaid.stdout).toMatch(/section task_1\n\s+attempt 1 \(succeeded\) :done, \d{13}, \d{13}/);

    const logs = await braid(['logs', runId, '--json'], { env: box.env });
    const events = logs.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[0].type).toBe('run.started');
    expect(events.at(-1).type).toBe('run.finished');

    const runs = await braid(['runs'], { env: box.env });
    expect(runs.stdout).toMatch(new RegExp(`${runId}\\s+conditional\\s+✔ succeeded`));
    expect(runs.stdout).toMatch(/3✔ 1↷/);
  });

  it('the timeline shows for_each items side by side, and failed attempts before the adjusted one', async () => {
    const box = sandbox();
    const { runId } = JSON.parse(
      (await braid(['run', 'examples/dynamic.yaml', '--json', '--quiet'], { env: box.env })).stdout,
    );
    const shown = await braid(['show', runId], { env: box.env });
    expect(shown.stdout).toMatch(/\neach\s+[·█]+\s+\S+ over 3 items\n/);
    expect(shown.stdout).toMatch(/\nsearch\s+[·█]+\s+\S+ in 2 attempts\n/);
    const mermaid = (await braid(['show', runId, '--mermaid'], { env: box.env })).stdout;
    for (const item of [0, 1, 2])
      expect(mermaid).toMatch(new RegExp(`item ${item} attempt 1 \\(succeeded\\) :done, \\d{13}, \\d{13}`));
    expect(mermaid).toMatch(/section search\n\s+attempt 1 \(failed\) :crit, /);
  });

  it('braid logs --follow streams a live run until it finishes', async () => {
    const box = sandbox();
    const child = spawn(process.execPath, [BIN, 'run', 'test/fixtures/resumable.yaml', '--tools', TOOLS, '--quiet'], {
      cwd: ROOT,
      env: { ...process.env, ...box.env, NAP_MS: '400' },
      stdio: 'ignore',
    });
    await until(() => existsSync(join(box.env.BRAID_HOME, 'runs')) && box.runIds().length === 1, 'the record');
    const exited = new Promise((r) => child.on('exit', r));
    const follow = await braid(['logs', box.runIds()[0], '--follow'], { env: box.env });
    await exited;
    expect(follow.code).toBe(0);
    expect(follow.stdout).toMatch(/nap succeeded/);
    expect(follow.stdout.trimEnd().split('\n').at(-1)).toMatch(/run succeeded/);
  });

  it('approval: braid run exits 3 waiting; braid approve continues it; unknown runs are usage errors', async () => {
    const box = sandbox();
    const paused = await braid(['run', 'test/fixtures/approval.yaml', '--tools', TOOLS], { env: box.env });
    expect(paused.code).toBe(3);
    const [id] = box.runIds();
    expect(paused.stdout).toMatch(new RegExp(`waiting for approval: braid approve ${id} send`));
    expect(box.counts().sort()).toEqual(['draft', 'side']);
    const approved = await braid(['approve', id, 'send', '--by', 'ana'], { env: box.env });
    expect(approved.code).toBe(0);
    expect(box.counts().sort()).toEqual(['done', 'draft', 'send', 'side']);
    expect(readFileSync(box.record(id), 'utf8')).toMatch(
      /"type":"task.approval","taskId":"send","visit":1,"approved":true,"by":"ana"/,
    );
    const missing = await braid(['show', 'no-such-run'], { env: box.env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no run "no-such-run" in .*braid runs/);
  });
});
