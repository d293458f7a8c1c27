import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 20_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    // Tests never reach a real model: the offline provider, or the loopback server a test starts.
    env: { OPENAI_API_KEY: '', OPENAI_BASE_URL: '', BRAID_PROVIDER: '' },
  },
});
