/**
 * braid's HTTP API (Hono): start runs, read them, follow their events (SSE), cancel, approve, chat, list
 * workflows. Every error is JSON `{ error: { code, message, path? } }` with a 4xx status.
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { WorkflowAgent } from '../../agents/workflow-agent.js';
import { BraidError, InputValidationError } from '../errors.js';
import type { RunEvent } from '../events/types.js';
import type { LlmProvider } from '../llm/types.js';
import { approveTask } from '../engine/run.js';
import type { WorkflowCatalog } from '../service/catalog.js';
import { NotFoundError, type RunManager } from '../service/run-manager.js';
import { foldRun, processAlive } from '../store/fold.js';
import { followRun } from '../store/follow.js';
import type { RunStore } from '../store/types.js';
import { formatPath } from '../spec/path.js';
import { mountDashboard } from './dashboard.js';
import { registerRunViews } from './run-views.js';

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
}

type Status = 400 | 401 | 404 | 409 | 413 | 500;

class HttpError extends Error {
  constructor(readonly status: Status, readonly code: string, message: string, readonly path?: string) {
    super(message);
  }
}

const startBody = z.strictObject({ workflow: z.string().min(1), input: z.record(z.string(), z.unknown()).optional() });
const approveBody = z.strictObject({ taskId: z.string().min(1), reject: z.boolean().optional(), by: z.string().optional(), comment: z.string().optional() });
const chatBody = z.strictObject({ message: z.string().min(1).max(20_000), sessionId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional() });

async function readJson<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  let value: unknown;
  try {
    value = await c.req.json();
  } catch {
    throw new HttpError(400, 'E_BAD_JSON', 'the request body must be JSON (Content-Type: application/json)');
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = formatPath(issue.path.filter((p): p is string | number => typeof p !== 'symbol'));
  throw new HttpError(400, 'E_BAD_REQUEST', `${path || 'body'}: ${issue.message}`, path || undefined);
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createApp(options: AppOptions): Hono {
  const { catalog, runs, store, token } = options;
  const sessions = new Map<string, WorkflowAgent>();
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json({ error: { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}) } }, err.status);
    if (err instanceof InputValidationError) {
      const first = err.issues[0];
      return c.json({ error: { code: 'E_INPUT', message: err.issues.map((i) => `${i.path}: ${i.message}`).join('; '), path: first?.path, issues: err.issues } }, 400);
    }
    if (err instanceof NotFoundError) return c.json({ error: { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}) } }, 404);
    if (BraidError.is(err) && err.code === 'E_USAGE') return c.json({ error: { code: 'E_CONFLICT', message: err.message } }, 409);
    return c.json({ error: { code: 'E_INTERNAL', message: err.message } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'E_NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}; see GET / (the dashboard), GET /workflows, GET /workflows/:name, POST /runs, GET /runs, GET /runs/:id, GET /runs/:id/workflow, GET /runs/:id/tasks/:taskId/explain, POST /runs/:id/resume, GET /runs/:id/events, POST /runs/:id/cancel, POST /runs/:id/approve, POST /chat` } }, 404));

  app.get('/health', (c) => c.json({ ok: true }));
  mountDashboard(app); // the page and its scripts: no token needed, the page asks for it
  app.use('*', async (c, next) => {
    if (!token) return next();
    const header = c.req.header('authorization') ?? '';
    if (!header.startsWith('Bearer ') || !sameToken(header.slice(7), token)) throw new HttpError(401, 'E_UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer $BRAID_TOKEN)');
    return next();
  });
  app.use(
    '*',
    bodyLimit({ maxSize: options.maxBodyBytes ?? 1024 * 1024, onError: (c) => c.json({ error: { code: 'E_TOO_LARGE', message: `request body over ${options.maxBodyBytes ?? 1024 * 1024} bytes` } }, 413) }),
  );

  app.get('/workflows', (c) => c.json({ workflows: catalog.list().map((e) => ({ name: e.name, description: e.description, inputs: e.inputs, confirm: e.confirm, tasks: e.workflow.tasks.length })), problems: catalog.problems }));

  app.post('/runs', async (c) => {
    const body = await readJson(c, startBody);
    const handle = runs.start(body.workflow, body.input ?? {});
    return c.json({ runId: handle.runId, workflow: handle.workflow, status: 'running', links: { self: `/runs/${handle.runId}`, events: `/runs/${handle.runId}/events` } }, 202);
  });

  app.get('/runs/:id', async (c) => {
    const id = c.req.param('id');
    const handle = runs.get(id);
    if (handle?.result) return c.json(handle.result);
    if (handle?.error) throw new HttpError(500, 'E_INTERNAL', handle.error.message);
    // A running run's record tells its whole story (a resumed run's handle has only the events since the resume).
    const recorded = handle && store ? await store.read(id).catch(() => undefined) : undefined;
    if (handle && !recorded) {
      const { lastSeq: _, ...partial } = foldRun({ events: handle.events, problems: [] }, () => true);
      return c.json({ ...partial, workflow: handle.workflow });
    }
    const record = recorded ?? (await readRecord(id));
    const { lastSeq: _, ...run } = foldRun(record, processAlive);
    return c.json({ ...run, ...(record.problems.length ? { problems: record.problems } : {}) });
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
      if (handle && store) for (const e of (await store.read(id).catch(() => undefined))?.events ?? []) if (e.seq > after && e.seq < (handle.events[0]?.seq ?? Infinity)) await send(e), (after = e.seq);
      // A run of this server streams from memory; any other recorded run (e.g. one `braid run` is writing) is followed on disk.
      const events = handle ? handle.stream(abort.signal, after) : followRun(store!, id, { follow: true, afterSeq: after, signal: abort.signal });
      for await (const e of events) await send(e);
      await stream.writeSSE({ event: 'end', data: JSON.stringify({ runId: id }) });
    });
  });

  app.post('/runs/:id/cancel', (c) => {
    const handle = runs.get(c.req.param('id'));
    if (!handle) throw new HttpError(404, 'E_NOT_FOUND', `no run "${c.req.param('id')}" running in this server`);
    if (handle.finished) throw new HttpError(409, 'E_CONFLICT', `run "${handle.runId}" already finished (${handle.result?.status ?? 'error'})`);
    handle.cancel();
    return c.json({ runId: handle.runId, status: 'cancelling' }, 202);
  });

  app.post('/runs/:id/approve', async (c) => {
    const id = c.req.param('id');
    if (!store) throw new HttpError(409, 'E_CONFLICT', 'approvals need the run store (start the server without --no-store)');
    const body = await readJson(c, approveBody);
    const { header } = await readRecord(id);
    if (!header) throw new HttpError(409, 'E_CONFLICT', `run "${id}" has no header; it cannot continue`);
    const current = runs.get(id);
    if (current && !current.finished) throw new HttpError(409, 'E_CONFLICT', `run "${id}" is still running`);
    await approveTask(store, id, body.taskId, { approved: !body.reject, by: body.by, comment: body.comment });
    const handle = runs.resume(id, header.workflow.name);
    return c.json({ runId: handle.runId, taskId: body.taskId, approved: !body.reject, status: 'running' }, 202);
  });

  registerRunViews(app, { catalog, runs, store });

  app.post('/chat', async (c) => {
    const body = await readJson(c, chatBody);
    const sessionId = body.sessionId ?? crypto.randomUUID();
    let agent = sessions.get(sessionId);
    if (!agent) {
      agent = new WorkflowAgent({ catalog, runs, llm: options.llm });
      sessions.set(sessionId, agent);
      if (sessions.size > (options.maxSessions ?? 100)) sessions.delete(sessions.keys().next().value!);
    }
    const turn = agent;
    c.header('x-session-id', sessionId);
    return streamSSE(c, async (stream) => {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      await stream.writeSSE({ event: 'session', data: JSON.stringify({ sessionId }) });
      for await (const chunk of turn.send(body.message, abort.signal)) await stream.writeSSE({ event: chunk.type, data: JSON.stringify(chunk) });
      await stream.writeSSE({ event: 'end', data: JSON.stringify({ sessionId }) });
    });
  });

  async function readRecord(id: string) {
    if (!store) throw new HttpError(404, 'E_NOT_FOUND', `no run "${id}" in this server (no run store)`);
    try {
      return await store.read(id);
    } catch (err) {
      if (BraidError.is(err) && err.code === 'E_USAGE') throw new HttpError(404, 'E_NOT_FOUND', `no run "${id}"`, 'runId');
      throw err;
    }
  }

  return app;
}
