/**
 * Labels are checked against what can produce them (workflow-spec.md §3, closed label sets), through the real
 * CLI: an `if_result` no producer can give is an error with did-you-mean, one an open producer may give is a
 * warning; a run whose every final task was skipped says so, and `--fail-on-empty` makes it exit 1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { braid, ROOT } from './support/cli.js';

const base = mkdtempSync(join(tmpdir(), 'braid-labels-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const TOOLS = join(ROOT, 'test/fixtures/label-tools.mjs');
const file = (name: string, text: string) => {
  const path = join(base, name);
  writeFileSync(path, text);
  return path;
};
const branchy = (tool: string, labels: string[], text = 'hello') =>
  file(
    `${tool}-${labels.join('-')}.yaml`,
    `name: ${tool}\ntasks:\n  - id: judge\n    tool: ${tool}\n    input: { text: "${text}" }\n${labels
      .map(
        (l, i) =>
          `  - id: b${i}\n    tool: echo\n    input: { value: ${i} }\n    condition: { depends_on: judge, if_result: ${l} }\n`,
      )
      .join('')}`,
  );

describe('closed label sets', () => {
  it('an if_result the tool output enum never gives is an error with did-you-mean (validate and run, exit 2)', async () => {
    const flow = branchy('triage', ['urgnt', 'routine']);
    const v = await braid(['validate', flow, '--tools', TOOLS]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain(
      `${flow}: tasks[1].condition.if_result: "judge" can only give "urgent", "routine", never "urgnt"`,
    );
    expect(v.stderr).toContain('did you mean "urgent"?');
    const run = await braid(['run', flow, '--tools', TOOLS, '--no-store']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('never "urgnt"');
    // a literal union on the whole output closes the set too; the right labels validate clean under --strict
    const whole = await braid(['validate', branchy('mood', ['hapy']), '--tools', TOOLS, '--json']);
    expect(whole.code).toBe(2);
    expect(JSON.parse(whole.stdout).issues).toEqual([
      expect.objectContaining({ code: 'unreachable_label', hint: 'did you mean "happy"?' }),
    ]);
    const good = await braid(['validate', branchy('triage', ['urgent', 'routine']), '--tools', TOOLS, '--strict']);
    expect(good.code).toBe(0);
  });

  it('classify.labels close the set when the output carries no label; an open producer only warns', async () => {
    const closed = file(
      'classified.yaml',
      `tasks:\n  - id: idea\n    tool: llm_generate_idea\n    input: { topic: kites }\n    classify: { labels: [good, bad] }\n  - id: yes\n    tool: echo\n    input: { value: 1 }\n    condition: { depends_on: idea, if_result: godo }\n`,
    );
    const c = await braid(['validate', closed]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/tasks\[1\]\.condition\.if_result: "idea" can only give "good", "bad", never "godo"/);
    expect(c.stderr).toContain('did you mean "good"?');
    // free text (label: z.string()) with classify.labels: a warning, an error only with --strict
    const open = file(
      'open.yaml',
      `tasks:\n  - id: judge\n    tool: freeform\n    input: { text: hi }\n    classify: { labels: [urgent, routine] }\n  - id: b\n    tool: echo\n    input: { value: 1 }\n    condition: { depends_on: judge, if_result: urgnt }\n`,
    );
    const w = await braid(['validate', open, '--tools', TOOLS]);
    expect(w.code).toBe(0);
    expect(w.stderr).toMatch(/⚠ .*tasks\[1\]\.condition\.if_result: "judge" is not known to give "urgnt"/);
    expect((await braid(['validate', open, '--tools', TOOLS, '--strict'])).code).toBe(2);
    // an echo of a literal label: known, not closed (the literal is in the input)
    const echoed = file(
      'echoed.yaml',
      `tasks:\n  - id: pick\n    tool: echo\n    input: { value: urgent }\n  - id: b\n    tool: echo\n    input: { value: 1 }\n    condition: { depends_on: pick, if_result: urgnt }\n`,
    );
    const e = await braid(['validate', echoed, '--json']);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).warnings).toEqual([
      expect.objectContaining({ code: 'unreachable_label', hint: 'did you mean "urgent"?' }),
    ]);
  });
});

describe('a run whose every final task was skipped', () => {
  it('says so in its summary and run.finished event; --fail-on-empty exits 1', async () => {
    const flow = branchy('triage', ['urgent'], 'calm'); // triage says routine: the only branch is skipped
    const events = join(base, 'events.jsonl');
    const run = await braid(['run', flow, '--tools', TOOLS, '--no-store', '--events', events]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'no result: every final task (one nothing depends on) was skipped; skipped: b0 (condition_false)',
    );
    const finished = readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((e) => e.type === 'run.finished');
    expect(finished).toMatchObject({ status: 'succeeded', empty: true });
    const strict = await braid(['run', flow, '--tools', TOOLS, '--no-store', '--fail-on-empty', '--json']);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout)).toMatchObject({ status: 'succeeded', empty: true });
    // a run with a result is not empty
    const full = await braid(['run', branchy('triage', ['urgent'], 'now!'), '--tools', TOOLS, '--fail-on-empty']);
    expect(full.code).toBe(0);
    expect(full.stdout).not.toContain('no result');
  });
});
