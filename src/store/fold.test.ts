/** The fold (a run rebuilt from its events) and the replay a resume reuses, as unit tests over hand-made records. */
import { describe, expect, it, vi } from 'vitest';
import type { RunEvent, RunEventBody, Usage } from '../core/events.js';
import { foldRun, processAlive, REJECTED, replayOf, RunFolder, visitKey } from './fold.js';
import type { RunHeader, RunRecord } from './types.js';

const header = (p: Partial<RunHeader> = {}): RunHeader =>
  ({
    type: 'run.record',
    version: 1,
    runId: 'r1',
    createdAt: '2026-01-01T00:00:00.000Z',
    workflow: {
      name: 'wf',
      tasks: [
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo' },
      ],
    },
    input: {},
    ...p,
  }) as RunHeader;

/** Events numbered from 1, one second apart from 00:00:00. */
function events(...bodies: RunEventBody[]): RunEvent[] {
  return bodies.map((b, i) => ({ ...b, seq: i + 1, ts: at(i), runId: 'r1' }) as RunEvent);
}
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const record = (evts: RunEvent[], h: RunHeader | undefined = header()): RunRecord => ({
  header: h,
  events: evts,
  problems: [],
});
const usage = (totalTokens: number, costUsd: number | null = 0.001): Usage => ({
  promptTokens: totalTokens - 1,
  completionTokens: 1,
  totalTokens,
  costUsd,
});

const started = (taskId: string, attempt = 1, visit = 1): RunEventBody => ({
  type: 'task.started',
  taskId,
  tool: 'echo',
  attempt,
  visit,
});
const succeeded = (taskId: string, output: unknown = 'ok', visit = 1): RunEventBody => ({
  type: 'task.succeeded',
  taskId,
  attempt: 1,
  visit,
  durationMs: 1,
  output,
});
const finished = (status: 'succeeded' | 'failed' = 'succeeded', extra: object = {}): RunEventBody =>
  ({ type: 'run.finished', status, durationMs: 5, ...extra }) as RunEventBody;

