/**
 * Re-deciding is proven (issue 31): records the real driver wrote (random workflows under random tool delays, with
 * conditions, labels, routing loops, retries, recoveries, for_each and budgets; approvals; cancels; kill -9 and
 * resume) are read back as facts and folded through `step`, and every recorded decision and the final status come
 * out the same. Records written by the engine before `step` existed (test/fixtures/records-before-step) too.
 */
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlRunStore, loadWorkflow, runWorkflow, type RunEvent } from '../src/index.js';
import { planFor } from '../src/engine/plan.js';
import { redecide } from '../src/engine/redecide.js';
import { toRegistry } from '../src/toolkit/registry.js';
import type { Workflow } from '../src/spec/workflow.js';
import { parseRunLog } from '../src/store/jsonl/index.js';
import { randomWorkflow } from './support/random-workflow.js';
import { recorder } from './support/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'braid-redecide-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = new JsonlRunStore(dir);
const { tools } = recorder();

function redecided(workflow: Workflow, events: RunEvent[]) {
  const plan = planFor(workflow, toRegistry(tools));
  return redecide(plan, events, workflow.budget?.max_tasks);
}

describe('a recorded run, decided again by step', () => {
  it(
    'random workflows under random delays: every decision and the final status are the recorded ones',
    { timeout: 300_000 },
    async () => {
      const numRuns = Number(process.env.REDECIDE_RUNS ?? 150);
      let runs = 0;
      let decisions = 0;
      const seen = new Set<string>();
      await fc.assert(
        fc.asyncProperty(
          randomWorkflow(),
          fc.option(fc.integer({ min: 0, max: 4 }), { freq: 4 }),
          async (r, cancelAt) => {
            const { workflow: spec, input, concurrency } = r;
            const loaded = await loadWorkflow(spec, { toolNames: ['work'] }).catch(() => undefined);
            fc.pre(loaded !== undefined);
            // Some runs are cancelled midway (Ctrl-C): what was decided up to then, and the skips after, re-decide too.
            const stop = new AbortController();
            if (cancelAt !== null) setTimeout(() => stop.abort(), cancelAt);
            const result = await runWorkflow(loaded!.workflow, {
              signal: stop.signal,
              tools,
              builtins: false,
              input,
              concurrency,
              store,
              classifier: null,
              retry: { baseDelayMs: 1 },
            });
            const { events } = await store.read(result.runId);
            const again = redecided(loaded!.workflow, events);
            expect(again.mismatches).toEqual([]);
            expect(again.status).toBe(result.status);
            runs++;
            decisions += again.compared;
            for (const e of events) seen.add(e.type === 'task.skipped' ? `skipped: ${e.reason}` : e.type);
          },
        ),
        // One seed, so that the kinds of decisions checked below always occur (REDECIDE_SEED explores others).
        { numRuns, seed: Number(process.env.REDECIDE_SEED ?? 31) },
      );
      // ...and on runs that made every kind of decision.
      for (const kind of [
        'task.routed',
        'task.retrying',
        'task.recovery',
        'task.labeled',
        'task.progress',
        'skipped: condition_false',
        'skipped: upstream_failed',
        'skipped: failure_skipped',
        'skipped: budget_exceeded',
        'skipped: not_routed',
        'skipped: cancelled',
      ])
        expect(seen).toContain(kind);
      // The property held on runs that decided things, not on workflows the validator refused.
      expect(runs).toBeGreaterThan(numRuns * 0.4);
      expect(decisions).toBeGreaterThan(runs * 5);
    },
  );

  it('a record that says otherwise is caught: a changed route, a changed skip reason', async () => {
    const { workflow } = await loadWorkflow(
      {
        name: 'loop',
        tasks: [
          { id: 'a', tool: 'work', input: { fail: 1 }, next_task_id_on_failure: 'a', max_visits: 2 },
          { id: 'b', tool: 'work', input: {}, dependencies: ['a'] },
        ],
      },
      { toolNames: ['work'] },
    );
    const result = await runWorkflow(workflow, { tools, builtins: false, store, classifier: null });
    const { events } = await store.read(result.runId);
    expect(redecided(workflow, events).mismatches).toEqual([]);
    const forged = events.map((e) => (e.type === 'task.routed' ? { ...e, to: 'b' } : e));
    expect(redecided(workflow, forged).mismatches[0]).toMatch(/"to":"b".*step decided.*"to":"a"/);
    // a fails on each visit until max_visits stops the run: b is skipped because the run failed, not its upstream.
    const skipped = events.map((e) => (e.type === 'task.skipped' ? { ...e, reason: 'upstream_failed' as const } : e));
    expect(redecided(workflow, skipped).mismatches[0]).toMatch(
      /"reason":"upstream_failed".*step decided.*"run_failed"/,
    );
  });
});

describe('records written before step existed', () => {
  const fixtures = join(import.meta.dirname, 'fixtures', 'records-before-step');
  it('each re-decides exactly', () => {
    const files = readdirSync(fixtures).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      const record = parseRunLog(readFileSync(join(fixtures, f), 'utf8'));
      const workflow = record.header!.workflow;
      const again = redecided(workflow, record.events);
      expect({ f, mismatches: again.mismatches }).toEqual({ f, mismatches: [] });
      const finished = record.events.findLast((e) => e.type === 'run.finished');
      expect(again.status).toBe(finished?.type === 'run.finished' ? finished.status : undefined);
    }
  });
});
