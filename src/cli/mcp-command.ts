/**
 * `braid mcp`: the workflows of a folder as MCP tools over stdio, for MCP clients (Claude Desktop, Cursor,
 * an agent) that start braid as a child process. stdout carries protocol messages only; notes go to stderr.
 * A message over MAX_STDIO_MESSAGE_BYTES is answered with a JSON-RPC error and ends the command with exit 2.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createMcpServer } from '../server/mcp.js';
import { setUp, type ServiceFlags } from './chat.js';
import { EXIT } from './exit.js';
import { boundLines, MAX_STDIO_MESSAGE_BYTES } from './stdio-limit.js';

export async function mcpCommand(flags: ServiceFlags): Promise<number> {
  keepStdoutForProtocol();
  const { catalog, runs, dir } = await setUp(flags);
  const server = createMcpServer({ catalog, runs, store: runs.options.store });
  let code: number = EXIT.ok;
  let stop!: (why: string) => void;
  const stopped = new Promise<string>((done) => (stop = done));
  server.server.onclose = () => stop('the connection closed');
  process.stdin.once('end', () => stop('the client closed stdin'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  const stdin = boundLines(process.stdin, MAX_STDIO_MESSAGE_BYTES, (bytes) => {
    const message = `a message of at least ${bytes} bytes is over the limit of ${MAX_STDIO_MESSAGE_BYTES} bytes (4 MiB) per message; send smaller inputs, or large data as a file or URL`;
    process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message } })}\n`);
    process.stderr.write(`braid mcp: ${message}\n`);
    code = EXIT.invalid;
    stop('a message was too large');
  });
  await server.connect(new StdioServerTransport(stdin));
  const n = catalog.list().length;
  process.stderr.write(
    `braid mcp: ${n} workflow${n === 1 ? '' : 's'} from ${dir} as MCP tools over stdio; runs recorded${runs.options.store ? '' : ' nowhere (--no-store)'}\n`,
  );
  const why = await stopped;
  // Runs still going are cancelled (and recorded as cancelled) before the process leaves.
  const running = runs.list().filter((h) => !h.finished);
  if (running.length)
    process.stderr.write(
      `braid mcp: ${why}; cancelling ${running.length} running workflow${running.length === 1 ? '' : 's'}\n`,
    );
  for (const h of running) h.cancel();
  await Promise.allSettled(running.map((h) => h.done));
  await server.close().catch(() => {}); // its runs are settled above; a transport that fails to close loses nothing
  process.stdin.destroy();
  return code;
}

/** Whatever a tool module logs with console.log/info/debug goes to stderr: on stdout it would break the protocol. */
function keepStdoutForProtocol(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}
