// npm's `prepare`: build braid from its sources after `npm install` in a checkout (or a git dependency). An
// installed package ships dist/ and no sources (no src/ or tsconfig.build.json): then there is nothing to build,
// and nothing is run, so installing a packed braid never needs TypeScript.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);
if (!existsSync(new URL('src', root)) || !existsSync(new URL('tsconfig.build.json', root))) process.exit(0);
const npm = process.env.npm_execpath;
const r = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit', cwd: root })
  : spawnSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: root, shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
