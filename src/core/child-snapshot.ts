/**
 * V8 start-up snapshots for helper processes that are slow to get ready. `calculate`'s process spends ~0.4 s
 * loading mathjs and building its unit tables before it answers; started from a snapshot of its heap taken
 * after that work, it is ready as soon as Node itself is (`node --snapshot-blob`, `--build-snapshot`).
 *
 * A snapshot belongs to one Node binary and one script: it is built once, in the background, the first time a
 * script is used without one (that first process starts the slow way), into the user's cache folder
 * (`$BRAID_CACHE_DIR`, else `$XDG_CACHE_HOME/braid`, else `~/.cache/braid`), named by a hash of the Node binary
 * and the script. Building never delays anything and never fails a caller: without a snapshot (an unwritable
 * folder, a build that failed) the process starts the slow way, and a snapshot that does not start is deleted
 * by {@link discardSnapshot} and built again. A failed build leaves `<name>-<hash>.blob.failed`, so it is not tried
 * again for a day.
 *
 * The cache is bounded: every braid build (and every Node binary) makes a new ~8 MB snapshot, so a snapshot in use
 * is touched when a process starts from it, and when a new one is built the older snapshots of the same script
 * beyond the {@link KEEP_SNAPSHOTS} most recently used are removed, with their leftovers (`.failed`, a dead
 * build's `.tmp`/`.cjs`/`.lock`).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A script in two parts: `setup` runs once (into the snapshot), `main` (a function expression) per process. */
export interface ChildScript {
  /** Names the files: `<name>-<hash>.blob`. */
  name: string;
  /** Node's flags for the process, e.g. a heap limit: a snapshot only starts with the flags it was built with. */
  flags: string[];
  /** CommonJS top-level code, run before the snapshot is taken: `require` gives Node's built-in modules only. */
  setup: string;
  /**
   * A function expression run when a process starts, given how it started (`'snapshot'` or `'script'`), e.g.
   * `(from) => { process.on('message', ...); process.send({ ready: true, from }); }`.
   */
  main: string;
}

/** Snapshots of one script kept in the cache (the most recently used): the current one and a few for other Nodes. */
export const KEEP_SNAPSHOTS = 3;
/** A lock older than this belongs to a build that died: a build takes a few seconds. */
const STALE_LOCK_MS = 120_000;
/** After a build failed (a Node without snapshot support), processes start the slow way this long before a retry. */
const RETRY_FAILED_MS = 24 * 3600_000;

export function cacheDir(): string {
  return process.env.BRAID_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'braid');
}

/** Node's arguments for a process of `script`: from the snapshot when there is one, else the script itself. */
export function childArgs(script: ChildScript, blob: string | undefined): string[] {
  return blob
    ? [...script.flags, '--snapshot-blob', blob]
    : [...script.flags, '-e', `${script.setup}\n;(${script.main})('script');\n`];
}

function snapshotScript(script: ChildScript): string {
  return `${script.setup}\n;require('node:v8').startupSnapshot.setDeserializeMainFunction(${script.main}, 'snapshot');\n`;
}

/** Where `script`'s snapshot is (or will be). */
export function blobPath(script: ChildScript): string {
  const hash = createHash('sha256')
    .update([process.version, process.arch, process.execPath, ...script.flags, snapshotScript(script)].join('\0'))
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir(), `${script.name}-${hash}.blob`);
}

/** Builds the snapshot, then renames it into place (a reader never sees half a file), then drops the lock. */
const BUILDER = String.raw`
const { spawnSync } = require('node:child_process');
const { renameSync, rmSync, writeFileSync } = require('node:fs');
const [entry, blob, lock, ...flags] = process.argv.slice(1);
const tmp = blob + '.' + process.pid + '.tmp';
try {
  const r = spawnSync(process.execPath, [...flags, '--snapshot-blob', tmp, '--build-snapshot', entry], { stdio: 'ignore', timeout: 60000 });
  if (r.status === 0) {
    renameSync(tmp, blob);
    rmSync(blob + '.failed', { force: true });
  } else {
    writeFileSync(blob + '.failed', 'exit ' + r.status + (r.error ? ': ' + r.error.message : ''));
  }
} finally {
  rmSync(tmp, { force: true });
  rmSync(entry, { force: true });
  rmSync(lock, { force: true });
}
`;

