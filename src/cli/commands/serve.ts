/** `braid serve`: its options and help; the command itself is in chat.ts, loaded when it runs. */
import { Option, type Command } from 'commander';
import type { ServiceFlags } from '../chat.js';
import { portNumber, serviceOptions } from '../options.js';

export function registerServe(program: Command): void {
  serviceOptions(
    program
      .command('serve')
      .description(
        'the dashboard (open the printed URL in a browser) and the HTTP API: POST /runs, GET /runs, GET /runs/:id, GET /runs/:id/events (SSE), POST /runs/:id/cancel|approve|resume, POST /chat, GET /workflows, /mcp (MCP over Streamable HTTP)',
      ),
    'do not record runs (no approvals, no reading finished runs after a restart)',
  )
    .addOption(new Option('-p, --port <n>', 'port (0 picks a free one)').argParser(portNumber).default(8787))
    .option('--host <address>', 'address to listen on; beyond loopback BRAID_TOKEN is required', '127.0.0.1')
    .option(
      '--allowed-hosts <names>',
      'comma-separated Host names served without a token besides localhost, 127.0.0.1 and [::1]',
    )
    .addHelpText(
      'after',
      '\nExample:\n  braid serve --port 8787 &   # then open http://127.0.0.1:8787/\n  curl -s localhost:8787/runs -H "content-type: application/json" -d \'{"workflow":"parallel"}\'\n\nSet BRAID_TOKEN to require "Authorization: Bearer <token>" on every request.',
    )
    .action(async (flags: ServiceFlags & { port?: number; host?: string; allowedHosts?: string }) => {
      process.exitCode = await (await import('../chat.js')).serveCommand(flags);
    });
}
