/**
 * The transition function, stated as its rules: facts in, commands out, no driver, no clock, no tools. Each test feeds
 * the facts a run would and reads the events `step` records and the actions it asks for.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../spec/load.js';
import { toRegistry } from '../toolkit/registry.js';
import type { Tool } from '../toolkit/types.js';
import { recordedInput } from '../core/input-hash.js';
import { planFor } from './plan.js';
import { initialState, step, type Action, type Command, type Fact, type RunState } from './step.js';
import type { Replay } from '../store/fold.js';

const work: Tool = { name: 'work', run: () => null };

async function start(tasks: Record<string, unknown>[], o: { maxTasks?: number; replay?: Replay } = {}) {
  const { workflow } = await loadWorkflow({ name: 'rules', tasks }, { toolNames: ['work'] });
  const s = initialState({ plan: planFor(workflow, toRegistry([work])), runId: 'r1', input: {}, ...o });
  const run = { s, feed: (fact: Fact) => step(s, fact) };
  return { ...run, first: run.feed({ kind: 'start' }) };
}

/** The recorded events of some commands, as `type taskId [detail]`. */
const events = (cs: Command[]) =>
  cs.flatMap((c) =>
    'type' in c
      ? [
          [c.type, 'taskId' in c ? c.taskId : '', 'reason' in c ? c.reason : 'to' in c ? c.to : '']
            .filter(Boolean)
            .join(' '),
        ]
      : [],
  );
const actions = (cs: Command[]) => cs.filter((c): c is Action => !('type' in c));
const attempts = (cs: Command[]) => actions(cs).filter((a) => a.kind === 'attempt');

/** The facts of an attempt that started and ended as `result` says. */
function ran(
  s: RunState,
  feed: (f: Fact) => Command[],
  a: Action,
  result: Extract<Fact, { kind: 'attempted' }>['result'],
) {
  if (a.kind !== 'attempt') throw new Error(`not an attempt: ${a.kind}`);
  const at = { task: a.task, visit: a.visit, attempt: a.attempt, ...(a.item === undefined ? {} : { item: a.item }) };
  const began = feed({ kind: 'started', ...at, tool: a.tool.name, startedAt: 't', recorded: recordedInput(a.input) });
  return [...began, ...feed({ kind: 'attempted', ...at, tool: a.tool.name, startedAt: 't', result })];
}
const ok = (output: unknown = null) => ({ status: 'succeeded' as const, output, durationMs: 1, endedAt: 't' });
const failed = (retryable = true) => ({
  status: 'failed' as const,
  error: { message: 'boom', code: 'E_TOOL' as const, retryable },
  durationMs: 1,
  endedAt: 't',
});

