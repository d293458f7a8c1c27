/**
 * `braid send`, `braid triggers` and `braid trigger` (workflow-spec.md §10): an event delivered, the triggers listed,
 * paused or resumed, a schedule fired now or over a range. They read the same workflows folder as `braid serve` and
 * share its claims (files under `$BRAID_HOME/triggers`, or Redis with `--redis`), so an event id or a due time starts
 * its runs once whichever process sees it; runs an event starts here run here, to the end.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BraidError } from '../errors.js';
import { braidHome } from '../core/home.js';
import { FileClaims, MemoryClaims, RedisClaims, type TriggerClaims } from '../service/triggers/claims.js';
import { TriggerService, type TriggeredRun } from '../service/triggers/trigger-service.js';
import type { RunManager } from '../service/run-manager.js';
import type { RedisRunStore } from '../store/redis-store.js';
import { setUp, type ServiceFlags } from './chat.js';
import { EXIT } from './exit.js';
import { safeText, table } from './format.js';
import { redisUrl } from './store.js';
import { packageRoot } from '../paths.js';

/** Where triggers keep their claims: Redis when runs are there, else files beside the runs (or memory: --no-store). */
export function cliClaims(store: unknown, persistent = true): TriggerClaims {
  if (redisUrl() && store) return new RedisClaims((store as RedisRunStore).redis);
  return persistent ? new FileClaims(join(braidHome(), 'triggers')) : new MemoryClaims();
}

/** BRAID_LEASE_MS: how long a dead process's claim on a due time or an event holds (as its runs' leases). */
const leaseMs = (): number | undefined => Number(process.env.BRAID_LEASE_MS) || undefined;

async function open(flags: ServiceFlags): Promise<{ service: TriggerService; runs: RunManager }> {
  const { catalog, runs } = await setUp(flags);
  const claims = cliClaims(runs.options.store, flags.store !== false);
  const log = (line: string) => void process.stderr.write(`braid: ${safeText(line)}\n`);
  return { service: new TriggerService({ catalog, runs, claims, log, leaseMs: leaseMs() }), runs };
}

/** Wait for the runs started here; exit 1 when one did not succeed. */
async function finish(runs: RunManager, started: readonly TriggeredRun[]): Promise<number> {
  let code: number = EXIT.ok;
  for (const r of started) {
    const handle = runs.get(r.runId);
    if (!handle) continue;
    const result = await handle.done.catch((err: Error) => ({ status: `error: ${err.message}` }));
    process.stderr.write(
      `  ${safeText(r.workflow)}:${safeText(r.trigger)} run ${r.runId} ${safeText(result.status)}\n`,
    );
    if (result.status !== 'succeeded') code = result.status === 'waiting' ? EXIT.waiting : EXIT.failed;
  }
  return code;
}

export interface SendFlags extends ServiceFlags {
  data?: string;
  id?: string;
  json?: boolean;
}

export async function sendCommand(name: string, flags: SendFlags): Promise<number> {
  let data: unknown = null;
  if (flags.data) {
    const text = await readFile(flags.data, 'utf8').catch((err: Error) => {
      throw new BraidError('E_BAD_ARGUMENT', `--data ${flags.data}: ${err.message}`);
    });
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new BraidError('E_BAD_ARGUMENT', `--data ${flags.data}: not JSON (${(err as Error).message})`);
    }
  }
  const { service, runs } = await open(flags);
  const delivery = await service.deliver({ name, ...(flags.id ? { id: flags.id } : {}), data });
  if (flags.json) process.stdout.write(`${JSON.stringify(delivery, null, 2)}\n`);
  else {
    const what = delivery.duplicate ? 'already delivered; its first delivery started' : 'started';
    process.stdout.write(
      `event ${safeText(name)} (id ${safeText(delivery.id)}): ${what} ${delivery.runs.length} run${delivery.runs.length === 1 ? '' : 's'}\n${delivery.runs.map((r) => `  ${safeText(r.workflow)}:${safeText(r.trigger)} ${r.runId}\n`).join('')}`,
    );
  }
  for (const e of delivery.errors)
    process.stderr.write(`braid: ${safeText(e.workflow)}:${safeText(e.trigger)}: ${safeText(e.message)}\n`);
  const code = delivery.duplicate ? EXIT.ok : await finish(runs, delivery.runs);
  return delivery.errors.length ? EXIT.failed : code;
}

