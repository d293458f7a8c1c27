/**
 * braid's optional packages (src/core/optional.ts): a feature whose package is not installed fails with an
 * E_CONFIG error naming the feature and the `npm install` that enables it; package.json and NEEDS agree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BraidError } from '../src/errors.js';
import { missingPackage, NEEDS, optional, optionalSync } from '../src/core/optional.js';
import { ROOT } from './support/cli.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
};

describe('optional packages', () => {
  it('every package a feature needs is an optional peer dependency (and a devDependency, for the tests)', () => {
    const needed = new Set<string>(Object.values(NEEDS).flatMap((n) => n.packages));
    const optionalPeers = Object.keys(pkg.peerDependenciesMeta).filter((n) => pkg.peerDependenciesMeta[n].optional);
    // the subpaths braid/langchain and braid/ai-sdk are for projects that have these already
    expect(optionalPeers.filter((n) => !needed.has(n)).sort()).toEqual(['@langchain/core', 'ai']);
    for (const name of needed) {
      expect(optionalPeers, name).toContain(name);
      expect(pkg.devDependencies[name], name).toBe(pkg.peerDependencies[name]);
      expect(pkg.dependencies[name], name).toBeUndefined();
    }
    // README "Use braid from your own project" has the table of what to install for what
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(
      readme.indexOf('| Feature | Install |'),
      readme.indexOf('zod is a peer dependency, not'),
    );
    for (const name of optionalPeers) expect(table, name).toMatch(new RegExp(`[\` ]${name.replace('/', '\\/')}[\` ]`));
    expect(pkg.peerDependencies.zod).toBeDefined();
    expect(pkg.peerDependenciesMeta.zod).toBeUndefined(); // zod is a required peer
  });

  it('a missing package is E_CONFIG naming the feature, the package missing and the npm install', async () => {
    const err = await optional('worker', () => import(('bullmq-' + 'not-here') as string)).catch((e) => e);
    // not one of the feature's packages: thrown as it is
    expect(BraidError.is(err)).toBe(false);
    expect((err as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');

    const missing = Object.assign(new Error("Cannot find package 'ioredis' imported from /x/chunk.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const e = await optional('worker', () => Promise.reject(missing)).catch((x) => x);
    expect(e).toBeInstanceOf(BraidError);
    expect(e).toMatchObject({ code: 'E_CONFIG', retryable: false, cause: missing });
    expect(e.message).toBe(
      'braid worker needs bullmq and ioredis, optional packages (ioredis is not installed here): npm install bullmq ioredis',
    );

    const cjs = Object.assign(new Error("Cannot find module 'mathjs/lib/browser/math.js'\nRequire stack:\n- /x"), {
      code: 'MODULE_NOT_FOUND',
    });
    expect(() =>
      optionalSync('calculate', () => {
        throw cjs;
      }),
    ).toThrow('the calculate tool needs mathjs, an optional package not installed here: npm install mathjs');
  });

  it('other failures of an installed package are not reported as missing', async () => {
    const broken = new TypeError('x is not a function');
    await expect(optional('openai', () => Promise.reject(broken))).rejects.toBe(broken);
    const inside = Object.assign(new Error("Cannot find module '/abs/node_modules/openai/gone.js' imported from /x"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(optional('openai', () => Promise.reject(inside))).rejects.toBe(inside);
  });

  it('names the package of a module-not-found error, scoped or not, through its real messages', async () => {
    const esm = await import('@nope-' + 'scope/pkg/sub.js').catch((e) => e);
    expect(missingPackage(esm)).toBe('@nope-scope/pkg');
    let cjs: unknown;
    try {
      (await import('node:module')).createRequire(import.meta.url)('no-such-' + 'pkg/lib/x.js');
    } catch (e) {
      cjs = e;
    }
    expect(missingPackage(cjs)).toBe('no-such-pkg');
    expect(missingPackage(new Error('Cannot find package'))).toBeUndefined();
  });
});
