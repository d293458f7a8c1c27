/**
 * Following a JSONL record: each poll reads only the whole lines appended since the last one (from the byte offset
 * where the last read stopped); the run is over when it finished or the process writing it is gone (its pid).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { RunEvent } from '../../core/events.js';
import { processAlive } from '../fold.js';
import type { FollowOptions } from '../types.js';
import type { RecordSlice } from './reader.js';
import { truncatedTail } from './serializer.js';

/** Each poll reads only what was appended since the last one (a large record is read once, in slices). */
export async function* followIncrementally(
  readFrom: (from: number, lines: number) => Promise<RecordSlice>,
  options: FollowOptions,
): AsyncGenerator<RunEvent> {
  let seq = options.afterSeq ?? 0;
  let from = 0;
  let lines = 0;
  let pid: number | undefined;
  let finished = false;
  for (;;) {
    const slice = await readFrom(from, lines);
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
      if (slice.size > from) options.onProblem?.(truncatedTail(lines + 1, slice.size - from));
      return;
    }
    if (options.signal?.aborted) return;
    await delay(options.pollMs ?? 200, undefined, { signal: options.signal }).catch(() => {}); // aborted: ends below
  }
}
