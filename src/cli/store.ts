/**
 * Where a CLI command keeps runs and runs attempts: the JSONL files under `$BRAID_HOME/runs` and this
 * process, or Redis for both when `--redis` / `BRAID_REDIS_URL` names one (docs/scaling-out.md): runs
 * recorded in Redis are seen by every machine, and attempts go to `braid worker` processes. Redis clients
 * load only then, and `closeCli` closes them when the command ends.
 */
import { BraidError } from '../errors.js';
import type { AttemptExecutor } from '../executors/contract.js';
import { defaultStore } from '../store/default-store.js';
import type { RedisRunStore } from '../store/redis-store.js';
import type { RunStore } from '../store/types.js';
import type { Takeover, TakeoverOptions } from '../service/takeover.js';
import { safeText } from './format.js';
import { optional } from '../core/optional.js';

export const redisUrl = (): string | undefined => process.env.BRAID_REDIS_URL || undefined;

/** BRAID_LEASE_MS: how long a dead coordinator's runs wait before another process takes them over. */
const leaseMs = (): number | undefined => Number(process.env.BRAID_LEASE_MS) || undefined;

/** A URL as printed: without its password. */
export const shownUrl = (url: string): string => url.replace(/\/\/([^@/]*)@/, '//***@');

let store: Promise<RunStore> | undefined;
const closers: (() => Promise<void>)[] = [];

/** The command's run store (one per process). */
export function cliStore(): Promise<RunStore> {
  return (store ??= openStore());
}

async function openStore(): Promise<RunStore> {
  const url = redisUrl();
  if (!url) return defaultStore();
  assertRedisSecured(url);
  const { RedisRunStore } = await optional('redis', () => import('../store/redis-store.js'));
  const redis = new RedisRunStore(url, { leaseMs: leaseMs() });
  closers.push(() => redis.close());
  await redis.reachable();
  return redis;
}

/** The Redis store, or a clear error for a command that needs one. */
export async function redisStore(command: string): Promise<RedisRunStore> {
  if (!redisUrl())
    throw new BraidError('E_CONFIG', `${command} needs Redis: give --redis redis://host:6379 or set BRAID_REDIS_URL`);
  return (await cliStore()) as RedisRunStore;
}

/** Attempts as BullMQ jobs for `braid worker` processes when Redis is configured; else undefined (in process). */
export async function cliExecutor(concurrency?: number): Promise<AttemptExecutor | undefined> {
  const url = redisUrl();
  if (!url) return undefined;
  // fails at once, naming the URL, when Redis does not answer
  const store = (await cliStore()) as RedisRunStore;
  const { BullmqExecutor } = await optional('redis', () => import('../executors/bullmq-executor.js'));
  const executor = new BullmqExecutor({
    redis: url,
    // The lease's generation fences this coordinator's attempts and cancels (docs/scaling-out.md).
    generationOf: (runId) => store.generationOf(runId),
    concurrency,
    telemetry: Boolean(process.env.BRAID_OTEL),
    onNoWorker: (queue) =>
      void process.stderr.write(
        `braid: no braid worker takes attempts from queue "${queue}" at ${shownUrl(url)} yet; they wait for one (start one with: braid worker --redis ${shownUrl(url)})\n`,
      ),
  });
  closers.push(() => executor.close());
  return executor;
}

/**
 * Anyone who can write to Redis can deny service (delete runs, fail attempts), though not run anything (jobs and
 * records are signed). Reaching it must still take a password: a Redis beyond loopback whose URL has none is
 * refused unless `--insecure-redis` (`BRAID_INSECURE_REDIS=1`) says the network is trusted.
 */
export function assertRedisSecured(url: string): void {
  if (process.env.BRAID_INSECURE_REDIS === '1') return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BraidError('E_BAD_ARGUMENT', `--redis ${shownUrl(url)}: not a URL (redis://[user:password@]host:port)`);
  }
  if (!/^rediss?:$/.test(parsed.protocol))
    throw new BraidError('E_BAD_ARGUMENT', `--redis ${shownUrl(url)}: give a redis:// or rediss:// (TLS) URL`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (loopback || parsed.password) return;
  throw new BraidError(
    'E_CONFIG',
    `--redis ${shownUrl(url)}: Redis beyond loopback without a password: anyone on the network could read every run and disrupt them. Give redis://user:password@${parsed.host} (an ACL user; rediss:// for TLS), or --insecure-redis if this network is trusted (docs/scaling-out.md, "Securing Redis")`,
  );
}

/** Where a run's record is, for messages. */
export function recordName(store: RunStore, runId: string): string {
  const path = (store as { path?: (id: string) => string }).path;
  return path ? path.call(store, runId) : `run ${runId} in Redis`;
}

/** The store, for messages. */
export function storeName(store: RunStore): string {
  const dir = (store as { dir?: string }).dir;
  return dir ?? `Redis at ${shownUrl(redisUrl() ?? '')}`;
}

/** Close what the command opened (Redis connections keep a process alive). */
export async function closeCli(): Promise<void> {
  store = undefined;
  // The command's records are durable by now (the commands wait for `store.idle`): a connection that fails to close
  // loses nothing, and the process exits anyway.
  await Promise.all(closers.splice(0).map((close) => close().catch(() => {})));
}

/**
 * Continue runs whose coordinator died (`braid worker --coordinate`, `braid serve --redis`), saying so on
 * `say`. It looks a few times per lease.
 */
export async function cliTakeover(
  who: string,
  options: Pick<TakeoverOptions, 'tools' | 'llm' | 'executor' | 'mcp'>,
  say: (line: string) => void,
): Promise<Takeover> {
  const { takeOverRuns } = await import('../service/takeover.js');
  return takeOverRuns({
    ...options,
    store: await redisStore(who),
    intervalMs: Math.min(2000, (leaseMs() ?? 15_000) / 3),
    onTakeover: (runId) => say(`${who}: took over run ${runId} (its coordinator stopped renewing its lease)`),
    onFinished: (runId, r) => say(`${who}: run ${runId} ${r.status}`),
    onError: (runId, err) => say(`${who}: could not continue run ${runId}: ${safeText(err.message)}`),
  });
}
