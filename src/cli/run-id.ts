/** Run ids on the command line: an exact id, `latest` (the newest top-level run), or a unique prefix of one. */
import type { RunStore } from '../store/types.js';
import { BraidError } from '../errors.js';

export async function resolveRunId(store: RunStore, given: string): Promise<string> {
  const ids = await store.list();
  if (given === 'latest') {
    // child runs (a plan task's workflow) are named <parent>.<task>...: the newest run a person started
    const latest = ids.find((id) => !id.includes('.'));
    if (!latest) throw new BraidError('E_RUN_NOT_FOUND', 'no runs recorded yet (braid run <file> records one)');
    return latest;
  }
  if (ids.includes(given)) return given;
  const matches = ids.filter((id) => id.startsWith(given));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    const shown = matches.slice(0, 5).join(', ');
    throw new BraidError(
      'E_BAD_ARGUMENT',
      `"${given}" matches ${matches.length} runs (${shown}${matches.length > 5 ? ', ...' : ''}); give more of the id`,
    );
  }
  return given; // unknown: the command says so with the store's own message
}
