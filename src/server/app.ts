/**
 * braid's HTTP API (Hono): start runs, read them, follow their events (SSE), cancel, approve, chat, list
 * workflows. Every error is JSON `{ error: { code, message, path? } }` with a 4xx status.
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { WorkflowAgent } from '../../agents/workflow-agent.js';
import { BraidError, httpCodeOf, httpStatusOf, InputValidationError } from '../errors.js';
import type { RunEvent } from '../core/events.js';
import type { LlmProvider } from '../llm/types.js';
import type { WorkflowCatalog } from '../service/catalog.js';
import type { RunManager } from '../service/run-manager.js';
import { RunSummaries } from '../service/run-summaries.js';
import { foldRun, processAlive } from '../store/fold.js';
import { followRun } from '../store/follow.js';
import type { RunStore } from '../store/types.js';
import { formatPath } from '../spec/path.js';
import { describeThrown } from '../core/thrown.js';
import { mountDashboard } from './dashboard.js';
import { mountMcp, type McpSessionLimits } from './mcp-http.js';
import { logLost, noSuchRun } from './log.js';
import { registerRunViews } from './run-views.js';

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
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/** The host name of a `Host` header (`[::1]:8787` → `[::1]`), lower case; undefined when malformed. */
function hostName(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i.exec(host.trim());
  return m?.[1].toLowerCase().replace(/\.$/, '');
}

const startBody = z.strictObject({ workflow: z.string().min(1), input: z.record(z.string(), z.unknown()).optional() });
const approveBody = z.strictObject({
  taskId: z.string().min(1),
  reject: z.boolean().optional(),
  by: z.string().optional(),
  comment: z.string().optional(),
});
const chatBody = z.strictObject({
  message: z.string().min(1).max(20_000),
  sessionId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
});

async function readJson<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
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

