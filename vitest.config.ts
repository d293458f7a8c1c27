import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** dashboard/fold.js is the bundle of src/core/run-view.ts (scripts/bundle.mjs): under test, the source itself. */
const dashboardFold = {
  name: 'dashboard-fold',
  resolveId: (id: string, importer?: string) =>
    id === './fold.js' && importer && /[\\/]dashboard[\\/][^\\/]+\.js$/.test(importer)
      ? fileURLToPath(new URL('src/core/run-view.ts', import.meta.url))
      : null,
};

export default defineConfig({
  plugins: [dashboardFold],
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 20_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    // Tests never reach a real model: the offline provider, or the loopback server a test starts.
    env: { OPENAI_API_KEY: '', OPENAI_BASE_URL: '', BRAID_PROVIDER: '' },
  },
});
