/**
 * Run-fatal errors behave alike (workflow-spec.md §7), through the CLI: from the moment `E_MAX_VISITS` (or a
 * budget) is decided, nothing new starts and running attempts are aborted; every task that had not finished is
 * skipped with a reason that names why. A chain of sleeps beside the failing loop shows it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { braid } from './support/cli.js';

type Result = {
  status: string;
  error?: { code?: string };
  tasks: Record<string, { status: string; reason?: string; attempts: number }>;
};

function flow(name: string, extra: Record<string, unknown>, loop: unknown[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'braid-fatal-'));
  const file = join(dir, `${name}.json`);
  const chain = [
    { id: 'c', tool: 'sleep', input: { ms: 300 } },
    { id: 'd', tool: 'sleep', input: { ms: 300 }, dependencies: ['c'] },
    { id: 'e', tool: 'sleep', input: { ms: 300 }, dependencies: ['d'] },
  ];
  writeFileSync(file, JSON.stringify({ name, ...extra, tasks: [...loop, ...chain] }));
  return file;
}

describe('run-fatal errors stop the whole run at once', () => {
  it('E_MAX_VISITS in a routing loop: the chain beside it stops; its running task and the rest are skipped (run_failed)', async () => {
    const file = flow('loop', {}, [
      { id: 'a', tool: 'echo', input: { value: 1 }, max_visits: 2, next_task_id_on_success: 'b' },
      { id: 'b', tool: 'echo', input: { value: 2 }, next_task_id_on_success: 'a' },
    ]);
    const r = await braid(['run', file, '--json', '--no-store']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as Result;
    expect(out).toMatchObject({ status: 'failed', error: { code: 'E_MAX_VISITS' } });
    expect(out.tasks.a.status).toBe('failed');
    // c was running when the loop failed (within milliseconds): aborted, not failed; d and e never started.
    expect(out.tasks.c).toMatchObject({ status: 'skipped', reason: 'run_failed' });
    for (const id of ['d', 'e'])
      expect(out.tasks[id]).toMatchObject({ status: 'skipped', reason: 'run_failed', attempts: 0 });
  });

  it('a budget behaves the same: the chain stops, its tasks are skipped (budget_exceeded)', async () => {
    const file = flow('budget', { budget: { max_tasks: 2 } }, [
      { id: 'a', tool: 'echo', input: { value: 1 } },
      { id: 'b', tool: 'echo', input: { value: 2 }, dependencies: ['a'] },
    ]);
    const r = await braid(['run', file, '--json', '--no-store']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as Result;
    expect(out).toMatchObject({ status: 'failed', error: { code: 'E_BUDGET' } });
    const skipped = Object.entries(out.tasks).filter(([, t]) => t.status === 'skipped');
    expect(skipped.length).toBeGreaterThan(0);
    for (const [, t] of skipped) expect(t.reason).toBe('budget_exceeded');
    expect(Object.values(out.tasks).some((t) => t.status === 'failed')).toBe(false);
  });
});
