/**
 * Errors nobody awaits: a tool that throws from a timer after its call returned, or leaves a promise rejected,
 * reaches Node's `uncaughtException`/`unhandledRejection`, whose default is to end the process: every run of
 * `braid serve` or `braid mcp` with it, and `braid run` before its record is complete. The CLI reports them on
 * stderr instead (where in tool code, when the value has a stack) and carries on; the runs' records stay whole.
 */
import { describeThrown } from '../core/thrown.js';
import { userFrames } from '../errors.js';
import { safeLines } from './format.js';

let installed = false;

/** Report late errors of this process as `<who>: ...` on stderr instead of crashing; once per process. */
export function containLateErrors(who: string): void {
  if (installed) return;
  installed = true;
  const report = (kind: string) => (value: unknown) => {
    try {
      const { message, stack } = describeThrown(value);
      const frames = stack === undefined ? undefined : userFrames(stack);
      process.stderr.write(
        `${who}: ${kind} outside any task (e.g. a tool's timer or promise after its call returned), ignored: ${safeLines(message)}${
          frames ? `\n${frames.replace(/^/gm, '    ')}` : ''
        }\n`,
      );
    } catch {
      // stderr itself failed: nothing left to tell
    }
  };
  process.on('uncaughtException', report('an error thrown'));
  process.on('unhandledRejection', report('a promise rejected'));
}
