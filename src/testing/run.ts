/** Run a workflow in a test: the result and every event, with no record unless a store is given. */
// braid's built-in tools are the default tools of the runs started here
import '../../tools/index.js';
import { runWorkflow, type RunOptions } from '../engine/run.js';
import type { RunResult } from '../core/result.js';
import type { RunEvent } from '../core/events.js';

/** What `runForTest` returns. @public */
export interface TestRun {
  readonly result: RunResult;
  readonly events: RunEvent[];
  /** The events of one type. */
  eventsOf<T extends RunEvent['type']>(type: T): Extract<RunEvent, { type: T }>[];
  /** Task ids in the order they started (one entry per attempt). */
  readonly started: string[];
}

/** `runWorkflow` for tests: collects the events; `store: false` unless you pass one. @public */
export async function runForTest(source: unknown, options: RunOptions = {}): Promise<TestRun> {
  const events: RunEvent[] = [];
  const listeners =
    options.onEvent === undefined
      ? []
      : typeof options.onEvent === 'function'
        ? [options.onEvent]
        : [...options.onEvent];
  const result = await runWorkflow(source, {
    store: false,
    ...options,
    onEvent: [(e) => void events.push(e), ...listeners],
  });
  return {
    result,
    events,
    eventsOf: <T extends RunEvent['type']>(type: T) =>
      events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type),
    started: events.filter((e) => e.type === 'task.started').map((e) => (e as { taskId: string }).taskId),
  };
}
