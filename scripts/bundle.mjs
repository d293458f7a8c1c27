#!/usr/bin/env node
/**
 * `npm run build`, second step: bundles tsc's output (dist/src, dist/tools, dist/agents) into dist/bundle/, what
 * the package's entry points and the CLI load. Why: loading ~200 small ES modules (braid's own ~90, zod's ~95,
 * commander, p-queue, dotenv) was most of `braid run`'s start-up on Node 20, which has no compile cache.
 *
 * - One bundle for every entry point (`braid`, `braid/server`, ..., the CLI) with shared chunks (esbuild's code
 *   splitting), so a `--tools` module that imports `braid` gets the same module instances as the CLI running it.
 * - Inlined: only the dependencies every command loads (INLINE). Everything else stays an import of the
 *   installed package, loaded when first used, as before.
 * - zod is inlined too: zod 4 keeps its schema registry on globalThis and checks `instanceof` by traits, and braid
 *   asks a user's schema for its JSON Schema through the schema's own `toJSONSchema`, so schemas made with the
 *   user's copy of zod work the same.
 *
 * `BUNDLE_META=<file> node scripts/bundle.mjs` writes esbuild's metafile: which module went into which chunk.
 */
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

/** Loaded by every command: each is one file instead of its tree of modules. */
const INLINE = new Set(['zod', 'commander', 'p-queue', 'p-timeout', 'eventemitter3', 'dotenv']);

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

/**
 * zod's 60-odd message locales (half its code) reduced to English, the one braid's messages are in: braid's copy
 * of zod is its own (users' schemas are made by theirs), so nothing else can ask it for another language.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)
        ? { path: args.importer, namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from '../locales/en.js';`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

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
  plugins: [zodEnglishOnly],
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: !!process.env.BUNDLE_META,
});
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));
