import { mkdtempSync, statSync } from 'node:fs';
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
