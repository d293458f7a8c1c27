/**
 * The live view on a real terminal: the CLI runs under a pseudo-terminal (`script`), and its output is
 * replayed through a small terminal model (cursor up, clear line), so the test sees the final screen.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, BRAID_HOME, ROOT } from './support/cli.js';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasScript) console.log('skipping terminal tests: no `script` (util-linux); install bsdutils to run them');

/** The screen after writing `raw`: handles \n, \r, ESC[nA (up), ESC[2K (clear line), and drops colours. */
function screen(raw: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '\x1b') {
      const m = /^\x1b\[(\d*)([A-Za-z])/.exec(raw.slice(i));
      if (m) {
        const n = Number(m[1] || 1);
        if (m[2] === 'A') row = Math.max(0, row - n);
        if (m[2] === 'K') ((lines[row] = ''), (col = 0));
        i += m[0].length - 1;
      }
      continue;
    }
    if (ch === '\n') {
      row++;
      col = 0;
      if (lines.length <= row) lines.push('');
      continue;
    }
    if (ch === '\r') {
      col = 0;
      continue;
    }
    const line = lines[row];
    lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
    col++;
  }
  return lines;
}

function underTerminal(args: string[]): string {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BRAID_HOME, TERM: 'xterm', COLUMNS: '160', OPENAI_API_KEY: '' },
    timeout: 30_000,
  });
  return r.stdout;
}

describe.skipIf(!hasScript)('on a terminal', () => {
  it('the summary table and the hints stay on screen after the live view stops', () => {
    const out = screen(underTerminal(['run', 'test/fixtures/failing.yaml']));
    const text = out.join('\n');
    expect(text).toMatch(/failing failed in/);
    // every task row of the summary and the next-step hints are there at the end
    const summaryAt = out.findIndex((l) => /failed in .*\(run /.test(l));
    expect(summaryAt).toBeGreaterThan(0);
    expect(out.slice(summaryAt).join('\n')).toMatch(/braid resume \S+/);
  });

  it('--json output is whole on a terminal', () => {
    const out = screen(underTerminal(['run', 'examples/parallel.yaml', '--json', '--no-store']));
    const start = out.findIndex((l) => l.startsWith('{'));
    const json = out.slice(start).join('\n').trim();
    expect(JSON.parse(json)).toMatchObject({ workflow: 'parallel', status: 'succeeded' });
  });
});
