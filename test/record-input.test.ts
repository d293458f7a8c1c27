/** The record holds the input each task actually received (workflow-spec.md §7a), and `show`/`explain` say it. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputHash } from '../src/core/input-hash.js';
import { braid } from './support/cli.js';

describe('the rendered input in the record', () => {
  it('braid show --json and explain give the effective input and its hash; a large one is cut with its size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-input-'));
    const env = { BRAID_HOME: join(dir, 'home') };
    const file = join(dir, 'inputs.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'inputs',
        tasks: [
          { id: 'a', tool: 'echo', input: { value: '{{ input.topic }}' } },
          { id: 'big', tool: 'echo', input: { value: '{{ input.blob }}' } },
        ],
      }),
    );
    const blob = 'x'.repeat(70_000);
    writeFileSync(join(dir, 'input.json'), JSON.stringify({ topic: 'solar kites', blob }));
    const run = await braid(['run', file, '--input-file', join(dir, 'input.json'), '--json'], { env });
    expect(run.code).toBe(0);
    const { runId } = JSON.parse(run.stdout) as { runId: string };
    const show = JSON.parse((await braid(['show', runId, '--json'], { env })).stdout) as {
      tasks: Record<string, { input: unknown; inputHash: string; inputBytes?: number }>;
    };
    // The template rendered, not the template itself.
    expect(show.tasks.a).toMatchObject({
      input: { value: 'solar kites' },
      inputHash: inputHash({ value: 'solar kites' }),
    });
    expect(show.tasks.a.inputBytes).toBeUndefined();
    expect(show.tasks.big.inputHash).toBe(inputHash({ value: blob }));
    expect(show.tasks.big.inputBytes).toBe(JSON.stringify({ value: blob }).length);
    expect((show.tasks.big.input as string).length).toBe(64 * 1024);
    const explain = await braid(['explain', runId, 'a'], { env });
    expect(explain.stdout).toContain('It received: {"value":"solar kites"}');
  });
});
