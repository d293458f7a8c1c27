/**
 * A budget is the run's, not the process's (workflow-spec.md §7), through the CLI: the same workflow ends with the
 * same status and error run straight through, paused at an approval then continued with `braid approve`, and killed
 * with `kill -9` mid-run then continued with `braid resume`.
 * Tokens spent before the pause count after it; task visits replayed from the record are not counted twice.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { braid } from './support/cli.js';
import { builtinTools } from '../src/index.js';
import { planFor } from '../src/engine/plan.js';
import { redecide } from '../src/engine/redecide.js';
import { parseRunLog } from '../src/store/jsonl/index.js';
import { toRegistry } from '../src/toolkit/registry.js';

type Result = {
  runId: string;
  status: string;
  error?: { code?: string };
  tasks: Record<string, { status: string; usage?: { totalTokens: number } }>;
};

const dir = mkdtempSync(join(tmpdir(), 'braid-budget-resume-'));
const env = { BRAID_HOME: join(dir, 'home') };

/**
 * t1 → (gate) → t2, two model calls; the gate waits for a human when `gate` is true, and takes 1.5 s when it is
 * `'slow'` (time to kill the run there).
 */
function flow(name: string, budget: Record<string, number> | undefined, gate: boolean | 'slow'): string {
  const file = join(dir, `${name}.json`);
  const middle = gate === 'slow' ? { tool: 'sleep', input: { ms: 1500 } } : { tool: 'echo', input: { value: 'go' } };
  const tasks = [
    { id: 't1', tool: 'llm_generate_idea', input: { topic: 'solar kites' } },
    { id: 'gate', ...middle, dependencies: ['t1'], ...(gate === true ? { approval: true } : {}) },
    { id: 't2', tool: 'llm_generate_idea', input: { topic: 'bike sharing' }, dependencies: ['gate'] },
  ];
  writeFileSync(file, JSON.stringify({ name, ...(budget ? { budget } : {}), tasks }));
  return file;
}

/**
 * The run's record, every segment of it (straight through, paused and approved, killed and resumed), decided again
 * by `step` (issue 31.5): the same decisions, the same final status.
 */
function expectRedecided(runId: string, status: string): void {
  const record = parseRunLog(readFileSync(join(env.BRAID_HOME, 'runs', `${runId}.jsonl`), 'utf8'));
  const workflow = record.header!.workflow;
  const again = redecide(planFor(workflow, toRegistry(builtinTools())), record.events, workflow.budget?.max_tasks);
  expect(again.mismatches).toEqual([]);
  expect(again.status).toBe(status);
}

const run = async (file: string) => {
  const r = await braid(['run', file, '--json'], { env });
  const out = JSON.parse(r.stdout) as Result;
  expectRedecided(out.runId, out.status);
  return { code: r.code, out };
};

/** Pause at the gate, approve it: the continued run's code and result. */
async function pausedThenApproved(file: string) {
  const first = await run(file);
  expect(first.code).toBe(3);
  const r = await braid(['approve', first.out.runId, 'gate', '--json'], { env });
  const out = JSON.parse(r.stdout) as Result;
  expectRedecided(out.runId, out.status);
  return { code: r.code, out };
}

/** Killed with SIGKILL once the gate started (t1's tokens are recorded), then `braid resume`d. */
async function killedThenResumed(file: string) {
  let runId = '';
  await braid(['run', file, '--quiet'], {
    env,
    onSpawn: (child) => {
      const runs = join(env.BRAID_HOME, 'runs');
      const watch = setInterval(() => {
        const record = existsSync(runs) ? readdirSync(runs).filter((f) => f.endsWith('.jsonl')) : [];
        for (const f of record) {
          const text = readFileSync(join(runs, f), 'utf8');
          if (
            text.includes(`"name":"${basename(file, '.json')}"`) &&
            /"type":"task.started","taskId":"gate"/.test(text)
          ) {
            runId = f.slice(0, -'.jsonl'.length);
            clearInterval(watch);
            child.kill('SIGKILL');
          }
        }
      }, 20);
      child.on('exit', () => clearInterval(watch));
    },
  });
  expect(runId).not.toBe('');
  const r = await braid(['resume', runId, '--json'], { env });
  const out = JSON.parse(r.stdout) as Result;
  expectRedecided(out.runId, out.status);
  return { code: r.code, out };
}

describe('budgets survive a resume', () => {
  it('max_tokens: the second call cannot fit straight through, nor after an approval (not reset)', async () => {
    // Each call's worst case is reserved before it is sent (workflow-spec.md §7): with room for either call's worst
    // case and half of what t1 spends, t1 runs, and t2 fits alone but not beside what t1 spent (not reset).
    const free = await run(flow('free', { max_tokens: 1e9 }, false));
    const record = readFileSync(join(env.BRAID_HOME, 'runs', `${free.out.runId}.jsonl`), 'utf8');
    const calls = record
      .split('\n')
      .filter((l) => l.includes('"type":"llm.call"'))
      .map((l) => JSON.parse(l) as { taskId: string; reserved: { tokens: number } });
    const worst = (id: string) => calls.find((c) => c.taskId === id)!.reserved.tokens;
    const t1 = free.out.tasks.t1.usage!.totalTokens;
    const budget = { max_tokens: Math.max(worst('t1'), worst('t2')) + Math.floor(t1 / 2) };
    const straight = await run(flow('tokens', budget, false));
    expect(straight.code).toBe(1);
    expect(straight.out.error?.code).toBe('E_BUDGET');
    const approved = await pausedThenApproved(flow('tokens-gate', budget, true));
    expect(approved.code).toBe(straight.code);
    expect(approved.out.error?.code).toBe('E_BUDGET');
    expect(approved.out.status).toBe(straight.out.status);
    const resumed = await killedThenResumed(flow('tokens-killed', budget, 'slow'));
    expect([resumed.code, resumed.out.status, resumed.out.error?.code]).toEqual([1, 'failed', 'E_BUDGET']);
  }, 60_000);

  it('max_tasks: each task visit counts once, replayed ones included', async () => {
    const budget = { max_tasks: 3 };
    const straight = await run(flow('tasks', budget, false));
    expect(straight.code).toBe(0);
    const approved = await pausedThenApproved(flow('tasks-gate', budget, true));
    expect(approved.code).toBe(0);
    expect(approved.out.status).toBe('succeeded');
    const tight = { max_tasks: 2 };
    const straightTight = await run(flow('tight', tight, false));
    const approvedTight = await pausedThenApproved(flow('tight-gate', tight, true));
    expect([approvedTight.code, approvedTight.out.error?.code]).toEqual([straightTight.code, 'E_BUDGET']);
  }, 60_000);
});
