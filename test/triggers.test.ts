/**
 * Triggers on one machine (workflow-spec.md §10), on a virtual clock: cron due times, DST days, overlap and
 * catch-up policies, events with filters and repeated ids, pause and backfill. Real catalog, run manager, store and
 * claims; the clock is the only thing not real (nothing sleeps).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../src/toolkit/define-tool.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import { RunManager } from '../src/service/run-manager.js';
import { FileClaims, MemoryClaims, type TriggerClaims } from '../src/service/triggers/claims.js';
import { TriggerService } from '../src/service/triggers/trigger-service.js';
import { MemoryRunStore } from '../src/store/memory-store.js';
import { validateWorkflow } from '../src/spec/validate.js';

/** A tool that holds its run open until the test lets it go. */
function gate() {
  const waiting: (() => void)[] = [];
  const tool = defineTool({
    name: 'hold',
    effects: 'none',
    input: z.object({ value: z.unknown().optional() }),
    run: (_input, { signal }) =>
      new Promise((resolve, reject) => {
        waiting.push(() => resolve({ ok: true }));
        signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
      }),
  });
  return { tool, releaseAll: () => waiting.splice(0).forEach((f) => f()) };
}

const T0 = Date.parse('2026-06-01T00:00:00Z');

async function setUp(
  triggers: unknown[],
  options: { claims?: TriggerClaims; start?: number; hold?: boolean; store?: MemoryRunStore } = {},
) {
  let now = options.start ?? T0;
  const g = gate();
  const workflow = {
    name: 'job',
    inputs: { type: 'object', properties: { due: { type: 'string' }, topic: { type: 'string' } } },
    triggers,
    tasks: [{ id: 'a', tool: options.hold ? 'hold' : 'echo', input: { value: '{{ input.due }}' } }],
  };
  const catalog = await WorkflowCatalog.load([workflow as never], { tools: [g.tool] });
  expect(catalog.problems).toEqual([]);
  const store = options.store ?? new MemoryRunStore();
  const runs = new RunManager({ catalog, store });
  const claims = options.claims ?? new MemoryClaims(() => now);
  const lines: string[] = [];
  const service = new TriggerService({ catalog, runs, claims, now: () => now, log: (l) => lines.push(l) });
  /** Advance the virtual clock in steps of `stepMs`, ticking at each. */
  const advance = async (ms: number, stepMs = 250) => {
    for (let t = 0; t < ms; t += stepMs) {
      now += Math.min(stepMs, ms - t);
      await service.tick(now);
    }
  };
  const triggered = () =>
    runs
      .list()
      .map((h) => h.runId)
      .sort();
  /** The due times of the runs started, from their records (each waited for until its header is written). */
  const dues = async () => {
    const out: string[] = [];
    for (const h of runs.list()) {
      for (let i = 0; i < 200 && !(await store.list()).includes(h.runId); i++)
        await new Promise((r) => setTimeout(r, 5));
      out.push((await store.read(h.runId)).header!.trigger!.due!);
    }
    return out.sort();
  };
  return {
    service,
    runs,
    store,
    advance,
    triggered,
    dues,
    lines,
    release: g.releaseAll,
    setNow: (t: number) => (now = t),
  };
}

describe('trigger format', () => {
  it('validate reports bad cron, time zone, policy and templates with field paths and did-you-mean', () => {
    const r = validateWorkflow({
      tasks: [{ id: 'a', tool: 'echo' }],
      triggers: [
        { schedule: '61 * * * *' },
        { schedule: { cron: '0 8 * * *', timezone: 'Europe/Berln' } },
        { schedule: { cron: '0 8 * * *', overlap: 'skipp' } },
        { event: { name: 'x', filter: 'event.(', input: { a: '{{ evnt.data }}' } } },
        { webhook: { path: 'gh', secret_env: 'GH', sigature_header: 'x' } },
        { schedule: '* * * * *', event: 'x' },
      ],
    });
    expect(r.success).toBe(false);
    const got = r.success ? [] : r.issues.map((i) => `${i.path}: ${i.message} ${i.hint ?? ''}`.trim());
    expect(got).toEqual([
      expect.stringMatching(/^triggers\[0\]\.schedule: bad cron "61 \* \* \* \*": Invalid value for minute: 61/),
      'triggers[1].schedule.timezone: unknown time zone "Europe/Berln" did you mean "Europe/Berlin"?',
      expect.stringMatching(/^triggers\[2\]\.schedule\.overlap: .*did you mean "skip"\?$/),
      expect.stringMatching(/^triggers\[3\]\.event\.filter: expression does not parse/),
      expect.stringMatching(/^triggers\[3\]\.event\.input\.a: .*starts with "evnt".*did you mean "event"\?$/),
      'triggers[4].webhook.sigature_header: unknown field "sigature_header" did you mean "signature_header"?',
      expect.stringMatching(/^triggers\[5\]: a trigger has exactly one of schedule, event, webhook/),
    ]);
  });

  it('a valid trigger list passes; six fields take seconds', () => {
    const r = validateWorkflow({
      tasks: [{ id: 'a', tool: 'echo' }],
      triggers: [
        { name: 'fast', schedule: '*/5 * * * * *' },
        { schedule: { cron: '30 2 * * *', timezone: 'Europe/Berlin', catchup: 'all', catchup_window: '2d' } },
        { event: { name: 'ticket.created', filter: 'event.data.priority = "high"', input: { t: '{{ event.data }}' } } },
        { webhook: { path: 'github/pr', secret_env: 'GH_SECRET', id_header: 'X-GitHub-Delivery' } },
      ],
    });
    expect(r.success ? [] : r.issues).toEqual([]);
  });
});

