/** Read a recorded run's events and, when asked, keep following the record as its writer appends to it. */
import { setTimeout as delay } from 'node:timers/promises';
import type { RunEvent } from '../events/types.js';
import { foldRun, processAlive } from './fold.js';
import type { RunStore } from './types.js';

export interface FollowOptions {
  /** Keep reading until the run finishes or its writer is gone. */
  readonly follow?: boolean;
  /** Only events after this number. */
  readonly afterSeq?: number;
  readonly signal?: AbortSignal;
  /** @default 200 */
  readonly pollMs?: number;
  /** Unreadable lines (a truncated last line while following is left alone: it is being written). */
  readonly onProblem?: (problem: string) => void;
}

export async function* followRun(store: RunStore, runId: string, options: FollowOptions = {}): AsyncGenerator<RunEvent> {
  let seq = options.afterSeq ?? 0;
  const reported = new Set<string>();
  for (;;) {
    const record = await store.read(runId);
    const last = record.events.at(-1);
    const over = !options.follow || last?.type === 'run.finished' || foldRun(record, processAlive).status === 'interrupted';
    for (const p of record.problems) {
      if (reported.has(p) || p.startsWith('no header') || (!over && p.includes('truncated last line'))) continue;
      reported.add(p);
      options.onProblem?.(p);
    }
    for (const e of record.events) if (e.seq > seq) (seq = e.seq), yield e;
    if (over || options.signal?.aborted) return;
    await delay(options.pollMs ?? 200, undefined, { signal: options.signal }).catch(() => {});
  }
}
