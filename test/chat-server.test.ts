/** Chat-driven triggering: the workflow agent (offline and over the real openai client), `braid chat`, the HTTP API. */
import { mkdtempSync } from 'node:fs';
import { serveForTest } from './support/server.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowAgent, type AgentChunk } from '../agents/workflow-agent.js';
import { JsonlRunStore, OfflineProvider, OpenAIProvider, runWorkflow } from '../src/index.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { startServer, type RunningServer } from '../src/server/serve.js';
import { braid } from './support/cli.js';
import { startLoopbackServer } from './support/openai-server.js';

const FIXTURES = 'test/fixtures/service';
/** Response bodies in tests are read as loosely typed JSON. */
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();
const tmpStore = () => new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-srv-')));

async function turn(agent: WorkflowAgent, message: string): Promise<AgentChunk[]> {
  const chunks: AgentChunk[] = [];
  for await (const c of agent.send(message)) chunks.push(c);
  return chunks;
}

async function offlineAgent(dir: string) {
  const catalog = await WorkflowCatalog.load(dir);
  const llm = new OfflineProvider();
  return new WorkflowAgent({ catalog, llm, runs: new RunManager({ catalog, llm }) });
}

describe('workflow agent (offline)', () => {
  it('picks the conditional workflow from a sentence, fills the topic, confirms, runs it with progress and reports', async () => {
    const agent = await offlineAgent('examples');
    const first = await turn(agent, 'write an email about solar kites to the team');
    expect(first).toEqual([
      expect.objectContaining({ type: 'confirm', workflow: 'conditional', input: { topic: 'solar kites' } }),
    ]);
    const second = await turn(agent, 'yes');
    expect(second[0]).toMatchObject({ type: 'run.started', workflow: 'conditional', input: { topic: 'solar kites' } });
    const events = second.filter((c) => c.type === 'event').map((c) => (c as { event: { type: string } }).event.type);
    expect(events[0]).toBe('run.started');
    expect(events).toContain('task.labeled');
    expect(events.at(-1)).toBe('run.finished');
    const finished = second.find((c) => c.type === 'run.finished') as Extract<AgentChunk, { type: 'run.finished' }>;
    expect(finished.result.status).toBe('succeeded');
    expect(JSON.stringify(finished.result.tasks.task_1.output)).toMatch(/solar kites/i);
    const reply = second.at(-1) as Extract<AgentChunk, { type: 'text' }>;
    expect(reply.text).toMatch(/^\[offline\] conditional succeeded .*task_3 succeeded/);
  });

  it('asks for a missing required input instead of guessing, and "no" runs nothing', async () => {
    const agent = await offlineAgent(FIXTURES);
    const ask = await turn(agent, 'please greet somebody');
    expect(ask).toEqual([expect.objectContaining({ type: 'ask', workflow: 'greet', missing: ['name'] })]);
    expect((ask[0] as { text: string }).text).toMatch(/need name \(who to greet\)/);
    const ran = await turn(agent, 'Ada');
    const finished = ran.find((c) => c.type === 'run.finished') as Extract<AgentChunk, { type: 'run.finished' }>;
    expect(finished.result.tasks.hello.output).toBe('hello Ada');

    const other = await offlineAgent('examples');
    await turn(other, 'write an email about tea');
    const declined = await turn(other, 'no');
    expect(declined).toEqual([{ type: 'text', text: 'OK, I did not run conditional.' }]);
    const nothing = await turn(other, 'what is the weather');
    expect((nothing[0] as { text: string }).text).toMatch(
      /^\[offline\] None of my workflows fits "what is the weather" well: offline I match your words/,
    );
  });
});