const building = new Set<string>();

/**
 * The snapshot to start `script`'s process from, or undefined when there is none yet: then one is built in
 * the background (at most one build per snapshot across processes) for the next process.
 */
export function snapshotFor(script: ChildScript): string | undefined {
  const blob = blobPath(script);
  if (existsSync(blob)) {
    touch(blob);
    return blob;
  }
  if (!building.has(blob)) {
    building.add(blob);
    try {
      build(script, blob);
    } catch {
      // an unwritable cache folder: the slow way it is
    }
  }
  return undefined;
}

function build(script: ChildScript, blob: string): void {
  if (ageMs(`${blob}.failed`) < RETRY_FAILED_MS) return;
  mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
  pruneSnapshots(script.name, blob);
  const lock = `${blob}.lock`;
  if (ageMs(lock) > STALE_LOCK_MS) rmSync(lock, { force: true }); // none is infinitely old: nothing to remove
  let fd: number;
  try {
    fd = openSync(lock, 'wx');
  } catch {
    return; // another process is building it
  }
  closeSync(fd);
  const entry = `${blob}.${process.pid}.cjs`;
  writeFileSync(entry, snapshotScript(script));
  const child = spawn(process.execPath, ['-e', BUILDER, entry, blob, lock, ...script.flags], {
    detached: true,
    stdio: 'ignore',
  });
  child.on('error', () => rmSync(lock, { force: true })); // no builder: the next start tries again, the slow way meanwhile
  child.unref();
}

/** How long ago `path` was last written; Infinity when there is no such file. */
function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Infinity; // no such file: as old as can be
  }
}

/** A snapshot whose process did not start (a damaged file): deleted, so the next use builds it again. */
export function discardSnapshot(blob: string): void {
  rmSync(blob, { force: true });
  building.delete(blob);
}

/** Marks a snapshot as used now (its mtime), so pruning keeps the ones in use. */
function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // a read-only cache: pruning may then remove it sooner, and it is built again
  }
}

/**
 * Removes `name`'s snapshots beyond the {@link KEEP_SNAPSHOTS} most recently used (counting `current`, which is
 * about to be built) and every leftover of a build that is no longer running. Never throws.
 */
export function pruneSnapshots(name: string, current: string): void {
  const dir = cacheDir();
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return; // no cache folder (or not readable): nothing to prune
  }
  const escaped = name.replace(/[^A-Za-z0-9_-]/g, (c) => `\\${c}`);
  const own = new RegExp(`^${escaped}-[0-9a-f]{16}\\.blob`);
  const blobs = files
    .filter((f) => own.test(f) && f.endsWith('.blob') && join(dir, f) !== current)
    .map((f) => ({ f, at: mtimeMs(join(dir, f)) }))
    .sort((a, b) => b.at - a.at);
  const removed = new Set(blobs.slice(KEEP_SNAPSHOTS - 1).map((b) => b.f));
  for (const f of files) {
    if (!own.test(f)) continue;
    const base = f.slice(0, f.indexOf('.blob') + 5);
    const age = ageMs(join(dir, f));
    const leftover = f !== base && age > (f.endsWith('.failed') ? RETRY_FAILED_MS : STALE_LOCK_MS);
    try {
      if (removed.has(base) || leftover) rmSync(join(dir, f), { force: true });
    } catch {
      // not ours to remove (another user's cache folder): leave it
    }
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0; // gone meanwhile: counted the oldest (removing it again is harmless)
  }
}
