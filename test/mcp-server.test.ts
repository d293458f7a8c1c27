/**
 * braid as an MCP server, against MCP code nobody here wrote: the official SDK's own `Client`, over stdio
 * (spawning `braid mcp`) and over Streamable HTTP (`/mcp` of `braid serve`, behind its bearer token).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { serveForTest } from './support/server.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage, Progress } from '@modelcontextprotocol/sdk/types.js';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonlRunStore, OfflineProvider } from '../src/index.js';
import { loadUserTools } from '../src/cli/run-command.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { mountMcp } from '../src/server/mcp-http.js';
import type { RunningServer } from '../src/server/serve.js';
import { foldRun } from '../src/store/fold.js';
import { BIN, braid, ROOT } from './support/cli.js';

const base = mkdtempSync(join(tmpdir(), 'braid-mcp-server-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const workflows = join(base, 'workflows');
mkdirSync(workflows);
writeFileSync(
  join(workflows, 'greet.yaml'),
  `name: greet
description: Greet someone by name (and shout it when asked).
inputs:
  type: object
  required: [name]
  properties:
    name: { type: string, description: who to greet }
    loud: { type: boolean, description: shout too, default: false }
tasks:
  - id: hello
    tool: echo
    input: { value: "hello {{ input.name }}" }
  - id: shout
    tool: echo
    input: { value: "HELLO {{ input.name }}!" }
    dependencies: [hello]
    condition: "input.loud = true"
output:
  greeting: "{{ tasks.hello.output }}"
  shout: "{{ tasks.shout.status }}"
`,
);
writeFileSync(
  join(workflows, 'nap.yaml'),
  `name: nap
description: Sleep a while, then say so (a run to cancel).
tasks:
  - id: nap
    tool: sleep
    input: { ms: 8000 }
  - id: after
    tool: echo
    input: { value: rested }
    dependencies: [nap]
`,
);
writeFileSync(
  join(workflows, 'late.yaml'),
  `name: late
description: Log a note, then time out.
tasks:
  - id: note
    tool: noisy
  - id: slow
    tool: sleep
    input: { ms: 2000 }
    timeout_ms: 20
    dependencies: [note]
`,
);
writeFileSync(
  join(workflows, 'gated.yaml'),
  `name: gated
description: Publish a note after a human approves it.
confirm: true
tasks:
  - id: draft
    tool: echo
    input: { value: draft }
  - id: publish
    tool: echo
    approval: true
    input: { value: "published {{ tasks.draft.output }}" }
    dependencies: [draft]
`,
);
// A tool that prints on stdout: in braid mcp that must not reach the protocol stream.
const toolsFile = join(base, 'noisy-tools.mjs');
writeFileSync(
  toolsFile,
  `export const noisy = { name: 'noisy', description: 'Print a note', run: () => { console.log('noisy says hi'); return 'noted'; } };\n`,
);

const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;
const runIdOf = (r: CallToolResult) => (r._meta as { 'braid/runId': string })['braid/runId'];

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The run a client sees as a resource, parsed. */
async function readRun(client: Client, runId: string): Promise<any> {
  const read = await client.readResource({ uri: `braid://runs/${runId}` });
  expect(read.contents[0]).toMatchObject({ uri: `braid://runs/${runId}`, mimeType: 'application/json' });
  return JSON.parse((read.contents[0] as { text: string }).text);
}

/** Start a nap run, wait until the server lists it running, cancel the request, and return the run id. */
async function cancelNap(client: Client): Promise<{ runId: string; error: unknown; ms: number }> {
  const abort = new AbortController();
  const started = Date.now();
  const call = client.callTool({ name: 'nap', arguments: {} }, undefined, { signal: abort.signal }).then(
    () => undefined,
    (err: unknown) => err,
  );
  const running = await until('a running nap run', async () =>
    (await client.listResources()).resources.find((r) => /^nap running/.test(r.title ?? '')),
  );
  abort.abort('changed my mind');
  const error = await call;
  return { runId: running.name, error, ms: Date.now() - started };
}

/** Every message the client's transport receives, in order (the client handles them after this). */
function tap(transport: Transport): JSONRPCMessage[] {
  const wire: JSONRPCMessage[] = [];
  const handle = transport.onmessage!;
  transport.onmessage = (message, extra) => {
    wire.push(message);
    handle(message, extra);
  };
  return wire;
}

