/**
 * `calculate`'s process from a V8 start-up snapshot (issue 20.4): the first use builds one in the background
 * into the cache folder, the next process starts from it and answers exactly as a process that loads mathjs;
 * a damaged snapshot is dropped and the process starts the slow way; limits hold either way.
 */
import { existsSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath, discardSnapshot, snapshotFor } from '../src/core/child-snapshot.js';
import { Calculator } from '../tools/calculate.js';

const EXPRESSIONS = ['350 km / 2 h to km/h', '5 cm to inch', '0.1 + 0.2', '2^64', 'sqrt(-4)', 'det([1, 2; 3, 4])'];

let dir: string;
let before: string | undefined;
const blobs = () => readdirSync(dir).filter((f) => f.endsWith('.blob'));

async function evaluateAll(calc: Calculator, expressions: string[]) {
  const out = [];
  for (const e of expressions) {
    const { result, text } = await calc.evaluate(e, new AbortController().signal);
    out.push({ result, text });
  }
  return out;
}

async function waitFor(check: () => boolean, ms: number) {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'braid-cache-'));
  before = process.env.BRAID_CACHE_DIR;
  process.env.BRAID_CACHE_DIR = dir;
});
afterAll(() => {
  if (before === undefined) delete process.env.BRAID_CACHE_DIR;
  else process.env.BRAID_CACHE_DIR = before;
});

describe('calculate from a start-up snapshot', () => {
  it('the first process loads mathjs and a snapshot is built meanwhile; the next starts from it, same answers', async () => {
    const first = new Calculator();
    const plain = await evaluateAll(first, EXPRESSIONS);
    expect(first.startedFrom).toBe('script');
    expect(plain[0]).toEqual({ result: '175 km / h', text: '175 km / h' });
    await waitFor(() => blobs().length === 1 && !readdirSync(dir).some((f) => f.endsWith('.lock')), 60_000);
    expect(readdirSync(dir).sort()).toEqual(blobs()); // the build's script, lock and temporary file are gone

    const second = new Calculator();
    expect(await evaluateAll(second, EXPRESSIONS)).toEqual(plain);
    expect(second.startedFrom).toBe('snapshot');
  }, 90_000);

  it('limits hold in a process started from the snapshot: sizes refused, disabled functions, no state kept', async () => {
    const calc = new Calculator();
    const signal = new AbortController().signal;
    await expect(calc.evaluate('range(1, 1e9)', signal)).rejects.toThrow(/range would make 999999999 elements/);
    await expect(calc.evaluate('import({x: 1})', signal)).rejects.toThrow(/function import is disabled/);
    expect(calc.startedFrom).toBe('snapshot');
    await calc.evaluate('x = 5', signal);
    await expect(calc.evaluate('x', signal)).rejects.toThrow(/Undefined symbol x/);
  }, 30_000);

  it('a damaged snapshot is dropped: that process starts the slow way and answers, and it is built again', async () => {
    const [blob] = blobs();
    writeFileSync(join(dir, blob), 'not a snapshot');
    const calc = new Calculator();
    expect(await calc.evaluate('5 cm to inch', new AbortController().signal)).toMatchObject({
      result: '1.968503937 inch',
      text: '1.968503937 inch',
    });
    expect(calc.startedFrom).toBe('script');
    // the next process asks for it again and a new one is built
    new Calculator().warm();
    await waitFor(() => existsSync(join(dir, blob)) && !existsSync(join(dir, `${blob}.lock`)), 60_000);
    const again = new Calculator();
    await again.evaluate('1 + 1', new AbortController().signal);
    expect(again.startedFrom).toBe('snapshot');
  }, 90_000);

  it('without a writable cache folder, calculate works the slow way', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    process.env.BRAID_CACHE_DIR = join(file, 'cache'); // a folder under a file cannot be made
    try {
      const calc = new Calculator();
      expect(await calc.evaluate('2 * 21', new AbortController().signal)).toMatchObject({ result: 42 });
      expect(calc.startedFrom).toBe('script');
    } finally {
      process.env.BRAID_CACHE_DIR = dir;
    }
  }, 30_000);

  it('a script whose snapshot cannot be built: the failure is remembered, no build is tried again for a day', async () => {
    const script = { name: 'broken', flags: [], setup: "throw new Error('no snapshot for me');", main: '() => {}' };
    const blob = blobPath(script);
    expect(snapshotFor(script)).toBeUndefined();
    await waitFor(() => existsSync(`${blob}.failed`) && !existsSync(`${blob}.lock`), 30_000);
    expect(existsSync(blob)).toBe(false);
    discardSnapshot(blob); // as a new process would: nothing remembered in memory
    expect(snapshotFor(script)).toBeUndefined();
    expect(existsSync(`${blob}.lock`)).toBe(false); // no build started
  }, 60_000);
});

describe('the snapshot cache is bounded', () => {
  it('building a new snapshot removes the script’s older ones beyond the 3 most recently used and dead leftovers', async () => {
    const script = { name: 'tiny', flags: [], setup: 'globalThis.ready = 1;', main: '() => {}' };
    const blob = blobPath(script);
    const old = (hash: string, hoursAgo: number, suffix = '') => {
      const f = join(dir, `tiny-${hash}.blob${suffix}`);
      writeFileSync(f, 'x'.repeat(1000)); // a snapshot from an earlier braid build (~8 MB in life)
      const t = new Date(Date.now() - hoursAgo * 3600_000);
      utimesSync(f, t, t);
      return f;
    };
    const recent = old('1'.repeat(16), 1);
    const older = old('2'.repeat(16), 2);
    const oldest = old('3'.repeat(16), 3);
    const ancient = old('4'.repeat(16), 400);
    const ancientFailed = old('4'.repeat(16), 400, '.failed');
    const deadBuild = old('5'.repeat(16), 1, '.lock');
    const other = join(dir, `calculate-${'6'.repeat(16)}.blob.keep`);
    writeFileSync(other, ''); // another script's file is not touched
    expect(snapshotFor(script)).toBeUndefined(); // starts the build, pruning first
    for (const gone of [oldest, ancient, ancientFailed, deadBuild]) expect(existsSync(gone)).toBe(false);
    for (const kept of [recent, older, other]) expect(existsSync(kept)).toBe(true);
    await waitFor(() => existsSync(blob) && !existsSync(`${blob}.lock`), 60_000);
    // a snapshot in use is touched, so it counts as recently used
    const t = new Date(Date.now() - 10 * 3600_000);
    utimesSync(blob, t, t);
    expect(snapshotFor(script)).toBe(blob);
    expect(Date.now() - statSync(blob).mtimeMs).toBeLessThan(60_000);
  }, 90_000);
});