/** Whether an `Origin` names the same server as the request's `Host` (scheme aside: this server speaks HTTP). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    const url = new URL(origin);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      host !== undefined &&
      url.host.toLowerCase() === host.trim().toLowerCase()
    );
  } catch {
    return false; // "null" (a sandboxed frame, a file) and anything unparsable
  }
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** braid's HTTP API (Hono): runs, their events, cancel, approve, chat, the workflows. @beta */
export function createApp(options: AppOptions): Hono {
  const { catalog, runs, store, token } = options;
  const sessions = new Map<string, WorkflowAgent>();
  const app = new Hono();

  // Messages never show the store's folder to a client (an E_STORE error names its file).
  const storeDir = (store as { dir?: string } | undefined)?.dir;
  const redact = (message: string) => (storeDir ? message.split(storeDir).join('<store>') : message);
  /**
   * The answer to an error: its status and the code the client sees come from `ERROR_CODES`; an error whose code has
   * no HTTP status (or that is no `BraidError`) is a bug, answered 500 with the details in the server's log.
   */
  const answer = (c: Context, err: unknown) => {
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
  app.onError((err, c) => answer(c, err));
  app.notFound((c) =>
    answer(
      c,
      new BraidError(
        'E_NOT_FOUND',
        `no route ${c.req.method} ${c.req.path}; see GET / (the dashboard), GET /workflows, GET /workflows/:name, POST /runs, GET /runs, GET /runs/:id, GET /runs/:id/workflow, GET /runs/:id/tasks/:taskId/explain, POST /runs/:id/resume, GET /runs/:id/events, POST /runs/:id/cancel, POST /runs/:id/approve, POST /chat, /mcp (MCP over Streamable HTTP)`,
      ),
    ),
  );

  // Who may talk to the server, before anything else (/health included): the Host, then the Origin, then
  // the token. Without a token only loopback names (and --allowed-hosts) are served (DNS rebinding); a
  // cross-origin Origin is refused with or without a token (no CORS: browsers get no answer to read).
  const allowedHosts = new Set([...LOOPBACK_HOSTS, ...(options.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  app.use('*', async (c, next) => {
    const host = c.req.header('host');
    if (!token && !allowedHosts.has(hostName(host) ?? '')) {
      throw new BraidError(
        'E_FORBIDDEN',
        `host "${(host ?? '').slice(0, 100)}" is not served without a token (allowed: ${[...allowedHosts].join(', ')}; add names with --allowed-hosts)`,
      );
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && !sameOrigin(origin, host))
      throw new BraidError('E_FORBIDDEN', `cross-origin request from ${origin.slice(0, 100)} refused`);
    return next();
  });
  app.get('/health', (c) => c.json({ ok: true }));
  mountDashboard(app); // the page and its scripts: no token needed, the page asks for it
  app.use('*', async (c, next) => {
    if (!token) return next();
    const header = c.req.header('authorization') ?? '';
    if (!header.startsWith('Bearer ') || !sameToken(header.slice(7), token))
      throw new BraidError('E_UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer $BRAID_TOKEN)');
    return next();
  });
  // Every POST carries JSON: a browser cannot send that cross-site without a CORS preflight this server never grants
  // (forms and text/plain bodies, the cross-site requests a browser sends freely, are refused here).
  app.use('*', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json')
      throw new BraidError(
        'E_UNSUPPORTED_MEDIA_TYPE',
        `POST bodies must be JSON (Content-Type: application/json), got ${type ? `"${type.slice(0, 80)}"` : 'none'}`,
      );
    return next();
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 1024 * 1024,
      onError: (c) =>
        answer(c, new BraidError('E_TOO_LARGE', `request body over ${options.maxBodyBytes ?? 1024 * 1024} bytes`)),
    }),
  );

  mountMcp(app, { ...options.mcp, catalog, runs, store }); // /mcp: the workflows as MCP tools, behind the checks above

  app.get('/workflows', (c) =>
    c.json({
      workflows: catalog.list().map((e) => ({
        name: e.name,
        description: e.description,
        inputs: e.inputs,
        confirm: e.confirm,
        tasks: e.workflow.tasks.length,
      })),
      problems: catalog.problems,
    }),
  );

  app.post('/runs', async (c) => {
    const body = await readJson(c, startBody);
    const handle = runs.start(body.workflow, body.input ?? {});
    return c.json(
      {
        runId: handle.runId,
        workflow: handle.workflow,
        status: 'running',
        links: { self: `/runs/${handle.runId}`, events: `/runs/${handle.runId}/events` },
      },
      202,
    );
  });

  app.get('/runs/:id', async (c) => {
    const id = c.req.param('id');
    const handle = runs.get(id);
    if (handle?.result) return c.json(handle.result);
    if (handle?.error) throw handle.error;
    if (handle && !store) {
      // Running in this process without a record: its events have no header (so no writer pid), the run is not
      // interrupted.
      const { lastSeq: _, ...partial } = foldRun({ events: handle.events, problems: [] });
      return c.json({
        ...partial,
        workflow: handle.workflow,
        ...(partial.status === 'interrupted' ? { status: 'running' } : {}),
      });
    }
    // A recorded run (running here or anywhere): its record tells its whole story (a resumed run's handle has
    // only the events since the resume). Folded in slices (the event loop stays free), once per version of the
    // file, the JSON text cached too, so concurrent and repeated requests of a large record cost one read.
    return c.body(await recordedJson(id), 200, { 'content-type': 'application/json' });
  });

  app.get('/runs/:id/events', async (c) => {
    const id = c.req.param('id');
    const handle = runs.get(id);
    let after = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0) || 0;
    if (!handle) await readRecord(id); // 404 before the stream starts
    return streamSSE(c, async (stream) => {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      const send = (e: RunEvent) => stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(e) });
      // A resumed run's handle holds only the events since the resume: the earlier ones come from its record.
      const earlierLost = (err: unknown) =>
        void (noSuchRun(err) || logLost(`GET /runs/${id}/events: the events before its resume are left out`, err));
      if (handle && store)
        for (const e of (await store.read(id).catch(earlierLost))?.events ?? [])
          if (e.seq > after && e.seq < (handle.events[0]?.seq ?? Infinity)) (await send(e), (after = e.seq));
      // A run of this server streams from memory; any other recorded run (e.g. one `braid run` is writing) is followed
      // on disk.
      const events = handle
        ? handle.stream(abort.signal, after)
        : followRun(store!, id, { follow: true, afterSeq: after, signal: abort.signal });
      for await (const e of events) await send(e);
      await stream.writeSSE({ event: 'end', data: JSON.stringify({ runId: id }) });
    });
  });

  app.post('/runs/:id/cancel', async (c) => {
    const id = c.req.param('id');
    const handle = runs.get(id);
    if (handle && !handle.finished) {
      handle.cancel();
      return c.json({ runId: id, status: 'cancelling' }, 202);
    }
    // Not running here: a recorded run waiting for an approval (or interrupted) is cancelled under its lock.
    if (!store)
      throw new BraidError(
        handle ? 'E_RUN_STATE' : 'E_RUN_NOT_FOUND',
        handle
          ? `run "${id}" already finished (${handle.result?.status ?? 'error'})`
          : `no run "${id}" running in this server`,
      );
    await readRecord(id);
    const result = await runs.cancelRecorded(id);
    return c.json({ runId: id, status: result.status }, 200);
  });

  app.post('/runs/:id/approve', async (c) => {
    const id = c.req.param('id');
    if (!store)
      throw new BraidError('E_CONFLICT', 'approvals need the run store (start the server without --no-store)');
    const body = await readJson(c, approveBody);
    const header = await continuable(id);
    // The decision and the continuation happen under the run's lock: a second approval gets a 409.
    const handle = await runs.resume(id, header.workflow.name, {
      taskId: body.taskId,
      approved: !body.reject,
      by: body.by,
      comment: body.comment,
    });
    return c.json({ runId: handle.runId, taskId: body.taskId, approved: !body.reject, status: 'running' }, 202);
  });

  app.post('/runs/:id/resume', async (c) => {
    const id = c.req.param('id');
    if (!store)
      throw new BraidError('E_CONFLICT', 'resuming needs the run store (start the server without --no-store)');
    await readJson(c, z.strictObject({}));
    const header = await continuable(id);
    const { status } = foldRun(await readRecord(id), processAlive);
    if (status === 'succeeded')
      throw new BraidError(
        'E_RUN_STATE',
        `run "${id}" succeeded; there is nothing to resume (start it again with POST /runs)`,
      );
    const name = header.workflow.name;
    if (!catalog.get(name))
      throw new BraidError(
        'E_NOT_FOUND',
        `workflow "${name}" is not in this server's catalog, so its tools are unknown here; resume it where it was started: braid resume ${id}`,
        { path: 'workflow' },
      );
    const handle = await runs.resume(id, name);
    return c.json(
      { runId: handle.runId, status: 'running', links: { self: `/runs/${id}`, events: `/runs/${id}/events` } },
      202,
    );
  });

  /** The header of a recorded run that is not running in this server (the lock decides for other processes). */
  async function continuable(id: string) {
    const { header } = await readRecord(id);
    if (!header) throw new BraidError('E_RECORD', `run "${id}" has no header; it cannot continue`);
    const current = runs.get(id);
    if (current && !current.finished) throw new BraidError('E_LOCKED', `run "${id}" is still running in this server`);
    return header;
  }

  // One run list (and its cache of folded records) for GET /runs and every chat session's "what is waiting?".
  const summaries = new RunSummaries(runs, store);
  registerRunViews(app, { catalog, runs, store, summaries });

  app.post('/chat', async (c) => {
    const body = await readJson(c, chatBody);
    const sessionId = body.sessionId ?? crypto.randomUUID();
    let agent = sessions.get(sessionId);
    if (!agent) {
      agent = new WorkflowAgent({ catalog, runs, llm: options.llm, summaries });
      sessions.set(sessionId, agent);
      if (sessions.size > (options.maxSessions ?? 100)) sessions.delete(sessions.keys().next().value!);
    }
    const turn = agent;
    c.header('x-session-id', sessionId);
    return streamSSE(c, async (stream) => {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      await stream.writeSSE({ event: 'session', data: JSON.stringify({ sessionId }) });
      for await (const chunk of turn.send(body.message, abort.signal))
        await stream.writeSSE({ event: chunk.type, data: JSON.stringify(chunk) });
      await stream.writeSSE({ event: 'end', data: JSON.stringify({ sessionId }) });
    });
  });

  const answers = new Map<string, { version: string; json: Promise<string> }>();
  async function recordedJson(id: string): Promise<string> {
    if (!store) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}" in this server (no run store)`);
    let folded;
    try {
      folded = store.fold
        ? await store.fold(id, processAlive)
        : await store.read(id).then((r) => ({ run: foldRun(r, processAlive), problems: [...r.problems], version: '' }));
    } catch (err) {
      if (noSuchRun(err)) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}"`, { path: 'runId' });
      throw err;
    }
    const cached = answers.get(id);
    if (cached && cached.version === folded.version && folded.version) return cached.json;
    const { lastSeq: _, problems: foldProblems, ...run } = folded.run;
    const problems = [...folded.problems, ...(foldProblems ?? [])];
    const json = Promise.resolve(JSON.stringify({ ...run, ...(problems.length ? { problems } : {}) }));
    answers.delete(id);
    answers.set(id, { version: folded.version, json });
    if (answers.size > 32) answers.delete(answers.keys().next().value!);
    return json;
  }

  async function readRecord(id: string) {
    if (!store) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}" in this server (no run store)`);
    try {
      return await store.read(id);
    } catch (err) {
      if (noSuchRun(err)) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}"`, { path: 'runId' });
      throw err;
    }
  }

  return app;
}
