/**
 * `braid/server`: the HTTP API (Hono), the service it runs on (workflow catalog, run manager) and the
 * workflow chat agent. Kept out of `braid` so that importing the core does not load Hono.
 */
export { createApp, type AppOptions } from './app.js';
export { startServer, type ServeOptions, type RunningServer } from './serve.js';
export { WorkflowCatalog, type CatalogEntry } from '../service/catalog.js';
export { RunManager, RunHandle, type RunManagerOptions } from '../service/run-manager.js';
export { WorkflowAgent, type AgentChunk, type WorkflowAgentOptions } from '../../agents/workflow-agent.js';
export {
  TriggerService,
  type TriggerServiceOptions,
  type TriggerEvent,
  type TriggeredRun,
  type Delivery,
  type TriggerInfo,
  type LastFire,
} from '../service/triggers/trigger-service.js';
export { MemoryClaims, FileClaims, RedisClaims, type TriggerClaims } from '../service/triggers/claims.js';
export { signBody, signatureOk } from '../service/triggers/webhook.js';
export type { TriggerDef, TriggerKind } from '../spec/triggers.js';
