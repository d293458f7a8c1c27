/** The run record's hand-written JSON for the hot events is exactly JSON.stringify's. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventJson } from '../src/store/jsonl-store.js';
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
