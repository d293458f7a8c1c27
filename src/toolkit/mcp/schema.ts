/**
 * The `mcpServers` record (in a workflow: `mcp_servers:`), as a zod schema; the file format (spec/schema.ts) includes
 * it.
 */
import { z } from 'zod';

const stdioServer = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
});
const remoteServer = z.strictObject({
  url: z.url(),
  headers: z.record(z.string(), z.string()).optional(),
});
/** An MCP server whose tools become `<server>.<tool>`: stdio (`command`) or Streamable HTTP (`url`). */
export const mcpServerSchema = z.union([stdioServer, remoteServer], {
  error: 'an MCP server is { command, args?, env?, cwd? } (stdio) or { url, headers? } (Streamable HTTP)',
});
export const mcpServersSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_-]+$/, 'server names are letters, digits, _ and -'),
  mcpServerSchema,
);