describe('workflow agent: approvals in chat', () => {
  /** An agent over the fixtures whose runs are recorded in a store of their own. */
  async function recordingAgent() {
    const catalog = await WorkflowCatalog.load(FIXTURES);
    const llm = new OfflineProvider();
    const store = tmpStore();
    const runs = new RunManager({ catalog, llm, store });
    return { agent: new WorkflowAgent({ catalog, llm, runs }), runs, store };
  }
  const text = (chunks: AgentChunk[]) => chunks.filter((c) => c.type === 'text').map((c) => c.text);

  it('"approve publish" approves the waiting run (started elsewhere) and continues it; it starts no run', async () => {
    const { agent, runs, store } = await recordingAgent();
    expect(text(await turn(agent, 'what is waiting?'))).toEqual(['Nothing is waiting for a decision.']);
    // A run started outside the chat (braid run, HTTP) waits at publish.
    const waiting = await runWorkflow(`${FIXTURES}/gated.yaml`, { store, onEvent: () => {} });
    expect(waiting.status).toBe('waiting');
    expect(text(await turn(agent, 'What is waiting?'))).toEqual([
      `Waiting for a decision:\n  publish of run ${waiting.runId} (gated)\nSay "approve <task>" or "reject <task>".`,
    ]);
    const chunks = await turn(agent, 'approve publish');
    expect(chunks.some((c) => c.type === 'run.started')).toBe(false);
    expect(text(chunks)[0]).toBe(`Approved publish of run ${waiting.runId} (gated); continuing it.`);
    const finished = chunks.find((c) => c.type === 'run.finished') as Extract<AgentChunk, { type: 'run.finished' }>;
    expect(finished.result.runId).toBe(waiting.runId);
    expect(finished.result.tasks.publish).toMatchObject({ status: 'succeeded', output: 'published draft' });
    expect(runs.list().map((h) => h.runId)).toEqual([waiting.runId]);
    expect((await store.list()).length).toBe(1);
    const decision = (await store.read(waiting.runId)).events.find((e) => e.type === 'task.approval');
    expect(decision).toMatchObject({ taskId: 'publish', approved: true, by: 'chat' });
    // Decided: nothing waits any more, and a second "approve" starts nothing either.
    expect(text(await turn(agent, 'approve publish'))).toEqual([
      'Nothing is waiting for a decision, so there is nothing to approve.',
    ]);
  });

  it('two waiting runs: "approve publish" asks which; naming the run decides it; "reject" skips the task', async () => {
    const { agent, store } = await recordingAgent();
    const one = await runWorkflow(`${FIXTURES}/gated.yaml`, { store, onEvent: () => {} });
    const two = await runWorkflow(`${FIXTURES}/gated.yaml`, { store, onEvent: () => {} });
    const which = text(await turn(agent, 'approve publish'));
    expect(which[0]).toMatch(/^Several waiting tasks match "publish"; which one\?\n/);
    expect(which[0]).toContain(`  publish of run ${one.runId} (gated)`);
    expect(which[0]).toContain(`  publish of run ${two.runId} (gated)`);
    expect(text(await turn(agent, 'approve the weekly report'))[0]).toMatch(
      /^No waiting task matches "weekly report"\. Waiting:\n/,
    );
    const rejected = await turn(agent, `reject publish of ${two.runId}`);
    expect(text(rejected)[0]).toBe(`Rejected publish of run ${two.runId} (gated); continuing it.`);
    const finished = rejected.find((c) => c.type === 'run.finished') as Extract<AgentChunk, { type: 'run.finished' }>;
    expect(finished.result.tasks.publish).toMatchObject({ status: 'skipped', reason: 'rejected' });
    // The other run still waits.
    expect(text(await turn(agent, 'status'))[0]).toContain(`publish of run ${one.runId}`);
  });

  it('a workflow with an approval task or a tool that acts on the world is confirmed first, saying why', async () => {
    const { agent } = await recordingAgent();
    const ask = await turn(agent, 'publish the gated note');
    expect(ask).toEqual([expect.objectContaining({ type: 'confirm', workflow: 'gated' })]);
    expect((ask[0] as { text: string }).text).toContain('I ask first because its task publish waits for an approval.');
    const examples = await WorkflowCatalog.load('examples');
    const parallel = examples.get('parallel');
    expect(parallel?.caution).toBeUndefined();
    expect(examples.get('conditional')?.caution).toBe('its task task_3 calls send_email, which acts on the world');
  });
});

