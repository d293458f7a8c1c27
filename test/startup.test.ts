/**
 * Start-up stays short: `braid --version` answers before the program loads, and `braid run` of a JSON
 * workflow without expressions loads no package it does not use (JSONata, YAML, zod-to-json-schema,
 * the JSON Schema validator, the search index load on first use).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const node = (args: string[], env: Record<string, string> = {}) =>
  execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, stdio: 'pipe' });

describe('start-up', () => {
  it('braid --version and -V print the package version, as the program itself does', () => {
    expect(node(['bin/braid.mjs', '--version'])).toBe(`${version}\n`);
    expect(node(['bin/braid.mjs', '-V'])).toBe(`${version}\n`);
    const program = node([
      '--input-type=module',
      '-e',
      `const { main } = await import('./dist/bundle/cli.js'); await main(['--version']);`,
    ]);
    expect(program).toBe(`${version}\n`);
  });

  it('braid run of a JSON workflow without expressions loads only what it uses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-startup-'));
    const file = join(dir, 'flow.json');
    writeFileSync(
      file,
      JSON.stringify({
        tasks: [
          { id: 'a', tool: 'echo', input: { value: 1 } },
          { id: 'b', tool: 'echo', input: { value: '{{ tasks.a.output }}' }, dependencies: ['a'] },
        ],
      }),
    );
    const log = join(dir, 'loads.txt');
    const out = node(
      [
        '--import',
        './test/support/record-loads.mjs',
        '--input-type=module',
        '-e',
        `const { main } = await import('./dist/bundle/cli.js');
         await main(['run', ${JSON.stringify(file)}, '--json', '--quiet']);
         // CommonJS packages loaded with require() pass no ESM hook: add the require cache to the log.
         const { createRequire } = await import('node:module');
         const { appendFileSync } = await import('node:fs');
         const cjs = Object.keys(createRequire(import.meta.url)('module')._cache);
         appendFileSync(process.env.BRAID_LOAD_LOG, cjs.map((f) => 'file://' + f + '\\n').join(''));`,
      ],
      { BRAID_LOAD_LOG: log, BRAID_HOME: join(dir, 'home'), OPENAI_API_KEY: '' },
    );
    expect(JSON.parse(out).status).toBe('succeeded');
    const urls = [...readFileSync(log, 'utf8').split('\n')];
    const packages = new Set<string>();
    for (const url of urls) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
      if (m) packages.add(m[1]);
    }
    expect(urls.some((u) => u.endsWith('/dist/bundle/cli.js'))).toBe(true); // the hook saw the CLI's bundle
    const unused = ['jsonata', 'yaml', 'zod-to-json-schema', '@cfworker/json-schema', 'minisearch', 'mathjs'];
    expect(unused.filter((p) => packages.has(p))).toEqual([]);
  });
});
