/**
 * The unit suites only (src/**\/*.test.ts, and validation's own suite): a faster mutation run for files that
 * nearly every behaviour suite reaches (validation), where a surviving mutant would otherwise run them all.
 * A score measured with it is a lower bound of the score with vitest.mutate.config.ts.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.mutate.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['src/**/*.test.ts', 'test/validation.test.ts'],
  },
});
