/**
 * Read-mostly routes for looking at runs (the dashboard uses them; so can anyone):
 *
 *   GET  /runs                        newest first: status, times, task counts, usage (`?status=&workflow=&limit=`);
 *                                     with `Accept: text/event-stream`, the list again whenever it changes
 *   GET  /runs/:id/workflow           the run's workflow definition (as recorded), its input, and its graph
 *   GET  /runs/:id/tasks/:task/explain  why a task ran, was skipped or failed (as `braid explain`)
 *
 * Errors are thrown as `BraidError`s: the app's error handler answers them in the API's shape,
 * `{ error: { code, message, path? } }`, with the status their code has in `ERROR_CODES`.
 */
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { BraidError } from '../../errors.js';
import { logLost, noSuchRun } from '../log.js';
import { workflowGraph } from '../../graph/graph.js';
import { explainTask } from '../../store/explain.js';
import { foldRun, processAlive, type RecordedRun } from '../../store/fold.js';
import type { RunHeader } from '../../store/types.js';
import type { Workflow } from '../../spec/workflow.js';
import type { ServerDeps } from './context.js';

const STATUSES = new Set(['running', 'waiting', 'succeeded', 'failed', 'cancelled', 'interrupted']);
const MAX_LIMIT = 1000;
/** How often a `GET /runs` event stream looks for changes. */
const LIST_POLL_MS = 500;

export function registerRunViews(app: Hono, deps: ServerDeps): void {
  app.get('/runs', (c) => list(c, deps));

  app.get('/runs/:id/workflow', async (c) => {
    const id = c.req.param('id');
    const found = await definitionOf(deps, id);
    if (!found) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}"`, { path: 'runId' });
    return c.json({
      runId: id,
      name: found.workflow.name,
      definition: found.workflow,
      input: found.input,
      graph: workflowGraph(found.workflow),
    });
  });

  app.get('/runs/:id/tasks/:taskId/explain', async (c) => {
    const id = c.req.param('id');
    const taskId = c.req.param('taskId');
    const found = await definitionOf(deps, id);
    if (!found) throw new BraidError('E_RUN_NOT_FOUND', `no run "${id}"`, { path: 'runId' });
    // Own keys only: `__proto__`, `constructor` or `toString` is no task of a run that has none of that name.
    if (!Object.hasOwn(found.run.tasks, taskId) || !found.workflow.tasks.some((t) => t.id === taskId))
      throw new BraidError(
        'E_NOT_FOUND',
        `run "${id}" has no task "${taskId}" (tasks: ${Object.keys(found.run.tasks).join(', ')})`,
        { path: 'taskId' },
      );
    const lines = await explainTask(found, found.run, taskId);
    return c.json({ runId: id, taskId, status: found.run.tasks[taskId].status, lines });
  });
}

/** `GET /runs`: the list once, or with `Accept: text/event-stream` again whenever it changes. */
async function list(c: Context, { summaries }: ServerDeps) {
  const status = c.req.query('status') || undefined;
  const workflow = c.req.query('workflow') || undefined;
  const limitText = c.req.query('limit');
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (status && !STATUSES.has(status))
    throw new BraidError('E_BAD_REQUEST', `status: expected one of ${[...STATUSES].join(', ')}, got "${status}"`, {
      path: 'status',
    });
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new BraidError('E_BAD_REQUEST', `limit: expected an integer from 1 to ${MAX_LIMIT}, got "${limitText}"`, {
      path: 'limit',
    });
  const query = { status, workflow, limit };
  if (!(c.req.header('accept') ?? '').includes('text/event-stream'))
    return c.json({ runs: await summaries.list(query, 0) });
  return streamSSE(c, async (stream) => {
    let aborted = false;
    stream.onAbort(() => void (aborted = true));
    let last = '';
    let quiet = 0;
    while (!aborted) {
      const data = JSON.stringify({ runs: await summaries.list(query) });
      if (data !== last) ((last = data), (quiet = 0), await stream.writeSSE({ event: 'runs', data }));
      else if (++quiet * LIST_POLL_MS >= 15_000) ((quiet = 0), await stream.write(': keep-alive\n\n'));
      await stream.sleep(LIST_POLL_MS);
    }
  });
}

/**
 * The recorded definition and input (a run of this server without a store: the catalog's, and `run.started`'s input).
 */
async function definitionOf(
  { catalog, runs, store }: ServerDeps,
  id: string,
): Promise<(Pick<RunHeader, 'workflow' | 'input'> & { run: RecordedRun }) | undefined> {
  const record = await store
    ?.read(id)
    .catch((err: unknown) => void (noSuchRun(err) || logLost(`run ${id}: its record cannot be read`, err)));
  if (record?.header)
    return { workflow: record.header.workflow, input: record.header.input, run: foldRun(record, processAlive) };
  const handle = runs.get(id);
  const entry = handle && catalog.get(handle.workflow);
  if (!handle || !entry) return undefined;
  const started = handle.events.find((e) => e.type === 'run.started');
  const run = foldRun({ events: handle.events, problems: [] }, () => !handle.finished);
  for (const t of entry.workflow.tasks) run.tasks[t.id] ??= { status: 'pending', attempts: 0, visits: 0 };
  return { workflow: entry.workflow as Workflow, input: (started?.input as Record<string, unknown>) ?? {}, run };
}
