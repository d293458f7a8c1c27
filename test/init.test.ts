/**
 * `braid init` scaffolds a project that installs anywhere and passes its own test (issue 32): braid is packed
 * (`npm pack`, as it would be published), installed into a host project from that tarball, and the braid installed
 * there runs `braid init`; the new project then runs `npm install && npm test && npm start` offline, from the npm
 * cache. Run from a checkout, braid packs itself into the new project's vendor/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { braid, ROOT } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'braid-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npm = (args: string[], cwd: string) =>
  spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    timeout: 150_000,
    env: {
      ...process.env,
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      npm_config_offline: 'true', // everything comes from the npm cache
    },
  });
const dependencies = (project: string) =>
  JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).dependencies as Record<string, string>;

describe('braid init', () => {
  it(
    'from a braid installed from a packed tarball: the project installs offline, and npm test and npm start pass',
    { timeout: 300_000 },
    async () => {
      const pack = npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
      expect(pack.status, pack.stderr).toBe(0);
      const tarball = join(dir, pack.stdout.trim().split('\n').at(-1)!);
      const host = join(dir, 'host');
      mkdirSync(host);
      writeFileSync(
        join(host, 'package.json'),
        JSON.stringify({ name: 'host', private: true, dependencies: { braid: `file:${tarball}` } }),
      );
      const hostInstall = npm(['install'], host);
      expect(hostInstall.status, hostInstall.stderr).toBe(0);
      const installed = join(host, 'node_modules', 'braid');
      // the installed package has no sources to build: its prepare does nothing (it used to fail with TS5058)
      const prepare = spawnSync(process.execPath, [join(installed, 'scripts/prepare.mjs')], { encoding: 'utf8' });
      expect(prepare.status, prepare.stderr).toBe(0);

      const project = join(dir, 'my-agents');
      const init = spawnSync(process.execPath, [join(installed, 'bin/braid.mjs'), 'init', project], {
        cwd: host,
        encoding: 'utf8',
      });
      expect(init.status, init.stderr).toBe(0);
      expect(init.stdout).toContain('braid copied from the tarball');
      for (const f of ['package.json', 'braid.config.json', 'tools.mjs', 'workflows/word-count.yaml', '.env.example'])
        expect(existsSync(join(project, f)), f).toBe(true);
      const tgz = readdirSync(join(project, 'vendor'));
      expect(tgz).toEqual([expect.stringMatching(/^braid-.*\.tgz$/)]);
      expect(dependencies(project)).toMatchObject({ braid: `file:vendor/${tgz[0]}`, zod: '^4.0.0' });
      expect(JSON.stringify(dependencies(project))).not.toContain('node_modules');

      const install = npm(['install'], project);
      expect(install.status, install.stderr).toBe(0);
      const test = npm(['test'], project);
      expect(test.status, test.stdout + test.stderr).toBe(0);
      expect(test.stdout).toMatch(/# pass 1\n# fail 0/);
      const start = npm(['start'], project); // braid.config.json names tools.mjs: no --tools
      expect(start.status, start.stdout + start.stderr).toBe(0);
      expect(start.stdout).toMatch(/word-count succeeded/);
    },
  );

  it('from a checkout: braid packs itself into vendor/ (never file: the checkout)', { timeout: 60_000 }, async () => {
    const project = join(dir, 'from-checkout');
    const init = await braid(['init', project]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/braid \S+ packed from .* into vendor\/braid-.*\.tgz/);
    const spec = dependencies(project).braid;
    expect(spec).toMatch(/^file:vendor\/braid-.*\.tgz$/);
    expect(existsSync(join(project, spec.slice(5)))).toBe(true);
    expect(JSON.parse(readFileSync(join(project, 'braid.config.json'), 'utf8'))).toEqual({
      tools: ['./tools.mjs'],
      workflows: 'workflows',
    });
  });

  it('refuses a folder that is not empty (exit 2)', async () => {
    const r = await braid(['init', ROOT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not empty; pick a new folder/);
  });
});
