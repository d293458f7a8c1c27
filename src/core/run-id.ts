/**
 * What a run id may be, for every store and executor: letters, digits, `_ . -`, starting with a letter or digit, at
 * most 200 characters. It names a record file, Redis keys and (with `|` between coordinates) BullMQ job ids, so
 * nothing in it may be a path separator, `:` or `|`.
 */
import { BraidError } from '../errors.js';

export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

/** The run id, or `E_BAD_ARGUMENT` naming it and what a run id may hold. */
export function checkRunId(runId: string): string {
  if (typeof runId === 'string' && RUN_ID.test(runId)) return runId;
  const shown = String(runId);
  throw new BraidError(
    'E_BAD_ARGUMENT',
    `invalid run id "${shown.length > 60 ? `${shown.slice(0, 60)}...` : shown}" (letters, digits, _ . -, at most 200 characters)`,
  );
}
