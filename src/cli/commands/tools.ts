/** `braid tools`: its options; the command itself is tools-command.ts, loaded when it runs. */
import type { Command } from 'commander';
import type { ToolsFlags } from '../tools-command.js';
import { collect } from '../options.js';

export function registerTools(program: Command): void {
  program
    .command('tools')
    .description('list registered tools with their input schema')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .option('--mcp <servers.json>', 'also list the tools of these MCP servers (<server>.<tool>)')
    .option('--json', 'print name, description and JSON Schema of each tool as JSON')
    .action(async (flags: ToolsFlags) => {
      process.exitCode = await (await import('../tools-command.js')).toolsCommand(flags);
    });
}
