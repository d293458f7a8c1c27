/**
 * The API routes the dashboard reads (public and documented): run list and its stream, a run's workflow and graph,
 * explain, resume, one workflow; and the dashboard's files.
 */
import { mkdtempSync } from 'node:fs';
import { serveForTest } from './support/server.js';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JsonlRunStore, OfflineProvider, runWorkflow } from '../src/index.js';
import { workflowGraph } from '../src/graph/graph.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import type { RunningServer } from '../src/server/serve.js';
import { loadWorkflow } from '../src/spec/load.js';

/** GET with the path sent exactly as given. */
function rawGet(base: string, path: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve(`${res.statusCode} ${body}`));
    })
      .on('error', reject)
      .end();
  });
}

const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

let calls = 0;
/** Fails on its first call, then works: a failed run that a resume finishes. */
const flaky = {
  name: 'flaky',
  input: z.object({}),
  run: () => (calls++ === 0 ? Promise.reject(new Error('first call fails')) : { ok: true }),
};
const fragile = {
  name: 'fragile',
  description: 'Fails once.',
  tasks: [
    { id: 'try', tool: 'flaky' },
    { id: 'after', tool: 'echo', input: { value: 1 }, dependencies: ['try'] },
  ],
};

describe('run views API', () => {
  let server: RunningServer;
  let store: JsonlRunStore;
  let post: (path: string, body?: unknown) => Promise<Response>;
  let get: (path: string, headers?: Record<string, string>) => Promise<Response>;

  beforeAll(async () => {
    process.env.BRAID_OUTBOX = mkdtempSync(join(tmpdir(), 'braid-views-outbox-'));
    store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-views-')));
    const catalog = await WorkflowCatalog.load(
      ['examples/conditional.yaml', 'examples/routing.yaml', 'test/fixtures/service/gated.yaml', fragile as never],
      { tools: [flaky as never] },
    );
    server = await serveForTest(catalog, { store, token: 'sesame' });
    const auth = { authorization: 'Bearer sesame' };
    post = (path, body = {}) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify(body),
      });
    get = (path, headers = {}) => fetch(`${server.url}${path}`, { headers: { ...auth, ...headers } });
  });
  afterAll(() => server.close());

  async function finished(runId: string) {
    await (await get(`/runs/${runId}/events`)).text(); // the stream ends with the run
    return json(get(`/runs/${runId}`));
  }

  it('GET /runs lists runs newest first with status, task counts and usage, filters by status and workflow, and includes runs another writer recorded', async () => {
    const a = (await json(post('/runs', { workflow: 'conditional', input: { topic: 'tea' } }))).runId;
    await finished(a);
    const b = (await json(post('/runs', { workflow: 'routing', input: { expression: '1 +' } }))).runId;
    await finished(b);
    // Recorded without the server, as `braid run` in another process would.
    await runWorkflow((await loadWorkflow('test/fixtures/service/greet.yaml')).workflow, {
      input: { name: 'Ola' },
      store,
      llm: new OfflineProvider(),
    });
    const { runs } = await json(get('/runs'));
    expect(runs.map((r: { runId: string }) => r.runId)).toEqual(
      [...runs.map((r: { runId: string }) => r.runId)].sort().reverse(),
    );
    expect(runs[0]).toMatchObject({
      workflow: 'greet',
      status: 'succeeded',
      tasks: { total: 1, done: 1, byStatus: { succeeded: 1 } },
    });
    const cond = runs.find((r: { runId: string }) => r.runId === a);
    expect(cond).toMatchObject({
      workflow: 'conditional',
      status: 'succeeded',
      tasks: { total: 4, done: 4, byStatus: { succeeded: 3, skipped: 1 } },
      usage: { totalTokens: expect.any(Number) },
    });
    expect(cond.durationMs).toBeGreaterThanOrEqual(0);
    expect((await json(get('/runs?workflow=routing'))).runs.map((r: { runId: string }) => r.runId)).toEqual([b]);
    expect((await json(get('/runs?status=failed'))).runs).toEqual([]);
    expect((await json(get('/runs?limit=1'))).runs).toHaveLength(1);
    const bad = await get('/runs?status=done');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: {
        code: 'E_BAD_REQUEST',
        message: expect.stringContaining('status: expected one of running, waiting'),
        path: 'status',
      },
    });
    expect((await get('/runs?limit=0')).status).toBe(400);
  });

  it('GET /runs as an event stream sends the list, then the list again when a run changes', async () => {
    const abort = new AbortController();
    const res = await get('/runs?workflow=gated', { accept: 'text/event-stream' });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const lists: { runId: string; status: string }[][] = [];
    let buffer = '';
    const next = async () => {
      for (;;) {
        const cut = buffer.indexOf('\n\n');
        if (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (block.includes('event: runs') && data) return lists.push(JSON.parse(data.slice(6)).runs);
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += value;
      }
    };
    await next();
    const before = lists[0].length;
    const { runId } = await json(post('/runs', { workflow: 'gated' }));
    while (!lists.at(-1)!.some((r) => r.runId === runId && r.status === 'waiting')) await next();
    expect(lists.at(-1)!.length).toBe(before + 1);
    abort.abort();
    await reader.cancel();
  });

  it('GET /runs/:id/workflow returns the recorded definition, the input and the graph with edge labels; explain says why a task was skipped', async () => {
    const { runId } = await json(post('/runs', { workflow: 'conditional', input: { topic: 'solar kites' } }));
    const run = await finished(runId);
    const view = await json(get(`/runs/${runId}/workflow`));
    expect(view).toMatchObject({
      runId,
      name: 'conditional',
      input: { topic: 'solar kites', to: 'team@example.com' },
      definition: { name: 'conditional' },
    });
    expect(view.graph.edges).toEqual(
      expect.arrayContaining([
        { from: 'task_1', to: 'task_2a', kind: 'condition', label: 'if good' },
        { from: 'task_1', to: 'task_2b', kind: 'condition', label: 'if bad' },
        { from: 'task_2a', to: 'task_3', kind: 'data' },
      ]),
    );
    const skipped = Object.entries(run.tasks).find(([, t]) => (t as { status: string }).status === 'skipped')![0];
    const why = await json(get(`/runs/${runId}/tasks/${skipped}/explain`));
    expect(why).toMatchObject({ runId, taskId: skipped, status: 'skipped' });
    expect(why.lines[0]).toBe(`${skipped} was skipped (condition_false).`);
    expect(why.lines[1]).toMatch(
      /^Its condition if_result "(good|bad)" on task_1 did not hold: task_1 was labeled "(good|bad)" by classifier/,
    );
    expect(await json(get(`/runs/${runId}/tasks/nope/explain`))).toEqual({
      error: {
        code: 'E_NOT_FOUND',
        message: expect.stringContaining('has no task "nope" (tasks: task_1, task_2a, task_2b, task_3)'),
        path: 'taskId',
      },
    });
    // Names of Object.prototype's members are no tasks: a 404 like any other unknown task, not a 500.
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const res = await get(`/runs/${runId}/tasks/${name}/explain`);
      expect(res.status, name).toBe(404);
      expect(await json(res), name).toEqual({
        error: { code: 'E_NOT_FOUND', message: expect.stringContaining(`has no task "${name}"`), path: 'taskId' },
      });
    }
    expect((await get('/runs/20200101T000000-aaaaaa/workflow')).status).toBe(404);
  });

  it('routing edges are labelled "on success"/"on failure" in the graph', async () => {
    const { workflow } = await loadWorkflow('examples/routing.yaml');
    expect(workflowGraph(workflow).edges).toEqual([
      { from: 'compute', to: 'report', kind: 'route', label: 'on success' },
      { from: 'compute', to: 'explain_error', kind: 'route', label: 'on failure' },
    ]);
  });

  it('POST /runs/:id/resume continues a failed run; a succeeded or unknown run is refused with the reason', async () => {
    const { runId } = await json(post('/runs', { workflow: 'fragile' }));
    expect((await finished(runId)).status).toBe('failed');
    const res = await post(`/runs/${runId}/resume`);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ runId, status: 'running' });
    const after = await finished(runId);
    expect(after).toMatchObject({
      status: 'succeeded',
      tasks: { try: { status: 'succeeded' }, after: { status: 'succeeded' } },
    });
    // The events of the resumed run include those before the resume.
    const events = await (await get(`/runs/${runId}/events`)).text();
    expect(events).toMatch(
      /event: run\.started[\s\S]*event: task\.failed[\s\S]*event: run\.resumed[\s\S]*event: run\.finished/,
    );
    const again = await post(`/runs/${runId}/resume`);
    expect(again.status).toBe(409);
    expect((await json(again)).error.message).toMatch(/succeeded; there is nothing to resume/);
    expect((await post('/runs/20200101T000000-aaaaaa/resume')).status).toBe(404);
  });

  it('GET /workflows/:name returns the inputs schema, definition and graph; an unknown name is a 404 naming the others', async () => {
    const wf = await json(get('/workflows/conditional'));
    expect(wf).toMatchObject({
      name: 'conditional',
      confirm: true,
      tasks: 4,
      inputs: { properties: { topic: { default: 'rooftop gardens' } } },
    });
    expect(wf.graph.nodes.map((n: { id: string }) => n.id)).toEqual(['task_1', 'task_2a', 'task_2b', 'task_3']);
    const gated = await json(get('/workflows/gated'));
    expect(gated.graph.nodes.find((n: { id: string }) => n.id === 'publish')).toMatchObject({ approval: true });
    expect(await json(get('/workflows/nope'))).toEqual({
      error: {
        code: 'E_NOT_FOUND',
        message: expect.stringMatching(/^no workflow "nope"; available: conditional, routing, gated, fragile/),
        path: 'workflow',
      },
    });
  });

  it('serves the dashboard and its libraries without the token (the API still needs it), with a strict content security policy', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self'/);
    expect(await page.text()).toContain('<script type="module" src="/ui/app.js">');
    for (const file of [
      '/ui/app.js',
      '/ui/style.css',
      '/ui/vendor/preact-htm.js',
      '/ui/vendor/dagre.js',
      '/ui/layout-worker.js',
    ]) {
      const res = await fetch(`${server.url}${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type')).toMatch(file.endsWith('.css') ? /text\/css/ : /text\/javascript/);
    }
    // Sent as is (fetch would normalize the dots away): only the known files are served.
    for (const path of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fpackage.json'])
      expect(await rawGet(server.url, path), path).toMatch(/^(404|401) \{"error"/);
    expect(await json(fetch(`${server.url}/ui/nope.js`))).toEqual({
      error: { code: 'E_NOT_FOUND', message: 'no dashboard file /ui/nope.js' },
    });
    expect((await fetch(`${server.url}/runs`)).status).toBe(401);
    expect((await fetch(`${server.url}/workflows/conditional`)).status).toBe(401);
  });
});
