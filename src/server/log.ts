/** What the server says on its stderr (the problems it goes on after), and which store failures say nothing is lost. */
import { describeThrown } from '../core/thrown.js';
import { BraidError } from '../errors.js';

/** One line on the server's stderr: `braid serve: <what>: <the error's message>`. */
export function logLost(what: string, err: unknown): void {
  process.stderr.write(`braid serve: ${what}: ${describeThrown(err).message}\n`);
}

/** A store's read failed because there is no such run (or the id is no run id): a plain "not found", nothing lost. */
export const noSuchRun = (err: unknown): boolean =>
  BraidError.is(err) && (err.code === 'E_RUN_NOT_FOUND' || err.code === 'E_BAD_ARGUMENT');
