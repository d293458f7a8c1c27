/**
 * A light install (issue 32): `npm install braid zod` in an empty project installs only what the core needs
 * (engine, format, CLI, JSONL store, offline provider; zod is the user's own, a peer). braid is packed as it would
 * be published and installed from the npm cache; a run works offline, and a feature whose optional package is
 * missing says which package to install (src/core/optional.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

/** The budget README "Use braid from your own project" states. */
const MAX_PACKAGES = 40;
const MAX_MB = 25;

const dir = mkdtempSync(join(tmpdir(), 'braid-light-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env: NodeJS.ProcessEnv = {
  ...process.env,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_prefer_offline: 'true', // from the npm cache
  BRAID_HOME: join(dir, 'home'),
};
// nothing of this machine's setup: no key (offline provider), no Redis, logs or tracing
for (const name of [
  'OPENAI_API_KEY',
  'BRAID_PROVIDER',
  'BRAID_REDIS_URL',
  'BRAID_LOG_LEVEL',
  'BRAID_LOG_FILE',
  'BRAID_OTEL',
])
  delete env[name];
const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 150_000, env });
const npx = (args: string[], cwd: string) =>
  spawnSync('npx', ['--no-install', 'braid', ...args], { cwd, encoding: 'utf8', timeout: 60_000, env });

describe('npm install braid zod', () => {
  it(
    `installs at most ${MAX_PACKAGES} packages and ${MAX_MB} MB; braid runs offline, and a missing optional package is named`,
    { timeout: 300_000 },
    () => {
      const pack = npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
      expect(pack.status, pack.stderr).toBe(0);
      const tarball = join(dir, pack.stdout.trim().split('\n').at(-1)!);
      const project = join(dir, 'project');
      mkdirSync(project);
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'project', private: true, type: 'module' }));
      const install = npm(['install', tarball, 'zod'], project);
      expect(install.status, install.stderr).toBe(0);

      const installed = npm(['ls', '--all', '--parseable'], project).stdout.trim().split('\n').slice(1); // the project itself
      const names = installed.map((p) => p.split('node_modules/').at(-1)!);
      expect(names).toContain('braid');
      expect(names).toContain('zod');
      expect(names.length, names.join(' ')).toBeLessThanOrEqual(MAX_PACKAGES);
      const mb =
        Number(execFileSync('du', ['-sk', join(project, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]) / 1024;
      console.info(`light install: ${names.length} packages, ${mb.toFixed(1)} MB (${names.join(' ')})`);
      expect(mb).toBeLessThanOrEqual(MAX_MB);
      // one zod: braid's bundle imports the project's (no copy of its own)
      expect(readdirSync(join(project, 'node_modules', 'braid'))).not.toContain('node_modules');

      writeFileSync(
        join(project, 'flow.json'),
        JSON.stringify({
          name: 'light',
          tasks: [
            { id: 'a', tool: 'echo', input: { value: 'hi' } },
            { id: 's', tool: 'summarize_results', dependencies: ['a'] },
            {
              id: 'm',
              tool: 'send_email',
              input: { to: 'a@example.com', subject: 'Hi', body: 'Body' },
              dependencies: ['s'],
            },
          ],
        }),
      );
      const run = npx(['run', 'flow.json', '--json'], project);
      expect(run.status, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.status).toBe('succeeded');
      expect(result.tasks.m.output).toMatchObject({ transport: 'outbox' }); // no nodemailer needed
      expect(npx(['show', 'latest'], project).status).toBe(0);

      const worker = npx(['worker', '--redis', 'redis://127.0.0.1:1'], project);
      expect(worker.status, worker.stderr).toBe(2);
      expect(worker.stderr).toContain('braid worker needs bullmq and ioredis');
      expect(worker.stderr).toContain('npm install bullmq ioredis');
      // a built-in tool whose package is missing is still there, and its call says what to install
      writeFileSync(
        join(project, 'calc.json'),
        JSON.stringify({ tasks: [{ id: 'c', tool: 'calculate', input: { expression: '1 + 1' } }] }),
      );
      const calc = npx(['run', 'calc.json', '--json'], project);
      expect(calc.status).toBe(1);
      expect(JSON.parse(calc.stdout).tasks.c.error.message).toBe(
        'the calculate tool needs mathjs, an optional package not installed here: npm install mathjs',
      );
    },
  );
});