describe('step', () => {
  it('a run starts its entry tasks in file order; a task starts the moment its upstreams allow', async () => {
    const { s, feed, first } = await start([
      { id: 'a', tool: 'work' },
      { id: 'b', tool: 'work' },
      { id: 'c', tool: 'work', dependencies: ['a'] },
    ]);
    expect(events(first)).toEqual(['task.ready a', 'task.ready b']);
    const [a, b] = attempts(first);
    const afterA = ran(s, feed, a, ok());
    expect(events(afterA)).toEqual(['task.started a', 'task.succeeded a', 'task.ready c']);
    expect(attempts(afterA).map((x) => x.task)).toEqual([2]);
    ran(s, feed, attempts(afterA)[0], ok());
    const end = ran(s, feed, b, ok());
    expect(actions(end).at(-1)).toEqual({ kind: 'finish', status: 'succeeded' });
  });

  it('a failed attempt with a retry left waits a backoff, then runs again: same tool, same input', async () => {
    const { s, feed, first } = await start([{ id: 'a', tool: 'work', input: { n: 1 }, retries: 1 }]);
    const out = ran(s, feed, attempts(first)[0], failed());
    expect(actions(out)).toEqual([
      { kind: 'backoff', task: 0, attempt: 1, error: { message: 'boom', code: 'E_TOOL' } },
    ]);
    const again = attempts(feed({ kind: 'backoff_done', task: 0 }))[0];
    expect(again).toMatchObject({ attempt: 2, input: { n: 1 }, tool: { name: 'work' } });
    expect(events(ran(s, feed, again, failed()))).toEqual(['task.started a', 'task.failed a']);
    expect(s.finished).toBe('failed');
  });

  it('an error that is not retryable skips the plain retries for the next on_failure step', async () => {
    const { s, feed, first } = await start([{ id: 'a', tool: 'work', retries: 3, on_failure: ['skip'] }]);
    expect(events(ran(s, feed, attempts(first)[0], failed(false)))).toEqual([
      'task.started a',
      'task.recovery a',
      'task.skipped a failure_skipped',
    ]);
  });

  it('any run-fatal error stops alike: nothing new starts, running attempts are aborted, the rest is skipped', async () => {
    // A routing loop over max_visits (step's own) and a budget crossed (the driver's), each beside a chain.
    for (const stop of ['max_visits', 'budget'] as const) {
      const { s, feed, first } = await start([
        { id: 'loop', tool: 'work', next_task_id_on_failure: 'loop', max_visits: 1 },
        { id: 'c', tool: 'work' },
        { id: 'd', tool: 'work', dependencies: ['c'] },
      ]);
      const [loop, c] = attempts(first);
      const stopped =
        stop === 'max_visits'
          ? ran(s, feed, loop, failed(false))
          : feed({ kind: 'stop', error: { message: 'budget exceeded', code: 'E_BUDGET' }, reason: 'budget_exceeded' });
      const reason = stop === 'max_visits' ? 'run_failed' : 'budget_exceeded';
      expect(events(stopped)).toContain(`run.stopping ${reason}`);
      expect(actions(stopped).map((a) => a.kind)).toContain('abort');
      // c was running: aborted, it ends skipped for the stop's reason, and d never starts.
      const end = ran(s, feed, c, failed());
      expect(events(end)).toEqual(['task.started c', `task.skipped c ${reason}`, `task.skipped d ${reason}`]);
      expect(attempts(end)).toEqual([]);
      // Under the budget, loop's attempt was still queued: the executor answers it cancelled, and the run is over.
      if (stop === 'budget')
        expect(
          events(
            feed({
              kind: 'attempted',
              task: 0,
              visit: 1,
              attempt: 1,
              tool: 'work',
              startedAt: '',
              result: { status: 'cancelled' },
            }),
          ),
        ).toEqual(['task.skipped loop budget_exceeded']);
      expect(s.finished).toBe('failed');
      expect(s.fatal?.code).toBe(stop === 'max_visits' ? 'E_MAX_VISITS' : 'E_BUDGET');
    }
  });

  it('max_tasks counts each task visit once; visits a resumed run recorded were counted already', async () => {
    const tasks = [
      { id: 'a', tool: 'work' },
      { id: 'b', tool: 'work', dependencies: ['a'] },
      { id: 'c', tool: 'work', dependencies: ['b'] },
    ];
    const fresh = await start(tasks, { maxTasks: 2 });
    const b = attempts(ran(fresh.s, fresh.feed, attempts(fresh.first)[0], ok()))[0];
    expect(events(ran(fresh.s, fresh.feed, b, ok()))).toEqual([
      'task.started b',
      'task.succeeded b',
      'run.stopping budget_exceeded',
      'task.skipped c budget_exceeded',
    ]);
    // Resumed after a and b: their visits were counted by the record, so c fits.
    const spent = { tokens: 0, costUsd: 0, visits: new Set(['a#1', 'b#1']), runningMs: 0 };
    const successes = new Map([
      ['a#1', { output: null, attempt: 1 }],
      ['b#1', { output: null, attempt: 1 }],
    ]);
    const replay: Replay = { successes, approvals: new Map(), spent, calls: new Map() };
    const resumed = await start(tasks, { maxTasks: 3, replay });
    expect(events(resumed.first)).toEqual([
      'task.ready a',
      'task.succeeded a',
      'task.ready b',
      'task.succeeded b',
      'task.ready c',
    ]);
  });

  it('a routing edge re-enters a finished task: it and its finished downstream run again', async () => {
    const { s, feed, first } = await start([
      { id: 'gen', tool: 'work' },
      { id: 'check', tool: 'work', dependencies: ['gen'], next_task_id_on_failure: 'gen', max_visits: 2 },
    ]);
    const check = attempts(ran(s, feed, attempts(first)[0], ok()))[0];
    const routed = ran(s, feed, check, failed(false));
    expect(events(routed)).toEqual([
      'task.started check',
      'task.failed check',
      'task.routed check gen',
      'task.ready gen',
    ]);
    expect(attempts(routed)[0]).toMatchObject({ task: 0, visit: 2, attempt: 1 });
    const second = attempts(ran(s, feed, attempts(routed)[0], ok()))[0];
    expect(second).toMatchObject({ task: 1, visit: 2 });
    ran(s, feed, second, ok());
    expect(s.finished).toBe('succeeded');
  });

  it('for_each: at most its concurrency of items at once; outputs in input order whatever order they end', async () => {
    const { workflow } = await loadWorkflow(
      { name: 'each', tasks: [{ id: 'e', tool: 'work', for_each: '{{ input.list }}', concurrency: 2 }] },
      { toolNames: ['work'] },
    );
    const s = initialState({ plan: planFor(workflow, toRegistry([work])), runId: 'r', input: { list: [1, 2, 3] } });
    const feed = (f: Fact) => step(s, f);
    const [i0, i1] = attempts(feed({ kind: 'start' }));
    expect([i0, i1].map((a) => a.kind === 'attempt' && a.item)).toEqual([0, 1]);
    const i2 = attempts(ran(s, feed, i1, ok('b')))[0];
    expect(i2).toMatchObject({ item: 2 });
    ran(s, feed, i2, ok('c'));
    const end = ran(s, feed, i0, ok('a'));
    expect(end.find((c) => 'type' in c && c.type === 'task.succeeded')).toMatchObject({ output: ['a', 'b', 'c'] });
  });

  it('an approval waits with the input it is on; a recorded decision applies only to that input', async () => {
    const tasks = [{ id: 'gate', tool: 'work', input: { to: 'team' }, approval: true }];
    const waiting = await start(tasks);
    const { inputHash } = recordedInput({ to: 'team' });
    expect(waiting.first).toContainEqual(expect.objectContaining({ type: 'task.waiting', inputHash }));
    expect(waiting.s.finished).toBe('waiting');
    const replay = (hash: string): Replay => ({
      successes: new Map(),
      approvals: new Map([['gate#1', { approved: true, inputHash: hash }]]),
      spent: { tokens: 0, costUsd: 0, visits: new Set(), runningMs: 0 },
      calls: new Map(),
    });
    expect(attempts((await start(tasks, { replay: replay(inputHash) })).first)).toHaveLength(1);
    // Decided on another input: asked again.
    expect(events((await start(tasks, { replay: replay('0'.repeat(64)) })).first)).toContain('task.waiting gate');
  });

  it('step does no I/O: bundled with everything it imports, it needs no Node module that reads, writes or waits', async () => {
    const out = await build({
      entryPoints: [new URL('./step.ts', import.meta.url).pathname],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
      external: ['jsonata', 're2js', 'canonicalize', 'yaml', '@cfworker/json-schema', 'zod', 'zod-to-json-schema'],
    });
    const imports = Object.values(out.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
    const node = [...new Set(imports.filter((p) => p.startsWith('node:')))].sort();
    // crypto: the input hash; module: JSONata loaded on first use; url: where braid's own frames are, for stacks.
    expect(node).toEqual(['node:crypto', 'node:module', 'node:url']);
  });
});
