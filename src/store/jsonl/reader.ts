/**
 * Reading a record file: whole lines after a byte offset, parsed in slices that yield to the event loop (what
 * `braid logs --follow`, the server's event streams and the store's fold read with), and the fold of a whole file
 * read that way, without holding its events.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { RunEvent } from '../../core/events.js';
import { RunFolder } from '../fold.js';
import type { FoldedRecord, RunHeader } from '../types.js';
import { NO_HEADER, parseLine, truncatedTail } from './serializer.js';

/** What `readFrom` returns: the whole lines after a byte offset. */
export interface RecordSlice {
  readonly header?: RunHeader;
  readonly events: RunEvent[];
  readonly problems: string[];
  /** Offset just after the last whole line read (where the next read starts). */
  readonly next: number;
  /** Lines read so far, counting from the start of the file. */
  readonly lines: number;
  /** The file's size when read: more than `next` at the end means an unfinished (or truncated) last line. */
  readonly size: number;
}

/** Read whole lines from `from` (at most `maxBytes`; an unfinished last line is left for the next read). */
export async function readSlice(file: string, from: number, firstLine: number, maxBytes: number): Promise<RecordSlice> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, Math.min(maxBytes, size - from)));
    const { bytesRead } = buffer.length ? await handle.read(buffer, 0, buffer.length, from) : { bytesRead: 0 };
    const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
    const events: RunEvent[] = [];
    const problems: string[] = [];
    let header: RunHeader | undefined;
    let n = firstLine;
    let t0 = performance.now();
    const text = buffer.toString('utf8', 0, end);
    for (let at = 0; at < text.length;) {
      const nl = text.indexOf('\n', at);
      const parsed = parseLine(text.slice(at, nl), ++n, false);
      at = nl + 1;
      if (parsed && 'header' in parsed) header = parsed.header;
      else if (parsed && 'event' in parsed) events.push(parsed.event);
      else if (parsed) problems.push(parsed.problem);
      // Never hold the event loop for long: other requests are served between slices of work.
      if (performance.now() - t0 > 8) (await new Promise<void>((r) => setImmediate(r)), (t0 = performance.now()));
    }
    // A line longer than maxBytes can never be finished within one read: report it once and skip past its
    // newline (the lines after it keep their numbers). Without a newline yet it is an unfinished last line,
    // left for a later read like any other.
    if (end === 0 && bytesRead === maxBytes) {
      const past = await lineEnd(handle, from + bytesRead, size);
      if (past < 0) return { events, problems, next: from, lines: n, size };
      return {
        events,
        problems: [`line ${n + 1}: longer than ${maxBytes} bytes, ignored`],
        next: past,
        lines: n + 1,
        size,
      };
    }
    return { header, events, problems, next: from + end, lines: n, size };
  } finally {
    await handle.close();
  }
}

/** The offset just past the first newline at or after `at` (read in 64 KiB pieces), or -1 when none yet. */
async function lineEnd(handle: FileHandle, at: number, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let pos = at; pos < size;) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, size - pos), pos);
    if (bytesRead === 0) break;
    const nl = chunk.subarray(0, bytesRead).indexOf(0x0a);
    if (nl >= 0) return pos + nl + 1;
    pos += bytesRead;
  }
  return -1;
}

/**
 * The run rebuilt from a record read slice by slice with `read` (from a byte offset and a line count): the event loop
 * is never held for long and the events are not kept.
 */
export async function foldFile(
  read: (from: number, lines: number) => Promise<RecordSlice>,
  alive: (pid: number) => boolean,
  version: string,
): Promise<FoldedRecord> {
  let folder: RunFolder | undefined;
  const problems: string[] = [];
  let header: RunHeader | undefined;
  for (let from = 0, lines = 0; ;) {
    const slice = await read(from, lines);
    if (lines === 0) header = slice.header;
    folder ??= new RunFolder(header, alive);
    for (const e of slice.events) folder.add(e);
    problems.push(...slice.problems);
    if (slice.next === from) {
      if (slice.size > from) problems.push(truncatedTail(lines + 1, slice.size - from));
      break;
    }
    ({ next: from, lines } = slice);
  }
  if (!header) problems.unshift(NO_HEADER);
  return { header, run: folder!.result(), problems, version };
}
