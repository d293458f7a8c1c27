/**
 * The fast suites that exercise the JSONL run store (src/store/jsonl/) in this process, for a mutation
 * run of that file alone (stryker.store.config.json). Nearly every test of a store suite reaches the store's
 * hot paths, so a surviving mutant runs them all: with store.test, store-faults, run-lock and run-views (CLI
 * processes, HTTP servers, a 2000-task run) it managed about 5 mutants a minute, so those are left out. A
 * score measured with it is a lower bound of the score with vitest.mutate.config.ts.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.mutate.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'src/store/**/*.test.ts',
      'test/event-json.test.ts',
      'test/store-contract.test.ts',
      'test/store-durability.test.ts',
    ],
  },
});