describe('workflow agent (offline): only what was asked', () => {
  it('a request no workflow fits well gets an answer that says so and lists what it can run, never an unrelated run', async () => {
    const agent = await offlineAgent('examples');
    const reply = await turn(agent, 'calculate 12 * 7 for me');
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatchObject({
      type: 'text',
      text: expect.stringMatching(/^\[offline\] None of my workflows fits "calculate 12 \* 7 for me" well/),
    });
    const text = (reply[0] as { text: string }).text;
    for (const name of ['conditional', 'parallel', 'retry-loop', 'routing']) expect(text).toContain(`  ${name}: `);
  });

  it('details given while a confirmation is pending update the pending inputs, and the run uses them', async () => {
    process.env.BRAID_OUTBOX = mkdtempSync(join(tmpdir(), 'braid-chat-outbox-'));
    const agent = await offlineAgent('examples');
    expect(await turn(agent, 'write an email about solar kites')).toEqual([
      expect.objectContaining({ type: 'confirm', input: { topic: 'solar kites' } }),
    ]);
    const updated = await turn(agent, 'send it to ana@example.com');
    expect(updated).toEqual([
      expect.objectContaining({
        type: 'confirm',
        workflow: 'conditional',
        input: { topic: 'solar kites', to: 'ana@example.com' },
      }),
    ]);
    expect((updated[0] as { text: string }).text).toMatch(/with topic: "solar kites", to: "ana@example.com"/);
    const again = await turn(agent, 'audience: investors');
    expect(again[0]).toMatchObject({
      type: 'confirm',
      input: { topic: 'solar kites', to: 'ana@example.com', audience: 'investors' },
    });
    const ran = await turn(agent, 'yes');
    expect(ran[0]).toMatchObject({
      type: 'run.started',
      input: { topic: 'solar kites', to: 'ana@example.com', audience: 'investors' },
    });
    const finished = ran.find((c) => c.type === 'run.finished') as Extract<AgentChunk, { type: 'run.finished' }>;
    expect(finished.result.tasks.task_3.output).toMatchObject({ accepted: ['ana@example.com'] });
  });
});

