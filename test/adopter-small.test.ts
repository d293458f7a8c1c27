/**
 * Issue 32's smaller items: a run input nothing can take is named with a did-you-mean (a warning; refused when the
 * inputs schema forbids other keys), and a cancelled run's aborted tasks are skipped (`cancelled`), never failed,
 * and not counted as done in its summary (workflow-spec.md §1, §7).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { foldRun, JsonlRunStore, runWorkflow } from '../src/index.js';
import { summarize } from '../src/service/run-summaries.js';
import { braid } from './support/cli.js';

const base = mkdtempSync(join(tmpdir(), 'braid-small-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const flow = (name: string, extra = '') => {
  const path = join(base, name);
  writeFileSync(
    path,
    `name: greet\ninputs:\n  type: object\n${extra}  properties:\n    company: { type: string, default: acme }\ntasks:\n  - id: a\n    tool: echo\n    input: { value: "{{ input.company }}" }\n`,
  );
  return path;
};

describe('a run input nothing can take', () => {
  it('is a warning with did-you-mean (run and validate); refused with exit 2 when inputs forbid other keys', async () => {
    const open = flow('open.yaml');
    const run = await braid(['run', open, '--input', 'compnay=globex', '--no-store', '--json']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      `⚠ ${open}: input.compnay: run input "compnay" is not used: the workflow's inputs do not declare it, no template reads it and no task's tool takes a field of that name (did you mean "company"?)`,
    );
    expect(JSON.parse(run.stdout).output).toEqual({ a: 'acme' });
    const v = await braid(['validate', open, '--input', 'compnay=globex', '--json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).warnings).toEqual([
      expect.objectContaining({ code: 'unknown_input', path: 'input.compnay', hint: 'did you mean "company"?' }),
    ]);
    // a name some tool field takes (echo's value, merged by name) is fine
    expect((await braid(['run', open, '--input', 'value=1', '--no-store'])).stderr).not.toContain('not used');

    const closed = flow('closed.yaml', '  additionalProperties: false\n');
    const refused = await braid(['run', closed, '--input', 'compnay=globex', '--no-store']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${closed}: input.compnay: run input "compnay" is not used`);
    expect(refused.stderr).toContain('did you mean "company"?');
  });
});

describe('a cancelled run', () => {
  it('skips its aborted tasks with reason cancelled, and its summary does not count them done', async () => {
    const store = new JsonlRunStore(join(base, 'runs'));
    const controller = new AbortController();
    const result = await runWorkflow(
      {
        name: 'cancel-me',
        tasks: [
          { id: 'quick', tool: 'echo', input: { value: 1 } },
          { id: 'nap', tool: 'sleep', input: { ms: 30_000 } },
          { id: 'after', tool: 'echo', input: { value: 2 }, dependencies: ['nap'] },
        ],
      },
      {
        store,
        signal: controller.signal,
        onEvent: (e) =>
          void (e.type === 'task.started' && e.taskId === 'nap' && setTimeout(() => controller.abort(), 50)),
      },
    );
    expect(result.status).toBe('cancelled');
    expect(result.tasks.nap).toMatchObject({ status: 'skipped', reason: 'cancelled' });
    expect(result.tasks.after).toMatchObject({ status: 'skipped', reason: 'cancelled' });
    expect(Object.values(result.tasks).some((t) => t.status === 'failed')).toBe(false);
    const summary = summarize(foldRun(await store.read(result.runId)));
    expect(summary.tasks).toMatchObject({ total: 3, done: 1, cancelled: 2 });
  });
});
