/**
 * The project config (workflow-spec.md §8), through the real CLI started in a project's subfolder: found by walking
 * up, paths relative to the config file, flags and the environment win over it, `braid config` says where each
 * setting came from, a bad config names its file and field (exit 2), and its MCP servers are started as `--mcp`'s.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { braid, ROOT } from './support/cli.js';

const project = mkdtempSync(join(tmpdir(), 'braid-project-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));
const write = (rel: string, text: string) => {
  mkdirSync(join(project, rel, '..'), { recursive: true });
  writeFileSync(join(project, rel), text);
};
const deep = join(project, 'src', 'deep');
mkdirSync(deep, { recursive: true });
write(
  'tools.mjs',
  "export const shout = { name: 'shout', run: ({ text }) => ({ text: String(text).toUpperCase() }) };\n",
);
write('other.mjs', "export const shout = { name: 'shout', run: ({ text }) => ({ text: `other ${text}` }) };\n");
write('flows/shout.yaml', 'name: shout\ntasks:\n  - id: a\n    tool: shout\n    input: { text: hi }\n');
// The tests' setup sets BRAID_HOME and BRAID_OUTBOX: cleared, so the config's store and outbox apply.
const env = { BRAID_HOME: '', BRAID_OUTBOX: '', BRAID_WORKSPACE: '' };
const config = (text: string, file = 'braid.config.json') => {
  for (const f of ['braid.config.json', 'braid.config.yaml', 'package.json']) rmSync(join(project, f), { force: true });
  write(file, text);
};

describe('the project config', () => {
  it('is found from a subfolder; its tools, store and outbox apply, relative to its file; braid config says so', async () => {
    config(
      JSON.stringify({
        tools: ['./tools.mjs'],
        workflows: 'flows',
        defaults: { store: 'state', outbox: 'mail', workspace: 'files' },
      }),
    );
    const run = await braid(['run', '../../flows/shout.yaml', '--json'], { cwd: deep, env });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.tasks.a.output).toEqual({ text: 'HI' });
    expect(readdirSync(join(project, 'state', 'runs'))).toContain(`${result.runId}.jsonl`);

    const shown = await braid(['config'], { cwd: deep, env });
    expect(shown.code).toBe(0);
    const from = `[config ${join(project, 'braid.config.json')}]`;
    expect(shown.stdout).toContain(`project config: ${join(project, 'braid.config.json')}\n`);
    expect(shown.stdout).toMatch(new RegExp(`^tools +${join(project, 'tools.mjs')}  ${escape(from)}$`, 'm'));
    expect(shown.stdout).toMatch(new RegExp(`^workflows +${join(project, 'flows')}  ${escape(from)}$`, 'm'));
    expect(shown.stdout).toMatch(new RegExp(`^outbox +${join(project, 'mail')}  ${escape(from)}$`, 'm'));
    expect(shown.stdout).toMatch(new RegExp(`^workspace +${join(project, 'files')}  ${escape(from)}$`, 'm'));
    expect(shown.stdout).toMatch(/^model +gpt-4o-mini {2}\[default\]$/m);
    const json = JSON.parse(
      (await braid(['config', '--json'], { cwd: deep, env: { ...env, BRAID_MODEL: 'm1' } })).stdout,
    );
    expect(json.settings.model).toEqual({ value: 'm1', source: 'env BRAID_MODEL' });
    expect(json.settings.store).toEqual({ value: join(project, 'state'), source: from.slice(1, -1) });
  });

  it('flags and the environment win over it', async () => {
    config(JSON.stringify({ tools: './tools.mjs', defaults: { store: 'state' } }));
    const flagged = await braid(['run', 'flows/shout.yaml', '--tools', 'other.mjs', '--json', '--no-store'], {
      cwd: project,
      env,
    });
    expect(JSON.parse(flagged.stdout).tasks.a.output).toEqual({ text: 'other hi' });
    const home = join(project, 'elsewhere');
    const shown = await braid(['config'], { cwd: project, env: { ...env, BRAID_HOME: home } });
    expect(shown.stdout).toMatch(new RegExp(`^store +${home} {2}\\[env BRAID_HOME\\]$`, 'm'));
  });

  it('may be YAML or a "braid" key in package.json; a bad one is exit 2 naming the file and field', async () => {
    config('tools: [./tools.mjs]\n', 'braid.config.yaml');
    expect((await braid(['tools'], { cwd: deep, env })).stdout).toMatch(/^shout\(/m);
    config(JSON.stringify({ name: 'p', braid: { tools: ['./tools.mjs'] } }), 'package.json');
    expect((await braid(['tools'], { cwd: deep, env })).stdout).toMatch(/^shout\(/m);

    config(JSON.stringify({ tols: ['./tools.mjs'], defaults: { concurrency: 0 } }));
    const bad = await braid(['run', 'flows/shout.yaml'], { cwd: deep, env });
    expect(bad.code).toBe(2);
    const file = join(project, 'braid.config.json');
    expect(bad.stderr).toContain(`${file}: tols: unknown field "tols" (did you mean "tools"?)`);
    expect(bad.stderr).toContain(`${file}: defaults.concurrency: expected number to be >=1, got \`0\` (number)`);
    config(JSON.stringify({ name: 'p', braid: { tools: 5 } }), 'package.json');
    const pkg = await braid(['config'], { cwd: deep, env });
    expect(pkg.code).toBe(2);
    expect(pkg.stderr).toContain(
      `${join(project, 'package.json')} ("braid" key): tools: expected a path or a list of paths`,
    );
    rmSync(join(project, 'package.json'));
  });

  it('starts its mcp_servers as --mcp would', { timeout: 60_000 }, async () => {
    const everything = {
      command: process.execPath,
      args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
    };
    config(JSON.stringify({ mcp_servers: { everything } }));
    write('flows/echo.yaml', 'tasks:\n  - id: e\n    tool: everything.echo\n    input: { message: hi }\n');
    const run = await braid(['run', 'flows/echo.yaml', '--json', '--no-store'], { cwd: project, env });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).tasks.e.output).toBe('Echo: hi');
    expect(existsSync(join(project, '.braid'))).toBe(false);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
