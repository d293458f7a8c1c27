/**
 * `--mcp servers.json` and a workflow's `mcp_servers`: one pool of MCP servers for a command, its tools
 * added to the registry, closed when the command ends. The MCP SDK loads only when a server is configured.
 */
import { mcpServersOf, readMcpConfig, type McpServers } from '../toolkit/mcp/config.js';
import type { Tool } from '../toolkit/types.js';
import { configuredMcpServers } from './project-config.js';
import { optional } from '../core/optional.js';

export interface McpForCommand {
  readonly tools: readonly Tool[];
  /** Pass as `runWorkflow({ mcp })`: the run uses this pool and leaves it open. */
  readonly source?: { tools(): Promise<Tool[]> };
  close(): Promise<void>;
}

const NONE: McpForCommand = { tools: [], close: async () => {} };

/**
 * The MCP servers this process is configured with: `file` (`--mcp`), else the project config's `mcp_servers`. They
 * are also the allow-list of servers a recorded workflow may start (workflow-spec.md §9).
 */
export async function configuredServers(file: string | undefined): Promise<McpServers | undefined> {
  return file ? readMcpConfig(file) : configuredMcpServers();
}

/** The configured servers (see {@link configuredServers}) plus the workflow's own. */
export async function openMcp(file: string | undefined, workflow?: unknown): Promise<McpForCommand> {
  const servers: McpServers = { ...(await configuredServers(file)), ...mcpServersOf(workflow) };
  if (Object.keys(servers).length === 0) return NONE;
  const { McpPool } = await optional('mcpClient', () => import('../toolkit/mcp/client-tools.js'));
  const pool = new McpPool(servers);
  try {
    return { tools: await pool.tools(), source: pool, close: () => pool.close() };
  } catch (err) {
    await pool.close();
    throw err;
  }
}
