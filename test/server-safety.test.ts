/**
 * The HTTP server (issue 15.8, 15.9): no cross-site requests (content type, Origin, Host), large records
 * served without stalling the event loop, run ids that are too long are a 404.
 */
import { request } from 'node:http';
import { serveForTest } from './support/server.js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonlRunStore, OfflineProvider } from '../src/index.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { startServer, type RunningServer } from '../src/server/serve.js';

/** A raw request: any Host, Origin or content type (fetch would not let us forge Host). */
function raw(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text.startsWith('{') ? JSON.parse(text) : text }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('no cross-site requests (15.8)', () => {
  let server: RunningServer;
  let host: string;
  const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-csrf-')));
  beforeAll(async () => {
    const catalog = await WorkflowCatalog.load('test/fixtures/service');
    server = await serveForTest(catalog, { store, allowedHosts: ['braid.internal'] });
    host = new URL(server.url).host;
  });
  afterAll(() => server.close());

  const body = JSON.stringify({ workflow: 'greet', input: { name: 'Eve' } });

  it('POST without application/json is refused (415) and starts nothing: text/plain, a form, multipart, no content type', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      undefined,
    ]) {
      const r = await raw(server.url, {
        method: 'POST',
        path: '/runs',
        headers: { host, ...(type ? { 'content-type': type } : {}) },
        body,
      });
      expect(r.status, String(type)).toBe(415);
      expect(r.body.error.code).toBe('E_UNSUPPORTED_MEDIA_TYPE');
    }
    const cancel = await raw(server.url, { method: 'POST', path: '/runs/x/cancel', headers: { host } });
    expect(cancel.status).toBe(415);
    expect(await store.list()).toEqual([]);
    const ok = await raw(server.url, {
      method: 'POST',
      path: '/runs',
      headers: { host, 'content-type': 'application/json; charset=utf-8' },
      body,
    });
    expect(ok.status).toBe(202);
  });

  it('a cross-origin Origin is refused (403), a same-origin one is served', async () => {
    for (const origin of ['https://evil.example', 'http://localhost:1', 'null']) {
      const r = await raw(server.url, {
        method: 'POST',
        path: '/runs',
        headers: { host, origin, 'content-type': 'application/json' },
        body,
      });
      expect(r.status, origin).toBe(403);
      expect(r.body.error).toMatchObject({
        code: 'E_FORBIDDEN',
        message: expect.stringMatching(/cross-origin request from .* refused/),
      });
    }
    expect(
      (await raw(server.url, { path: '/workflows', headers: { host, origin: 'https://evil.example' } })).status,
    ).toBe(403);
    expect(
      (
        await raw(server.url, {
          method: 'POST',
          path: '/runs',
          headers: { host, origin: `http://${host}`, 'content-type': 'application/json' },
          body,
        })
      ).status,
    ).toBe(202);
  });

  it('without a token only loopback Host names (and --allowed-hosts) are served: a rebinding page gets 403 everywhere', async () => {
    const port = new URL(server.url).port;
    for (const forged of [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1.nip.io:${port}`,
      'localhost.evil.example',
    ]) {
      for (const [method, path] of [
        ['GET', '/health'],
        ['GET', '/workflows'],
        ['POST', '/runs'],
      ]) {
        const r = await raw(server.url, {
          method,
          path,
          headers: { host: forged, 'content-type': 'application/json' },
          body: method === 'POST' ? body : undefined,
        });
        expect(r.status, `${forged} ${path}`).toBe(403);
      }
    }
    for (const good of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      `braid.internal:${port}`,
      'LOCALHOST',
    ]) {
      expect((await raw(server.url, { path: '/health', headers: { host: good } })).status, good).toBe(200);
    }
  });

  it('with a token, other Host names are served (the token is the guard), still JSON-only and same-origin', async () => {
    const catalog = await WorkflowCatalog.load('test/fixtures/service');
    const llm = new OfflineProvider();
    const guarded = await startServer({ catalog, llm, runs: new RunManager({ catalog, llm }), port: 0, token: 't0k' });
    try {
      const auth = { authorization: 'Bearer t0k' };
      expect(
        (await raw(guarded.url, { path: '/workflows', headers: { host: 'braid.example.org', ...auth } })).status,
      ).toBe(200);
      expect(
        (
          await raw(guarded.url, {
            method: 'POST',
            path: '/runs',
            headers: { host: 'braid.example.org', ...auth, 'content-type': 'text/plain' },
            body,
          })
        ).status,
      ).toBe(415);
      expect(
        (
          await raw(guarded.url, {
            path: '/workflows',
            headers: { host: 'braid.example.org', ...auth, origin: 'https://evil.example' },
          })
        ).status,
      ).toBe(403);
    } finally {
      await guarded.close();
    }
  });
});

describe('large records do not stall the server (15.9)', () => {
  it('10 concurrent GET /runs/:id of a 40 MB record: /health keeps answering, one fold serves them all', async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-big-')));
    mkdirSync(store.dir, { recursive: true });
    const runId = 'big-1';
    const lines = [
      JSON.stringify({
        type: 'run.record',
        version: 1,
        runId,
        createdAt: '2026-01-01T00:00:00.000Z',
        workflow: { name: 'big', tasks: [{ id: 'a', tool: 'echo' }] },
        input: {},
      }),
    ];
    let seq = 0;
    const ev = (body: Record<string, unknown>) =>
      JSON.stringify({ seq: ++seq, ts: '2026-01-01T00:00:01.000Z', runId, ...body });
    lines.push(
      ev({ type: 'run.started', workflow: 'big', tasks: 1, input: {} }),
      ev({ type: 'task.ready', taskId: 'a', visit: 1 }),
      ev({ type: 'task.started', taskId: 'a', tool: 'echo', attempt: 1, visit: 1 }),
    );
    const note = 'x'.repeat(1000);
    for (let i = 0; i < 40_000; i++)
      lines.push(ev({ type: 'task.progress', taskId: 'a', message: note, progress: i / 40_000 }));
    lines.push(
      ev({ type: 'task.succeeded', taskId: 'a', attempt: 1, visit: 1, durationMs: 5, output: 'done' }),
      ev({ type: 'run.finished', status: 'succeeded', durationMs: 9 }),
    );
    writeFileSync(store.path(runId), `${lines.join('\n')}\n`);

    const catalog = await WorkflowCatalog.load('test/fixtures/service');
    const llm = new OfflineProvider();
    const server = await startServer({ catalog, llm, store, runs: new RunManager({ catalog, llm, store }), port: 0 });
    try {
      let worst = 0;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const t0 = performance.now();
          expect((await fetch(`${server.url}/health`)).status).toBe(200);
          worst = Math.max(worst, performance.now() - t0);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const t0 = performance.now();
      const bodies = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await fetch(`${server.url}/runs/${runId}`);
          expect(res.status).toBe(200);
          return res.text();
        }),
      );
      const elapsed = performance.now() - t0;
      polling = false;
      await poller;
      expect(new Set(bodies).size).toBe(1);
      expect(JSON.parse(bodies[0])).toMatchObject({
        runId,
        status: 'succeeded',
        tasks: { a: { status: 'succeeded', output: 'done' } },
      });
      console.info(
        `40 MB record, 10 concurrent GETs: ${Math.round(elapsed)} ms, worst /health ${Math.round(worst)} ms`,
      );
      expect(worst).toBeLessThan(400); // ~1 s here before (6.6 s reported for 54 MB); the fold yields every 8 ms
      // Unchanged since: answered from the cache.
      const c0 = performance.now();
      expect((await fetch(`${server.url}/runs/${runId}`)).status).toBe(200);
      expect(performance.now() - c0).toBeLessThan(300);
      // The events stream reads it in slices too.
      const events = await (
        await fetch(`${server.url}/runs/${runId}/events`, { headers: { 'last-event-id': String(seq - 2) } })
      ).text();
      expect(events).toMatch(/event: task.succeeded[\s\S]*event: run.finished[\s\S]*event: end/);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('a run id over 255 characters is a 404 on every route, never a 500, and no answer shows the store folder', async () => {
    const store = new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-longid-')));
    const catalog = await WorkflowCatalog.load('test/fixtures/service');
    const llm = new OfflineProvider();
    const server = await startServer({ catalog, llm, store, runs: new RunManager({ catalog, llm, store }), port: 0 });
    try {
      const id = 'a'.repeat(300);
      const post = (path: string, b: unknown = {}) =>
        fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(b),
        });
      for (const res of [
        await fetch(`${server.url}/runs/${id}`),
        await fetch(`${server.url}/runs/${id}/events`),
        await post(`/runs/${id}/cancel`),
        await post(`/runs/${id}/approve`, { taskId: 'x' }),
        await post(`/runs/${id}/resume`),
        await fetch(`${server.url}/runs/..%2F..%2Fetc%2Fpasswd`),
      ]) {
        const text = await res.text();
        expect(res.status, text).toBe(404);
        expect(text).not.toContain(store.dir);
      }
    } finally {
      await server.close();
    }
  });
});
