/**
 * Where braid's files go (issue 32): the outbox lives under `$BRAID_HOME` beside the run records, whatever folder
 * the command starts in, unless `BRAID_OUTBOX` names another; every variable is in docs/environment.md.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { braid, BRAID_HOME, ROOT } from './support/cli.js';

const base = mkdtempSync(join(tmpdir(), 'braid-files-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const flow = join(base, 'mail.yaml');
writeFileSync(
  flow,
  'name: mail\ntasks:\n  - id: send\n    tool: send_email\n    input: { to: team@example.com, subject: hi, body: hello }\n',
);

describe('the outbox', () => {
  it('is $BRAID_HOME/outbox, not the current folder; BRAID_OUTBOX overrides it', async () => {
    const run = await braid(['run', flow, '--json'], { env: { BRAID_OUTBOX: '' } }); // the tests' setup sets one
    expect(run.code).toBe(0);
    const { tasks } = JSON.parse(run.stdout);
    // Named by the task and its idempotency key (one file per key: workflow-spec.md §7a).
    expect(tasks.send.output.path).toMatch(new RegExp(`^${join(BRAID_HOME, 'outbox')}/send-[0-9a-f]{16}\\.eml$`));
    expect(readFileSync(tasks.send.output.path, 'utf8')).toContain('Subject: hi');
    expect(existsSync(join(ROOT, '.braid', 'outbox', basename(tasks.send.output.path)))).toBe(false);

    const outbox = join(base, 'mailbox');
    const other = await braid(['run', flow, '--json', '--no-store'], { env: { BRAID_OUTBOX: outbox } });
    expect(other.code).toBe(0);
    expect(readdirSync(outbox)).toEqual([expect.stringMatching(/^send-[0-9a-f]{16}\.eml$/)]);
  });
});

describe('docs/environment.md', () => {
  it('lists every environment variable the code reads, and the README links it', () => {
    const doc = readFileSync(join(ROOT, 'docs/environment.md'), 'utf8');
    const used = new Set<string>();
    for (const dir of ['src', 'tools', 'bin'])
      for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }))
        if (/\.(ts|mjs)$/.test(f) && !/\.test\.ts$/.test(f))
          for (const m of readFileSync(join(ROOT, dir, f), 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g))
            used.add(m[1]);
    const missing = [...used].filter((v) => !doc.includes(`\`${v}\``));
    expect(missing).toEqual([]);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('docs/environment.md');
  });
});