describe('schedules on a virtual clock', () => {
  it('a cron every 10 seconds fires once per due time, with the due time in the run input and header', async () => {
    const { advance, dues, runs } = await setUp([
      { schedule: { cron: '*/10 * * * * *', input: { due: '{{ trigger.due }}' } } },
    ]);
    await advance(60_000);
    expect(await dues()).toEqual([10, 20, 30, 40, 50, 60].map((s) => new Date(T0 + s * 1000).toISOString()));
    const first = runs.list()[0];
    const result = await first.done;
    expect(result.tasks.a.output).toEqual('2026-06-01T00:00:10.000Z');
  });

  for (const [zone, springDay, fallDay, springUtc, fallUtc] of [
    ['Europe/Berlin', '2026-03-29', '2026-10-25', '2026-03-29T01:00:00.000Z', '2026-10-25T00:30:00.000Z'],
    ['America/New_York', '2026-03-08', '2026-11-01', '2026-03-08T07:00:00.000Z', '2026-11-01T07:30:00.000Z'],
  ] as const) {
    it(`a daily 02:30 job in ${zone} fires exactly once on both DST change days`, async () => {
      for (const [day, expected] of [
        [springDay, springUtc],
        [fallDay, fallUtc],
      ]) {
        const start = Date.parse(`${day}T00:00:00Z`) - 86_400_000;
        const { advance, dues } = await setUp([{ schedule: { cron: '30 2 * * *', timezone: zone } }], { start });
        await advance(3 * 86_400_000, 600_000); // a tick every 10 minutes for three days around the change
        const fired = await dues();
        expect(fired.filter((d) => d.startsWith(day) || d === expected)).toEqual([expected]);
        expect(fired).toHaveLength(3);
      }
    });
  }

  it('a daily 01:30 job in America/New_York fires once, at the first 01:30, on the fall-back night', async () => {
    const start = Date.parse('2026-10-31T12:00:00Z');
    const { advance, dues } = await setUp([{ schedule: { cron: '30 1 * * *', timezone: 'America/New_York' } }], {
      start,
    });
    await advance(86_400_000, 600_000);
    expect(await dues()).toEqual(['2026-11-01T05:30:00.000Z']); // 01:30 EDT; 01:30 EST (06:30Z) does not fire
  });

  it('an every-30-minutes job keeps firing through the repeated hour (real time)', async () => {
    const start = Date.parse('2026-10-25T00:00:00Z'); // 02:00 CEST; clocks go back at 01:00Z
    const { advance, dues } = await setUp([{ schedule: { cron: '*/30 * * * *', timezone: 'Europe/Berlin' } }], {
      start,
    });
    await advance(2 * 3600_000, 60_000);
    expect(await dues()).toEqual(['00:30', '01:00', '01:30', '02:00'].map((t) => `2026-10-25T${t}:00.000Z`));
  });

  it('overlap skip: a due time while the previous run goes starts nothing', async () => {
    const { advance, dues, release, lines } = await setUp([{ schedule: '* * * * *' }], { hold: true });
    await advance(3 * 60_000, 1000);
    expect(await dues()).toEqual(['2026-06-01T00:01:00.000Z']);
    expect(lines.filter((l) => l.includes('skipped'))).toHaveLength(2);
    release();
    await new Promise((r) => setTimeout(r, 20));
    await advance(60_000, 1000);
    expect(await dues()).toEqual(['2026-06-01T00:01:00.000Z', '2026-06-01T00:04:00.000Z']);
  });

  it('overlap buffer_one: one due time waits for the previous run, later ones are dropped', async () => {
    const { advance, dues, release } = await setUp([{ schedule: { cron: '* * * * *', overlap: 'buffer_one' } }], {
      hold: true,
    });
    await advance(3 * 60_000, 1000); // due 00:01 runs; 00:02 buffered; 00:03 dropped
    expect(await dues()).toEqual(['2026-06-01T00:01:00.000Z']);
    release();
    await new Promise((r) => setTimeout(r, 20));
    await advance(1000, 1000);
    expect(await dues()).toEqual(['2026-06-01T00:01:00.000Z', '2026-06-01T00:02:00.000Z']);
  });

  it('overlap cancel_other: the previous run is cancelled and the new one starts', async () => {
    const { advance, runs } = await setUp([{ schedule: { cron: '* * * * *', overlap: 'cancel_other' } }], {
      hold: true,
    });
    await advance(2 * 60_000, 1000);
    const [first, second] = runs.list();
    expect((await first.done).status).toBe('cancelled');
    expect(second.finished).toBe(false);
    second.cancel();
  });

  it('overlap allow_all: every due time starts a run while others go', async () => {
    const { advance, runs } = await setUp([{ schedule: { cron: '* * * * *', overlap: 'allow_all' } }], { hold: true });
    await advance(3 * 60_000, 1000);
    expect(runs.list().filter((h) => !h.finished)).toHaveLength(3);
    runs.list().forEach((h) => h.cancel());
  });

  async function catchUp(catchup: string) {
    // One process fires 00:01, then nothing runs until 00:10; a new process over the same claims looks back.
    let now = T0;
    const claims = new MemoryClaims(() => now);
    const first = await setUp([{ schedule: { cron: '* * * * *', catchup, catchup_window: '5m' } }], { claims });
    await first.advance(60_000, 1000);
    now = T0 + 10 * 60_000 + 500;
    const second = await setUp([{ schedule: { cron: '* * * * *', catchup, catchup_window: '5m' } }], {
      claims,
      start: now,
    });
    await second.service.tick(now);
    await second.advance(60_000, 1000); // then on time again: 00:11
    return [...(await first.dues()), ...(await second.dues())].map((d) => d.slice(11, 16));
  }

  it('catchup none: missed due times are not fired', async () => {
    expect(await catchUp('none')).toEqual(['00:01', '00:11']);
  });
  it('catchup latest: only the latest missed due time is fired', async () => {
    expect(await catchUp('latest')).toEqual(['00:01', '00:09', '00:10', '00:11']);
  });
  it('catchup all: each missed due time within the window, oldest first', async () => {
    expect(await catchUp('all')).toEqual(['00:01', '00:06', '00:07', '00:08', '00:09', '00:10', '00:11']);
  });

  it('two services over the same file claims fire each due time once in total', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'braid-claims-'));
    let now = T0;
    const a = await setUp([{ schedule: '*/5 * * * * *' }], { claims: new FileClaims(dir, () => now) });
    const b = await setUp([{ schedule: '*/5 * * * * *' }], { claims: new FileClaims(dir, () => now) });
    for (let i = 0; i < 120; i++) {
      now += 250;
      a.setNow(now);
      b.setNow(now);
      await Promise.all([a.service.tick(now), b.service.tick(now)]);
    }
    const all = [...(await a.dues()), ...(await b.dues())].sort();
    expect(all).toEqual([5, 10, 15, 20, 25, 30].map((s) => new Date(T0 + s * 1000).toISOString()));
  });

  it('overlap skip across two services: a run the other one started and still runs counts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'braid-claims-'));
    let now = T0;
    const store = new MemoryRunStore(); // one store, as two processes over the same Redis or folder
    const options = { claims: new FileClaims(dir, () => now), store, hold: true };
    const a = await setUp([{ schedule: '* * * * *' }], options);
    const b = await setUp([{ schedule: '* * * * *' }], { ...options, claims: new FileClaims(dir, () => now) });
    for (let i = 0; i < 4 * 60; i++) {
      now += 1000;
      a.setNow(now);
      b.setNow(now);
      // b ticks first after the first minute: it must see a's run in the store
      await (i < 60 ? a.service.tick(now) : b.service.tick(now).then(() => a.service.tick(now)));
    }
    expect([...(await a.dues()), ...(await b.dues())]).toEqual(['2026-06-01T00:01:00.000Z']);
    a.release();
    b.release();
  });

  it('jitter delays each due time by a fixed amount below jitter_ms, and still fires it once', async () => {
    const { service, runs, setNow } = await setUp([{ schedule: { cron: '* * * * *', jitter_ms: 30_000 } }]);
    const firstSeen = new Map<string, number>();
    for (let t = T0; t < T0 + 10 * 60_000; t += 500) {
      setNow(t);
      await service.tick(t);
      for (const h of runs.list()) if (!firstSeen.has(h.runId)) firstSeen.set(h.runId, t);
    }
    const delays = [...firstSeen].map(
      ([runId, at]) =>
        at -
        Date.parse(
          `${runId.slice(0, 4)}-${runId.slice(4, 6)}-${runId.slice(6, 8)}T${runId.slice(9, 11)}:${runId.slice(11, 13)}:${runId.slice(13, 15)}Z`,
        ),
    );
    expect(delays.length).toBeGreaterThanOrEqual(9);
    for (const d of delays) (expect(d).toBeGreaterThanOrEqual(0), expect(d).toBeLessThan(30_500));
    expect(new Set(delays.map((d) => Math.floor(d / 500))).size).toBeGreaterThan(1); // not all the same
  });

  it('a paused trigger fires nothing; resumed, it fires again without catching up the pause', async () => {
    const { service, advance, dues } = await setUp([{ name: 'tick', schedule: { cron: '* * * * *', catchup: 'all' } }]);
    await service.pause('job:tick');
    await advance(3 * 60_000, 1000);
    expect(await dues()).toEqual([]);
    expect((await service.list())[0].state).toBe('paused');
    await service.resume('job:tick');
    await advance(60_000, 1000);
    expect(await dues()).toEqual(['2026-06-01T00:04:00.000Z']);
  });

  it('backfill fires each due time of a range once, even when asked twice', async () => {
    const { service, dues } = await setUp([{ name: 'daily', schedule: '0 8 * * *' }]);
    const range = { from: new Date('2026-05-28T00:00:00Z'), to: new Date('2026-05-31T00:00:00Z') };
    const first = await service.fire('job:daily', range);
    expect(first.started).toHaveLength(3);
    const again = await service.fire('job:daily', range);
    expect(again).toEqual({ started: [], already: ['28', '29', '30'].map((d) => `2026-05-${d}T08:00:00.000Z`) });
    expect(await dues()).toHaveLength(3);
    const [info] = await service.list();
    expect(info.next).toEqual(['01', '02', '03'].map((d) => `2026-06-${d}T08:00:00.000Z`));
  });
});

