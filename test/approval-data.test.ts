/**
 * Approvals that carry data (workflow-spec.md §2): a comment, an edited input checked against the tool's schema and
 * kept as a JSON Patch, a decision bound to the visit and the inputHash it was made on, and `when`; through the CLI
 * (the built dist) and POST /runs/:id/approve.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, JsonlRunStore } from '../src/index.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import type { RunningServer } from '../src/server/serve.js';
import { braid } from './support/cli.js';
import { serveForTest } from './support/server.js';

/** Response bodies in tests are read as loosely typed JSON. */
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

const pay = defineTool({
  name: 'pay',
  description: 'Return the payment it was given',
  effects: 'none',
  input: z.object({ to: z.string(), amount: z.number().max(1000) }),
  run: (input) => input,
});

const workflow = {
  name: 'payout',
  tasks: [
    { id: 'draft', tool: 'echo', input: { value: 'ana' } },
    {
      id: 'pay',
      tool: 'pay',
      input: { to: '{{ tasks.draft.output }}', amount: 100 },
      approval: { edit: true, comment: true },
      dependencies: ['draft'],
    },
    { id: 'plain', tool: 'pay', input: { to: 'bo', amount: 5 }, approval: true, dependencies: ['draft'] },
    {
      id: 'small',
      tool: 'pay',
      input: { to: 'cy', amount: 5 },
      approval: { when: 'input.amount > 50' },
      dependencies: ['draft'],
    },
  ],
};

