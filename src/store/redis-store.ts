/**
 * Run records in Redis, so every machine pointed at the same Redis sees every run: the same contract as the
 * JSONL store. One Redis Stream per run (`XADD` per event; appends of one event-loop turn go out as one
 * pipeline: the group commit), the header as a string written once (`SET NX`: never overwritten), an index
 * of runs (a sorted set by creation time) for `braid runs`, and one writer per run as a lease (`SET NX PX`
 * with an owner token, renewed while the writer lives, released by a compare-and-delete script).
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { BraidError } from '../errors.js';
import type { RunEvent } from '../core/events.js';
import { RunLockedError, type LockOwner } from './run-lock.js';
import type { RunHeader, RunLockHandle, RunLog, RunRecord, RunStore } from './types.js';

export interface RedisRunStoreOptions {
  /** Key prefix. @default 'braid' */
  readonly prefix?: string;
  /** How long a writer's lease lasts without renewal (it is renewed every third of it). @default 15000 */
  readonly leaseMs?: number;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

export class RedisRunStore implements RunStore {
  readonly redis: Redis;
  readonly #prefix: string;
  readonly #leaseMs: number;
  /** Logs of this process being closed (their last appends and lock release still on the way), by run. */
  readonly #closing = new Map<string, Promise<void>>();

  constructor(url: string, options: RedisRunStoreOptions = {}) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: false, enableOfflineQueue: true });
    // A broken connection is reported by the command that needs it; no unhandled 'error' events.
    this.redis.on('error', () => {});
    this.#prefix = options.prefix ?? 'braid';
    this.#leaseMs = options.leaseMs ?? 15_000;
  }

  #key(runId: string, part: 'header' | 'events' | 'lock'): string {
    return `${this.#prefix}:run:${runId}:${part}`;
  }

  async create(header: RunHeader): Promise<RunLog> {
    const lock = await this.lock(header.runId);
    try {
      const created = await this.redis.set(this.#key(header.runId, 'header'), JSON.stringify(header), 'NX');
      if (created !== 'OK')
        throw new BraidError('E_RUN_STATE', `run "${header.runId}" already exists in Redis`, { retryable: false });
      await this.redis.zadd(`${this.#prefix}:runs`, Date.parse(header.createdAt) || Date.now(), header.runId);
      return this.#log(header.runId, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  async lock(runId: string): Promise<RunLockHandle> {
    // A run of this process that just ended is still handing its lock back: wait for it, not E_LOCKED.
    await this.#closing.get(runId);
    const key = this.#key(runId, 'lock');
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      token: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2)}`,
    };
    const ok = await this.redis.set(key, JSON.stringify(owner), 'PX', this.#leaseMs, 'NX');
    if (ok !== 'OK') {
      const held = await this.redis.get(key);
      throw new RunLockedError(runId, held ? (JSON.parse(held) as LockOwner) : undefined);
    }
    const value = JSON.stringify(owner);
    const renew = setInterval(
      () => void this.redis.eval(RENEW, 1, key, value, String(this.#leaseMs)).catch(() => {}),
      Math.max(100, this.#leaseMs / 3),
    );
    renew.unref();
    let released = false;
    const handle = {
      runId,
      /** Resolves once Redis has the lock back. */
      released: Promise.resolve() as Promise<unknown>,
      release: () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        handle.released = this.redis.eval(RELEASE, 1, key, value).catch(() => {});
      },
    };
    return handle;
  }

  async reopen(runId: string, lock?: RunLockHandle): Promise<RunLog> {
    if (!(await this.redis.exists(this.#key(runId, 'header')))) throw noSuchRun(runId);
    return this.#log(runId, lock ?? (await this.lock(runId)));
  }

  async read(runId: string): Promise<RunRecord> {
    const [header, entries] = await Promise.all([
      this.redis.get(this.#key(runId, 'header')),
      this.redis.xrange(this.#key(runId, 'events'), '-', '+'),
    ]);
    if (header === null) throw noSuchRun(runId);
    const problems: string[] = [];
    const events: RunEvent[] = [];
    for (const [id, fields] of entries) {
      try {
        events.push(JSON.parse(fields[1]) as RunEvent);
      } catch (err) {
        problems.push(`stream entry ${id}: ${(err as Error).message}, ignored`);
      }
    }
    return { header: JSON.parse(header) as RunHeader, events, problems };
  }

  async list(): Promise<string[]> {
    return this.redis.zrevrange(`${this.#prefix}:runs`, 0, -1);
  }

  /** Close the connection (a CLI command ends with it). */
  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Appends buffer; once per event-loop turn they go out as one pipeline of XADDs (the group commit). */
  #log(runId: string, lock: RunLockHandle): RunLog {
    const key = this.#key(runId, 'events');
    const storeRedis = this.redis;
    let buffer: string[] = [];
    let pending: Promise<void> = Promise.resolve();
    let scheduled = false;
    let failure: BraidError | undefined;
    const log: RunLog = {
      append: (event) => {
        if (failure) return;
        let line: string;
        try {
          line = JSON.stringify(event);
        } catch (err) {
          return fail(
            new BraidError(
              'E_STORE',
              `event ${event.seq} (${event.type}) cannot be recorded: ${(err as Error).message}`,
              { retryable: false },
            ),
          );
        }
        buffer.push(line);
        if (!scheduled) {
          scheduled = true;
          setImmediate(write);
        }
      },
      flush: async () => {
        if (buffer.length) write();
        await pending;
      },
      flushSync: () => {
        // Redis has no synchronous client: what was sent is in Redis; the rest is sent now and may be lost on exit.
        if (buffer.length) write();
      },
      close: () => {
        const closing = (async () => {
          try {
            await log.flush();
          } finally {
            lock.release();
            await (lock as { released?: Promise<unknown> }).released;
          }
        })();
        const tracked = closing.catch(() => {}).finally(() => this.#closing.delete(runId));
        this.#closing.set(runId, tracked);
        return closing.then(() => {
          if (failure) throw failure;
        });
      },
      get failure() {
        return failure;
      },
    };
    const fail = (err: BraidError) => {
      if (failure) return;
      failure = err;
      log.onFailure?.(err);
    };
    function write(this: void) {
      scheduled = false;
      if (!buffer.length || failure) return;
      const lines = buffer;
      buffer = [];
      const pipeline = storeRedis.pipeline();
      for (const line of lines) pipeline.xadd(key, '*', 'e', line);
      pending = pending.then(async () => {
        try {
          const results = await pipeline.exec();
          const error = results?.find(([err]) => err)?.[0];
          if (error) throw error;
        } catch (err) {
          fail(
            new BraidError('E_STORE', `Redis: could not record run "${runId}": ${(err as Error).message}`, {
              retryable: false,
            }),
          );
        }
      });
    }
    return log;
  }
}

function noSuchRun(runId: string): BraidError {
  return new BraidError('E_RUN_NOT_FOUND', `no run "${runId}" in Redis (list them with: braid runs)`, {
    retryable: false,
  });
}