describe('events', () => {
  it('an event starts the runs whose filter holds; the same id again starts nothing and answers the first runs', async () => {
    const { service, runs } = await setUp([
      {
        name: 'high',
        event: { name: 'ticket', filter: 'event.data.priority = "high"', input: { topic: '{{ event.data.title }}' } },
      },
      { name: 'all', event: 'ticket' },
      { name: 'other', event: 'order' },
    ]);
    const first = await service.deliver({ name: 'ticket', id: 'd-1', data: { priority: 'high', title: 'fire' } });
    expect(first.duplicate).toBe(false);
    expect(first.runs.map((r) => r.trigger)).toEqual(['high', 'all']);
    const again = await service.deliver({ name: 'ticket', id: 'd-1', data: { priority: 'high', title: 'fire' } });
    expect(again).toEqual({ id: 'd-1', runs: first.runs, duplicate: true, errors: [] });
    const low = await service.deliver({ name: 'ticket', data: { priority: 'low' } });
    expect(low.runs.map((r) => r.trigger)).toEqual(['all']);
    expect(runs.list()).toHaveLength(3);
    const high = runs.get(first.runs[0].runId)!;
    await high.done;
    const header = (await runs.options.store!.read(high.runId)).header!;
    expect(header.trigger).toEqual({ workflow: 'job', name: 'high', kind: 'event', eventId: 'd-1' });
    expect(header.input).toEqual({ topic: 'fire' });
  });

  it('a paused event trigger starts nothing; the others of that name still do', async () => {
    const { service, runs } = await setUp([
      { name: 'one', event: 'ticket' },
      { name: 'two', event: 'ticket' },
    ]);
    await service.pause('job:one');
    const d = await service.deliver({ name: 'ticket', id: 'x' });
    expect(d.runs.map((r) => r.trigger)).toEqual(['two']);
    expect(runs.list()).toHaveLength(1);
  });
});
