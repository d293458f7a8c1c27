/**
 * Records written before this version still fold, show, explain and resume. The fixture
 * `test/fixtures/records/before-input-hash.jsonl` was written by braid at d9c0b8e (record version 1, before
 * attempts recorded their input and `inputHash`): the design notes' idea → approval gate → email, waiting at the
 * gate. Its workflow file is beside it (`before-input-hash.workflow.json`).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { braid, ROOT } from './support/cli.js';

const RUN = '20261207T184420-719-37e985';

describe('a record written before attempts recorded their input', () => {
  it('shows, explains and resumes; the attempts after the resume record their input and hash', async () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-compat-'));
    mkdirSync(join(home, 'runs'));
    copyFileSync(join(ROOT, 'test/fixtures/records/before-input-hash.jsonl'), join(home, 'runs', `${RUN}.jsonl`));
    const env = { BRAID_HOME: home, BRAID_OUTBOX: join(home, 'outbox') };
    type Shown = { status: string; tasks: Record<string, { status: string; input?: unknown; inputHash?: string }> };

    const before = JSON.parse((await braid(['show', RUN, '--json'], { env })).stdout) as Shown;
    expect(before.status).toBe('waiting');
    expect(before.tasks.idea).toMatchObject({ status: 'succeeded' });
    expect(before.tasks.idea.inputHash).toBeUndefined();
    expect(before.tasks.gate.status).toBe('waiting');
    const explain = await braid(['explain', RUN, 'idea'], { env });
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(/idea ran \(1 attempt\) and succeeded/);
    expect(explain.stdout).not.toContain('It received');

    const approved = await braid(['approve', RUN, 'gate', '--json'], { env });
    expect(approved.code, approved.stderr).toBe(0);
    const after = JSON.parse((await braid(['show', RUN, '--json'], { env })).stdout) as Shown;
    expect(after.status).toBe('succeeded');
    expect(after.tasks.idea.inputHash).toBeUndefined(); // reused from the old record, not run again
    expect(after.tasks.send).toMatchObject({ status: 'succeeded', inputHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(readdirSync(join(home, 'outbox')).filter((f) => f.endsWith('.eml'))).toHaveLength(1);
  });
});
