import { spawn } from 'node:child_process';
import { createHmac, hkdfSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { braidSecret, Mac, secretFile } from './secret.js';

describe('the one secret and its MACs', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('BRAID_SECRET wins; without it one secret is made once under $BRAID_HOME, readable by its owner only', () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-secret-'));
    vi.stubEnv('BRAID_HOME', home);
    vi.stubEnv('BRAID_SECRET', '');
    const first = braidSecret();
    expect(first.length).toBe(64);
    expect(braidSecret().equals(first)).toBe(true);
    expect(secretFile()).toBe(join(home, 'secret'));
    expect(statSync(secretFile()).mode & 0o777).toBe(0o600);
    vi.stubEnv('BRAID_SECRET', 'shared by every machine');
    expect(braidSecret().toString()).toBe('shared by every machine');
  });

  it('the made secret is 64 hex characters, made whole; one already there (another process was first) is used', () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-secret-'));
    vi.stubEnv('BRAID_HOME', home);
    vi.stubEnv('BRAID_SECRET', '');
    expect(braidSecret().toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(home)).toEqual(['secret']); // nothing left beside it
    writeFileSync(join(home, 'secret'), 'written by the first process');
    expect(braidSecret().toString()).toBe('written by the first process');
  });

  it('eight processes starting at once agree on one secret', async () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-secret-'));
    const module = pathToFileURL(resolve('dist/src/core/secret.js')).href;
    const read = () =>
      new Promise<string>((done, fail) => {
        const code = `import(${JSON.stringify(module)}).then((m) => process.stdout.write(m.braidSecret().toString()))`;
        const child = spawn(process.execPath, ['-e', code], {
          env: { ...process.env, BRAID_HOME: home, BRAID_SECRET: '' },
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('error', fail);
        child.on('close', (c) => (c === 0 ? done(out) : fail(new Error(`exit ${c}`))));
      });
    const secrets = await Promise.all(Array.from({ length: 8 }, read));
    expect(new Set(secrets).size).toBe(1);
    expect(secrets[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('an empty secret file is refused, saying how to fix it', () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-secret-'));
    vi.stubEnv('BRAID_HOME', home);
    vi.stubEnv('BRAID_SECRET', '');
    writeFileSync(join(home, 'secret'), '');
    expect(() => braidSecret()).toThrow(
      `the secret file ${join(home, 'secret')} is empty: delete it (a new one is made) or set BRAID_SECRET`,
    );
  });

  it('without BRAID_HOME the secret lives in .braid/secret of the working directory', () => {
    vi.stubEnv('BRAID_HOME', undefined);
    expect(secretFile()).toBe(resolve('.braid', 'secret'));
  });

  it('a secret file that cannot be read is an error, not a new secret', () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-secret-'));
    vi.stubEnv('BRAID_HOME', home);
    vi.stubEnv('BRAID_SECRET', '');
    mkdirSync(join(home, 'secret')); // a directory where the file should be: EISDIR
    expect(() => braidSecret()).toThrow(/EISDIR/);
  });

  it('keys are HKDF-SHA256 of the secret, salt "braid", info "braid:<purpose>"; parts are length-prefixed', () => {
    const key = Buffer.from(hkdfSync('sha256', 's', 'braid', 'braid:jobs', 32));
    const h = createHmac('sha256', key);
    for (const p of ['job', 'é|x', '{}']) h.update(`${Buffer.byteLength(p)}:${p}`);
    expect(new Mac('s', 'jobs').sign('job', 'é|x', '{}')).toBe(h.digest('hex'));
  });

  it('a MAC verifies only for the same secret, purpose and parts', () => {
    const jobs = new Mac('s', 'jobs');
    const mac = jobs.sign('job', 'attempts|r|a|1|1', '{}');
    expect(mac).toMatch(/^[0-9a-f]{64}$/);
    expect(jobs.verify(mac, 'job', 'attempts|r|a|1|1', '{}')).toBe(true);
    expect(new Mac('s', 'records').verify(mac, 'job', 'attempts|r|a|1|1', '{}')).toBe(false);
    expect(new Mac('t', 'jobs').verify(mac, 'job', 'attempts|r|a|1|1', '{}')).toBe(false);
    expect(jobs.verify(mac, 'job', 'attempts|r|a|1|2', '{}')).toBe(false);
    // Parts are length-prefixed: moving text from one part to the next changes the MAC.
    expect(jobs.verify(mac, 'jobattempts|r|a|1|1', '', '{}')).toBe(false);
    for (const bad of [undefined, 42, '', mac.slice(1), `${mac}0`, mac.toUpperCase()])
      expect(jobs.verify(bad, 'job', 'attempts|r|a|1|1', '{}')).toBe(false);
  });
});
