/**
 * MCP servers as tool sources, configured in the common `mcpServers` shape (Claude Desktop, Cursor, VS Code):
 * `{ "mcpServers": { "files": { "command": "npx", "args": [...], "env": {...} }, "remote": { "url": "...", "headers":
 * {...} } } }`.
 * A workflow may hold the same record as `mcp_servers:`. Light: no MCP SDK is loaded to read a config.
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { BraidError } from '../../errors.js';
import { mcpServerSchema, mcpServersSchema } from './schema.js';

export { mcpServerSchema, mcpServersSchema };

export type McpServerConfig = z.infer<typeof mcpServerSchema>;
export type McpServers = z.infer<typeof mcpServersSchema>;

/** Read a servers file: `{ mcpServers: {...} }` (or the record itself). Errors name the file and field. */
export async function readMcpConfig(file: string): Promise<McpServers> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BraidError('E_CONFIG', `${file}: cannot read MCP servers: ${(err as Error).message}`);
  }
  const record =
    value && typeof value === 'object' && 'mcpServers' in value ? (value as { mcpServers: unknown }).mcpServers : value;
  const parsed = mcpServersSchema.safeParse(record);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new BraidError('E_CONFIG', `${file}: mcpServers.${i.path.map(String).join('.')}: ${i.message}`);
  }
  return parsed.data;
}

/** The `mcp_servers` of a workflow value (before validation; undefined when it has none). */
export function mcpServersOf(workflow: unknown): McpServers | undefined {
  if (!workflow || typeof workflow !== 'object' || Array.isArray(workflow)) return undefined;
  const raw = (workflow as { mcp_servers?: unknown }).mcp_servers;
  if (raw === undefined) return undefined;
  const parsed = mcpServersSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined; // a bad section is reported by validation
}

/**
 * Refuse `servers` (a recorded workflow's `mcp_servers`) unless each is in `allowed` with the same settings
 * (command, arguments, environment, URL, headers): a stored record never makes this process start a program or
 * reach an address its operator did not configure (workflow-spec.md §9). `E_CONFIG` names the first that is not.
 */
export function assertMcpAllowed(
  servers: McpServers | undefined,
  allowed: McpServers | undefined,
  where: string,
): void {
  for (const [name, server] of Object.entries(servers ?? {})) {
    const mine = allowed && Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (mine && stable(mine) === stable(server)) continue;
    throw new BraidError(
      'E_CONFIG',
      `${where}: MCP server "${name}" is not in this process's allow-list${mine ? ' (a server of that name is, with other settings)' : ''}: a recorded workflow may only use servers configured here; give them with --mcp servers.json (the same settings as in the workflow)`,
    );
  }
}

/** JSON with keys sorted: equal for equal settings whatever order their keys were written in. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}
