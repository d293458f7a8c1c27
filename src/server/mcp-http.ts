/**
 * `/mcp` on `braid serve`: the MCP server of `braid mcp` over Streamable HTTP, behind the app's own checks
 * (Host, Origin, bearer token, JSON POST bodies, body size). Stateful: an `initialize` POST opens a session
 * (its id in the `Mcp-Session-Id` header) with its own McpServer and transport, so a client's
 * `notifications/cancelled` reaches the request it cancels; DELETE ends the session.
 *
 * Sessions are isolated: closing one cancels its runs, so only an idle session (no run going, no request being
 * answered) is ever closed to make room. When the table (or a client's share of it) is full of busy sessions, a new
 * `initialize` is refused with 503 and a JSON-RPC error rather than taking another client's session away.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Hono } from 'hono';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { RunHandle } from '../service/run-manager.js';
import { createMcpServer, type McpServiceOptions } from './mcp.js';

export interface McpSessionLimits {
  /**
   * Open sessions kept; past it the least recently used idle one is closed, and with none idle a new one is refused.
   * @default 100
   */
  readonly maxSessions?: number;
  /**
   * Open sessions of one client (its remote address: every client of a server shares its one bearer token), with the
   * same rule among its own sessions. @default half of maxSessions
   */
  readonly maxSessionsPerClient?: number;
  /** A session unused this long, with no run going, is closed. @default 1 hour */
  readonly idleMs?: number;
}

export interface McpHttpOptions extends McpServiceOptions, McpSessionLimits {}

interface Session {
  readonly server: McpServer;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  /** Runs its tool calls started (finished ones are dropped as new ones come). */
  readonly runs: Set<RunHandle>;
  /** Who opened it (see {@link clientOf}). */
  readonly client: string;
  /** POSTs whose answer is still being written. */
  pending: number;
  lastUsed: number;
}

const busy = (s: Session) => s.pending > 0 || [...s.runs].some((h) => !h.finished);

const rpcError = (code: number, message: string, id: string | number | null = null) => ({
  jsonrpc: '2.0' as const,
  error: { code, message },
  id,
});

/** The client a request comes from: its remote address (node-server's `incoming`); "local" for an in-process fetch. */
function clientOf(c: Context): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'local';
}

/** The `initialize` request of a sessionless POST, if it is one (read from a copy: the transport reads the body). */
async function initializeRequest(c: Context): Promise<{ id: string | number | null } | undefined> {
  const body: unknown = await c.req.raw
    .clone()
    .json()
    .catch(() => undefined); // not JSON: not an initialize request, and the transport answers the parse error
  const first = Array.isArray(body) ? body[0] : body;
  if (typeof first !== 'object' || first === null || (first as { method?: unknown }).method !== 'initialize')
    return undefined;
  const id = (first as { id?: unknown }).id;
  return { id: typeof id === 'string' || typeof id === 'number' ? id : null };
}

