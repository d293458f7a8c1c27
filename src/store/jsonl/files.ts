/** File helpers of the JSONL store: its error, `mkdir -p`, whole writes, quiet closes, the last newline. */
import { closeSync, existsSync, mkdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { BraidError } from '../../errors.js';

/** `E_STORE` naming the file and the operating system's reason. */
export function storeError(path: string, err: unknown, doing = 'write', what = 'the run record'): BraidError {
  const e = err as NodeJS.ErrnoException;
  const why = e?.code
    ? `${e.code}: ${e.message
        .replace(/^[A-Z]+: /, '')
        .replace(/, \w+ '.*'$/, '')
        .replace(/, \w+$/, '')}`
    : (e?.message ?? String(err));
  return new BraidError('E_STORE', `cannot ${doing} ${what} ${path} (${why})`, { cause: err });
}

/**
 * `mkdir -p`, one level at a time, so the error is the real one (a recursive mkdir reports ENOENT on a read-only file
 * system).
 */
export function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Write all of `bytes` at `position` (a write on a full disk can be partial): the bytes written, and the error that
 * stopped it.
 */
export function writeAll(fd: number, bytes: Buffer, position: number): { written: number; error?: unknown } {
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written);
  } catch (error) {
    return { written, error };
  }
  return { written };
}

export function closeQuiet(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Byte offset just after the last newline (0 when none). */
export function lastNewline(fd: number, size: number): number {
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const at = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}
