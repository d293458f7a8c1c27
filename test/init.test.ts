/**
 * `braid init` scaffolds a project that passes its own test: braid is packed (`npm pack`, as it would be
 * published), the scaffold installs that tarball and zod from the npm cache, and `npm test` runs its
 * workflow offline with braid/testing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
  });

describe('braid init', () => {
  it('a scaffold from a packed tarball of braid passes `npm install && npm test`', { timeout: 240_000 }, async () => {
    const pack = npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
    expect(pack.status, pack.stderr).toBe(0);
    const tarball = join(dir, pack.stdout.trim().split('\n').at(-1)!);
    const project = join(dir, 'my-agents');
    const init = await braid(['init', project, '--braid', `file:${tarball}`]);
    expect(init.code).toBe(0);
    for (const f of [
      'package.json',
      'tools.mjs',
      'workflows/word-count.yaml',
      '.env.example',
      'test/word-count.test.mjs',
    ])
      expect(existsSync(join(project, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).dependencies).toMatchObject({
      braid: `file:${tarball}`,
      zod: '^4.0.0',
    });
    const install = npm(['install', '--prefer-offline'], project);
    expect(install.status, install.stderr).toBe(0);
    const test = npm(['test'], project);
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/# pass 1\n# fail 0/);
  });

  it('refuses a folder that is not empty (exit 2)', async () => {
    const r = await braid(['init', ROOT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not empty; pick a new folder/);
  });
});