describe('foldRun', () => {
  it('a header alone: every task pending, the run named from the header, interrupted (its writer is gone)', () => {
    const run = foldRun(record([]));
    expect(run).toEqual({
      runId: 'r1',
      workflow: 'wf',
      status: 'interrupted',
      startedAt: '2026-01-01T00:00:00.000Z',
      tasks: {
        a: { status: 'pending', attempts: 0, visits: 0 },
        b: { status: 'pending', attempts: 0, visits: 0 },
      },
      lastSeq: 0,
    });
  });

  it('a run still being written by a live process is running; a dead one, or no pid, interrupted', () => {
    const rec = record(events({ type: 'run.started', workflow: 'wf', tasks: 2, input: {} }), header({ pid: 4242 }));
    expect(foldRun(rec, (pid) => pid === 4242).status).toBe('running');
    expect(foldRun(rec, () => false).status).toBe('interrupted');
    expect(foldRun(record(rec.events), () => true).status).toBe('interrupted');
    // the pid of the latest resume decides
    const resumed = record(
      events({ type: 'run.started', workflow: 'wf', tasks: 2, input: {} }, { type: 'run.resumed', reused: 0, pid: 7 }),
      header({ pid: 4242 }),
    );
    expect(foldRun(resumed, (pid) => pid === 7).status).toBe('running');
    expect(foldRun(resumed, (pid) => pid === 4242).status).toBe('interrupted');
  });

  it('without a header, the first event names the run and its start', () => {
    const run = foldRun({ events: events(started('a')), problems: [] });
    expect(run.runId).toBe('r1');
    expect(run.startedAt).toBe(at(0));
    expect(run.workflow).toBe('');
    expect(run.tasks.a).toMatchObject({ status: 'running', attempts: 1, startedAt: at(0) });
  });

  it('a whole run: attempts counted, first start kept, output and labels on the success, usage summed', () => {
    const run = foldRun(
      record(
        events(
          { type: 'run.started', workflow: 'renamed', tasks: 2, input: {} },
          { type: 'task.ready', taskId: 'a', visit: 1 },
          started('a'),
          {
            type: 'task.failed',
            taskId: 'a',
            attempt: 1,
            visit: 1,
            durationMs: 1,
            error: { message: 'x', code: 'E_TOOL' },
          },
          started('a', 2),
          {
            type: 'llm.call',
            taskId: 'a',
            provider: 'p',
            model: 'm',
            purpose: 'classify',
            latencyMs: 1,
            usage: usage(10),
          },
          {
            type: 'llm.call',
            taskId: 'a',
            provider: 'p',
            model: 'm',
            purpose: 'classify',
            latencyMs: 1,
            usage: usage(5),
          },
          { type: 'llm.call', provider: 'p', model: 'm', purpose: 'plan', latencyMs: 1, usage: usage(100) },
          { type: 'task.labeled', taskId: 'a', label: 'good', source: 'classifier', reason: 'looks good' },
          succeeded('a', { text: 'hi' }),
          { type: 'task.skipped', taskId: 'b', reason: 'condition_false' },
          finished('succeeded', { output: { a: 1 } }),
        ),
      ),
    );
    expect(run.workflow).toBe('renamed');
    expect(run.startedAt).toBe(at(0));
    expect(run.status).toBe('succeeded');
    expect(run.endedAt).toBe(at(11));
    expect(run.output).toEqual({ a: 1 });
    expect(run.lastSeq).toBe(12);
    expect(run.tasks.a).toEqual({
      status: 'succeeded',
      attempts: 2,
      visits: 1,
      startedAt: at(2),
      endedAt: at(9),
      output: { text: 'hi' },
      label: 'good',
      labelSource: 'classifier',
      labelReason: 'looks good',
      usage: { promptTokens: 13, completionTokens: 2, totalTokens: 15, costUsd: 0.002 },
    });
    expect(run.tasks.b).toEqual({ status: 'skipped', attempts: 0, visits: 0, reason: 'condition_false' });
    // the run's usage is the sum over its tasks (a call without a task is not a task's)
    expect(run.usage).toEqual({ promptTokens: 13, completionTokens: 2, totalTokens: 15, costUsd: 0.002 });
    expect(run.problems).toBeUndefined();
    expect(run.activeMs).toBeUndefined();
  });

  it('every event type a run records folds without a problem: routes, children, logs, progress, recoveries', () => {
    const run = foldRun(
      record(
        events(
          { type: 'run.started', workflow: 'wf', tasks: 2, input: {} },
          { type: 'task.ready', taskId: 'a', visit: 1 },
          started('a'),
          {
            type: 'task.progress',
            taskId: 'a',
            message: 'half',
            progress: 0.5,
            data: { item: 0, status: 'succeeded' },
          },
          { type: 'task.log', taskId: 'a', level: 'info', message: 'hi' },
          { type: 'task.log', level: 'warn', message: 'run-wide' },
          { type: 'task.child', taskId: 'a', childRunId: 'c1', workflow: {} },
          { type: 'task.recovery', taskId: 'a', attempt: 1, action: 'skip', error: { message: 'x' } },
          { type: 'task.routed', taskId: 'a', to: 'b', on: 'failure' },
          { type: 'task.ready', taskId: 'b', visit: 2, routedFrom: 'a' },
          { type: 'task.waiting', taskId: 'b', visit: 2 },
          { type: 'task.approval', taskId: 'b', visit: 2, approved: true },
        ),
      ),
    );
    expect(run.problems).toBeUndefined();
    expect(run.tasks.b).toMatchObject({ status: 'waiting', visits: 2 });
    expect(Object.keys(run.tasks)).toEqual(['a', 'b']);
  });

  it('a label is dropped when the attempt fails after it; a label without a reason has no labelReason', () => {
    const run = foldRun(
      record(
        events(
          started('a'),
          { type: 'task.labeled', taskId: 'a', label: 'bad', source: 'output' },
          {
            type: 'task.failed',
            taskId: 'a',
            attempt: 1,
            visit: 1,
            durationMs: 1,
            error: { message: 'x' },
          },
          started('a', 2),
          succeeded('a'),
          started('b'),
          { type: 'task.labeled', taskId: 'b', label: 'fine', source: 'field' },
          succeeded('b'),
        ),
      ),
    );
    expect(run.tasks.a.label).toBeUndefined();
    expect(run.tasks.a.labelSource).toBeUndefined();
    expect(run.tasks.b).toMatchObject({ label: 'fine', labelSource: 'field' });
    expect('labelReason' in run.tasks.b).toBe(false);
  });

  it('terminal states clear the previous outcome; a failure before any attempt has no end time', () => {
    const run = foldRun(
      record(
        events(
          started('a'),
          { type: 'task.labeled', taskId: 'a', label: 'x', source: 'output' },
          succeeded('a', 'first'),
          { type: 'task.ready', taskId: 'a', visit: 2 },
          { type: 'task.skipped', taskId: 'a', reason: 'upstream_failed', error: { message: 'up' } },
          { type: 'task.failed', taskId: 'b', attempt: 0, visit: 1, durationMs: 0, error: { message: 'rejected' } },
          { type: 'task.waiting', taskId: 'c', visit: 1 },
        ),
      ),
    );
    expect(run.tasks.a).toEqual({
      status: 'skipped',
      attempts: 1,
      visits: 2,
      startedAt: at(0),
      endedAt: at(2),
      reason: 'upstream_failed',
      error: { message: 'up' },
    });
    expect(run.tasks.b).toEqual({ status: 'failed', attempts: 0, visits: 0, error: { message: 'rejected' } });
    // a task the header does not list is added when an event names it
    expect(run.tasks.c).toEqual({ status: 'waiting', attempts: 0, visits: 0 });
  });

  it('a replayed success keeps no end time; task.started records where the input came from', () => {
    const run = foldRun(
      record(
        events({ type: 'task.started', taskId: 'a', tool: 'echo', attempt: 1, visit: 1, sources: { q: 'input.q' } }, {
          ...(succeeded('a') as object),
          replayed: true,
        } as RunEventBody),
      ),
    );
    expect(run.tasks.a.endedAt).toBeUndefined();
    expect(run.tasks.a.inputSources).toEqual({ q: 'input.q' });
  });

  it('run.finished: the error kept, an output from an earlier finish dropped; a resume clears the end', () => {
    const evts = events(
      finished('succeeded', { output: { old: true } }),
      { type: 'run.resumed', reused: 1, pid: 9 },
      finished('failed', { error: { message: 'boom', code: 'E_TOOL' } }),
    );
    const run = foldRun(record(evts));
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ message: 'boom', code: 'E_TOOL' });
    expect('output' in run).toBe(false);
    expect(run.endedAt).toBe(at(2));
    const midway = foldRun(record(evts.slice(0, 2)), (pid) => pid === 9);
    expect(midway.status).toBe('running');
    expect(midway.endedAt).toBeUndefined();
    expect(midway.output).toEqual({ old: true });
  });

  it('a resumed run: activeMs leaves out the time between the stop and the resume; a task re-run starts anew', () => {
    const bodies: RunEventBody[] = [
      started('a'), // 0 s
      succeeded('a'), // 1 s
      started('b'), // 2 s: interrupted here
    ];
    const evts = events(...bodies);
    // the resume comes 100 s later
    const later = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    evts.push(
      { type: 'run.resumed', reused: 1, pid: 1, seq: 4, ts: later(102), runId: 'r1' },
      { ...(started('b', 1) as object), seq: 5, ts: later(103), runId: 'r1' } as RunEvent,
      { ...(succeeded('b') as object), seq: 6, ts: later(105), runId: 'r1' } as RunEvent,
    );
    const run = foldRun(record(evts));
    expect(run.activeMs).toBe(2000 + 3000);
    expect(run.tasks.b.startedAt).toBe(later(103));
    expect(run.tasks.a.startedAt).toBe(at(0));
    expect(run.tasks.b.attempts).toBe(2);
  });

  it('an event that cannot be folded is reported in problems, the rest still folds; lastSeq is the highest', () => {
    const evts = events(started('a'), succeeded('a'));
    const bad = { seq: 9, ts: at(5), runId: 'r1', type: 'task.ready', taskId: '__proto__', visit: 1 } as RunEvent;
    const broken = { seq: 3, ts: at(6), runId: 'r1', type: 'task.started', taskId: 'toString' } as RunEvent;
    const folder = new RunFolder(header());
    for (const e of [...evts, bad, broken]) folder.add(e);
    const run = folder.result();
    expect(run.lastSeq).toBe(9);
    expect(run.tasks.a.status).toBe('succeeded');
    expect(Object.getPrototypeOf(run.tasks)).toBeNull();
    expect(run.tasks.__proto__).toMatchObject({ status: 'pending', visits: 1 });
    expect(run.tasks.toString).toMatchObject({ status: 'running', attempts: 1 });
    expect(run.problems).toBeUndefined();
    const nasty = new RunFolder(header());
    nasty.add({
      seq: 1,
      ts: at(0),
      runId: 'r1',
      type: 'task.succeeded',
      taskId: 'a',
      get output(): never {
        throw new Error('unreadable');
      },
    } as unknown as RunEvent);
    expect(nasty.result().problems).toEqual(['event 1 (task.succeeded): unreadable, ignored']);
  });
});

