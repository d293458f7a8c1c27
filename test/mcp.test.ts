/**
 * MCP servers as tool sources, against MCP servers nobody here wrote: the official
 * @modelcontextprotocol/server-everything and server-filesystem, over stdio, through the official SDK client.
 */
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runWorkflow, type RunEvent } from '../src/index.js';
import { braid, ROOT } from './support/cli.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'braid-mcp-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'note.txt'), 'hello from a file\n');
const everything = {
  command: process.execPath,
  args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
};
const files = {
  command: process.execPath,
  args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'), dir],
};
const servers = { mcpServers: { everything, files } };
const serversFile = join(dir, 'servers.json');
writeFileSync(serversFile, JSON.stringify(servers));

describe('MCP tools in a workflow', () => {
  it(
    'a file tool of the filesystem server feeds a tool of the everything server; progress becomes task.progress',
    { timeout: 30_000 },
    async () => {
      const events: RunEvent[] = [];
      const r = await runWorkflow(
        {
          name: 'mcp',
          mcp_servers: { everything, files },
          tasks: [
            { id: 'read', tool: 'files.read_text_file', input: { path: join(dir, 'note.txt') } },
            {
              id: 'echo',
              tool: 'everything.echo',
              input: { message: '{{ tasks.read.output.content }}' },
              dependencies: ['read'],
            },
            { id: 'slow', tool: 'everything.trigger-long-running-operation', input: { duration: 1, steps: 2 } },
            { id: 'sum', tool: 'everything.get-sum', input: { a: 2, b: 40 } },
          ],
        },
        { store: false, onEvent: (e) => events.push(e) },
      );
      expect(r.status).toBe('succeeded');
      expect(r.tasks.read.output).toEqual({ content: 'hello from a file\n' });
      expect(r.tasks.echo.output).toBe('Echo: hello from a file\n');
      expect(JSON.stringify(r.tasks.sum.output)).toContain('42');
      const progress = events.filter((e) => e.type === 'task.progress' && e.taskId === 'slow') as Extract<
        RunEvent,
        { type: 'task.progress' }
      >[];
      expect(progress.map((p) => p.progress)).toContain(0.5);
    },
  );

  it(
    "inputs are checked against the tool's JSON Schema before the call; an isError result fails the task with its text",
    { timeout: 30_000 },
    async () => {
      const r = await runWorkflow(
        {
          name: 'mcp-errors',
          mcp_servers: { files },
          tasks: [
            { id: 'typed', tool: 'files.read_text_file', input: { path: '{{ input.n }}' } },
            { id: 'outside', tool: 'files.read_text_file', input: { path: '/etc/passwd' } },
          ],
        },
        { store: false, input: { n: 7 } },
      );
      expect(r.tasks.typed.error).toMatchObject({ code: 'E_TOOL_INPUT' });
      expect(r.tasks.typed.error?.message).toMatch(/input\.path/);
      expect(r.tasks.outside.status).toBe('failed');
      expect(r.tasks.outside.error?.message).toMatch(/^files\.read_text_file: .*(denied|outside|not allowed)/i);
    },
  );

  it(
    'an aborted attempt cancels the MCP request: a 10 s operation with timeout_ms 300 ends at once',
    { timeout: 30_000 },
    async () => {
      const t0 = Date.now();
      const r = await runWorkflow(
        {
          name: 'mcp-cancel',
          tasks: [
            {
              id: 'slow',
              tool: 'everything.trigger-long-running-operation',
              input: { duration: 10, steps: 10 },
              timeout_ms: 300,
            },
          ],
        },
        { store: false, mcp: { everything } },
      );
      expect(r.tasks.slow.error).toMatchObject({ code: 'E_TIMEOUT' });
      expect(Date.now() - t0).toBeLessThan(8000);
    },
  );
});

describe('MCP on the command line', () => {
  it(
    'braid tools --mcp lists <server>.<tool>; validate knows them and suggests names; run --mcp runs and exits',
    { timeout: 60_000 },
    async () => {
      const tools = await braid(['tools', '--mcp', serversFile]);
      expect(tools.stdout).toMatch(/^everything\.echo\(message: string\)$/m);
      expect(tools.stdout).toMatch(/^files\.read_text_file\(path: string/m);
      const flow = join(dir, 'flow.yaml');
      writeFileSync(flow, `tasks:\n  - id: e\n    tool: everything.ecko\n    input: { message: hi }\n`);
      const bad = await braid(['validate', flow, '--mcp', serversFile]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('unknown tool "everything.ecko" (did you mean "everything.echo"?)');
      writeFileSync(flow, `tasks:\n  - id: e\n    tool: everything.echo\n    input: { message: hi }\n`);
      const run = await braid(['run', flow, '--mcp', serversFile, '--json', '--no-store']);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).tasks.e.output).toBe('Echo: hi');
    },
  );
});
