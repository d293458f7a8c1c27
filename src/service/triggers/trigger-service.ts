/**
 * Runs that start themselves (workflow-spec.md §10): the schedules of a catalog's workflows fired on a clock the
 * caller gives (tests pass a virtual one and call `tick`), events and webhook deliveries matched to triggers, and the
 * operators' controls (pause, resume, fire now, backfill). Every due time and every event id is first claimed in a
 * `TriggerClaims` store, so it starts its runs once however many processes share that store; a scheduled run's id
 * is derived from its due time, so the run store's create-once is a second gate for a claimer that died between its
 * claim and its run's first record. Overlap and catch-up are decided here, by the process that holds the claim.
 */
import { createHash, randomUUID } from 'node:crypto';
import { BraidError } from '../../errors.js';
import { parseExpression } from '../../spec/expression.js';
import { compileTemplate, type TemplateContext } from '../../spec/template.js';
import {
  cronOf,
  dueTimesBetween,
  nextFireTimes,
  triggersOf,
  type TriggerDef,
  type TriggerRef,
} from '../../spec/triggers.js';
import { didYouMean } from '../../spec/suggest.js';
import { foldRun, processAlive } from '../../store/fold.js';
import type { WorkflowCatalog } from '../catalog.js';
import type { RunHandle, RunManager } from '../run-manager.js';
import { newRunId } from '../../engine/run.js';
import type { TriggerClaims } from './claims.js';

/** An event sent to braid (`POST /events`, `braid send`, a webhook delivery). @beta */
export interface TriggerEvent {
  readonly name: string;
  /** Deduplicates deliveries; one is made up when absent (then it is never deduplicated). */
  readonly id?: string;
  readonly data?: unknown;
  /** A webhook delivery's headers, lower-case names. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** One run an event (or a due time) started. @beta */
export interface TriggeredRun {
  readonly workflow: string;
  readonly trigger: string;
  readonly runId: string;
}

/** What a delivery answers: the runs it started, or (a repeated id) the runs the first delivery started. @beta */
export interface Delivery {
  readonly id: string;
  readonly runs: readonly TriggeredRun[];
  /** The id was delivered before: nothing new started. */
  readonly duplicate: boolean;
  /** Triggers that matched but could not start a run (e.g. the input their templates gave was refused). */
  readonly errors: readonly { readonly workflow: string; readonly trigger: string; readonly message: string }[];
}

/** One trigger as `braid triggers` and `GET /triggers` show it. @beta */
export interface TriggerInfo {
  readonly id: string;
  readonly workflow: string;
  readonly name: string;
  readonly kind: TriggerDef['kind'];
  readonly state: 'active' | 'paused';
  readonly cron?: string;
  readonly timezone?: string;
  readonly event?: string;
  readonly path?: string;
  readonly overlap?: string;
  readonly catchup?: string;
  /** The next three fire times (schedules). */
  readonly next: readonly string[];
  readonly last?: LastFire;
}

/** The last time a trigger fired. @beta */
export interface LastFire {
  readonly at: string;
  readonly due?: string;
  readonly eventId?: string;
  readonly runIds: readonly string[];
  /** Why no run started (overlap `skip`). */
  readonly skipped?: string;
}

/** Options of `TriggerService`. @beta */
export interface TriggerServiceOptions {
  readonly catalog: WorkflowCatalog;
  readonly runs: RunManager;
  readonly claims: TriggerClaims;
  /** The clock: milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Where webhook secrets are read (`secret_env`). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How long a claim holds before a dead claimer's due time or event may be claimed again. @default 15000 */
  readonly leaseMs?: number;
  /** How long a fired due time or event id is remembered. @default 30 days */
  readonly keepMs?: number;
  /** A due time fired this much later than due counts as missed (its `catchup` applies). @default 5000 */
  readonly graceMs?: number;
  /** Lines for the log (what fired, what was skipped). */
  readonly log?: (line: string) => void;
}

type Scheduled = { readonly workflow: string; readonly def: TriggerDef; cursor?: number; buffered?: number };
const PENDING = 'pending';

/** Fires a catalog's triggers: schedules on `tick`, events on `deliver`. @beta */
export class TriggerService {
  readonly #o: Required<Omit<TriggerServiceOptions, 'log'>> & Pick<TriggerServiceOptions, 'log'>;
  readonly #triggers: { readonly workflow: string; readonly def: TriggerDef }[] = [];
  readonly #schedules: Scheduled[] = [];
  /** Runs this process started, by trigger id (for overlap). */
  readonly #started = new Map<string, RunHandle[]>();
  /** Due times this process lost to a claimer that had not finished: looked at again until settled. */
  readonly #unsettled = new Map<string, { s: Scheduled; due: number }>();
  #timer?: ReturnType<typeof setInterval>;
  #ticking?: Promise<void>;