describe('foldRun: edges the first pass missed (mutation testing)', () => {
  const later = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const ev = (seq: number, s: number, body: RunEventBody) => ({ ...body, seq, ts: later(s), runId: 'r1' }) as RunEvent;

  it('without an alive test, a run with a pid is interrupted (no process is assumed alive)', () => {
    const rec = record(events(started('a')), header({ pid: process.pid }));
    expect(foldRun(rec).status).toBe('interrupted');
    const folder = new RunFolder(rec.header);
    for (const e of rec.events) folder.add(e);
    expect(folder.result().status).toBe('interrupted');
  });

  it('a resume whose pid is not a number (a forged record) leaves no live writer', () => {
    const rec = record([...events(started('a')), ev(2, 2, { type: 'run.resumed', reused: 0, pid: '7' as never })]);
    expect(foldRun(rec, () => true).status).toBe('interrupted');
  });

  it('bug fix: a task.started after a resume for a task the header does not list folds (it threw)', () => {
    const evts = [
      ev(1, 0, { type: 'run.started', workflow: 'w', tasks: 1, input: {} }),
      ev(2, 1, { type: 'run.resumed', reused: 0, pid: 1 }),
      ev(3, 2, started('x')),
    ];
    const headerless = foldRun({ events: evts, problems: [] });
    expect(headerless.tasks.x).toMatchObject({ status: 'running', startedAt: later(2) });
    expect(headerless.problems).toBeUndefined();
    expect(foldRun(record(evts)).tasks.x).toMatchObject({ status: 'running', startedAt: later(2) });
  });

  it('after a resume a task keeps the start of its first attempt after the resume, also one at the resume instant', () => {
    const run = foldRun(
      record([
        ev(1, 0, started('a')),
        ev(2, 10, { type: 'run.resumed', reused: 0, pid: 1 }),
        ev(3, 11, started('a', 1)),
        ev(4, 12, { type: 'task.failed', taskId: 'a', attempt: 1, visit: 1, durationMs: 1, error: { message: 'x' } }),
        ev(5, 13, started('a', 2)),
        ev(6, 10, started('b', 1)),
        ev(7, 14, started('b', 2)),
      ]),
    );
    expect(run.tasks.a.startedAt).toBe(later(11));
    expect(run.tasks.b.startedAt).toBe(later(10));
  });

  it('an event with an unreadable time does not spoil activeMs', () => {
    const run = foldRun(
      record([
        ev(1, 0, started('a')),
        ev(2, 10, { type: 'run.resumed', reused: 0, pid: 1 }),
        ev(3, 12, succeeded('a')),
        { ...ev(4, 0, { type: 'task.waiting', taskId: 'b', visit: 1 }), ts: 'not a time' },
      ]),
    );
    expect(run.activeMs).toBe(2000);
  });

  it('absent facts stay absent: no usage, error, output or inputSources keys set to undefined', () => {
    const run = foldRun(
      record(
        events(
          started('a'),
          { type: 'task.succeeded', taskId: 'a', attempt: 1, visit: 1, durationMs: 1 },
          { type: 'task.skipped', taskId: 'b', reason: 'condition_false' },
          finished('succeeded'),
        ),
      ),
    );
    for (const key of ['usage', 'error', 'output', 'problems', 'activeMs']) expect(key in run).toBe(false);
    for (const key of ['output', 'inputSources', 'error', 'label']) expect(key in run.tasks.a).toBe(false);
    expect('error' in run.tasks.b).toBe(false);
  });

  it('a failed attempt ends the task at its time', () => {
    const run = foldRun(
      record(
        events(started('a'), {
          type: 'task.failed',
          taskId: 'a',
          attempt: 1,
          visit: 1,
          durationMs: 1,
          error: { message: 'x' },
        }),
      ),
    );
    expect(run.tasks.a).toMatchObject({ status: 'failed', startedAt: at(0), endedAt: at(1) });
  });
});

