/** The CLI end to end, in spawned processes: exit codes, --json shape, events, validation output. */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { braid } from './support/cli.js';

describe('braid CLI', () => {
  it('run --json prints exactly one JSON object with the spec §8 shape, and exits 0', async () => {
    const r = await braid([
      'run',
      'test/fixtures/custom.yaml',
      '--tools',
      'test/fixtures/tools.mjs',
      '--input',
      'text=kites',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(Object.keys(result)).toEqual(
      expect.arrayContaining(['runId', 'workflow', 'status', 'startedAt', 'endedAt', 'tasks']),
    );
    expect(result.status).toBe('succeeded');
    expect(result.tasks.loud).toMatchObject({
      status: 'succeeded',
      output: { text: 'KITES' },
      label: 'long',
      labelSource: 'field',
      attempts: 1,
      visits: 1,
    });
    expect(result.tasks.long_branch.output).toEqual({ shadowed: 'KITES' });
    expect(result.tasks.short_branch).toMatchObject({ status: 'skipped', reason: 'condition_false' });
    expect(r.stderr).toContain('loud succeeded');
  });

  it('a failed run exits 1 and the summary says why', async () => {
    const r = await braid(['run', 'test/fixtures/failing.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/bad\s+✖ failed/);
    expect(r.stdout).toContain('timed out');
    expect(r.stdout).toMatch(/after\s+↷ skipped.*upstream_failed/);
  });

  it('--events writes one JSON object per line with ts, runId, type', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'braid-'));
    const file = join(dir, 'events.jsonl');
    const r = await braid([
      'run',
      'test/fixtures/custom.yaml',
      '-t',
      'test/fixtures/tools.mjs',
      '-i',
      'text=ab',
      '--events',
      file,
      '--quiet',
    ]);
    expect(r.code).toBe(0);
    const events = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'run.started', seq: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', status: 'succeeded' });
    for (const e of events) expect(typeof e.ts === 'string' && typeof e.runId === 'string').toBe(true);
    expect(events.filter((e) => e.type === 'task.skipped').map((e) => e.taskId)).toEqual(['long_branch']);
  });

  it('validate lists every problem with file and path, and exits 2', async () => {
    const r = await braid(['validate', 'test/fixtures/broken.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '✖ test/fixtures/broken.yaml: tasks[0].retrys: unknown field "retrys" (did you mean "retries"?)',
    );
    expect(r.stderr).toContain('tasks[2].condition.depends_on: unknown task "task_9" (did you mean "task_1"?)');
    expect(r.stderr).toContain('3 problems found');
  });

  it('validate prints ok with a summary for a good file', async () => {
    const r = await braid(['validate', 'test/fixtures/custom.yaml', '--tools', 'test/fixtures/tools.mjs']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*3 tasks, 1 root \(\w+\), 2 conditional, 0 routing edges/);
    // roots by workflow-spec.md §6: the error handler reached by routing is not one
    const routing = await braid(['validate', 'examples/routing.yaml']);
    expect(routing.stdout).toMatch(/3 tasks, 1 root \(compute\), 0 conditional, 2 routing edges/);
  });

  it('run on an invalid file, a bad tools module, bad input or a bad flag exits 2', async () => {
    expect((await braid(['run', 'test/fixtures/broken.yaml'])).code).toBe(2);
    expect((await braid(['run', 'test/fixtures/custom.yaml', '--tools', 'test/fixtures/nope.mjs'])).code).toBe(2);
    const missing = await braid(['run', 'test/fixtures/custom.yaml', '--tools', 'test/fixtures/tools.mjs']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('input.text');
    expect((await braid(['run', 'test/fixtures/custom.yaml', '--concurrency', '0'])).code).toBe(2);
    expect((await braid(['frobnicate'])).code).toBe(2);
  });

  it('graph prints a Mermaid flowchart with labelled conditional edges', async () => {
    const r = await braid(['graph', 'test/fixtures/custom.yaml', '--tools', 'test/fixtures/tools.mjs']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^flowchart TD/);
    expect(r.stdout).toContain('n_loud -->|"if long"| n_long_branch');
  });

  it('tools lists the registered tools with input fields', async () => {
    const r = await braid(['tools', '--tools', 'test/fixtures/tools.mjs']);
    expect(r.stdout).toContain('shout(text: string)');
    expect(r.stdout).toContain('sleep(ms: integer, value?: any)');
  });

  it('Ctrl-C cancels the run: the tool is aborted, the result is printed and the exit code is 1', async () => {
    const r = await braid(['run', 'test/fixtures/slow.yaml', '--json'], {
      onStderr: (chunk, child) => {
        if (chunk.includes('nap started')) child.kill('SIGINT');
      },
    });
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.status).toBe('cancelled');
    // aborted, not failed (workflow-spec.md §7): skipped with reason cancelled, what the tool said kept
    expect(result.tasks.nap).toMatchObject({ status: 'skipped', reason: 'cancelled', error: { code: 'E_CANCELLED' } });
    expect(result.tasks.after).toMatchObject({ status: 'skipped', reason: 'cancelled' });
  });
});
