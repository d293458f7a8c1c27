/** Read a recorded run's events and, when asked, keep following the record as its writer appends to it. */
import { setTimeout as delay } from 'node:timers/promises';
import type { RunEvent } from '../core/events.js';
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

export async function* followRun(
  store: RunStore,
  runId: string,
  options: FollowOptions = {},
): AsyncGenerator<RunEvent> {
  if (store.follow) return yield* store.follow(runId, options);
  if (store.readFrom)
    return yield* followIncrementally(store as Required<Pick<RunStore, 'readFrom'>> & RunStore, runId, options);
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

/** Each poll reads only what was appended since the last one (a large record is read once, in slices). */
async function* followIncrementally(
  store: Required<Pick<RunStore, 'readFrom'>>,
  runId: string,
  options: FollowOptions,
): AsyncGenerator<RunEvent> {
  let seq = options.afterSeq ?? 0;
  let from = 0;
  let lines = 0;
  let pid: number | undefined;
  let finished = false;
  for (;;) {
    const slice = await store.readFrom(runId, from, lines);
    if (lines === 0) pid = slice.header?.pid;
    for (const p of slice.problems) options.onProblem?.(p);
    for (const e of slice.events) {
      finished = e.type === 'run.finished';
      if (e.type === 'run.resumed' && typeof e.pid === 'number') pid = e.pid;
      if (e.seq > seq) ((seq = e.seq), yield e);
    }
    const progressed = slice.next !== from;
    ({ next: from, lines } = slice);
    if (progressed) continue; // read on to the end before deciding
    const over = !options.follow || finished || !(pid && processAlive(pid));
    if (over) {
      if (slice.size > from)
        options.onProblem?.(
          `line ${lines + 1}: truncated last line (${slice.size - from} bytes, the writer stopped mid-line), ignored`,
        );
      return;
    }
    if (options.signal?.aborted) return;
    await delay(options.pollMs ?? 200, undefined, { signal: options.signal }).catch(() => {}); // aborted: ends below
  }
}
