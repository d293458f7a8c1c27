/**
 * Starting runs and acting on them:
 *
 *   POST /runs                  start a run of a catalog workflow (202, with links to follow it)
 *   GET  /runs/:id              the run: its result, or its record folded so far
 *   GET  /runs/:id/events       its events as server-sent events, from `?after=` or `Last-Event-ID`, until it ends
 *   POST /runs/:id/cancel       cancel it (a run of this server, or a recorded one waiting or interrupted)
 *   POST /runs/:id/approve      decide a task waiting for a human, then continue the run
 *   POST /runs/:id/resume       continue a recorded run that is not running
 *
 * The read-mostly views of runs (the list, a run's workflow, explain) are in run-views.ts.
 */
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { RunEvent } from '../../core/events.js';
import { BraidError } from '../../errors.js';
import { foldRun, processAlive } from '../../store/fold.js';
import { followRun } from '../../store/follow.js';
import type { RunStore } from '../../store/types.js';
import { logLost, noSuchRun } from '../log.js';
import { readJson, type ServerDeps } from './context.js';

const startBody = z.strictObject({ workflow: z.string().min(1), input: z.record(z.string(), z.unknown()).optional() });
const approveBody = z.strictObject({
  taskId: z.string().min(1),
  reject: z.boolean().optional(),
  by: z.string().optional(),
  comment: z.string().optional(),
  /** An approval's edited input (the task's approval says `edit: true`). */
  edit: z.unknown().optional(),
  /** The visit decided on (default: the one waiting). */
  visit: z.int().min(1).optional(),
  /** The inputHash of the input decided on (GET /runs/:id gives the waiting task's). */
  inputHash: z.string().min(1).optional(),
});

export function registerRuns(app: Hono, deps: ServerDeps): void {
  const recordedJson = recordedJsonOf(deps.store);
  app.post('/runs', (c) => start(c, deps));
  app.get('/runs/:id', (c) => show(c, c.req.param('id'), deps, recordedJson));
  app.get('/runs/:id/events', (c) => events(c, c.req.param('id'), deps));
  app.post('/runs/:id/cancel', (c) => cancel(c, c.req.param('id'), deps));
  app.post('/runs/:id/approve', (c) => approve(c, c.req.param('id'), deps));
  app.post('/runs/:id/resume', (c) => resume(c, c.req.param('id'), deps));
}

async function start(c: Context, { runs }: ServerDeps) {
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
}

async function show(
  c: Context,
  id: string,
  { runs, store }: ServerDeps,
  recordedJson: (id: string) => Promise<string>,
) {
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
}

async function events(c: Context, id: string, { runs, store }: ServerDeps) {
  const handle = runs.get(id);
  let after = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0) || 0;
  if (!handle) await readRecord(store, id); // 404 before the stream starts
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
}

async function cancel(c: Context, id: string, { runs, store }: ServerDeps) {
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
  await readRecord(store, id);
  const result = await runs.cancelRecorded(id);
  return c.json({ runId: id, status: result.status }, 200);
}

async function approve(c: Context, id: string, deps: ServerDeps) {
  if (!deps.store)
    throw new BraidError('E_CONFLICT', 'approvals need the run store (start the server without --no-store)');
  const body = await readJson(c, approveBody);
  const header = await continuable(deps, id);
  // The decision and the continuation happen under the run's lock: a second approval gets a 409.
  const handle = await deps.runs.resume(id, header.workflow.name, {
    taskId: body.taskId,
    approved: !body.reject,
    by: body.by,
    comment: body.comment,
    ...(body.edit !== undefined ? { edit: body.edit } : {}),
    ...(body.visit !== undefined ? { visit: body.visit } : {}),
    ...(body.inputHash !== undefined ? { inputHash: body.inputHash } : {}),
  });
  return c.json({ runId: handle.runId, taskId: body.taskId, approved: !body.reject, status: 'running' }, 202);
}

async function resume(c: Context, id: string, deps: ServerDeps) {
  if (!deps.store)
    throw new BraidError('E_CONFLICT', 'resuming needs the run store (start the server without --no-store)');
  await readJson(c, z.strictObject({}));
  const header = await continuable(deps, id);
  const { status } = foldRun(await readRecord(deps.store, id), processAlive);
  if (status === 'succeeded')
    throw new BraidError(
      'E_RUN_STATE',
      `run "${id}" succeeded; there is nothing to resume (start it again with POST /runs)`,
    );
  const name = header.workflow.name;
  if (!deps.catalog.get(name))
    throw new BraidError(
      'E_NOT_FOUND',
      `workflow "${name}" is not in this server's catalog, so its tools are unknown here; resume it where it was started: braid resume ${id}`,
      { path: 'workflow' },
    );
  const handle = await deps.runs.resume(id, name);
  return c.json(
    { runId: handle.runId, status: 'running', links: { self: `/runs/${id}`, events: `/runs/${id}/events` } },
    202,
  );
}

/** The header of a recorded run that is not running in this server (the lock decides for other processes). */
async function continuable({ runs, store }: ServerDeps, id: string) {
  const { header } = await readRecord(store, id);
  if (!header) throw new BraidError('E_RECORD', `run "${id}" has no header; it cannot continue`);
  const current = runs.get(id);
  if (current && !current.finished) throw new BraidError('E_LOCKED', `run "${id}" is still running in this server`);
  return header;
}

async function readRecord(store: RunStore | undefined, id: string) {
  if (!store) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}" in this server (no run store)`);
  try {
    return await store.read(id);
  } catch (err) {
    if (noSuchRun(err)) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}"`, { path: 'runId' });
    throw err;
  }
}

/** A recorded run as the JSON text of `GET /runs/:id`, cached per version of its record (the 32 latest runs). */
function recordedJsonOf(store: RunStore | undefined): (id: string) => Promise<string> {
  const answers = new Map<string, { version: string; json: Promise<string> }>();
  return async (id) => {
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
  };
}
