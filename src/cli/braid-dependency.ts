/**
 * The `braid` dependency `braid init` writes, chosen so the new project installs anywhere (issue 32): never
 * `file:` into a `node_modules` (npm would run `prepare` on sources the package does not ship), never `file:` a
 * checkout (every `npm install` there would rebuild it).
 * - braid runs from a checkout (or any folder outside `node_modules`): it is packed with `npm pack` (no scripts:
 *   dist/ is what runs now) into the new project's `vendor/`, and the dependency is `file:vendor/<tarball>`, so
 *   the project can be moved or committed with its braid.
 * - braid runs from an installed package: the spec the installing project used, read from its package.json or
 *   package-lock.json; a tarball it names is copied to `vendor/` the same way; a registry, git or URL spec is
 *   kept. Else `^<version>`, with a note (braid is not published on the npm registry).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';

export interface BraidDependency {
  /** The spec for package.json. */
  readonly spec: string;
  /** How it was chosen, printed by `braid init`. */
  readonly note: string;
}

const readJson = (file: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // no such package.json (or not JSON): the callers look elsewhere
  }
};

/** `root`: the running braid's package folder; `target`: the new project's folder. */
export function braidDependency(root: string, target: string): BraidDependency {
  const version = String(readJson(join(root, 'package.json'))?.version ?? '0.0.0');
  const inModules = root.lastIndexOf(`${sep}node_modules${sep}`);
  if (inModules < 0) return packInto(root, target, version);
  const consumer = root.slice(0, inModules);
  const given = consumerSpec(consumer);
  if (given) {
    const tarball = given.startsWith('file:') ? resolve(consumer, given.slice(5)) : undefined;
    if (tarball && isFile(tarball)) return vendor(tarball, target, `the tarball ${consumer} installed braid from`);
    if (!given.startsWith('file:') && !given.startsWith('link:'))
      return { spec: given, note: `braid: "${given}", as in ${join(consumer, 'package.json')}` };
  }
  return {
    spec: `^${version}`,
    note: `braid: "^${version}" (braid is not on the npm registry: give a tarball or git URL with --braid if npm install cannot find it)`,
  };
}

/** The braid spec of the project that installed this braid: package.json first, then its lockfile. */
function consumerSpec(consumer: string): string | undefined {
  const pkg = readJson(join(consumer, 'package.json'));
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = pkg?.[field] as Record<string, unknown> | undefined;
    if (typeof deps?.braid === 'string') return deps.braid;
  }
  const lock = readJson(join(consumer, 'package-lock.json'));
  const entry = (lock?.packages as Record<string, { resolved?: unknown }> | undefined)?.['node_modules/braid'];
  return typeof entry?.resolved === 'string' ? entry.resolved : undefined;
}

function packInto(root: string, target: string, version: string): BraidDependency {
  const dir = join(target, 'vendor');
  mkdirSync(dir, { recursive: true });
  const npm = process.env.npm_execpath;
  const args = ['pack', '--ignore-scripts', '--json', '--pack-destination', dir];
  const r = npm
    ? spawnSync(process.execPath, [npm, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 })
    : spawnSync('npm', args, { cwd: root, encoding: 'utf8', timeout: 120_000, shell: process.platform === 'win32' });
  let file: string | undefined;
  try {
    file = (JSON.parse(r.stdout) as { filename: string }[])[0]?.filename;
  } catch {
    file = undefined; // npm printed no JSON: the check below reports npm's own output
  }
  if (r.status !== 0 || !file || !isFile(join(dir, file))) {
    return {
      spec: `^${version}`,
      note: `braid: "^${version}": npm pack in ${root} failed (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}); give a tarball or git URL with --braid`,
    };
  }
  return { spec: `file:vendor/${basename(file)}`, note: `braid ${version} packed from ${root} into vendor/${file}` };
}

function vendor(tarball: string, target: string, what: string): BraidDependency {
  const dir = join(target, 'vendor');
  mkdirSync(dir, { recursive: true });
  copyFileSync(tarball, join(dir, basename(tarball)));
  return { spec: `file:vendor/${basename(tarball)}`, note: `braid copied from ${what} (${tarball}) into vendor/` };
}

const isFile = (p: string) => existsSync(p) && statSync(p).isFile() && /\.(tgz|tar\.gz)$/.test(p);