describe('POST /runs/:id/approve with data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'braid-appr-'));
  const store = new JsonlRunStore(join(dir, 'runs'));
  let server: RunningServer;
  beforeAll(async () => {
    writeFileSync(join(dir, 'payout.json'), JSON.stringify(workflow));
    server = await serveForTest(await WorkflowCatalog.load(dir, { tools: [pay] }), { store });
  });
  afterAll(() => server.close());

  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const settled = async (runId: string) => {
    for (;;) {
      const r = await json(fetch(`${server.url}/runs/${runId}`));
      if (r.status !== 'running') return r;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const decisions = async (runId: string) => (await store.read(runId)).events.filter((e) => e.type === 'task.approval');

  it('runs the task with the edited input; refusals (bad edit, no comment, no edit allowed, old inputHash) record nothing', async () => {
    const { runId } = await json(post('/runs', { workflow: 'payout' }));
    const waiting = await settled(runId);
    expect(waiting.status).toBe('waiting');
    // `when` false: the task ran without waiting.
    expect(waiting.tasks.small).toMatchObject({ status: 'succeeded', output: { to: 'cy', amount: 5 } });
    const { inputHash, input } = waiting.tasks.pay;
    expect(input).toEqual({ to: 'ana', amount: 100 });
    expect(inputHash).toMatch(/^[0-9a-f]{64}$/);

    const refusals: [unknown, number, Record<string, unknown>][] = [
      [
        { taskId: 'pay', comment: 'ok', edit: { to: 'ana', amount: 5000 } },
        400,
        { code: 'E_INPUT', path: 'edit.amount' },
      ],
      [{ taskId: 'pay', comment: 'ok', edit: { amount: 'x' } }, 400, { code: 'E_INPUT', path: 'edit.to' }],
      [{ taskId: 'pay', edit: { to: 'ana', amount: 50 } }, 400, { code: 'E_BAD_ARGUMENT', path: 'comment' }],
      [{ taskId: 'plain', edit: { to: 'bo', amount: 1 } }, 400, { code: 'E_BAD_ARGUMENT', path: 'edit' }],
      [{ taskId: 'pay', comment: 'ok', inputHash: '0'.repeat(64) }, 409, { code: 'E_CONFLICT' }],
      [{ taskId: 'pay', comment: 'ok', visit: 2 }, 409, { code: 'E_CONFLICT' }],
      [{ taskId: 'draft' }, 409, { code: 'E_CONFLICT' }],
    ];
    const messages: string[] = [];
    for (const [body, status, error] of refusals) {
      const res = await post(`/runs/${runId}/approve`, body);
      const answer = await json(res);
      expect([res.status, answer.error], JSON.stringify(body)).toMatchObject([status, error]);
      messages.push(answer.error.message);
    }
    const [badEdit, , noComment, noEdit, oldHash, , noApproval] = messages;
    expect(badEdit).toMatch(/^edit\.amount: /);
    expect(noComment).toMatch(/requires a comment/);
    expect(noEdit).toMatch(/does not take an edited input: its approval does not say edit: true/);
    expect(oldHash).toMatch(/waits on another input than the one decided on.*look at it again/);
    expect(noApproval).toMatch(/has no approval/);
    expect(await decisions(runId)).toEqual([]);

    const ok = await post(`/runs/${runId}/approve`, {
      taskId: 'pay',
      by: 'ana',
      comment: 'half of it',
      inputHash,
      visit: 1,
      edit: { to: 'ana', amount: 50 },
    });
    expect(ok.status).toBe(202);
    const after = await settled(runId);
    expect(after.tasks.pay).toMatchObject({ status: 'succeeded', output: { to: 'ana', amount: 50 } });
    const [decision] = await decisions(runId);
    expect(decision).toMatchObject({
      taskId: 'pay',
      visit: 1,
      approved: true,
      by: 'ana',
      comment: 'half of it',
      inputHash,
      patch: [{ op: 'replace', path: '/amount', value: 50 }],
    });
    expect(Date.parse(decision.ts)).not.toBeNaN();
    // The visit is decided: a second decision is refused, not ignored.
    expect((await post(`/runs/${runId}/approve`, { taskId: 'pay', comment: 'again' })).status).toBe(409);
  });

  it('the inbox (GET /approvals, braid approvals) lists each waiting task with its input, why it waits, how to decide', async () => {
    const { runId } = await json(post('/runs', { workflow: 'payout' }));
    expect((await settled(runId)).status).toBe('waiting');
    const mine = (list: any[]) => list.filter((p) => p.runId === runId);
    const listed = mine(await json(fetch(`${server.url}/approvals`)));
    expect(listed.map((p: any) => p.taskId).sort()).toEqual(['pay', 'plain']);
    const pay = listed.find((p: any) => p.taskId === 'pay');
    expect(pay).toMatchObject({
      workflow: 'payout',
      visit: 1,
      input: { to: 'ana', amount: 100 },
      inputHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      why: 'approval: true',
      edit: true,
      comment: true,
      command: `braid approve ${runId} pay --comment "..."`,
    });
    expect(Date.parse(pay.since)).not.toBeNaN();
    // The CLI reads the same store; a decided task leaves the inbox.
    expect((await post(`/runs/${runId}/approve`, { taskId: 'plain' })).status).toBe(202);
    await settled(runId);
    const cli = await braid(['approvals', '--json'], { env: { BRAID_HOME: dir } });
    expect(cli.code).toBe(0);
    expect(mine(JSON.parse(cli.stdout)).map((p: any) => p.taskId)).toEqual(['pay']);
    const text = await braid(['approvals'], { env: { BRAID_HOME: dir } });
    expect(text.stdout).toContain(`braid approve ${runId} pay --comment "..."`);
    expect(text.stdout).toContain('input: {"to":"ana","amount":100}');
  });
});

describe('braid approve --edit / --comment / --input-hash', () => {
  it('approves with an edited input (checked, recorded as a patch); refusals exit 2 and record nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-appr-cli-'));
    const env = { BRAID_HOME: join(dir, 'home'), COUNT_FILE: join(dir, 'count.txt') };
    const tools = ['--tools', 'test/fixtures/counting-tools.mjs'];
    const paused = await braid(['run', 'test/fixtures/approval-edit.yaml', ...tools], { env });
    expect(paused.code).toBe(3);
    const [id] = readdirSync(join(env.BRAID_HOME, 'runs'))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => f.replace(/\.jsonl$/, ''));
    const record = () => readFileSync(join(env.BRAID_HOME, 'runs', `${id}.jsonl`), 'utf8');
    const events = () =>
      record()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((e) => e.type);
    // `when` false: `small` ran without waiting.
    expect(readFileSync(env.COUNT_FILE, 'utf8').trim().split('\n').sort()).toEqual(['draft', 'small']);
    const waiting = events().find((e) => e.type === 'task.waiting' && e.taskId === 'send');
    expect(waiting).toMatchObject({ visit: 1, input: { note: 'first' }, inputHash: expect.any(String) });

    const bad = join(dir, 'bad.json');
    const good = join(dir, 'good.json');
    writeFileSync(bad, JSON.stringify({ note: 5 }));
    writeFileSync(good, JSON.stringify({ note: 'edited' }));
    const refused: [string[], RegExp][] = [
      [['send', '--edit', bad, '--comment', 'ok'], /edit\.note: .*expected string/],
      [['send', '--edit', good], /requires a comment/],
      [['plain', '--edit', good], /does not take an edited input/],
      [['send', '--comment', 'ok', '--input-hash', 'abc'], /waits on another input than the one decided on/],
      [['send', '--comment', 'ok', '--visit', '2'], /visit 2 of task "send" .* has not been reached/],
    ];
    for (const [args, message] of refused) {
      const r = await braid(['approve', id, ...args, ...tools, '--quiet'], { env });
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, expect.stringMatching(message)]);
    }
    expect(events().filter((e) => e.type === 'task.approval')).toEqual([]);

    const ok = await braid(
      ['approve', id, 'send', '--edit', good, '--comment', 'better', '--input-hash', waiting.inputHash, '--by', 'ana'],
      { env },
    );
    expect(ok.code).toBe(3); // `plain` still waits
    expect(events().find((e) => e.type === 'task.approval')).toMatchObject({
      taskId: 'send',
      visit: 1,
      approved: true,
      by: 'ana',
      comment: 'better',
      inputHash: waiting.inputHash,
      patch: [{ op: 'replace', path: '/note', value: 'edited' }],
    });
    expect(events().find((e) => e.type === 'task.succeeded' && e.taskId === 'send')).toMatchObject({
      output: { task: 'send', note: 'edited' },
    });
  });
});
