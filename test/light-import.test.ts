/**
 * `import 'braid'` stays light: the HTTP server, logging, tracing, e-mail, mathjs and the OpenAI SDK (optional
 * packages, test/light-install.test.ts) are loaded only by the subpaths (`braid/server`, `braid/monitor`,
 * `braid/tools`) or on first use.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const HEAVY = [
  'hono',
  '@hono/node-server',
  'pino',
  'pino-pretty',
  '@opentelemetry/api',
  'nodemailer',
  'mathjs',
  'openai',
  'bullmq',
  'ioredis',
  '@modelcontextprotocol/sdk',
  'tsx',
];

/**
 * The npm packages a fresh Node process loads for `script` (run from the repo root, so `braid` resolves to this
 * package's dist/).
 */
function packagesLoaded(script: string): Set<string> {
  const { packages } = loads(script);
  return packages;
}

function loads(script: string): { packages: Set<string>; urls: string[] } {
  const log = join(mkdtempSync(join(tmpdir(), 'braid-loads-')), 'loads.txt');
  execFileSync(process.execPath, ['--import', './test/support/record-loads.mjs', '--input-type=module', '-e', script], {
    env: { ...process.env, BRAID_LOAD_LOG: log, OPENAI_API_KEY: '' },
    stdio: 'pipe',
  });
  const urls = readFileSync(log, 'utf8').split('\n');
  const packages = new Set<string>();
  for (const url of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) packages.add(m[1]);
  }
  return { packages, urls };
}

describe("import 'braid'", () => {
  it('loads none of the heavy dependencies, even when a run registers the built-in tools', () => {
    const { packages: loaded, urls } = loads(`
      const braid = await import('braid');
      const tools = braid.builtinTools();
      if (!tools.some((t) => t.name === 'send_email') || typeof braid.runWorkflow !== 'function') process.exit(3);`);
    expect(urls.some((u) => u.endsWith('/dist/bundle/index.js'))).toBe(true); // the hook saw braid's bundle
    expect(HEAVY.filter((p) => loaded.has(p))).toEqual([]);
  });

  it('the subpaths load what they are for', () => {
    const loaded = packagesLoaded(
      `await import('braid/server'); await import('braid/monitor'); await import('braid/tools');`,
    );
    expect(['hono', 'pino', '@opentelemetry/api'].filter((p) => !loaded.has(p))).toEqual([]);
  });
});
