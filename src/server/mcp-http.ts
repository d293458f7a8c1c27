/**
 * `/mcp` on `braid serve`: the MCP server of `braid mcp` over Streamable HTTP, behind the app's own checks
 * (Host, Origin, bearer token, JSON POST bodies, body size). Stateful: an `initialize` POST opens a session
 * (its id in the `Mcp-Session-Id` header) with its own McpServer and transport, so a client's
 * `notifications/cancelled` reaches the request it cancels; DELETE ends the session.
 */
import { randomUUID } from 'node:crypto';
import type { Hono } from 'hono';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { RunHandle } from '../service/run-manager.js';
import { createMcpServer, type McpServiceOptions } from './mcp.js';

export interface McpHttpOptions extends McpServiceOptions {
  /** Open sessions kept (the least recently used is closed first). @default 100 */
  readonly maxSessions?: number;
  /** A session unused this long, with no run going, is closed. @default 1 hour */
  readonly idleMs?: number;
}

interface Session {
  readonly server: McpServer;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  /** Runs its tool calls started (finished ones are dropped as new ones come). */
  readonly runs: Set<RunHandle>;
  lastUsed: number;
}

const busy = (s: Session) => [...s.runs].some((h) => !h.finished);

const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0' as const, error: { code, message }, id: null });

export function mountMcp(app: Hono, options: McpHttpOptions): void {
  const sessions = new Map<string, Session>();
  const maxSessions = options.maxSessions ?? 100;
  const idleMs = options.idleMs ?? 60 * 60 * 1000;

  const close = (id: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    void s.server.close().catch(() => {}); // aborts its running requests: their runs are cancelled
  };

  app.all('/mcp', async (c) => {
    const id = c.req.header('mcp-session-id');
    if (id !== undefined) {
      const session = sessions.get(id);
      if (!session)
        return c.json(
          rpcError(
            -32001,
            `no MCP session "${id.slice(0, 80)}" (it ended or the server restarted); initialize a new one`,
          ),
          404,
        );
      session.lastUsed = Date.now();
      sessions.delete(id); // kept in least-recently-used order
      sessions.set(id, session);
      return session.transport.handleRequest(c.req.raw);
    }
    if (c.req.method !== 'POST')
      return c.json(rpcError(-32000, 'no Mcp-Session-Id header: start a session with an initialize POST'), 400);

    // A new session (the transport answers anything but an initialize request with an error, and then none is kept).
    const now = Date.now();
    for (const [sid, s] of sessions) if (now - s.lastUsed > idleMs && !busy(s)) close(sid);
    const runs = new Set<RunHandle>();
    const server = createMcpServer({
      ...options,
      onRun: (handle) => {
        for (const h of runs) if (h.finished) runs.delete(h);
        runs.add(handle);
      },
    });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        sessions.set(sid, { server, transport, runs, lastUsed: Date.now() });
        // Too many: the least recently used session goes, an idle one first.
        while (sessions.size > maxSessions)
          close([...sessions].find(([k, s]) => k !== sid && !busy(s))?.[0] ?? sessions.keys().next().value!);
      },
      onsessionclosed: (sid) => close(sid),
    });
    server.server.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    const response = await transport.handleRequest(c.req.raw);
    if (!transport.sessionId) void server.close().catch(() => {});
    return response;
  });
}
