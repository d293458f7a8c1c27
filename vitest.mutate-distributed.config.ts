/**
 * The in-process suites that exercise the distributed parts (the BullMQ executor and worker, the wire, the Redis
 * store, the takeover loop, job admission, the secret) against a real redis-server, for a mutation run of those
 * files (stryker.distributed.config.json). The process-level suites (distributed.test.ts, run-lock.test.ts) run
 * the built CLI, which Stryker's mutants do not reach, so they are left out: a score measured with this is a
 * lower bound.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.mutate.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'src/core/secret.test.ts',
      'src/store/run-lock.test.ts',
      'test/run-lock.test.ts',
      'test/takeover.test.ts',
      'test/job-admission.test.ts',
      'test/protocol.test.ts',
      'test/attempt-facts.test.ts',
      'test/redis-store.test.ts',
      'test/bullmq-worker.test.ts',
      'test/store.test.ts',
      'test/bullmq-executor.test.ts',
      'test/executor-contract.test.ts',
      'test/redis-trust.test.ts',
      'test/store-contract.test.ts',
    ],
  },
});
