#!/usr/bin/env node
// The braid CLI. The TypeScript sources are compiled to dist/ by `npm install` (the `prepare` script).
import { existsSync, readFileSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// Node 22.1+ keeps compiled code between runs (most of a command's start-up is compiling modules); Node 20 lacks it.
module.enableCompileCache?.();

// `braid --version` answers before anything is loaded (the program's own --version prints the same).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
  process.exit(0);
}

const entry = new URL('../dist/bundle/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('braid: dist/ is missing; run `npm install` (or `npm run build`) in the braid folder first\n');
  process.exit(2);
}
// `braid tools | head`: a closed pipe ends the command quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}
const { main } = await import(entry.href);
const code = await main(args);
process.exitCode = code;
// The command is done and its record written: a connection that still hangs (a Redis that went away with
// commands queued) must not keep the process alive. Unref'd: a process with nothing left exits at once.
setTimeout(() => process.exit(code), 5000).unref();
