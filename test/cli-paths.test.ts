/**
 * CLI paths the suite did not cover (issue 21): they run the built CLI (dist/) in a child process, so they
 * are not in the mutation run (vitest.mutate.config.ts), which mutates src/.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { braid } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'braid-cli-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CLI paths the suite did not cover', () => {
  it('--input-file gives the run input, and --input wins over it', async () => {
    const file = join(dir, 'input.json');
    writeFileSync(file, JSON.stringify({ query: 'solar power', expression: '2 * 3' }));
    const r = await braid([
      'run',
      'examples/seed-parallel.json',
      '--input-file',
      file,
      '--input',
      'expression=7 * 6',
      '--json',
      '--no-store',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.tasks.task_2.output).toMatchObject({ result: 42 });
    expect(result.tasks.task_1.output).toMatchObject({ query: 'solar power' });
  });

  it('--log-file writes one JSON line per event with runId, and BRAID_LOG_LEVEL prints log lines on stderr', async () => {
    const log = join(dir, 'run.log');
    const r = await braid(['run', 'examples/parallel.yaml', '--log-file', log, '--no-store', '-q']);
    expect(r.code).toBe(0);
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(5);
    expect(new Set(lines.map((l) => l.runId)).size).toBe(1);
    expect(lines.find((l) => l.event === 'run.finished')).toBeDefined();
    const verbose = await braid(['run', 'examples/parallel.yaml', '--no-store'], { env: { BRAID_LOG_LEVEL: 'debug' } });
    const jsonLines = verbose.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(jsonLines.some((l) => JSON.parse(l).event === 'task.started')).toBe(true);
  });
});
