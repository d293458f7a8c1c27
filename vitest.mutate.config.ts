/**
 * The tests a mutation run uses: the in-process ones (the CLI, browser, MCP and init tests run the compiled
 * dist/ or other processes, which a mutant of src/ never reaches, and they are slow).
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'src/**/*.test.ts',
      'test/rules.test.ts',
      'test/trigger-rules-airflow.test.ts',
      'test/dynamic.test.ts',
      'test/property.test.ts',
      'test/effective-input.test.ts',
      'test/validation.test.ts',
      'test/store.test.ts',
      'test/mutants.test.ts',
      'test/store-durability.test.ts',
      'test/scheduler-events.test.ts',
      'test/redecide.test.ts',
    ],
    pool: 'threads',
  },
});