describe('replayOf', () => {
  it('every recorded success per visit, with its label, and every human decision', () => {
    const replay = replayOf(
      events(
        started('a'),
        { type: 'task.labeled', taskId: 'a', label: 'good', source: 'classifier', reason: 'r' },
        succeeded('a', 'one'),
        { type: 'task.labeled', taskId: 'a', label: 'lost', source: 'output' },
        { type: 'task.failed', taskId: 'a', attempt: 1, visit: 2, durationMs: 1, error: { message: 'x' } },
        succeeded('a', 'two', 2),
        { type: 'task.approval', taskId: 'b', visit: 1, approved: true },
        { type: 'task.approval', taskId: 'b', visit: 2, approved: false },
      ),
    );
    expect([...replay.successes]).toEqual([
      ['a#1', { output: 'one', attempt: 1, label: 'good', labelSource: 'classifier', labelReason: 'r' }],
      ['a#2', { output: 'two', attempt: 1 }],
    ]);
    expect([...replay.approvals]).toEqual([
      ['b#1', { approved: true }],
      ['b#2', { approved: false }],
    ]);
  });
});

describe('helpers', () => {
  it('visitKey, REJECTED and processAlive', () => {
    expect(visitKey('t', 3)).toBe('t#3');
    expect(REJECTED).toEqual({ message: 'rejected by a human (braid approve --reject)', code: 'E_REJECTED' });
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(1)).toBe(true);
    expect(processAlive(2 ** 22 + 12345)).toBe(false);
  });

  it("processAlive: a process signalling refuses (EPERM, another user's) is alive; ESRCH is not", () => {
    const fail = (code: string) =>
      vi.spyOn(process, 'kill').mockImplementation(() => {
        throw Object.assign(new Error(code), { code });
      });
    try {
      fail('EPERM');
      expect(processAlive(4242)).toBe(true);
      vi.restoreAllMocks();
      fail('ESRCH');
      expect(processAlive(4242)).toBe(false);
    } finally {
      vi.restoreAllMocks();
    }
  });
});