describe('workflow agent over the openai client (loopback server)', () => {
  it('sends workflows as functions, runs the one the model calls, and lets the model answer from the result', async () => {
    const server = await startLoopbackServer();
    try {
      const catalog = await WorkflowCatalog.load(FIXTURES);
      const llm = new OpenAIProvider({ apiKey: 'test-key', baseURL: server.url, model: 'loopback-model' });
      const agent = new WorkflowAgent({ catalog, llm, runs: new RunManager({ catalog, llm }) });
      server.replies.push(
        { toolCalls: [{ name: 'greet', arguments: { name: 'Grace' } }] },
        { content: 'Greeted Grace: the run succeeded.' },
      );
      const chunks = await turn(agent, 'say hi to Grace');
      const functions = server.requests[0].body.tools!.map((t) => t.function);
      expect(functions.map((f) => f.name).sort()).toEqual(['gated', 'greet', 'nap']);
      expect(functions.find((f) => f.name === 'greet')!.parameters).toMatchObject({
        required: ['name'],
        properties: { name: { type: 'string' } },
        additionalProperties: false,
      });
      expect(functions.every((f) => f.strict === true)).toBe(true);
      const finished = chunks.find((c) => c.type === 'run.finished') as Extract<AgentChunk, { type: 'run.finished' }>;
      expect(finished.result.tasks.hello.output).toBe('hello Grace');
      expect(chunks.at(-1)).toEqual({ type: 'text', text: 'Greeted Grace: the run succeeded.' });
      const last = server.requests[1].body.messages;
      const toolMessage = last.find((m) => m.role === 'tool') as { content: string };
      expect(JSON.parse(toolMessage.content)).toMatchObject({
        status: 'succeeded',
        tasks: { hello: { status: 'succeeded' } },
      });
      expect(server.rejected).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('strict function calls with nulls for what the user did not say; a second call to the waiting workflow adds to its inputs', async () => {
    process.env.BRAID_OUTBOX = mkdtempSync(join(tmpdir(), 'braid-chat-outbox-'));
    const server = await startLoopbackServer();
    try {
      const catalog = await WorkflowCatalog.load('examples');
      const llm = new OpenAIProvider({
        apiKey: 'test-key',
        baseURL: server.url,
        model: 'loopback-model',
        maxRetries: 0,
      });
      const agent = new WorkflowAgent({ catalog, llm, runs: new RunManager({ catalog, llm }) });
      const calls = [
        { topic: 'solar kites', audience: null, to: null },
        { topic: null, audience: null, to: 'ana@example.com' },
      ];
      server.answer = (body) =>
        body.tools && calls.length ? { toolCalls: [{ name: 'conditional', arguments: calls.shift() }] } : undefined;
      const first = await turn(agent, 'write an email about solar kites');
      expect(first).toEqual([expect.objectContaining({ type: 'confirm', input: { topic: 'solar kites' } })]);
      const conditional = server.requests[0].body.tools!.find((t) => t.function.name === 'conditional')!.function;
      expect(conditional).toMatchObject({
        strict: true,
        parameters: {
          required: ['topic', 'audience', 'to'],
          additionalProperties: false,
          properties: {
            topic: { type: ['string', 'null'], description: 'what the idea is about (default: "rooftop gardens")' },
          },
        },
      });
      const second = await turn(agent, 'and send it to ana@example.com');
      expect(second).toEqual([
        expect.objectContaining({ type: 'confirm', input: { topic: 'solar kites', to: 'ana@example.com' } }),
      ]);
      const ran = await turn(agent, 'yes');
      const finished = ran.find((c) => c.type === 'run.finished') as Extract<AgentChunk, { type: 'run.finished' }>;
      expect(finished.result.status).toBe('succeeded');
      expect(finished.result.tasks.task_3.output).toMatchObject({ accepted: ['ana@example.com'] });
      expect(server.rejected).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('HTTP API', () => {
  let server: RunningServer;
  const store = tmpStore();
  beforeAll(async () => {
    const catalog = await WorkflowCatalog.load(FIXTURES);
    server = await serveForTest(catalog, { store, maxBodyBytes: 4096 });
  });
  afterAll(() => server.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  async function sse(path: string, init?: RequestInit): Promise<{ event: string; data: any; id?: string }[]> {
    const res = await fetch(`${server.url}${path}`, init);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await res.text();
    return text
      .trim()
      .split('\n\n')
      .map((block) => {
        const fields = Object.fromEntries(
          block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
        );
        return { event: fields.event, data: JSON.parse(fields.data), id: fields.id };
      });
  }

  it('POST /runs starts a run; its events stream as SSE (past, then live); GET /runs/:id returns the result', async () => {
    const workflows = await json(fetch(`${server.url}/workflows`));
    expect(workflows.workflows.map((w: { name: string }) => w.name)).toEqual(['gated', 'greet', 'nap']);
    expect(workflows.problems[0]).toMatch(/broken.yaml: tasks\[0\]\.tool: unknown tool "no_such_tool"/);

    const res = await post('/runs', { workflow: 'greet', input: { name: 'Ada' } });
    expect(res.status).toBe(202);
    const { runId } = await json(res);
    const events = await sse(`/runs/${runId}/events`);
    expect(events.map((e) => e.event)).toEqual([
      'run.started',
      'task.ready',
      'task.started',
      'task.succeeded',
      'run.finished',
      'end',
    ]);
    expect(events.slice(0, -1).map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 5]);
    const resumedFrom3 = await sse(`/runs/${runId}/events`, { headers: { 'last-event-id': '3' } });
    expect(resumedFrom3.map((e) => e.event)).toEqual(['task.succeeded', 'run.finished', 'end']);
    const result = await json(fetch(`${server.url}/runs/${runId}`));
    expect(result).toMatchObject({
      runId,
      status: 'succeeded',
      tasks: { hello: { status: 'succeeded', output: 'hello Ada' } },
    });
  });

  it('GET /runs/:id/events follows a run that another writer is recording (e.g. braid run) until it finishes', async () => {
    const running = runWorkflow(
      {
        name: 'elsewhere',
        tasks: [
          { id: 'nap', tool: 'sleep', input: { ms: 300 } },
          { id: 'after', tool: 'echo', input: { value: 1 }, dependencies: ['nap'] },
        ],
      },
      { store, runId: 'elsewhere-1' },
    );
    await new Promise((r) => setTimeout(r, 50));
    const events = await sse('/runs/elsewhere-1/events');
    expect(events.map((e) => e.event)).toEqual([
      'run.started',
      'task.ready',
      'task.started',
      'task.succeeded',
      'task.ready',
      'task.started',
      'task.succeeded',
      'run.finished',
      'end',
    ]);
    expect((await running).status).toBe('succeeded');
  });

  it('bad requests get 4xx JSON errors with a code, a message and the field path', async () => {
    const cases: [Response, number, Record<string, unknown>][] = [
      [await post('/runs', { workflow: 'nope' }), 404, { code: 'E_NOT_FOUND', path: 'workflow' }],
      [await post('/runs', { workflow: 'greet', input: {} }), 400, { code: 'E_INPUT', path: 'input.name' }],
      [await post('/runs', { workflow: 'greet', input: { name: 5 } }), 400, { code: 'E_INPUT', path: 'input.name' }],
      [await post('/runs', '{"workflow": '), 400, { code: 'E_BAD_JSON' }],
      [await post('/runs', { workflow: 'greet', extra: 1 }), 400, { code: 'E_BAD_REQUEST' }],
      [await post('/runs', { workflow: 'x'.repeat(5000) }), 413, { code: 'E_TOO_LARGE' }],
      [await fetch(`${server.url}/runs/20260101T000000-abcdef`), 404, { code: 'E_NOT_FOUND' }],
      [await post('/runs/none/cancel', {}), 404, { code: 'E_NOT_FOUND' }],
      [await post('/chat', { message: '' }), 400, { code: 'E_BAD_REQUEST', path: 'message' }],
    ];
    for (const [res, status, error] of cases) {
      expect(res.status).toBe(status);
      const body = await json(res);
      expect(body.error).toMatchObject(error);
      expect(body.error.message.length).toBeGreaterThan(5);
    }
  });

  it('POST /runs/:id/cancel cancels a running workflow; a second cancel is a 409', async () => {
    const { runId } = await json(post('/runs', { workflow: 'nap' }));
    await new Promise((r) => setTimeout(r, 50));
    expect((await post(`/runs/${runId}/cancel`, {})).status).toBe(202);
    const events = await sse(`/runs/${runId}/events`);
    expect(events.at(-2)!.data).toMatchObject({ type: 'run.finished', status: 'cancelled' });
    const again = await post(`/runs/${runId}/cancel`, {});
    expect(again.status).toBe(409);
    expect((await json(again)).error.code).toBe('E_CONFLICT');
  });

  it('POST /runs/:id/approve continues a run waiting for a human', async () => {
    const { runId } = await json(post('/runs', { workflow: 'gated' }));
    const first = await sse(`/runs/${runId}/events`);
    expect(first.map((e) => e.event)).toContain('task.waiting');
    expect((await post(`/runs/${runId}/approve`, { taskId: 'draft' })).status).toBe(409);
    const ok = await post(`/runs/${runId}/approve`, { taskId: 'publish', by: 'ana' });
    expect(ok.status).toBe(202);
    const rest = await sse(`/runs/${runId}/events`);
    expect(rest.at(-2)!.data).toMatchObject({ type: 'run.finished', status: 'succeeded' });
    const result = await json(fetch(`${server.url}/runs/${runId}`));
    expect(result.tasks.publish).toMatchObject({ status: 'succeeded', output: 'published draft' });
  });

  it('POST /chat streams one chat turn; the session carries the confirmation over', async () => {
    const catalog = await WorkflowCatalog.load('examples');
    const llm = new OfflineProvider();
    const chat = await startServer({ catalog, llm, runs: new RunManager({ catalog, llm }), port: 0 });
    try {
      const ask = async (body: unknown) => {
        const res = await fetch(`${chat.url}/chat`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        return text
          .trim()
          .split('\n\n')
          .map((b) =>
            JSON.parse(
              b
                .split('\n')
                .find((l) => l.startsWith('data:'))!
                .slice(5),
            ),
          );
      };
      const first = await ask({ message: 'write an email about solar kites to the team' });
      const { sessionId } = first[0];
      expect(first[1]).toMatchObject({ type: 'confirm', workflow: 'conditional', input: { topic: 'solar kites' } });
      const second = await ask({ message: 'yes', sessionId });
      expect(second.map((c) => c.type)).toContain('run.started');
      expect(second.find((c) => c.type === 'run.finished').result.status).toBe('succeeded');
      expect(second.at(-2).text).toMatch(/^\[offline\] conditional succeeded/);
    } finally {
      await chat.close();
    }
  });

  it('refuses to listen beyond loopback without a token; with a token, requests need it', async () => {
    const catalog = await WorkflowCatalog.load(FIXTURES);
    const llm = new OfflineProvider();
    const runs = new RunManager({ catalog, llm });
    await expect(startServer({ catalog, llm, runs, host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /needs a bearer token: set BRAID_TOKEN/,
    );
    const guarded = await startServer({ catalog, llm, runs, port: 0, token: 's3cret' });
    try {
      const denied = await fetch(`${guarded.url}/workflows`);
      expect(denied.status).toBe(401);
      expect((await json(denied)).error.code).toBe('E_UNAUTHORIZED');
      expect((await fetch(`${guarded.url}/workflows`, { headers: { authorization: 'Bearer wrong!' } })).status).toBe(
        401,
      );
      expect((await fetch(`${guarded.url}/workflows`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(
        200,
      );
      expect((await fetch(`${guarded.url}/health`)).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('braid chat (spawned, driven through stdin)', () => {
  it('a typed request picks the conditional workflow, confirms, shows live progress and the outcome', async () => {
    const r = await braid(['chat', '--workflows', 'examples'], {
      input: 'write an email about solar kites to the team\nyes\n/runs\n/quit\n',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/braid> I will run conditional with topic: "solar kites"/);
    expect(r.stdout).toMatch(/▶ conditional started \(run (\S+)\)/);
    expect(r.stdout).toMatch(/│ task_1 labeled "(good|bad)"/);
    expect(r.stdout).toMatch(/■ conditional succeeded/);
    expect(r.stdout).toMatch(/braid> \[offline\] conditional succeeded/);
    const runId = /▶ conditional started \(run (\S+)\)/.exec(r.stdout)![1];
    expect(r.stdout).toMatch(new RegExp(`${runId}\\s+conditional\\s+succeeded`));
  });
});

describe('braid serve (spawned)', () => {
  it('serves the API on a free port and stops cleanly on SIGTERM', async () => {
    let url = '';
    let events = '';
    const exit = braid(['serve', '--port', '0', '--workflows', FIXTURES], {
      onStderr: (chunk, child) => {
        const m = /braid serve: (http:\/\/\S+)/.exec(chunk);
        if (!m) return;
        url = m[1];
        void (async () => {
          const res = await fetch(`${url}/runs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ workflow: 'greet', input: { name: 'Lin' } }),
          });
          const { runId } = await json(res);
          events = await (await fetch(`${url}/runs/${runId}/events`)).text();
          child.kill('SIGTERM');
        })();
      },
    });
    const { code } = await exit;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(events).toMatch(/event: run.finished\ndata: .*"status":"succeeded"/);
    expect(code).toBe(0);
  });
});
