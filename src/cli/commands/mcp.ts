/**
 * `braid mcp`: its options and help; the command itself is mcp-command.ts, loaded when it runs (the MCP SDK is an
 * optional dependency: only this command needs it).
 */
import type { Command } from 'commander';
import { optional } from '../../core/optional.js';
import type { ServiceFlags } from '../chat.js';
import { serviceOptions } from '../options.js';

export function registerMcp(program: Command): void {
  serviceOptions(
    program
      .command('mcp')
      .description(
        'serve every workflow of a folder as an MCP tool over stdio (for Claude Desktop, Cursor, any MCP client); runs are recorded and readable as resources braid://runs/<id>',
      ),
    'do not record runs (only runs of this process can be read as resources)',
  )
    .addHelpText(
      'after',
      '\nAn MCP client starts it, e.g. in Claude Desktop\'s claude_desktop_config.json:\n  { "mcpServers": { "braid": { "command": "npx", "args": ["braid", "mcp", "--workflows", "/path/to/workflows"] } } }\n\nstdout carries MCP messages only; notes go to stderr. braid serve offers the same at /mcp (Streamable HTTP).',
    )
    .action(async (flags: ServiceFlags) => {
      process.exitCode = await (await optional('mcpServer', () => import('../mcp-command.js'))).mcpCommand(flags);
    });
}
