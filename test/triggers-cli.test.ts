/**
 * The trigger commands through the real CLI (dist/): `braid validate` prints the next fire times,
 * `braid trigger` fires examples/scheduled-research.yaml (search, summarize, email to the outbox) once per due time,
 * `braid send` starts a run per event id (the same id again starts nothing), `braid triggers` lists, pauses and
 * resumes, `braid runs --trigger` filters by what started a run.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { BIN, braid, ROOT } from './support/cli.js';
import { until } from './support/until.js';

const EXAMPLE = join(ROOT, 'examples/scheduled-research.yaml');

describe('trigger commands', () => {
  it('braid validate prints each trigger and the next three fire times of a schedule', async () => {
    const r = await braid(['validate', EXAMPLE]);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.includes('trigger weekday-morning'))!;
    const times = line.replace(/^.*next: /, '').split(', ');
    expect(times).toHaveLength(3);
    for (const t of times) {
      const d = new Date(t);
      expect(d.getTime()).toBeGreaterThan(Date.now());
      expect([1, 2, 3, 4, 5]).toContain(d.getUTCDay()); // weekdays
      expect(d.getUTCMinutes()).toBe(0);
      expect([6, 7]).toContain(d.getUTCHours()); // 08:00 in Berlin, summer or winter
    }
    expect(r.stdout).toContain('trigger on-request: event research.requested');
  });

  it('braid validate names a bad cron and a mistyped time zone with their field paths (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-trig-cli-'));
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        tasks: [{ id: 'a', tool: 'echo', input: { value: 1 } }],
        triggers: [{ schedule: { cron: '0 25 * * *', timezone: 'America/New_Yrok' } }],
      }),
    );
    const r = await braid(['validate', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('triggers[0].schedule.timezone');
    expect(r.stderr).toContain('did you mean "America/New_York"?');
    expect(r.stderr).toMatch(/triggers\[0\]\.schedule\.cron: bad cron "0 25 \* \* \*"/);
  });

  it(
    'the example fires once per due time, runs to an email, and is listed by trigger',
    { timeout: 60_000 },
    async () => {
      const home = mkdtempSync(join(tmpdir(), 'braid-trig-home-'));
      const env = { BRAID_HOME: home, BRAID_OUTBOX: join(home, 'outbox') };
      const wf = ['-w', join(ROOT, 'examples')];
      const at = '2026-12-07T07:00:00Z';
      const fired = await braid(['trigger', 'scheduled-research:weekday-morning', '--at', at, '--json', ...wf], {
        env,
      });
      expect(fired.code).toBe(0);
      const first = JSON.parse(fired.stdout) as { started: { runId: string }[]; already: string[] };
      expect(first.started).toHaveLength(1);
      const again = await braid(['trigger', 'scheduled-research:weekday-morning', '--at', at, '--json', ...wf], {
        env,
      });
      expect(JSON.parse(again.stdout)).toEqual({ started: [], already: ['2026-12-07T07:00:00.000Z'] });
      const mail = readdirSync(join(home, 'outbox'));
      expect(mail).toHaveLength(1);
      expect(readFileSync(join(home, 'outbox', mail[0]), 'utf8')).toContain(
        'Research briefing: solar and wind cost (2026-12-07T07:00:00.000Z)',
      );

      const data = join(home, 'topic.json');
      writeFileSync(data, JSON.stringify({ topic: 'heat pumps' }));
      const sent = await braid(['send', 'research.requested', '--data', data, '--id', 'ask-1', '--json', ...wf], {
        env,
      });
      expect(sent.code).toBe(0);
      const delivery = JSON.parse(sent.stdout) as { runs: { runId: string }[]; duplicate: boolean };
      expect(delivery).toMatchObject({ id: 'ask-1', duplicate: false, runs: [{ trigger: 'on-request' }] });
      const resent = await braid(['send', 'research.requested', '--data', data, '--id', 'ask-1', '--json', ...wf], {
        env,
      });
      expect(JSON.parse(resent.stdout)).toMatchObject({ duplicate: true, runs: delivery.runs });
      const unmatched = await braid(['send', 'research.requested', '--id', 'ask-2', '--json', ...wf], { env });
      expect(JSON.parse(unmatched.stdout)).toMatchObject({ runs: [] }); // its filter wants event.data.topic
      expect(readdirSync(join(home, 'outbox'))).toHaveLength(2);

      const runs = await braid(['runs', '--trigger', 'on-request', '--json'], { env });
      const listed = JSON.parse(runs.stdout) as { runId: string; trigger: { eventId: string } }[];
      expect(listed.map((r) => [r.runId, r.trigger.eventId])).toEqual([[delivery.runs[0].runId, 'ask-1']]);

      expect((await braid(['triggers', 'pause', 'scheduled-research:weekday-morning', ...wf], { env })).code).toBe(0);
      const list = JSON.parse((await braid(['triggers', '--json', ...wf], { env })).stdout) as {
        id: string;
        state: string;
        next: string[];
        last?: { runIds: string[] };
      }[];
      expect(list.map((t) => [t.id, t.state])).toEqual([
        ['scheduled-research:weekday-morning', 'paused'],
        ['scheduled-research:on-request', 'active'],
      ]);
      expect(list[0].next).toHaveLength(3);
      expect(list[0].last?.runIds).toEqual([first.started[0].runId]);
      const typo = await braid(['triggers', 'resume', 'scheduled-research:weekday-mornin', ...wf], { env });
      expect(typo.code).toBe(2);
      expect(typo.stderr).toContain('did you mean "scheduled-research:weekday-morning"?');
    },
  );

  it(
    "braid serve fires a folder's schedule on one machine, once per second, and the runs name it",
    { timeout: 60_000 },
    async () => {
      const home = mkdtempSync(join(tmpdir(), 'braid-trig-serve-'));
      const folder = join(home, 'workflows');
      mkdirSync(folder);
      writeFileSync(
        join(folder, 'beat.json'),
        JSON.stringify({
          name: 'beat',
          triggers: [{ name: 'second', schedule: '* * * * * *' }],
          tasks: [{ id: 'a', tool: 'echo', input: { value: 1 } }],
        }),
      );
      const env = { ...process.env, NO_COLOR: '1', OPENAI_API_KEY: '', BRAID_HOME: home };
      const serve = spawn(process.execPath, [BIN, 'serve', '--port', '0', '-w', folder], { env });
      let err = '';
      serve.stderr.on('data', (d) => (err += d));
      try {
        await until(() => /started run \S+ for .*\n[^]*started run \S+ for .*\n[^]*started run/.test(err), 30_000);
      } finally {
        serve.kill('SIGTERM');
        await new Promise((r) => serve.once('exit', r));
      }
      expect(err).toContain('firing 1 triggers');
      const runs = JSON.parse(
        (await braid(['runs', '--trigger', 'beat:second', '--json'], { env: { BRAID_HOME: home } })).stdout,
      ) as {
        trigger: { due: string };
      }[];
      const dues = runs.map((r) => Date.parse(r.trigger.due)).sort();
      expect(dues.length).toBeGreaterThanOrEqual(3);
      expect(new Set(dues).size).toBe(dues.length);
      dues.slice(1).forEach((d, i) => expect(d - dues[i]).toBe(1000));
    },
  );
});
