#!/usr/bin/env node
/**
 * `npm run build`, second step: bundles tsc's output (dist/src, dist/tools, dist/agents) into dist/bundle/, what
 * the package's entry points and the CLI load. Why: loading ~200 small ES modules (braid's own ~90, zod's ~95,
 * commander, p-queue, dotenv) was most of `braid run`'s start-up on Node 20, which has no compile cache.
 *
 * - One bundle for every entry point (`braid`, `braid/server`, ..., the CLI) with shared chunks (esbuild's code
 *   splitting), so a `--tools` module that imports `braid` gets the same module instances as the CLI running it.
 * - Inlined: only the few small packages every command loads (INLINE: devDependencies, so an install does not
 *   get them twice). Every package a user installs (`dependencies`, `peerDependencies`: zod and the optional
 *   integrations) stays an import of the installed package, loaded when first used: the user's zod is the one
 *   braid uses, and an optional package that is not installed is only missed by the feature that needs it.
 *   The build fails if anything else from node_modules ends up inlined.
 *
 * - The dashboard's fold (src/core/run-view.ts, the same event table the store and the CLI use) for the browser:
 *   dist/dashboard/fold.js, served as /ui/fold.js. Nothing from node_modules and no Node module may go in it.
 *
 * `BUNDLE_META=<file> node scripts/bundle.mjs` writes esbuild's metafile: which module went into which chunk.
 */
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

/** Loaded by every command: each is one file instead of its tree of modules. */
const INLINE = new Set(['commander', 'p-queue', 'p-timeout', 'eventemitter3', 'dotenv']);

/** The package's entry points (package.json `exports` and the CLI) and the module each bundles. */
export const ENTRIES = {
  index: 'dist/src/index.js',
  cli: 'dist/src/cli/main.js',
  langchain: 'dist/src/langchain/index.js',
  testing: 'dist/src/testing/index.js',
  'ai-sdk': 'dist/src/ai-sdk/index.js',
  redis: 'dist/src/redis.js',
  server: 'dist/src/server/index.js',
  monitor: 'dist/src/monitor/index.js',
  tools: 'dist/tools/index.js',
};

const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
].filter((name) => !INLINE.has(name));

/** The browser bundle of the dashboard's model, from the TypeScript source. */
export const DASHBOARD_FOLD = { entry: 'src/core/run-view.ts', out: 'dist/dashboard/fold.js' };

const out = `${root}dist/bundle`;
rmSync(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: [...external, ...external.map((name) => `${name}/*`)],
  chunkNames: '[name]-[hash]',
  // CommonJS dependencies (dotenv, commander) call require() for Node's modules
  banner: {
    js: "import { createRequire as __braidCreateRequire } from 'node:module'; const require = __braidCreateRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
});
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));

const inlined = new Set(
  Object.keys(result.metafile.inputs).flatMap((file) => {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    return m ? [m[1]] : [];
  }),
);
const unexpected = [...inlined].filter((name) => !INLINE.has(name));
if (unexpected.length) {
  console.error(
    `bundle: ${unexpected.join(', ')} would be inlined: add to INLINE (a devDependency) or to dependencies/peerDependencies`,
  );
  process.exit(1);
}

const dashboard = await build({
  absWorkingDir: root,
  entryPoints: [DASHBOARD_FOLD.entry],
  outfile: `${root}${DASHBOARD_FOLD.out}`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'warning',
  metafile: true,
});
const foreign = Object.keys(dashboard.metafile.inputs).filter((file) => !file.startsWith('src/core/'));
if (foreign.length) {
  console.error(`bundle: the dashboard's fold must use only src/core/, not ${foreign.join(', ')}`);
  process.exit(1);
}
