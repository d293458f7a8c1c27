/** `braid config`: its options and help; the command itself is config-command.ts, loaded when it runs. */
import type { Command } from 'commander';

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('print the resolved settings (project config, environment, defaults) and where each came from')
    .option('--json', 'print { file, settings: { <name>: { value, source } } } as JSON')
    .addHelpText(
      'after',
      `
The project config is braid.config.json (or .yaml, .yml, .mjs, .js, .ts) or a "braid" key in package.json,
found by walking up from the current folder. Paths in it resolve relative to its file. Example:
  { "tools": ["./tools.mjs"], "workflows": "workflows",
    "mcp_servers": { "files": { "command": "npx", "args": ["@modelcontextprotocol/server-filesystem", "."] } },
    "defaults": { "provider": "offline", "concurrency": 4, "store": ".braid", "outbox": "outbox" } }
A flag wins over an environment variable, which wins over the config. mcp_servers is also the allow-list
of servers a recorded workflow may start when it is resumed or taken over. See docs/environment.md.

Examples:
  braid config          # every setting, its value and where it came from (docs/cli.md shows the output)
  braid config --json   # the same as { file?, settings: { <name>: { value, source } } }`,
    )
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = (await import('../config-command.js')).configCommand(flags);
    });
}
