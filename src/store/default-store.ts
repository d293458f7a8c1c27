/**
 * Where runs are recorded when nobody says otherwise: `$BRAID_HOME/runs`, default `.braid/runs` in the current folder.
 */
import { resolve } from 'node:path';
import { JsonlRunStore } from './jsonl/index.js';

export function defaultStore(): JsonlRunStore {
  return new JsonlRunStore(resolve(process.env.BRAID_HOME ?? '.braid', 'runs'));
}
