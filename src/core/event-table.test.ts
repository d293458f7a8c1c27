/**
 * The event table covers every event type (the compiler checks it, and this test does at run time against the union's
 * source), a new event type is one entry (a throwaway one below), and a type this version does not know is folded,
 * printed and logged without harm (a record a newer braid wrote).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { foldRun } from '../store/fold.js';
import { describeEvent } from '../cli/progress.js';
import type { EventBase, RunEvent } from './events.js';
import { EVENT_TABLE, foldEvent, type EventDescriptor } from './event-table.js';
import { RunState } from './run-state.js';

/** The `type` of every member of the `RunEvent` union, read from its source. */
const unionTypes = () =>
  [...readFileSync(new URL('./events.ts', import.meta.url), 'utf8').matchAll(/\btype: '([a-z]+\.[a-z]+)'/g)]
    .map((m) => m[1])
    .sort();

/** A throwaway event type, as a new one would be added to the union in events.ts. */
type Paused = EventBase & { type: 'task.paused'; taskId: string; until: string };
type Extended = RunEvent | Paused;
type ExtendedTable = { readonly [K in Extended['type']]: EventDescriptor<Extract<Extended, { type: K }>> };

// @ts-expect-error the table does not compile until the new type has its entry
const incomplete: ExtendedTable = { ...EVENT_TABLE };

/** The one entry a new event type takes. */
const extended: ExtendedTable = {
  ...EVENT_TABLE,
  'task.paused': {
    requires: { until: 'string' },
    fold: (s, e) => void (s.task(e.taskId).status = 'waiting'),
    describe: (e) => `${e.taskId} paused until ${e.until}`,
    inProgress: true,
    row: () => ({ status: 'waiting', detail: [['yellow', 'paused']] }),
    log: (e) => ['info', `task paused until ${e.until}`, { until: e.until }],
    trace: () => [{ op: 'annotate', level: 'task', attributes: { 'braid.task.paused': true } }],
  },
};

const run = { runId: 'r1', workflow: 'wf', startedAt: '' };
const ts = '2026-01-01T00:00:00.000Z';

describe('the event table', () => {
  it('has one entry per member of the RunEvent union, and no other', () => {
    expect(Object.keys(EVENT_TABLE).sort()).toEqual(unionTypes());
    expect(unionTypes().length).toBeGreaterThan(15);
  });

  it('a new event type is one entry: it folds, prints and logs like the others', () => {
    expect(incomplete).toBeDefined();
    const paused: Paused = { type: 'task.paused', taskId: 'a', until: 'noon', seq: 1, ts, runId: 'r1' };
    const entry = extended[paused.type];
    const state = new RunState(run, ['a']);
    entry.fold(state, paused);
    expect(state.run.tasks.a.status).toBe('waiting');
    expect(entry.describe(paused)).toBe('a paused until noon');
    expect(entry.log(paused)).toEqual(['info', 'task paused until noon', { until: 'noon' }]);
  });

  it('an event of a type this version does not know changes nothing but the last number, and prints its type', () => {
    const unknown = { type: 'task.paused', taskId: 'a', until: 'noon', seq: 7, ts, runId: 'r1' } as unknown as RunEvent;
    const started = { type: 'task.started', taskId: 'a', tool: 'echo', attempt: 1, visit: 1, seq: 6, ts, runId: 'r1' };
    const folded = foldRun({ header: undefined, events: [started as RunEvent, unknown], problems: [] });
    expect(folded).toMatchObject({ lastSeq: 7, tasks: { a: { status: 'running', attempts: 1 } } });
    expect(folded.problems).toBeUndefined();
    expect(describeEvent(unknown)).toBe('task.paused');
    const state = new RunState(run, [], { detail: true });
    foldEvent(state, { ...unknown, type: '__proto__' } as unknown as RunEvent);
    expect(state.run.lastSeq).toBe(7);
  });
});
