/**
 * The dashboard's model (dashboard/model.js, a thin layer over this module's bundle): what the run page shows,
 * computed from events. The import is the page's own module; under vitest its `./fold.js` is the TypeScript source.
 */
import { describe, expect, it } from 'vitest';
import type { RunEvent, RunEventBody, Usage } from './events.js';
import { apply, counts, itemProgress, newRun, timeline } from '../../dashboard/model.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
/** A run's events, numbered from 1, one second apart. */
const events = (...bodies: RunEventBody[]): RunEvent[] =>
  bodies.map((b, i) => ({ ...b, seq: i + 1, ts: at(i), runId: 'r1' }) as RunEvent);
const usage = (totalTokens: number, costUsd: number | null): Usage => ({
  promptTokens: totalTokens - 1,
  completionTokens: 1,
  totalTokens,
  costUsd,
});
const boom = { message: 'boom', code: 'E_TOOL' };

function view(taskIds: string[], ...bodies: RunEventBody[]) {
  const run = newRun('r1', taskIds);
  for (const e of events(...bodies)) apply(run, e);
  return run;
}

describe('the dashboard model', () => {
  it('a failed attempt, a retry and a success: one bar per attempt with its error, the task succeeded', () => {
    const run = view(
      ['parse', 'summary'],
      { type: 'run.started', workflow: 'wf', tasks: 2, input: { q: 1 } },
      { type: 'task.ready', taskId: 'parse', visit: 1 },
      { type: 'task.started', taskId: 'parse', tool: 'parse_report', attempt: 1, visit: 1 },
      { type: 'task.retrying', taskId: 'parse', attempt: 1, delayMs: 100, error: boom },
      { type: 'task.started', taskId: 'parse', tool: 'parse_report', attempt: 2, visit: 1 },
      { type: 'task.succeeded', taskId: 'parse', attempt: 2, visit: 1, durationMs: 1000, output: { rows: 3 } },
    );
    const parse = run.tasks.get('parse')!;
    expect(parse).toMatchObject({ status: 'succeeded', output: { rows: 3 }, hasOutput: true, tool: 'parse_report' });
    expect(parse.attempts).toEqual([
      expect.objectContaining({ attempt: 1, status: 'retrying', error: boom, delayMs: 100, endedAt: at(3) }),
      expect.objectContaining({ attempt: 2, status: 'succeeded', startedAt: at(4), endedAt: at(5) }),
    ]);
    expect(counts(run)).toEqual({ succeeded: 1, pending: 1 });
    expect(run.input).toEqual({ q: 1 });
    expect(run.status).toBe('running');
    const { rows, t0, t1 } = timeline(run);
    expect(rows.map((r) => [r.id, r.status, r.bars.map((b) => b.status)])).toEqual([
      ['parse', 'succeeded', ['retrying', 'succeeded']],
      ['summary', 'pending', []],
    ]);
    expect([t0, t1]).toEqual([Date.parse(at(2)), Date.parse(at(5))]);
  });

  it('for_each items end one by one; the progress message goes to the task log', () => {
    const run = view(
      ['each'],
      { type: 'task.started', taskId: 'each', tool: 'fetch', attempt: 1, visit: 1, item: 0 },
      { type: 'task.started', taskId: 'each', tool: 'fetch', attempt: 1, visit: 1, item: 1 },
      { type: 'task.progress', taskId: 'each', message: 'item 0 done', data: { item: 0, status: 'succeeded' } },
    );
    const each = run.tasks.get('each')!;
    expect(itemProgress(each)).toEqual({ total: 2, done: 1 });
    expect(each.attempts.map((a) => [a.item, a.status])).toEqual([
      [0, 'succeeded'],
      [1, 'running'],
    ]);
    expect(each.logs).toEqual([{ ts: at(2), level: 'progress', message: 'item 0 done' }]);
    const bars = timeline(run, Date.parse(at(9))).rows[0].bars;
    expect(bars.map((b) => [b.item, b.end])).toEqual([
      [0, Date.parse(at(2))],
      [1, Date.parse(at(9))], // still running: until now
    ]);
  });

  it('a label goes with the success; model calls add up per task and run; a call without a price is unpriced', () => {
    const run = view(
      ['route'],
      { type: 'task.started', taskId: 'route', tool: 'classify', attempt: 1, visit: 1 },
      {
        type: 'llm.call',
        taskId: 'route',
        provider: 'openai',
        model: 'm',
        purpose: 'classify',
        latencyMs: 5,
        usage: usage(10, 0.5),
      },
      { type: 'llm.call', provider: 'openai', model: 'm', purpose: 'plan', latencyMs: 5, usage: usage(4, null) },
      { type: 'task.labeled', taskId: 'route', label: 'urgent', source: 'classifier', reason: 'says ASAP' },
      { type: 'task.succeeded', taskId: 'route', attempt: 1, visit: 1, durationMs: 1, output: 'x' },
    );
    const route = run.tasks.get('route')!;
    expect(route).toMatchObject({ label: 'urgent', labelSource: 'classifier', labelReason: 'says ASAP' });
    expect(route.usage).toEqual({
      promptTokens: 9,
      completionTokens: 1,
      totalTokens: 10,
      costUsd: 0.5,
      calls: 1,
      unpriced: false,
    });
    expect(route.llm).toEqual([expect.objectContaining({ purpose: 'classify', latencyMs: 5 })]);
    expect(run.usage).toMatchObject({ totalTokens: 14, costUsd: 0.5, calls: 2, unpriced: true });
  });

  it('a failure after a label drops the label; a skip says why; an approval is kept with who and when', () => {
    const run = view(
      ['a', 'b', 'c'],
      { type: 'task.labeled', taskId: 'a', label: 'x', source: 'output' },
      { type: 'task.failed', taskId: 'a', attempt: 1, visit: 1, durationMs: 1, error: boom },
      { type: 'task.skipped', taskId: 'b', reason: 'upstream_failed' },
      { type: 'task.waiting', taskId: 'c', visit: 1, inputHash: 'h1', input: { to: 'me' } },
      { type: 'task.approval', taskId: 'c', visit: 1, approved: true, by: 'ann', comment: 'fine' },
    );
    expect(run.tasks.get('a')).toMatchObject({ status: 'failed', error: boom, label: undefined });
    expect(run.tasks.get('b')).toMatchObject({ status: 'skipped', reason: 'upstream_failed' });
    expect(run.tasks.get('c')).toMatchObject({
      status: 'waiting',
      received: { to: 'me' },
      inputHash: 'h1',
      approval: { approved: true, by: 'ann', comment: 'fine', ts: at(4) },
    });
  });

  it('a resume ends the attempts the stopped process left open as failed; the finish gives status and output', () => {
    const run = view(
      ['a'],
      { type: 'task.started', taskId: 'a', tool: 'echo', attempt: 1, visit: 1 },
      { type: 'run.resumed', reused: 0, pid: 1 },
      { type: 'task.started', taskId: 'a', tool: 'echo', attempt: 2, visit: 1 },
      { type: 'task.succeeded', taskId: 'a', attempt: 2, visit: 1, durationMs: 1, output: 1 },
      { type: 'run.finished', status: 'succeeded', durationMs: 4, output: { a: 1 } },
    );
    expect(run.tasks.get('a')!.attempts.map((a) => [a.status, a.error?.message])).toEqual([
      ['failed', 'the process stopped while this attempt ran'],
      ['succeeded', undefined],
    ]);
    expect(run).toMatchObject({ status: 'succeeded', endedAt: at(4), output: { a: 1 }, hasOutput: true });
  });

  it('child runs are listed once, routes counted, run-level logs kept; an event seen again changes nothing', () => {
    const run = newRun('r1', ['plan']);
    const evts = events(
      { type: 'task.child', taskId: 'plan', childRunId: 'c1', workflow: {} },
      { type: 'task.child', taskId: 'plan', childRunId: 'c1', workflow: {} },
      { type: 'task.routed', taskId: 'plan', to: 'fix', on: 'failure' },
      { type: 'task.routed', taskId: 'plan', to: 'fix', on: 'failure' },
      { type: 'task.log', level: 'warn', message: 'low disk' },
    );
    expect(evts.map((e) => apply(run, e))).toEqual([true, true, true, true, true]);
    expect(apply(run, evts[2])).toBe(false);
    expect(run.version).toBe(5);
    expect(run.children).toEqual([{ taskId: 'plan', childRunId: 'c1' }]);
    expect([...run.routes]).toEqual([['plan->fix', 2]]);
    expect(run.logs).toEqual([{ ts: at(4), level: 'warn', message: 'low disk' }]);
    expect(run.order).toEqual(['plan']);
  });

  it('an event of a type this version does not know is taken and ignored', () => {
    const run = view(['a'], { type: 'task.paused', taskId: 'a' } as unknown as RunEventBody);
    expect(run.lastSeq).toBe(1);
    expect(counts(run)).toEqual({ pending: 1 });
  });
});
