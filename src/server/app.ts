/**
 * braid's HTTP API (Hono): the app shell. It answers every error as JSON `{ error: { code, message, path? } }` with a
 * 4xx status (500 for a bug), puts the checks of guards.ts in front of the routes, and registers the route modules of
 * routes/ (one per resource), the public ones before the token check.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BraidError, httpCodeOf, httpStatusOf, InputValidationError } from '../errors.js';
import type { LlmProvider } from '../llm/types.js';
import type { WorkflowCatalog } from '../service/catalog.js';
import type { RunManager } from '../service/run-manager.js';
import { RunSummaries } from '../service/run-summaries.js';
import type { RunStore } from '../store/types.js';
import type { TriggerService } from '../service/triggers/trigger-service.js';
import { describeThrown } from '../core/thrown.js';
import { bearerToken, hostAndOrigin, jsonPosts } from './guards.js';
import type { McpSessionLimits } from './mcp-http.js';
import type { RegisterRoutes, ServerDeps } from './routes/context.js';
import { registerChat } from './routes/chat.js';
import { registerDashboard } from './routes/dashboard.js';
import { registerHealth } from './routes/health.js';
import { registerMcp } from './routes/mcp.js';
import { registerRunViews } from './routes/run-views.js';
import { registerRuns } from './routes/runs.js';
import { registerApprovals } from './routes/approvals.js';
import { registerHooks, registerTriggers } from './routes/triggers.js';
import { registerWorkflows } from './routes/workflows.js';

/** Options of `createApp`. @beta */
export interface AppOptions {
  readonly catalog: WorkflowCatalog;
  readonly runs: RunManager;
  readonly llm: LlmProvider;
  readonly store?: RunStore;
  /** Required as `Authorization: Bearer <token>` on every route but /health when set. */
  readonly token?: string;
  /** @default 1 MiB */
  readonly maxBodyBytes?: number;
  /** Chat sessions kept in memory (oldest dropped first). @default 100 */
  readonly maxSessions?: number;
  /**
   * Host names accepted in the `Host` header when no token is set, besides localhost, 127.0.0.1 and [::1]
   * (`--allowed-hosts`). Any other name is refused: a page on another site that resolves its own name to
   * 127.0.0.1 (DNS rebinding) gets nothing.
   */
  readonly allowedHosts?: readonly string[];
  /** Limits on the MCP sessions of `/mcp` (how many, how many per client, when an idle one is closed). */
  readonly mcp?: McpSessionLimits;
  /** The triggers to serve: `POST /events`, `/hooks/<path>`, `GET /triggers` and its controls (§10). */
  readonly triggers?: TriggerService;
}

/** Routes served behind the Host and Origin checks only: the page asks for the token the API then requires. */
const PUBLIC_ROUTES: readonly RegisterRoutes[] = [registerHealth, registerDashboard, registerHooks];

/** Routes behind every check (token, JSON POST bodies, body size), in the order they are matched. */
const API_ROUTES: readonly RegisterRoutes[] = [
  registerMcp,
  registerWorkflows,
  registerRuns,
  registerRunViews,
  registerChat,
  registerTriggers,
  registerApprovals,
];

const NO_ROUTE =
  'see GET / (the dashboard), GET /workflows, GET /workflows/:name, POST /runs, GET /runs, GET /runs/:id, GET /runs/:id/workflow, GET /runs/:id/tasks/:taskId/explain, POST /runs/:id/resume, GET /runs/:id/events, POST /runs/:id/cancel, POST /runs/:id/approve, GET /approvals, POST /chat, POST /events, POST /hooks/<path>, GET /triggers, POST /triggers/:id/pause|resume|fire, /mcp (MCP over Streamable HTTP)';

/** braid's HTTP API (Hono): runs, their events, cancel, approve, chat, the workflows. @beta */
export function createApp(options: AppOptions): Hono {
  const { catalog, runs, llm, store, token } = options;
  const app = new Hono();
  const answer = errorAnswer(store);
  app.onError((err, c) => answer(c, err));
  app.notFound((c) => answer(c, new BraidError('E_NOT_FOUND', `no route ${c.req.method} ${c.req.path}; ${NO_ROUTE}`)));

  const deps: ServerDeps = {
    catalog,
    runs,
    llm,
    store,
    summaries: new RunSummaries(runs, store),
    maxSessions: options.maxSessions,
    mcp: options.mcp,
    triggers: options.triggers,
    maxHookBytes: options.maxBodyBytes,
  };
  // Who may talk to the server, before anything else (/health included): the Host, then the Origin, then the token.
  app.use('*', hostAndOrigin(token, options.allowedHosts));
  for (const register of PUBLIC_ROUTES) register(app, deps);
  app.use('*', bearerToken(token));
  app.use('*', jsonPosts);
  const maxSize = options.maxBodyBytes ?? 1024 * 1024;
  app.use(
    '*',
    bodyLimit({
      maxSize,
      onError: (c) => answer(c, new BraidError('E_TOO_LARGE', `request body over ${maxSize} bytes`)),
    }),
  );
  for (const register of API_ROUTES) register(app, deps);
  return app;
}

/**
 * The answer to an error: its status and the code the client sees come from `ERROR_CODES`; an error whose code has
 * no HTTP status (or that is no `BraidError`) is a bug, answered 500 with the details in the server's log. Messages
 * never show the store's folder to a client (an E_STORE error names its file).
 */
function errorAnswer(store: RunStore | undefined) {
  const storeDir = (store as { dir?: string } | undefined)?.dir;
  const redact = (message: string) => (storeDir ? message.split(storeDir).join('<store>') : message);
  return (c: Context, err: unknown) => {
    const status = BraidError.is(err) ? httpStatusOf(err.code) : undefined;
    if (status === undefined) {
      const thrown = describeThrown(err);
      process.stderr.write(
        `braid serve: ${c.req.method} ${c.req.path.slice(0, 200)}: ${thrown.stack ?? thrown.message}\n`,
      );
      return c.json({ error: { code: 'E_INTERNAL', message: 'internal error (details in the server log)' } }, 500);
    }
    const known = err as BraidError;
    const code = httpCodeOf(known.code);
    if (known instanceof InputValidationError) {
      const first = known.issues[0];
      const message = known.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      return c.json(
        { error: { code, message, path: first?.path, issues: known.issues } },
        status as ContentfulStatusCode,
      );
    }
    const path = known.path ? { path: known.path } : {};
    return c.json({ error: { code, message: redact(known.message), ...path } }, status as ContentfulStatusCode);
  };
}
