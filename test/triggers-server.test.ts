/**
 * Events and webhooks over HTTP (workflow-spec.md §10): `POST /events` behind the API token, `POST /hooks/<path>`
 * believed only with a good HMAC SHA-256 signature (a wrong, missing or other-secret signature is 401 and starts
 * nothing), size-limited bodies, repeated delivery ids, and the operators' routes. The real app (Hono's
 * `app.request`), catalog, run manager and store.
 */
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/server/app.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { MemoryClaims } from '../src/service/triggers/claims.js';
import { TriggerService } from '../src/service/triggers/trigger-service.js';
import { signBody } from '../src/service/triggers/webhook.js';
import { MemoryRunStore } from '../src/store/memory-store.js';
import { OfflineProvider } from '../src/llm/offline.js';

const SECRET = 'hook-secret-for-tests';
const TOKEN = 'api-token';

async function setUp() {
  process.env.BRAID_TEST_HOOK_SECRET = SECRET;
  const workflow = {
    name: 'review',
    inputs: { type: 'object', properties: { pr: { type: 'number' }, title: { type: 'string' } } },
    triggers: [
      {
        name: 'pr',
        webhook: {
          path: 'github/pr',
          secret_env: 'BRAID_TEST_HOOK_SECRET',
          signature_header: 'X-Hub-Signature-256',
          id_header: 'X-GitHub-Delivery',
          input: { pr: '{{ event.data.number }}', title: '{{ event.data.title }}' },
        },
      },
      { name: 'asked', event: { name: 'review.asked', input: { title: '{{ event.data.title }}' } } },
      { name: 'nightly', schedule: '0 3 * * *' },
    ],
    tasks: [{ id: 'a', tool: 'echo', input: { value: '{{ input.title }}' } }],
  };
  const catalog = await WorkflowCatalog.load([workflow as never]);
  const store = new MemoryRunStore();
  const runs = new RunManager({ catalog, store });
  const triggers = new TriggerService({ catalog, runs, claims: new MemoryClaims() });
  const app = createApp({
    catalog,
    runs,
    llm: new OfflineProvider(),
    store,
    token: TOKEN,
    maxBodyBytes: 4096,
    triggers,
  });
  const hook = (body: string, headers: Record<string, string>) =>
    app.request('/hooks/github/pr', { method: 'POST', body, headers: { host: 'localhost', ...headers } });
  const api = (path: string, body?: unknown) =>
    app.request(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { host: 'localhost', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return { app, runs, store, hook, api };
}

describe('webhooks', () => {
  const body = JSON.stringify({ number: 42, title: 'Add triggers' });

  it('a good signature starts one run with the input its templates give; the same delivery id starts nothing new', async () => {
    const { hook, runs, store } = await setUp();
    const headers = { 'x-hub-signature-256': signBody(SECRET, body), 'x-github-delivery': 'gh-1' };
    const res = await hook(body, headers);
    expect(res.status).toBe(200);
    const first = (await res.json()) as { id: string; runs: { runId: string }[]; duplicate: boolean };
    expect(first).toMatchObject({ id: 'gh-1', duplicate: false, runs: [{ workflow: 'review', trigger: 'pr' }] });
    const result = await runs.get(first.runs[0].runId)!.done;
    expect(result.tasks.a.output).toBe('Add triggers');
    const header = (await store.read(first.runs[0].runId)).header!;
    expect(header.input).toEqual({ pr: 42, title: 'Add triggers' });
    expect(header.trigger).toEqual({ workflow: 'review', name: 'pr', kind: 'webhook', eventId: 'gh-1' });
    const again = await hook(body, headers);
    expect(await again.json()).toMatchObject({ id: 'gh-1', duplicate: true, runs: first.runs });
    expect(runs.list()).toHaveLength(1);
  });

  for (const [what, headers] of [
    ['a wrong signature', { 'x-hub-signature-256': signBody('another-secret', body) }],
    ['a signature of another body', { 'x-hub-signature-256': signBody(SECRET, `${body} `) }],
    ['a truncated signature', { 'x-hub-signature-256': signBody(SECRET, body).slice(0, 40) }],
    ['no signature', {}],
    [
      'the signature in the default header instead of the configured one',
      { 'x-braid-signature-256': signBody(SECRET, body) },
    ],
  ] as const) {
    it(`${what} is 401 and starts nothing`, async () => {
      const { hook, runs } = await setUp();
      const res = await hook(body, headers);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHORIZED');
      expect(runs.list()).toEqual([]);
    });
  }

  it('a body over the limit is 413 and starts nothing; an unknown path is 404', async () => {
    const { hook, runs, app } = await setUp();
    const big = JSON.stringify({ title: 'x'.repeat(5000) });
    const res = await hook(big, { 'x-hub-signature-256': signBody(SECRET, big) });
    expect(res.status).toBe(413);
    expect(runs.list()).toEqual([]);
    const missing = await app.request('/hooks/gitlab', { method: 'POST', body, headers: { host: 'localhost' } });
    expect(missing.status).toBe(404);
  });

  it('without a delivery header the id is the SHA-256 of the body: the same body twice starts one run', async () => {
    const { hook, runs } = await setUp();
    const headers = { 'x-hub-signature-256': signBody(SECRET, body) };
    await hook(body, headers);
    const again = (await (await hook(body, headers)).json()) as { duplicate: boolean; id: string };
    expect(again.duplicate).toBe(true);
    expect(again.id).toMatch(/^[0-9a-f]{64}$/);
    expect(runs.list()).toHaveLength(1);
  });
});

describe('POST /events and the trigger routes', () => {
  it('needs the API token; delivers by name; a repeated id answers the first runs', async () => {
    const { app, api, runs } = await setUp();
    const anonymous = await app.request('/events', {
      method: 'POST',
      headers: { host: 'localhost', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'review.asked' }),
    });
    expect(anonymous.status).toBe(401);
    const first = (await (await api('/events', { name: 'review.asked', id: 'e1', data: { title: 'x' } })).json()) as {
      runs: unknown[];
    };
    expect(first).toMatchObject({ id: 'e1', duplicate: false, runs: [{ trigger: 'asked' }] });
    const again = await (await api('/events', { name: 'review.asked', id: 'e1', data: { title: 'x' } })).json();
    expect(again).toMatchObject({ id: 'e1', duplicate: true, runs: first.runs });
    const none = await (await api('/events', { name: 'nobody.listens' })).json();
    expect(none).toMatchObject({ duplicate: false, runs: [] });
    expect(runs.list()).toHaveLength(1);
  });

  it('GET /triggers lists next fire times; pause, resume and fire answer; an unknown trigger is 404 with a hint', async () => {
    const { api, runs } = await setUp();
    const list = (await (await api('/triggers')).json()) as {
      triggers: { id: string; next: string[]; state: string }[];
    };
    expect(list.triggers.map((t) => t.id)).toEqual(['review:pr', 'review:asked', 'review:nightly']);
    expect(list.triggers[2].next).toHaveLength(3);
    expect((await api('/triggers/review:nightly/pause', {})).status).toBe(200);
    const paused = (await (await api('/triggers')).json()) as { triggers: { state: string }[] };
    expect(paused.triggers[2].state).toBe('paused');
    await api('/triggers/review:nightly/resume', {});
    const fired = await (await api('/triggers/review:nightly/fire', { at: '2026-06-01T03:00:00Z' })).json();
    expect(fired).toMatchObject({ started: [{ trigger: 'nightly' }], already: [] });
    const twice = await (await api('/triggers/review:nightly/fire', { at: '2026-06-01T03:00:00Z' })).json();
    expect(twice).toEqual({ started: [], already: ['2026-06-01T03:00:00.000Z'] });
    expect(runs.list()).toHaveLength(1);
    const missing = await api('/triggers/review:nigthly/pause', {});
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
      'did you mean "review:nightly"',
    );
  });
});
