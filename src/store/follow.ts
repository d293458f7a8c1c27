/**
 * Read a recorded run's events and, when asked, keep following the record as its writer appends to it: the store's
 * own `follow` when it has one (the JSONL store reads only what was appended, Redis blocks on its stream), else
 * polling `read`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { RunEvent } from '../core/events.js';
import { foldRun, processAlive } from './fold.js';
import type { FollowOptions, RunStore } from './types.js';

export type { FollowOptions } from './types.js';

export async function* followRun(
  store: RunStore,
  runId: string,
  options: FollowOptions = {},
): AsyncGenerator<RunEvent> {
  if (store.follow) return yield* store.follow(runId, options);
  let seq = options.afterSeq ?? 0;
  const reported = new Set<string>();
  for (;;) {
    const record = await store.read(runId);
    const last = record.events.at(-1);
    const over =
      !options.follow || last?.type === 'run.finished' || foldRun(record, processAlive).status === 'interrupted';
    for (const p of record.problems) {
      if (reported.has(p) || p.startsWith('no header') || (!over && p.includes('truncated last line'))) continue;
      reported.add(p);
      options.onProblem?.(p);
    }
    for (const e of record.events) if (e.seq > seq) ((seq = e.seq), yield e);
    if (over || options.signal?.aborted) return;
    await delay(options.pollMs ?? 200, undefined, { signal: options.signal }).catch(() => {}); // aborted: ends below
  }
}