/** `res` with a body that calls `done` once when it has been read to its end, failed, or been cancelled. */
function whenSent(res: Response, done: () => void): Response {
  if (!res.body) {
    done();
    return res;
  }
  const reader = res.body.getReader();
  let ended = false;
  const end = () => {
    if (!ended) ((ended = true), done());
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) {
          end();
          controller.close();
        } else controller.enqueue(next.value);
      } catch (err) {
        end();
        controller.error(err);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

export function mountMcp(app: Hono, options: McpHttpOptions): void {
  const sessions = new McpSessions(options);
  app.all('/mcp', (c) => {
    const id = c.req.header('mcp-session-id');
    if (id !== undefined) return sessions.forward(c, id);
    if (c.req.method !== 'POST')
      return c.json(rpcError(-32000, 'no Mcp-Session-Id header: start a session with an initialize POST'), 400);
    return sessions.open(c);
  });
}

/** The open sessions of one app's `/mcp`, least recently used first, and the room for new ones. */
class McpSessions {
  readonly #sessions = new Map<string, Session>();
  /** Initialize requests being answered, per client: their sessions count before they exist. */
  readonly #opening = new Map<string, number>();
  readonly #max: number;
  readonly #perClient: number;
  readonly #idleMs: number;

  constructor(readonly options: McpHttpOptions) {
    this.#max = Math.max(1, options.maxSessions ?? 100);
    this.#perClient = Math.max(1, Math.min(this.#max, options.maxSessionsPerClient ?? Math.floor(this.#max / 2)));
    this.#idleMs = options.idleMs ?? 60 * 60 * 1000;
  }

  /** A request of session `id`: its transport answers it (a POST counts as pending until its answer is written). */
  async forward(c: Context, id: string): Promise<Response> {
    const session = this.#sessions.get(id);
    if (!session)
      return c.json(
        rpcError(
          -32001,
          `no MCP session "${id.slice(0, 80)}" (it ended or the server restarted); initialize a new one`,
        ),
        404,
      );
    session.lastUsed = Date.now();
    this.#sessions.delete(id); // kept in least-recently-used order
    this.#sessions.set(id, session);
    if (c.req.method !== 'POST') return session.transport.handleRequest(c.req.raw); // GET: the notification stream
    session.pending++;
    let response: Response;
    try {
      response = await session.transport.handleRequest(c.req.raw);
    } catch (err) {
      session.pending--;
      throw err;
    }
    return whenSent(response, () => {
      session.pending--;
      session.lastUsed = Date.now();
    });
  }

  /**
   * A POST without a session: a new session (the transport answers anything but an initialize request with an error,
   * and then none is kept).
   */
  async open(c: Context): Promise<Response> {
    const now = Date.now();
    for (const [sid, s] of this.#sessions) if (now - s.lastUsed > this.#idleMs && !busy(s)) this.#close(sid);
    const client = clientOf(c);
    const init = await initializeRequest(c);
    if (init) {
      const refused = this.#makeRoom(client);
      if (refused) return c.json(rpcError(-32000, refused, init.id), 503, { 'retry-after': '5' });
      this.#opening.set(client, (this.#opening.get(client) ?? 0) + 1);
    }
    try {
      const { server, transport } = await this.#connect(client);
      const response = await transport.handleRequest(c.req.raw);
      // A sessionless request's server is done once it has answered: closing it can fail only once it is gone.
      if (!transport.sessionId) void server.close().catch(() => {});
      return response;
    } finally {
      if (init) {
        const n = (this.#opening.get(client) ?? 1) - 1;
        if (n > 0) this.#opening.set(client, n);
        else this.#opening.delete(client);
      }
    }
  }

  /** A new MCP server and its transport, connected; the session is kept once the transport has its id. */
  async #connect(client: string) {
    const runs = new Set<RunHandle>();
    const server = createMcpServer({
      ...this.options,
      onRun: (handle) => {
        for (const h of runs) if (h.finished) runs.delete(h);
        runs.add(handle);
      },
    });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        this.#sessions.set(sid, { server, transport, runs, client, pending: 0, lastUsed: Date.now() });
      },
      onsessionclosed: (sid) => this.#close(sid),
    });
    server.server.onclose = () => {
      if (transport.sessionId) this.#sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return { server, transport };
  }

  #close(id: string): void {
    const s = this.#sessions.get(id);
    if (!s) return;
    this.#sessions.delete(id);
    void s.server.close().catch(() => {}); // aborts its running requests: their runs are cancelled
  }

  /**
   * Room for one more session of `client`: the least recently used idle session goes (the client's own when it is at
   * its share). The reason it cannot be made when every candidate is busy.
   */
  #makeRoom(client: string): string | undefined {
    const mine = () => [...this.#sessions].filter(([, s]) => s.client === client);
    if (this.#perClient < this.#max && mine().length + (this.#opening.get(client) ?? 0) >= this.#perClient) {
      const idle = mine().find(([, s]) => !busy(s));
      if (!idle) return `too many sessions for this client (${this.#perClient}, all busy); retry later`;
      this.#close(idle[0]);
    }
    const all = () => this.#sessions.size + [...this.#opening.values()].reduce((a, b) => a + b, 0);
    while (all() >= this.#max) {
      const idle = [...this.#sessions].find(([, s]) => !busy(s));
      if (!idle) return `too many sessions (${this.#max}, all busy); retry later`;
      this.#close(idle[0]);
    }
    return undefined;
  }
}