export async function triggersCommand(flags: ServiceFlags & { json?: boolean }): Promise<number> {
  const { service } = await open(flags);
  const list = await service.list();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return EXIT.ok;
  }
  if (!list.length) {
    process.stdout.write(
      'no triggers: no workflow in the folder has `triggers:` (docs/workflow-format.md, "Triggers")\n',
    );
    return EXIT.ok;
  }
  const rows = [['trigger', 'kind', 'state', 'when', 'next', 'last']];
  for (const t of list) {
    const when =
      t.kind === 'schedule'
        ? `${t.cron} (${t.timezone})`
        : t.kind === 'webhook'
          ? `/hooks/${t.path}`
          : `event ${t.event}`;
    const last = t.last ? `${t.last.due ?? t.last.at} ${t.last.skipped ? `skipped` : t.last.runIds.join(', ')}` : '-';
    rows.push([safeText(t.id), t.kind, t.state, safeText(when), t.next.join(', ') || '-', safeText(last)]);
  }
  process.stdout.write(`${table(rows)}\n`);
  return EXIT.ok;
}

export async function pauseCommand(id: string, pause: boolean, flags: ServiceFlags): Promise<number> {
  const { service } = await open(flags);
  await (pause ? service.pause(id) : service.resume(id));
  process.stdout.write(`${safeText(id)}: ${pause ? 'paused' : 'active'}\n`);
  return EXIT.ok;
}

export interface FireFlags extends ServiceFlags {
  at?: string;
  from?: string;
  to?: string;
  json?: boolean;
}

function date(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new BraidError('E_BAD_ARGUMENT', `--${flag} "${value}": not a time (ISO 8601, e.g. 2026-12-01T08:00:00Z)`);
  return d;
}

export async function fireCommand(id: string, flags: FireFlags): Promise<number> {
  if (flags.at && (flags.from || flags.to))
    throw new BraidError('E_BAD_ARGUMENT', 'give --at, or --from (and --to), not both');
  if (flags.to && !flags.from) throw new BraidError('E_BAD_ARGUMENT', '--to needs --from');
  const { service, runs } = await open(flags);
  const result = await service.fire(id, {
    at: date('at', flags.at),
    from: date('from', flags.from),
    to: date('to', flags.to),
  });
  if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else
    process.stdout.write(
      `${safeText(id)}: started ${result.started.length} run${result.started.length === 1 ? '' : 's'}${result.already.length ? `; already fired: ${result.already.join(', ')}` : ''}\n${result.started.map((r) => `  ${r.runId}\n`).join('')}`,
    );
  return finish(runs, result.started);
}

/**
 * The triggers `braid serve` fires: those of its workflows folder, unless that is braid's own examples (the fallback
 * when no folder is given: a demo server starts nothing by itself).
 */
export function serveTriggers(
  setup: { catalog: Awaited<ReturnType<typeof setUp>>['catalog']; runs: RunManager; dir: string },
  flags: ServiceFlags,
  who = 'braid serve',
): TriggerService | undefined {
  const { catalog, runs, dir } = setup;
  const say = (line: string) => void process.stderr.write(`${who}: ${safeText(line)}\n`);
  if (!flags.workflows && dir === join(packageRoot(), 'examples')) return undefined;
  const claims = cliClaims(runs.options.store, flags.store !== false);
  const service = new TriggerService({ catalog, runs, claims, log: say, leaseMs: leaseMs() });
  return service.size ? service : undefined;
}
