/**
 * Terminal-safe output (issue 15.11): control characters in workflow names, ids, labels, outputs and error
 * messages are escaped before they reach a terminal, in every command that prints them.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../src/cli/progress.js';
import { safeText } from '../src/cli/format.js';
import type { RunEvent } from '../src/index.js';
import { braid } from './support/cli.js';

/** Retitle the terminal, clear the screen, return the carriage, ring the bell, reverse the text. */
const EVIL = '\x1b]0;pwned\x07\x1b[2J\r\u202eevil\x9b31m';
/** Any control character but the line feed. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('terminal-safe output (15.11)', () => {
  it('safeText escapes C0, C1, DEL and bidirectional controls, and leaves other text alone', () => {
    expect(safeText(EVIL)).toBe('\\x1b]0;pwned\\x07\\x1b[2J\\r\\u202eevil\\x9b31m');
    expect(safeText('héllo wörld ✔ 漢字')).toBe('héllo wörld ✔ 漢字');
  });

  it('braid run / runs / show / logs / explain print a hostile workflow name, output and error escaped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-term-'));
    const home = join(dir, 'home');
    mkdirSync(home);
    const file = join(dir, 'evil.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: `flow${EVIL}`,
        tasks: [
          { id: 'say', tool: 'echo', input: { value: { label: `good${EVIL}`, text: EVIL } } },
          { id: 'boom', tool: 'fail_with', input: { message: `bad${EVIL}` }, dependencies: ['say'] },
        ],
      }),
    );
    const run = await braid(['run', file, '--tools', 'test/fixtures/fault-tools.mjs'], { env: { BRAID_HOME: home } });
    expect(run.code).toBe(1);
    const { runId } = JSON.parse((await braid(['runs', '--json'], { env: { BRAID_HOME: home } })).stdout)[0];
    const outputs = [
      run,
      await braid(['runs'], { env: { BRAID_HOME: home } }),
      await braid(['show', runId], { env: { BRAID_HOME: home } }),
      await braid(['logs', runId, '--all'], { env: { BRAID_HOME: home } }),
      await braid(['explain', runId, 'boom'], { env: { BRAID_HOME: home } }),
      await braid(['show', runId, '--mermaid'], { env: { BRAID_HOME: home } }),
    ];
    for (const r of outputs) {
      expect(r.stdout + r.stderr).not.toMatch(RAW);
    }
    const all = outputs.map((r) => r.stdout + r.stderr).join('\n');
    expect(all).toContain('flow\\x1b]0;pwned\\x07');
    expect(all).toContain('bad\\x1b]0;pwned');
    // --json keeps the data as it is (JSON escapes it on its own).
    const json = await braid(['show', runId, '--json'], { env: { BRAID_HOME: home } });
    expect(JSON.parse(json.stdout).workflow).toBe(`flow${EVIL}`);
  });

  it('the live view on a terminal escapes what events carry, keeping its own colours', () => {
    let out = '';
    const tty = {
      isTTY: true,
      columns: 200,
      write: (s: string) => ((out += s), true),
    } as unknown as NodeJS.WriteStream;
    const prev = process.env.TERM;
    process.env.TERM = 'xterm';
    try {
      const progress = createProgress(tty, ['a']);
      const base = { seq: 1, ts: new Date().toISOString(), runId: 'r' };
      progress.onEvent({
        ...base,
        type: 'task.started',
        taskId: 'a',
        tool: `echo${EVIL}`,
        attempt: 1,
        visit: 1,
      } as RunEvent);
      progress.onEvent({
        ...base,
        type: 'task.failed',
        taskId: 'a',
        attempt: 1,
        visit: 1,
        durationMs: 1,
        error: { message: `oops${EVIL}` },
      } as RunEvent);
      progress.stop();
    } finally {
      process.env.TERM = prev;
    }
    expect(out).toContain('oops\\x1b]0;pwned\\x07');
    expect(out).not.toMatch(/\x1b\]|\x07|\r|\u202e|\x9b/);
    expect(out).toMatch(/\x1b\[31m/); // braid's own red stays
  });
});
