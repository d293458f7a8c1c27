/**
 * What every route module gets: the server's shared dependencies ({@link ServerDeps}, one object made by
 * `createApp`) and the reading of a JSON body against its schema. A route module exports one function,
 * `register<Resource>(app, deps)`, listed in app.ts.
 */
import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import { BraidError } from '../../errors.js';
import type { LlmProvider } from '../../llm/types.js';
import type { WorkflowCatalog } from '../../service/catalog.js';
import type { RunManager } from '../../service/run-manager.js';
import type { RunSummaries } from '../../service/run-summaries.js';
import type { TriggerService } from '../../service/triggers/trigger-service.js';
import { formatPath } from '../../spec/path.js';
import type { RunStore } from '../../store/types.js';
import type { McpSessionLimits } from '../mcp-http.js';

export interface ServerDeps {
  readonly catalog: WorkflowCatalog;
  readonly runs: RunManager;
  readonly llm: LlmProvider;
  readonly store?: RunStore;
  /** One run list (and its cache of folded records) for GET /runs and every chat session's "what is waiting?". */
  readonly summaries: RunSummaries;
  /** Chat sessions kept in memory (oldest dropped first). @default 100 */
  readonly maxSessions?: number;
  /** Limits on the MCP sessions of `/mcp`. */
  readonly mcp?: McpSessionLimits;
  /** The triggers this server fires (schedules, events, webhooks), when its workflows have any. */
  readonly triggers?: TriggerService;
  /** Largest webhook body. @default 1 MiB */
  readonly maxHookBytes?: number;
}

/** A route module: registers its routes on the app. */
export type RegisterRoutes = (app: Hono, deps: ServerDeps) => void;

/** The request's JSON body, checked: `E_BAD_JSON` when it is no JSON, `E_BAD_REQUEST` naming the first bad field. */
export async function readJson<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  let value: unknown;
  try {
    value = await c.req.json();
  } catch {
    throw new BraidError('E_BAD_JSON', 'the request body must be JSON (Content-Type: application/json)');
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = formatPath(issue.path.filter((p): p is string | number => typeof p !== 'symbol'));
  throw new BraidError('E_BAD_REQUEST', `${path || 'body'}: ${issue.message}`, { path: path || undefined });
}