/**
 * The greet call's answer, and its progress: on the wire, one notification per finished task, in order,
 * all before the response; through `onprogress`, the same (the SDK client may drop one it reads in the same
 * chunk as the response, modelcontextprotocol/typescript-sdk#2580: braid waits a moment before answering,
 * which makes that rare, not impossible on a loaded machine).
 */
function checkGreeting(result: CallToolResult, progress: Progress[], wire: JSONRPCMessage[]): void {
  const expected = [
    { progress: 1, total: 2, message: 'hello succeeded' },
    { progress: 2, total: 2, message: 'shout skipped (condition_false)' },
  ];
  const at = wire.findIndex(
    (m) =>
      'result' in m && (m.result._meta as Record<string, unknown> | undefined)?.['braid/runId'] === runIdOf(result),
  );
  expect(at).toBeGreaterThan(0);
  const id = (wire[at] as { id: number }).id;
  const notes = wire.map((m, i) => ({ m: m as { method?: string; params?: { progressToken?: unknown } }, i }));
  const sent = notes.filter(({ m }) => m.method === 'notifications/progress' && m.params?.progressToken === id);
  expect(sent.map(({ m }) => ({ ...m.params, progressToken: undefined }))).toEqual(
    expected.map((p) => ({ ...p, progressToken: undefined })),
  );
  expect(sent.every(({ i }) => i < at)).toBe(true);
  expect(progress.length).toBeGreaterThanOrEqual(1);
  expect(progress).toEqual(expected.slice(0, progress.length));

  expect(result.isError).toBeFalsy();
  expect(result.structuredContent).toEqual({ greeting: 'hello Ada', shout: 'skipped' });
  expect(JSON.parse(text(result))).toEqual({ greeting: 'hello Ada', shout: 'skipped' });
  expect(result.content[1]).toMatchObject({ type: 'resource_link', uri: `braid://runs/${runIdOf(result)}` });
}

