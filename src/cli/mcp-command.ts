/**
 * `braid mcp`: the workflows of a folder as MCP tools over stdio, for MCP clients (Claude Desktop, Cursor,
 * an agent) that start braid as a child process. stdout carries protocol messages only; notes go to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createMcpServer } from '../server/mcp.js';
import { setUp, type ServiceFlags } from './chat.js';
import { EXIT } from './exit.js';

export async function mcpCommand(flags: ServiceFlags): Promise<number> {
  keepStdoutForProtocol();
  const { catalog, runs, dir } = await setUp(flags);
  const server = createMcpServer({ catalog, runs, store: runs.options.store });
  const stopped = new Promise<string>((done) => {
    server.server.onclose = () => done('the connection closed');
    process.stdin.once('end', () => done('the client closed stdin'));
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
  await server.connect(new StdioServerTransport());
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
  await server.close().catch(() => {});
  process.stdin.destroy();
  return EXIT.ok;
}

/** Whatever a tool module logs with console.log/info/debug goes to stderr: on stdout it would break the protocol. */
function keepStdoutForProtocol(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}
