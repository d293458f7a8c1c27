/** Every example runs offline through the real CLI and reaches the outcome its comments promise. */
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { braid } from './support/cli.js';

async function runJson(args: string[], env: Record<string, string> = {}) {
  const r = await braid(['run', ...args, '--json', '--quiet'], { env });
  expect(r.stderr).toBe('');
  return { code: r.code, result: JSON.parse(r.stdout) };
}

describe('examples', () => {
  it('conditional.yaml: a good idea is drafted and emailed to the outbox; task_2b is skipped', async () => {
    const outbox = await mkdtemp(join(tmpdir(), 'braid-outbox-'));
    const { code, result } = await runJson(['examples/conditional.yaml'], { BRAID_OUTBOX: outbox });
    expect(code).toBe(0);
    expect(result.tasks.task_1).toMatchObject({ status: 'succeeded', label: 'good', labelSource: 'classifier' });
    expect(result.tasks.task_1.output.provider).toBe('offline');
    expect(result.tasks.task_2b).toMatchObject({ status: 'skipped', reason: 'condition_false' });
    expect(result.tasks.task_3.output.transport).toBe('outbox');
    const [file] = await readdir(outbox);
    const eml = await readFile(join(outbox, file), 'utf8');
    expect(eml).toContain('To: team@example.com');
    expect(eml).toContain(`Subject: ${result.tasks.task_2a.output.subject.slice(0, 30)}`);
  });

  it('conditional.yaml: a bad idea takes the retry branch and the join still sends', async () => {
    const outbox = await mkdtemp(join(tmpdir(), 'braid-outbox-'));
    const { result } = await runJson(['examples/conditional.yaml', '--input', 'topic=bike sharing'], {
      BRAID_OUTBOX: outbox,
    });
    expect(result.tasks.task_1.label).toBe('bad');
    expect(result.tasks.task_2a.reason).toBe('condition_false');
    expect(result.tasks.task_2b.status).toBe('succeeded');
    expect(result.tasks.task_3.status).toBe('succeeded');
    expect(await readFile(join(outbox, (await readdir(outbox))[0]), 'utf8')).toContain('bike sharing');
  });

  it('parallel.yaml: search and calculate both feed the summary', async () => {
    const { code, result } = await runJson(['examples/parallel.yaml']);
    expect(code).toBe(0);
    expect(result.tasks.search.output.results.length).toBeGreaterThan(0);
    expect(result.tasks.calculate.output.text).toBe('175 km / h');
    expect(result.tasks.summarize.output.summary).toContain('175 km / h');
  });

  it('retry-loop.yaml: a bad idea loops back with feedback until it is good, then is emailed', async () => {
    const { code, result } = await runJson(['examples/retry-loop.yaml'], {
      BRAID_OUTBOX: await mkdtemp(join(tmpdir(), 'braid-')),
    });
    expect(code).toBe(0);
    expect(result.tasks.generate.visits).toBe(2);
    expect(result.tasks.generate.label).toBe('good');
    expect(result.tasks.critique.visits).toBe(1);
    // The revision is of the first idea, not a canned answer.
    expect(result.tasks.generate.output.idea).toMatch(
      /^bike sharing, revised: bike sharing for a general audience: a pilot programme/,
    );
    expect(result.tasks.send.status).toBe('succeeded');
  });

  it('retry-loop.yaml: an idea that stays bad takes the max_visits path, as its comments say', async () => {
    const outbox = await mkdtemp(join(tmpdir(), 'braid-'));
    const { code, result } = await runJson(['examples/retry-loop.yaml', '--input', 'topic=rooftop gardens'], {
      BRAID_OUTBOX: outbox,
    });
    expect(code).toBe(1);
    expect(result.error).toMatchObject({ code: 'E_MAX_VISITS' });
    expect(result.tasks.critique.visits).toBe(3);
    expect(result.tasks.send.status).toBe('skipped');
    expect(await readdir(outbox)).toEqual([]);
    const good = await runJson(['examples/retry-loop.yaml', '--input', 'topic=solar kites'], { BRAID_OUTBOX: outbox });
    expect(good.result.tasks.generate).toMatchObject({ visits: 1, label: 'good' });
  });

  it('routing.yaml: success routes to the report, failure to the handler', async () => {
    const ok = await runJson(['examples/routing.yaml']);
    expect(ok.result.tasks.report.status).toBe('succeeded');
    expect(ok.result.tasks.explain_error.reason).toBe('not_routed');
    const bad = await runJson(['examples/routing.yaml', '--input', 'expression=12 * (3 +']);
    expect(bad.code).toBe(0);
    expect(bad.result.tasks.compute.status).toBe('failed');
    expect(bad.result.tasks.explain_error.status).toBe('succeeded');
  });

  it('research-report.ts: the TS builder workflow with its own tool fans out and merges', async () => {
    const { code, result } = await runJson(['examples/research-report.ts', '--input', 'topic=solar']);
    expect(code).toBe(0);
    expect(Object.values(result.tasks).every((t) => (t as { status: string }).status === 'succeeded')).toBe(true);
    expect(result.tasks.plan.output.cost).toBe('solar cost');
    expect(result.tasks.summary.output.sources).toBe(3);
  });

  it('custom-tools: a tools module plugs in with --tools', async () => {
    const { code, result } = await runJson([
      'examples/custom-tools/flow.yaml',
      '--tools',
      'examples/custom-tools/tools.mjs',
    ]);
    expect(code).toBe(0);
    expect(result.tasks.count).toMatchObject({ label: 'long', labelSource: 'field' });
    expect(result.tasks.shorten.status).toBe('succeeded');
    expect(result.tasks.keep.reason).toBe('condition_false');
  });

  it('every example validates', async () => {
    for (const f of ['conditional.yaml', 'parallel.yaml', 'retry-loop.yaml', 'routing.yaml', 'research-report.ts']) {
      const r = await braid(['validate', `examples/${f}`]);
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
    }
  });
  it('dynamic.yaml: the search adjusts its input, the down service falls back, for_each keeps result order', async () => {
    const { code, result } = await runJson(['examples/dynamic.yaml']);
    expect(code).toBe(0);
    expect(result.tasks.search).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(result.tasks.search.history[0].error.code).toBe('E_TOOL_INPUT');
    expect(result.tasks.quote.output).toEqual({ text: 'no quote service; using the search results only' });
    expect(result.tasks.quote.history.map((h: { tool?: string }) => h.tool ?? 'http_request')).toEqual([
      'http_request',
      'echo',
    ]);
    const titles = result.tasks.search.output.results.map((r: { title: string }) => r.title);
    expect(result.tasks.each.output).toEqual(titles.map((t: string, i: number) => `${i}: ${t}`));
    expect(result.tasks.summarize.status).toBe('succeeded');
  });
});