describe('braid mcp (stdio) with the SDK client', () => {
  const home = join(base, 'home');
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';
  let wire: JSONRPCMessage[] = [];
  const clientErrors: Error[] = [];

  beforeAll(async () => {
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--workflows', workflows, '--tools', toolsFile],
      cwd: ROOT,
      env: { ...(process.env as Record<string, string>), BRAID_HOME: home, NO_COLOR: '1', OPENAI_API_KEY: '' },
      stderr: 'pipe',
    });
    transport.stderr!.on('data', (d) => (stderr += d));
    client = new Client({ name: 'braid-test', version: '1.0.0' });
    client.onerror = (err) => clientErrors.push(err); // e.g. a line on stdout that is not a protocol message
    await client.connect(transport);
    wire = tap(transport);
  });
  afterAll(() => client?.close());

  it('lists every workflow as a tool: name, description, and its inputs as the input schema', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['gated', 'greet', 'late', 'nap']);
    const greet = tools.find((t) => t.name === 'greet')!;
    expect(greet.description).toBe('Greet someone by name (and shout it when asked).');
    expect(greet.inputSchema).toEqual({
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', description: 'who to greet' },
        loud: { type: 'boolean', description: 'shout too', default: false },
      },
    });
    expect(tools.find((t) => t.name === 'nap')!.inputSchema).toEqual({ type: 'object', properties: {} });
    expect(tools.find((t) => t.name === 'gated')!.annotations).toEqual({ destructiveHint: true }); // confirm: true
    expect(greet.annotations).toBeUndefined();
    expect(client.getServerVersion()).toMatchObject({ name: 'braid' });
  });

  it("calls a workflow: the run's output as structuredContent and text, a progress notification per finished task, the run readable as braid://runs/<id>", async () => {
    const progress: Progress[] = [];
    const result = (await client.callTool({ name: 'greet', arguments: { name: 'Ada' } }, undefined, {
      onprogress: (p) => progress.push(p),
    })) as CallToolResult;
    checkGreeting(result, progress, wire);

    const run = await readRun(client, runIdOf(result));
    expect(run).toMatchObject({
      runId: runIdOf(result),
      workflow: 'greet',
      status: 'succeeded',
      output: { greeting: 'hello Ada', shout: 'skipped' },
    });
    expect(run.tasks.shout).toMatchObject({ status: 'skipped', reason: 'condition_false' });
    const listed = (await client.listResources()).resources.find((r) => r.uri === `braid://runs/${runIdOf(result)}`);
    expect(listed).toMatchObject({
      name: runIdOf(result),
      title: expect.stringMatching(/^greet succeeded/),
      mimeType: 'application/json',
    });
    // Recorded as usual: the store under BRAID_HOME has it.
    expect(foldRun(await new JsonlRunStore(join(home, 'runs')).read(runIdOf(result))).status).toBe('succeeded');
  });

  it('bad arguments and a failed run are tool errors (isError) with the reasons; an unknown tool or run is a protocol error', async () => {
    const bad = (await client.callTool({ name: 'greet', arguments: { loud: 'yes' } })) as CallToolResult;
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/^invalid input for greet: .*name/);

    const late = (await client.callTool({ name: 'late', arguments: {} })) as CallToolResult;
    expect(late.isError).toBe(true);
    expect(text(late)).toMatch(
      new RegExp(`^run ${runIdOf(late)} of late failed:\\n- slow: .*(timed out|timeout)`, 'i'),
    );
    expect(late.structuredContent).toBeUndefined();
    expect((await readRun(client, runIdOf(late))).tasks.note.output).toBe('noted');

    await expect(client.callTool({ name: 'nope', arguments: {} })).rejects.toThrow(
      /no tool "nope"; tools: gated, greet, late, nap/,
    );
    await expect(client.readResource({ uri: 'braid://runs/20200101T000000-000000' })).rejects.toThrow(
      /no run "20200101T000000-000000"/,
    );
    await expect(client.readResource({ uri: 'braid://runs/..%2F..%2Fetc' })).rejects.toThrow(/no run/);
  });

  it('a run that waits for an approval says how to approve it, and is recorded as waiting', async () => {
    const result = (await client.callTool({ name: 'gated', arguments: {} })) as CallToolResult;
    const id = runIdOf(result);
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe(
      `run ${id} of gated is waiting for a human approval of publish: approve it with \`braid approve ${id} publish\` (or in the dashboard of braid serve), then read braid://runs/${id}`,
    );
    expect(await readRun(client, id)).toMatchObject({
      status: 'waiting',
      tasks: { draft: { status: 'succeeded' }, publish: { status: 'waiting' } },
    });
  });

  it("keeps stdout for protocol messages: a tool's console.log goes to stderr", async () => {
    expect(stderr).toContain('noisy says hi');
    expect(stderr).toMatch(/braid mcp: 4 workflows from .* as MCP tools over stdio/);
    // Nothing but protocol messages came (a late progress notification is the SDK client's own race, see
    // checkGreeting).
    expect(
      clientErrors.filter((e) => !/^Received a progress notification for an unknown token/.test(e.message)),
    ).toEqual([]);
  });

  it('a cancelled request cancels its run, recorded as cancelled', async () => {
    const { runId, error, ms } = await cancelNap(client);
    expect(String(error)).toMatch(/changed my mind|abort/i);
    const run = await until('the run recorded as cancelled', async () => {
      const r = await readRun(client, runId);
      return r.status === 'cancelled' ? r : undefined;
    });
    expect(run.tasks.after.status).not.toBe('succeeded');
    expect(ms).toBeLessThan(7000); // not the nap's 8 s
  });

  it('closing the client cancels the runs still going before braid mcp exits', async () => {
    const other = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--workflows', workflows, '--tools', toolsFile],
      cwd: ROOT,
      env: { ...(process.env as Record<string, string>), BRAID_HOME: home, OPENAI_API_KEY: '' },
      stderr: 'pipe',
    });
    let otherErr = '';
    other.stderr!.on('data', (d) => (otherErr += d));
    const c = new Client({ name: 'braid-test-2', version: '1.0.0' });
    await c.connect(other);
    void c.callTool({ name: 'nap', arguments: {} }).catch(() => {});
    const running = await until('a running nap run', async () =>
      (await c.listResources()).resources.find((r) => /^nap running/.test(r.title ?? '')),
    );
    const pid = other.pid!;
    await c.close(); // closes stdin, waits for the process to exit
    expect(() => process.kill(pid, 0)).toThrow();
    expect(otherErr).toMatch(/braid mcp: the client closed stdin; cancelling 1 running workflow/); // it left by itself, not by the SDK's SIGTERM
    expect(foldRun(await new JsonlRunStore(join(home, 'runs')).read(running.name)).status).toBe('cancelled');
  });
});

