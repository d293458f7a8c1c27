/**
 * `braid serve` in a test: a catalog, the offline model and a run manager over the same store, on a free loopback port.
 */
import { OfflineProvider, type LlmProvider } from '../../src/index.js';
import type { WorkflowCatalog } from '../../src/service/catalog.js';
import { RunManager } from '../../src/service/run-manager.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/serve.js';

export function serveForTest(
  catalog: WorkflowCatalog,
  options: Omit<ServeOptions, 'catalog' | 'runs' | 'llm'> & { llm?: LlmProvider } = {},
): Promise<RunningServer> {
  const llm = options.llm ?? new OfflineProvider();
  return startServer({
    port: 0,
    ...options,
    catalog,
    llm,
    runs: new RunManager({ catalog, llm, store: options.store }),
  });
}
