/** The time a task waited for a human is part of the run's duration, so `braid show` shows it on the timeline. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { braid } from './support/cli.js';

describe('the approval wait on the timeline', () => {
  it('braid show marks the wait (░) and says how long the task waited for approval; --mermaid too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-wait-'));
    const env = { BRAID_HOME: join(dir, 'home'), NO_COLOR: '1' };
    const file = join(dir, 'gate.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'gate',
        tasks: [
          { id: 'a', tool: 'echo', input: { value: 1 } },
          { id: 'gate', tool: 'echo', input: { value: 2 }, dependencies: ['a'], approval: true },
        ],
      }),
    );
    const first = await braid(['run', file, '--json'], { env });
    expect(first.code).toBe(3);
    const { runId } = JSON.parse(first.stdout) as { runId: string };
    await new Promise((r) => setTimeout(r, 600));
    expect((await braid(['approve', runId, 'gate'], { env })).code).toBe(0);
    const show = await braid(['show', runId], { env });
    const row = show.stdout.split('\n').find((l) => l.startsWith('gate ') && l.includes('░'));
    expect(row).toMatch(/waited \d[\d.]*\s*m?s for approval/);
    const waited = /waited (\d+(?:\.\d+)?)\s*(ms|s)/.exec(row!)!;
    expect(Number(waited[1]) * (waited[2] === 's' ? 1000 : 1)).toBeGreaterThanOrEqual(500);
    const mermaid = await braid(['show', runId, '--mermaid'], { env });
    expect(mermaid.stdout).toMatch(/section gate\n\s+waiting for approval :\d+, \d+/);
  });
});