  constructor(options: TriggerServiceOptions) {
    this.#o = {
      ...options,
      now: options.now ?? Date.now,
      env: options.env ?? process.env,
      leaseMs: options.leaseMs ?? 15_000,
      keepMs: options.keepMs ?? 30 * 86_400_000,
      graceMs: options.graceMs ?? 5000,
    };
    for (const entry of options.catalog.list()) {
      for (const def of triggersOf(entry.workflow)) {
        this.#triggers.push({ workflow: entry.name, def });
        if (def.kind === 'schedule') this.#schedules.push({ workflow: entry.name, def });
      }
    }
  }

  /** How many triggers the catalog's workflows declare. */
  get size(): number {
    return this.#triggers.length;
  }

  /** Tick every `intervalMs` on the real clock until `stop`. */
  start(intervalMs = 250): void {
    if (this.#timer || !this.#schedules.length) return;
    this.#timer = setInterval(
      () => void this.tick().catch((err: Error) => this.#say(`triggers: ${err.message}`)),
      intervalMs,
    );
    this.#timer.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
  }

  /** Fire every schedule whose due time has come (one tick at a time: a slow tick is not overlapped). */
  async tick(now = this.#o.now()): Promise<void> {
    if (this.#ticking) return this.#ticking;
    this.#ticking = this.#tick(now).finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  async #tick(now: number): Promise<void> {
    for (const [key, { s, due }] of [...this.#unsettled]) {
      const value = await this.#o.claims.get(key);
      if (value !== undefined && value !== PENDING) this.#unsettled.delete(key);
      else if (value === undefined) (this.#unsettled.delete(key), await this.#fire(s, due, now, await this.#active(s)));
    }
    for (const s of this.#schedules) {
      if (await this.paused(idOf(s.workflow, s.def.name))) {
        s.cursor = now; // a paused trigger fires nothing, and misses nothing to catch up on when resumed
        continue;
      }
      await this.#tickSchedule(s, now);
    }
  }

  async #tickSchedule(s: Scheduled, now: number): Promise<void> {
    const { def } = s;
    const cron = cronOf(def);
    if (s.cursor === undefined) {
      // First look: catch up from the last due time any process fired, within the window.
      const last = def.catchup === 'none' ? undefined : (await this.#last(s.workflow, def.name))?.due;
      s.cursor = last ? Math.max(Date.parse(last), now - def.catchupWindowMs) : now;
    }
    // Jitter delays a due time by a fixed amount every process computes alike (a hash of the trigger and the time).
    const dues = dueTimesBetween(cron, new Date(s.cursor), new Date(now)).map((d) => d.getTime());
    const waiting = dues.findIndex((d) => d + jitterOf(s, d) > now);
    const ready = waiting < 0 ? dues : dues.slice(0, waiting);
    if (ready.length) s.cursor = ready[ready.length - 1];
    const missed = ready.filter((d) => d < now - this.#o.graceMs - def.jitterMs);
    const onTime = ready.filter((d) => d >= now - this.#o.graceMs - def.jitterMs);
    const windowed = missed.filter((d) => d >= now - def.catchupWindowMs);
    const caught = def.catchup === 'all' ? windowed : def.catchup === 'latest' ? windowed.slice(-1) : [];
    // The due times of one tick are one batch: overlap looks at the runs going before it, not at each other.
    const batch = [...caught, ...onTime];
    const active = batch.length ? await this.#active(s) : [];
    for (const due of batch) await this.#fire(s, due, now, active);
    if (s.buffered !== undefined && !(await this.#active(s)).length) {
      const due = s.buffered;
      s.buffered = undefined;
      await this.#startScheduled(s, due, now);
    }
  }

  /** Claim one due time and start its run, as the overlap policy says. */
  async #fire(s: Scheduled, due: number, now: number, active: readonly string[]): Promise<void> {
    const key = `due:${idOf(s.workflow, s.def.name)}:${new Date(due).toISOString()}`;
    if (!(await this.#o.claims.claim(key, PENDING, this.#o.leaseMs))) {
      if ((await this.#o.claims.get(key)) === PENDING) this.#unsettled.set(key, { s, due });
      return;
    }
    const policy = active.length ? s.def.overlap : 'allow_all';
    if (policy === 'skip' || (policy === 'buffer_one' && s.buffered !== undefined)) {
      const why = `the previous run ${active.join(', ')} is still going (overlap: ${s.def.overlap})`;
      await this.#settle(key, s, { at: iso(now), due: iso(due), runIds: [], skipped: why });
      this.#say(`trigger ${idOf(s.workflow, s.def.name)}: skipped ${iso(due)}: ${why}`);
      return;
    }
    if (policy === 'buffer_one') {
      s.buffered = due;
      await this.#o.claims.put(key, `buffered:${process.pid}`, this.#o.keepMs);
      return;
    }
    if (policy === 'cancel_other') await this.#cancel(s, active);
    await this.#startScheduled(s, due, now, key);
  }

  async #startScheduled(s: Scheduled, due: number, now: number, key?: string): Promise<void> {
    const id = idOf(s.workflow, s.def.name);
    key ??= `due:${id}:${iso(due)}`;
    const trigger: TriggerRef = { workflow: s.workflow, name: s.def.name, kind: 'schedule', due: iso(due) };
    const runId = `${iso(due).replace(/[-:]/g, '').replace(/\..*$/, '')}-t${hash(`${id}\0${iso(due)}`).slice(0, 10)}`;
    try {
      const handle = await this.#startRecorded(
        s.workflow,
        s.def,
        { trigger: { name: s.def.name, due: iso(due) } },
        trigger,
        runId,
      );
      await this.#settle(key, s, { at: iso(now), due: iso(due), runIds: [handle.runId] });
      this.#say(`trigger ${id}: started run ${handle.runId} for ${iso(due)}`);
    } catch (err) {
      await this.#settle(key, s, { at: iso(now), due: iso(due), runIds: [], skipped: (err as Error).message });
      this.#say(`trigger ${id}: could not start a run for ${iso(due)}: ${(err as Error).message}`);
    }
  }

  async #settle(key: string, s: { workflow: string; def: TriggerDef }, last: LastFire): Promise<void> {
    // A fired due time is remembered a while (twice the catch-up window, at least two days); after that a scheduled
    // run's id, made from its due time, still keeps the store from creating it twice.
    const keep = Math.min(this.#o.keepMs, Math.max(2 * s.def.catchupWindowMs, 2 * 86_400_000));
    await this.#o.claims.put(key, JSON.stringify(last.runIds), keep);
    if (last.runIds.length) {
      // The trigger's latest runs, for overlap in every process (a skipped due time leaves them as they are).
      const recentKey = `runs:${idOf(s.workflow, s.def.name)}`;
      const before = JSON.parse((await this.#o.claims.get(recentKey)) ?? '[]') as string[];
      await this.#o.claims.put(recentKey, JSON.stringify([...before, ...last.runIds].slice(-20)));
    }
    const prev = await this.#last(s.workflow, s.def.name);
    // The latest due time wins (a backfill of older times does not move it back).
    if (!prev?.due || !last.due || prev.due <= last.due)
      await this.#o.claims.put(`last:${idOf(s.workflow, s.def.name)}`, JSON.stringify(last));
  }

  #startRun(
    workflow: string,
    def: TriggerDef,
    scope: { event?: unknown; trigger: { name: string; due?: string } },
    trigger: TriggerRef,
    runId?: string,
  ): RunHandle {
    const rendered = def.input
      ? (compileTemplate(def.input, new Set())(scope as unknown as TemplateContext) as Record<string, unknown>)
      : {};
    // A template that finds nothing leaves its input out: the workflow's default for it applies.
    const input = Object.fromEntries(Object.entries(rendered).filter(([, v]) => v !== null && v !== undefined));
    const handle = this.#o.runs.start(workflow, input, { trigger, ...(runId ? { runId } : {}) });
    const id = idOf(workflow, def.name);
    const list = (this.#started.get(id) ?? []).filter((h) => !h.finished);
    list.push(handle);
    this.#started.set(id, list);
    // Another process created this run id first (it claimed, then died, then its claim expired): not a failure.
    handle.done.catch((err: Error) => this.#say(`trigger ${id}: run ${handle.runId}: ${err.message}`));
    return handle;
  }

  /**
   * Start a run and wait until its record exists. A run id whose record another process is creating right now (its
   * lock held: a claimer that died mid-create, whose lock has not expired yet) is tried again until it exists.
   */
  async #startRecorded(
    workflow: string,
    def: TriggerDef,
    scope: { event?: unknown; trigger: { name: string; due?: string } },
    trigger: TriggerRef,
    runId: string,
  ): Promise<RunHandle> {
    const deadline = Date.now() + 3 * this.#o.leaseMs;
    for (;;) {
      const handle = this.#startRun(workflow, def, scope, trigger, runId);
      await recorded(handle);
      const locked = BraidError.is(handle.error) && handle.error.code === 'E_LOCKED';
      if (!locked || Date.now() > deadline) return handle;
      await new Promise((r) => setTimeout(r, Math.min(500, this.#o.leaseMs / 4)));
    }
  }

  /** The runs of this trigger still going: started here, or (another process) recorded as running or waiting. */
  async #active(s: Scheduled): Promise<string[]> {
    const id = idOf(s.workflow, s.def.name);
    const local = (this.#started.get(id) ?? []).filter((h) => !h.finished).map((h) => h.runId);
    if (local.length) return local;
    const store = this.#o.runs.options.store;
    const recent = await this.#o.claims.get(`runs:${id}`);
    if (!store || !recent) return [];
    const out: string[] = [];
    for (const runId of JSON.parse(recent) as string[]) {
      if (this.#o.runs.get(runId)?.finished) continue;
      const record = await store.read(runId).catch(() => undefined);
      const status = record?.header ? foldRun(record, processAlive).status : undefined;
      if (status === 'running' || status === 'waiting') out.push(runId);
    }
    return out;
  }

  async #cancel(s: Scheduled, runIds: readonly string[]): Promise<void> {
    for (const runId of runIds) {
      const local = this.#o.runs.get(runId);
      const id = idOf(s.workflow, s.def.name);
      if (local) local.cancel();
      else {
        // A run another process is running cannot be cancelled from here (its lock is held): it goes on.
        const why = await this.#o.runs.cancelRecorded(runId).then(
          () => undefined,
          (err: Error) => err.message,
        );
        if (why) {
          this.#say(`trigger ${id}: could not cancel run ${runId} (overlap: cancel_other): ${why}`);
          continue;
        }
      }
      this.#say(`trigger ${id}: cancelled run ${runId} (overlap: cancel_other)`);
    }
    await Promise.allSettled(runIds.map((r) => this.#o.runs.get(r)?.done));
  }

  /**
   * Deliver an event to every trigger waiting for its name whose filter holds. A repeated id starts nothing and
   * answers with the runs its first delivery started.
   */
  async deliver(event: TriggerEvent, only?: readonly { workflow: string; def: TriggerDef }[]): Promise<Delivery> {
    const id = event.id ?? randomUUID();
    const key = `event:${id}`;
    // Wait while another process holds the id; take it over when its claimer died (its lease ran out).
    const deadline = Date.now() + this.#o.leaseMs + 10_000;
    while (!(await this.#o.claims.claim(key, PENDING, this.#o.leaseMs))) {
      const value = await this.#o.claims.get(key);
      if (value !== undefined && value !== PENDING)
        return { id, runs: JSON.parse(value) as TriggeredRun[], duplicate: true, errors: [] };
      if (Date.now() > deadline)
        throw new BraidError('E_CONFLICT', `event "${id}" is being delivered by another process; send it again later`);
      if (value === PENDING) await new Promise((r) => setTimeout(r, 50));
    }
    const now = this.#o.now();
    const full = {
      name: event.name,
      id,
      data: event.data ?? null,
      ts: iso(now),
      ...(event.headers ? { headers: event.headers } : {}),
    };
    const runs: TriggeredRun[] = [];
    const errors: { workflow: string; trigger: string; message: string }[] = [];
    for (const { workflow, def } of only ?? this.#triggers) {
      if (def.kind === 'schedule' || def.event !== event.name) continue;
      if (await this.paused(idOf(workflow, def.name))) continue;
      try {
        if (def.filter !== undefined && !(await matches(def.filter, full))) continue;
        const trigger: TriggerRef = { workflow, name: def.name, kind: def.kind, eventId: id };
        // The run id is reserved before the run starts: a process that takes over an event whose claimer died
        // starts the reserved id, which the store creates at most once.
        const reserve = `eventrun:${id}:${idOf(workflow, def.name)}`;
        const planned = newRunId();
        const runId = (await this.#o.claims.claim(reserve, planned, this.#o.keepMs))
          ? planned
          : ((await this.#o.claims.get(reserve)) ?? planned);
        // Settled only once the run's record exists: a claimer killed before that is redone by another process.
        const handle = await this.#startRecorded(
          workflow,
          def,
          { event: full, trigger: { name: def.name } },
          trigger,
          runId,
        );
        runs.push({ workflow, trigger: def.name, runId: handle.runId });
        await this.#o.claims.put(
          `last:${idOf(workflow, def.name)}`,
          JSON.stringify({ at: iso(now), eventId: id, runIds: [handle.runId] }),
        );
      } catch (err) {
        errors.push({ workflow, trigger: def.name, message: (err as Error).message });
      }
    }
    await this.#o.claims.put(key, JSON.stringify(runs), this.#o.keepMs);
    return { id, runs, duplicate: false, errors };
  }

  /** The webhook triggers listening on `path`. */
  webhooks(path: string): { workflow: string; def: TriggerDef }[] {
    return this.#triggers.filter((t) => t.def.kind === 'webhook' && t.def.path === path);
  }

  /** A trigger by `<workflow>:<name>`, or `E_NOT_FOUND` with a did-you-mean. */
  find(id: string): { workflow: string; def: TriggerDef } {
    const found = this.#triggers.find((t) => idOf(t.workflow, t.def.name) === id);
    if (found) return found;
    const ids = this.#triggers.map((t) => idOf(t.workflow, t.def.name));
    throw new BraidError(
      'E_NOT_FOUND',
      `no trigger "${id}"; ${didYouMean(id, ids) ?? `triggers: ${ids.join(', ') || '(none)'}`}`,
      { path: 'trigger' },
    );
  }

  async paused(id: string): Promise<boolean> {
    return (await this.#o.claims.get(`paused:${id}`)) !== undefined;
  }

  async pause(id: string): Promise<void> {
    this.find(id);
    await this.#o.claims.put(`paused:${id}`, new Date(this.#o.now()).toISOString());
  }

  async resume(id: string): Promise<void> {
    this.find(id);
    await this.#o.claims.delete(`paused:${id}`);
  }

  /**
   * Fire a schedule for due times an operator names (now, one time, or every due time in a range): each due time
   * still at most once. Answers the runs started and the due times that had already fired.
   */
  async fire(
    id: string,
    at: { at?: Date; from?: Date; to?: Date } = {},
  ): Promise<{ started: TriggeredRun[]; already: string[] }> {
    const t = this.find(id);
    if (t.def.kind !== 'schedule')
      throw new BraidError(
        'E_BAD_ARGUMENT',
        `trigger "${id}" is ${t.def.kind === 'event' ? 'an event' : 'a webhook'} trigger: send it an event (braid send ${t.def.event})`,
      );
    const now = this.#o.now();
    const dues = at.from
      ? dueTimesBetween(cronOf(t.def), new Date(at.from.getTime() - 1), at.to ?? new Date(now)).map((d) => d.getTime())
      : [Math.floor((at.at?.getTime() ?? now) / 1000) * 1000];
    const s: Scheduled = this.#schedules.find((x) => x.workflow === t.workflow && x.def === t.def)!;
    const started: TriggeredRun[] = [];
    const already: string[] = [];
    for (const due of dues) {
      const key = `due:${id}:${iso(due)}`;
      if (!(await this.#o.claims.claim(key, PENDING, this.#o.leaseMs))) {
        already.push(iso(due));
        continue;
      }
      await this.#startScheduled(s, due, now, key);
      const last = await this.#last(s.workflow, s.def.name);
      for (const runId of last?.due === iso(due) ? last.runIds : JSON.parse((await this.#o.claims.get(key)) ?? '[]'))
        started.push({ workflow: t.workflow, trigger: t.def.name, runId });
    }
    return { started, already };
  }

  /** Every trigger with its state, next fire times and last fire. */
  async list(): Promise<TriggerInfo[]> {
    const now = new Date(this.#o.now());
    const out: TriggerInfo[] = [];
    for (const { workflow, def } of this.#triggers) {
      const id = idOf(workflow, def.name);
      const last = await this.#last(workflow, def.name);
      out.push({
        id,
        workflow,
        name: def.name,
        kind: def.kind,
        state: (await this.paused(id)) ? 'paused' : 'active',
        ...(def.kind === 'schedule'
          ? { cron: def.cron, timezone: def.timezone, overlap: def.overlap, catchup: def.catchup }
          : { event: def.event }),
        ...(def.path ? { path: def.path } : {}),
        next: def.kind === 'schedule' ? nextFireTimes(def, now, 3).map((d) => d.toISOString()) : [],
        ...(last ? { last } : {}),
      });
    }
    return out;
  }

  async #last(workflow: string, name: string): Promise<LastFire | undefined> {
    const value = await this.#o.claims.get(`last:${idOf(workflow, name)}`);
    return value ? (JSON.parse(value) as LastFire) : undefined;
  }

  #say(line: string): void {
    this.#o.log?.(line);
  }
}

/** A trigger's id on the command line and in URLs: `<workflow>:<name>`. */
export const idOf = (workflow: string, name: string): string => `${workflow}:${name}`;

const iso = (ms: number) => new Date(ms).toISOString();
const hash = (text: string) => createHash('sha256').update(text).digest('hex');

/** A due time's jitter: the same in every process (a hash of the trigger and the time), below `jitter_ms`. */
function jitterOf(s: Scheduled, due: number): number {
  if (!s.def.jitterMs) return 0;
  return parseInt(hash(`${s.workflow}\0${s.def.name}\0${due}`).slice(0, 8), 16) % s.def.jitterMs;
}

/** Resolves once the run has its first event (its record is created), or has ended without one. */
async function recorded(handle: RunHandle): Promise<void> {
  const events = handle.stream();
  await events.next();
  await events.return(undefined);
}

async function matches(filter: string, event: unknown): Promise<boolean> {
  const parsed = parseExpression(filter);
  if (!parsed.ok) throw new BraidError('E_EXPRESSION', parsed.message);
  return Boolean(await parsed.expression.evaluate({ event }));
}
