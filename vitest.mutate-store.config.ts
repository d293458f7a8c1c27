/**
 * The suites that exercise the JSONL run store (src/store/jsonl-store.ts) in this process: a mutation run of
 * that file alone (stryker.store.config.json). A score measured with it is a lower bound of the score with
 * vitest.mutate.config.ts.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.mutate.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'src/store/*.test.ts',
      'test/store.test.ts',
      'test/store-durability.test.ts',
      'test/store-contract.test.ts',
      'test/store-faults.test.ts',
      'test/event-json.test.ts',
      'test/run-lock.test.ts',
      'test/run-views.test.ts',
      'test/mutants.test.ts',
    ],
  },
});
