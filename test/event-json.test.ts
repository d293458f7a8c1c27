/** The run record's hand-written JSON for the hot events is exactly JSON.stringify's. */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { eventJson } from '../src/store/jsonl/index.js';
import type { RunEvent } from '../src/core/events.js';

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('a"b', 'a\\b', '\u2028', '\ud800', 'x\ny'),
);
const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 1e21, NaN, Infinity));
const base = { seq: num, ts: text, runId: text, taskId: text };
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

// In the bus's key order (seq, ts, runId, type, then the body's fields as the scheduler writes them).
const busOrder = ({ seq, ts, runId, type, taskId, ...rest }: Record<string, unknown>) => ({
  seq,
  ts,
  runId,
  type,
  taskId,
  ...rest,
});

const events = fc.oneof(
  fc.record(
    { ...base, type: fc.constant('task.ready'), visit: num, routedFrom: optional(text) },
    { requiredKeys: ['seq', 'ts', 'runId', 'type', 'taskId', 'visit'] },
  ),
  fc.record(
    {
      ...base,
      type: fc.constant('task.started'),
      tool: text,
      attempt: num,
      visit: num,
      item: optional(num),
      sources: optional(fc.dictionary(text, text)),
    },
    { requiredKeys: ['seq', 'ts', 'runId', 'type', 'taskId', 'tool', 'attempt', 'visit'] },
  ),
  fc.record(
    {
      ...base,
      type: fc.constant('task.succeeded'),
      attempt: num,
      visit: num,
      durationMs: num,
      output: fc.jsonValue(),
      replayed: optional(fc.constant(true)),
    },
    { requiredKeys: ['seq', 'ts', 'runId', 'type', 'taskId', 'attempt', 'visit', 'durationMs'] },
  ),
);

describe('eventJson', () => {
  it('writes the events of every task as JSON.stringify does, whatever their values', () => {
    fc.assert(
      fc.property(events.map(busOrder), (e) => {
        expect(eventJson(e as unknown as RunEvent)).toBe(JSON.stringify(e));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a damaged event as JSON.stringify does: a field of any type, missing or inherited, a key more', () => {
    const anything = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const damaged = fc
      .tuple(events.map(busOrder), fc.constantFrom('set', 'delete', 'add', 'inherit'), fc.nat(), anything)
      .chain(([e, how, i, value]) => {
        const keys = Object.keys(e).filter((k) => k !== 'type');
        const k = keys[i % keys.length];
        const copy: Record<string, unknown> = { ...e };
        if (how === 'set') copy[k] = value;
        else if (how === 'delete') delete copy[k];
        else if (how === 'inherit') {
          const inherited = copy[k];
          delete copy[k];
          return fc.constant(Object.assign(Object.create({ [k]: inherited }), copy) as Record<string, unknown>);
        }
        // Only a key no event of this type declares: a declared one added last would be out of the bus's order.
        else return fc.constantFrom('', 'extra').map((extra) => ({ ...copy, [extra]: value }));
        return fc.constant(copy);
      });
    fc.assert(
      fc.property(damaged, (e) => {
        expect(eventJson(e as unknown as RunEvent)).toBe(JSON.stringify(e));
      }),
      { numRuns: 3000 },
    );
  });

  it('writes the three events of every task field by field, never through JSON.stringify of the whole event', () => {
    const head = { seq: 1, ts: 't', runId: 'r' };
    const ready = { ...head, type: 'task.ready', taskId: 'a', visit: 1 };
    const started = { ...head, type: 'task.started', taskId: 'a', tool: 'x', attempt: 1, visit: 1 };
    const succeeded = { ...head, type: 'task.succeeded', taskId: 'a', attempt: 1, visit: 1, durationMs: 3 };
    // Optional fields last, in the order the scheduler writes them.
    const hot = [
      ready,
      { ...ready, visit: 2, routedFrom: 'b' },
      started,
      { ...started, item: 0 },
      { ...started, sources: { v: 'input.v' } },
      { ...started, item: 2, sources: {} },
      succeeded,
      { ...succeeded, output: [1] },
      { ...succeeded, replayed: true },
      { ...succeeded, output: 'o', replayed: true },
    ];
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      for (const e of hot) {
        const text = eventJson(e as unknown as RunEvent);
        expect(stringify.mock.calls.filter(([value]) => value === e)).toEqual([]);
        expect(text).toBe(JSON.stringify(e));
      }
    } finally {
      stringify.mockRestore();
    }
  });

  it('leaves an event with a field its type does not declare, or of another type, to JSON.stringify', () => {
    const started = { seq: 1, ts: 't', runId: 'r', type: 'task.started', taskId: 'a', tool: 'x', attempt: 1, visit: 1 };
    for (const e of [
      { ...started, extra: { deep: [1, 'two'] } },
      { ...started, attempt: '1' },
      { ...started, taskId: undefined },
      { ...started, output: () => 1 },
      {
        seq: 2,
        ts: 't',
        runId: 'r',
        type: 'task.succeeded',
        taskId: 'a',
        attempt: 1,
        visit: 1,
        durationMs: 0,
        output: undefined,
      },
      Object.assign(Object.create({ inherited: 1 }), started),
    ])
      expect(eventJson(e as unknown as RunEvent)).toBe(JSON.stringify(e));
  });
});