describe('braid mcp: usage', () => {
  it('a folder without workflows is a usage error on stderr; stdout stays empty', async () => {
    const r = await braid(['mcp', '--workflows', join(base, 'nowhere')]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/--workflows: no folder .*nowhere/);
  });
});

describe('/mcp on braid serve (Streamable HTTP) with the SDK client', () => {
  let server: RunningServer;
  let store: JsonlRunStore;
  const token = 'mcp-t0ken';
  let wire: JSONRPCMessage[] = [];
  const connect = async (headers?: Record<string, string>) => {
    const client = new Client({ name: 'braid-http-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(
      new URL(`${server.url}/mcp`),
      headers ? { requestInit: { headers } } : {},
    );
    await client.connect(transport);
    wire = tap(transport);
    return client;
  };

  beforeAll(async () => {
    const catalog = await WorkflowCatalog.load(workflows, { tools: await loadUserTools([toolsFile]) });
    const llm = new OfflineProvider();
    store = new JsonlRunStore(mkdtempSync(join(base, 'http-runs-')));
    server = await serveForTest(catalog, { llm, store, token });
  });
  afterAll(() => server?.close());

  it('refuses a client without the bearer token, or with a wrong one', async () => {
    await expect(connect()).rejects.toThrow(/401|missing or wrong bearer token/);
    await expect(connect({ Authorization: 'Bearer nope' })).rejects.toThrow(/401|missing or wrong bearer token/);
    const raw = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{}',
    });
    expect(raw.status).toBe(401);
  });

  it('with the token: lists the tools, calls one with progress, reads its run, cancels another', async () => {
    const client = await connect({ Authorization: `Bearer ${token}` });
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['gated', 'greet', 'late', 'nap']);
      const progress: Progress[] = [];
      const result = (await client.callTool({ name: 'greet', arguments: { name: 'Ada' } }, undefined, {
        onprogress: (p) => progress.push(p),
      })) as CallToolResult;
      checkGreeting(result, progress, wire);
      expect(await readRun(client, runIdOf(result))).toMatchObject({
        status: 'succeeded',
        output: { greeting: 'hello Ada' },
      });

      // The cancellation is a separate POST of the same session: it reaches the request it cancels.
      const { runId, ms } = await cancelNap(client);
      await until('the run recorded as cancelled', async () =>
        foldRun(await store.read(runId)).status === 'cancelled' ? true : undefined,
      );
      expect(ms).toBeLessThan(7000);
    } finally {
      await client.close();
    }
  });

  it('ending the session (DELETE) cancels the runs its calls started', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: 'braid-http-test', version: '1.0.0' });
    await client.connect(transport);
    void client.callTool({ name: 'nap', arguments: {} }).catch(() => {});
    const running = await until('a running nap run', async () =>
      (await client.listResources()).resources.find((r) => /^nap running/.test(r.title ?? '')),
    );
    await transport.terminateSession();
    await until('the run recorded as cancelled', async () =>
      foldRun(await store.read(running.name)).status === 'cancelled' ? true : undefined,
    );
    await client.close();
  });

  it('a request naming an unknown session gets 404; a GET without a session gets 400', async () => {
    const auth = { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream' };
    const unknown = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'mcp-session-id': 'no-such-session' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(
      /no MCP session "no-such-session"/,
    );
    const get = await fetch(`${server.url}/mcp`, { headers: auth });
    expect(get.status).toBe(400);
  });
});

describe('/mcp sessions', () => {
  it('past maxSessions the least recently used idle session is closed; its next request gets 404', async () => {
    const catalog = await WorkflowCatalog.load(workflows, { tools: await loadUserTools([toolsFile]) });
    const app = new Hono();
    mountMcp(app, { catalog, runs: new RunManager({ catalog, llm: new OfflineProvider() }), maxSessions: 1 });
    const fetch = async (url: string | URL, init?: RequestInit) => app.fetch(new Request(url, init));
    const open = async () => {
      const client = new Client({ name: 'braid-session-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL('http://localhost/mcp'), { fetch }));
      return client;
    };
    const first = await open();
    expect((await first.listTools()).tools).toHaveLength(4);
    const second = await open();
    expect((await second.listTools()).tools).toHaveLength(4);
    await expect(first.listTools()).rejects.toThrow(/404|no MCP session/);
    await Promise.all([first.close(), second.close()]);
  });
});
