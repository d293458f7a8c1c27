/**
 * MCP sessions are isolated (issue 30): a full session table never takes a busy session (and its running workflow)
 * away from another client; a new `initialize` is refused with 503 and a JSON-RPC error instead, and every call
 * answers with a result. `braid mcp` answers a stdio message over its limit with a JSON-RPC error and a non-zero exit.
 * Real servers: `braid serve`'s app on a loopback port with the SDK's client, and a `braid mcp` child process.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlRunStore } from '../src/index.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import type { McpSessionLimits } from '../src/server/mcp-http.js';
import type { RunningServer } from '../src/server/serve.js';
import { BIN, BRAID_HOME, ROOT } from './support/cli.js';
import { serveForTest } from './support/server.js';

const base = mkdtempSync(join(tmpdir(), 'braid-mcp-isolation-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const workflows = join(base, 'workflows');
mkdirSync(workflows);
writeFileSync(
  join(workflows, 'busy.yaml'),
  `name: busy
description: Sleep a while, then answer.
inputs:
  type: object
  properties:
    who: { type: string }
tasks:
  - id: nap
    tool: sleep
    input: { ms: 1500 }
  - id: answer
    tool: echo
    input: { value: "done for {{ input.who }}" }
    dependencies: [nap]
output:
  answer: "{{ tasks.answer.output }}"
`,
);

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function serverWith(mcp: McpSessionLimits): Promise<RunningServer> {
  const catalog = await WorkflowCatalog.load(workflows);
  return serveForTest(catalog, { store: new JsonlRunStore(mkdtempSync(join(base, 'runs-'))), mcp });
}

async function open(server: RunningServer): Promise<Client> {
  const client = new Client({ name: 'braid-isolation-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
  return client;
}

/** Start a busy call on each client; resolves once the server lists `running` busy runs running. */
async function busyCalls(clients: Client[], running = clients.length): Promise<Promise<CallToolResult>[]> {
  const calls = clients.map(
    (c, i) => c.callTool({ name: 'busy', arguments: { who: `client ${i}` } }) as Promise<CallToolResult>,
  );
  for (const call of calls) call.catch(() => {}); // awaited by the test; a failed test leaves none unhandled
  await until(`${running} busy runs running`, async () => {
    const listed = (await clients[0].listResources()).resources.filter((r) => /^busy running/.test(r.title ?? ''));
    return listed.length === running ? true : undefined;
  });
  return calls;
}

/** A raw initialize POST: status and parsed body (never an empty one). */
async function rawInitialize(server: RunningServer): Promise<{ status: number; body: any; retryAfter: string | null }> {
  const res = await fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(initialize),
  });
  const text = await res.text();
  expect(text).not.toBe('');
  return {
    status: res.status,
    body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
    retryAfter: res.headers.get('retry-after'),
  };
}

describe('/mcp: a full table of busy sessions', () => {
  it('refuses one more initialize with 503 and a JSON-RPC error; the busy clients get their results', async () => {
    const server = await serverWith({ maxSessions: 3, maxSessionsPerClient: 3 });
    const clients = await Promise.all([open(server), open(server), open(server)]);
    try {
      const calls = await busyCalls(clients);

      const refused = await rawInitialize(server);
      expect(refused.status).toBe(503);
      expect(refused.retryAfter).toBe('5');
      expect(refused.body).toEqual({
        jsonrpc: '2.0',
        id: 1,
        error: { code: -32000, message: 'too many sessions (3, all busy); retry later' },
      });
      await expect(open(server)).rejects.toThrow(/too many sessions/);

      const results = await Promise.all(calls);
      results.forEach((r, i) => {
        expect(r.isError).toBeFalsy();
        expect(r.structuredContent).toEqual({ answer: `done for client ${i}` });
      });

      // Idle now: a new session takes the least recently used one's place, and that one's next request is a 404.
      const fourth = await open(server);
      expect((await fourth.listTools()).tools.map((t) => t.name)).toEqual(['busy']);
      const answers = await Promise.allSettled(clients.map((c) => c.listTools()));
      expect(answers.map((a) => a.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(String((answers.find((a) => a.status === 'rejected') as PromiseRejectedResult).reason)).toMatch(
        /no MCP session/,
      );
      await fourth.close();
    } finally {
      await Promise.allSettled(clients.map((c) => c.close()));
      await server.close();
    }
  }, 30_000);

  it("one client's share is bounded: past it its own idle session goes, and with all of them busy it is refused", async () => {
    const server = await serverWith({ maxSessions: 10, maxSessionsPerClient: 2 });
    const [a, b] = await Promise.all([open(server), open(server)]);
    try {
      // One busy, one idle: a third session closes the idle one, not the busy one.
      const [call] = await busyCalls([a]);
      const c = await open(server);
      await expect(b.listTools()).rejects.toThrow(/no MCP session/);
      // Both of this client's sessions busy now: refused, and the busy calls answer.
      const [call2] = await busyCalls([c], 2);
      const refused = await rawInitialize(server);
      expect(refused.status).toBe(503);
      expect(refused.body.error).toEqual({
        code: -32000,
        message: 'too many sessions for this client (2, all busy); retry later',
      });
      for (const r of await Promise.all([call, call2])) expect(r.isError).toBeFalsy();
      await c.close();
    } finally {
      await Promise.allSettled([a.close(), b.close()]);
      await server.close();
    }
  }, 30_000);
});

describe('braid mcp: a stdio message over the limit', () => {
  it('answers the messages before it, then a JSON-RPC error, and exits 2 with the reason on stderr', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp', '--workflows', workflows], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', OPENAI_API_KEY: '', BRAID_HOME },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.on('error', () => {}); // it stops reading: the rest of the 16 MB is refused (EPIPE)
    const exited = new Promise<number | null>((done) => child.on('close', done));
    child.stdin.write(`${JSON.stringify(initialize)}\n`);
    child.stdin.write(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"busy","arguments":{"who":"`);
    child.stdin.end(`${'x'.repeat(16 * 1024 * 1024)}"}}}\n`);

    expect(await exited).toBe(2);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'braid' } } });
    expect(lines.at(-1)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: expect.stringMatching(/over the limit of 4194304 bytes \(4 MiB\) per message/) },
    });
    expect(stderr).toMatch(/braid mcp: a message of at least \d+ bytes is over the limit/);
    expect(stderr).not.toMatch(/\n\s+at /); // a message, not a stack
  }, 30_000);
});
