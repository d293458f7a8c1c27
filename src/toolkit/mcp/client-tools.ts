/**
 * Every tool of some MCP servers as braid tools named `<server>.<tool>`, through the official
 * `@modelcontextprotocol/sdk` client. Servers start when tools are first asked for, once per pool (a run,
 * or a `serve`/`worker` process), and stop on `close()`. A call validates its input against the tool's
 * JSON Schema first, passes progress notifications on as `task.progress`, and cancels the MCP request
 * when the attempt is aborted (timeout, Ctrl-C); an `isError` result fails the task with its text.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BraidError } from '../../errors.js';
import { effectsFromHints } from '../effects.js';
import { jsonSchemaInput } from '../json-schema-input.js';
import type { Tool } from '../types.js';
import type { McpServerConfig, McpServers } from './config.js';

type ContentPart = { type: string; text?: string };

export class McpPool {
  readonly #servers: McpServers;
  readonly #clients = new Map<string, Client>();
  #tools?: Promise<Tool[]>;

  constructor(servers: McpServers) {
    this.#servers = servers;
  }

  /** Connect to every server (in parallel) and list their tools; once per pool. */
  tools(): Promise<Tool[]> {
    this.#tools ??= Promise.all(
      Object.entries(this.#servers).map(([name, config]) => this.#serverTools(name, config)),
    ).then((lists) => lists.flat());
    return this.#tools;
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.allSettled(clients.map((c) => c.close()));
  }

  async #serverTools(server: string, config: McpServerConfig): Promise<Tool[]> {
    const client = new Client({ name: 'braid', version: '0.1.0' });
    const transport =
      'command' in config
        ? new StdioClientTransport({
            command: config.command,
            args: config.args ?? [],
            env: { ...inheritedEnv(), ...config.env },
            ...(config.cwd ? { cwd: config.cwd } : {}),
            stderr: 'ignore',
          })
        : new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers ?? {} } });
    try {
      await client.connect(transport);
    } catch (err) {
      throw new BraidError('E_TOOLS_MODULE', `MCP server "${server}" did not start: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#clients.set(server, client);
    const listed: McpListedTool[] = [];
    for (let cursor: string | undefined, first = true; first || cursor; first = false) {
      const page = await client.listTools(cursor ? { cursor } : undefined);
      listed.push(...(page.tools as typeof listed));
      cursor = page.nextCursor;
    }
    return listed.map((t) => mcpTool(server, client, t));
  }
}

/** A tool as an MCP server lists it. */
interface McpListedTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  annotations?: { readOnlyHint?: boolean; idempotentHint?: boolean };
}

function mcpTool(server: string, client: Client, t: McpListedTool): Tool {
  const { $schema: _, ...schema } = t.inputSchema;
  return {
    name: `${server}.${t.name}`,
    description: t.description ?? `${t.name} (MCP server ${server})`,
    input: jsonSchemaInput(schema),
    // The server's hints (spec §7a); a tool without them is external.
    effects: effectsFromHints(t.annotations),
    async run(input, ctx) {
      const result = await client.callTool({ name: t.name, arguments: input as Record<string, unknown> }, undefined, {
        signal: ctx.signal,
        resetTimeoutOnProgress: true,
        // the task's own timeout_ms bounds the call; the SDK's default 60 s would cut long tools short
        timeout: 24 * 60 * 60 * 1000,
        onprogress: (p) =>
          ctx.emit({
            ...(p.total ? { progress: p.progress / p.total } : {}),
            message: p.message ?? `${p.progress}${p.total ? ` of ${p.total}` : ''}`,
            data: p,
          }),
      });
      const content = (result.content ?? []) as ContentPart[];
      const text = content
        .filter((c) => c.type === 'text')
        .map((c) => c.text ?? '')
        .join('\n');
      if (result.isError) throw new Error(`${server}.${t.name}: ${text || 'the MCP tool reported an error'}`);
      if (result.structuredContent !== undefined) return result.structuredContent;
      return content.every((c) => c.type === 'text') ? text : { content };
    },
  };
}

/** What a stdio server inherits: PATH and the like, as the SDK's default environment does, plus HOME. */
function inheritedEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR', 'SYSTEMROOT', 'APPDATA'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]));
}
