/**
 * Run records in Redis, so every machine pointed at the same Redis sees every run: the same contract as the
 * JSONL store. One Redis Stream per run (`XADD` per event; appends of one event-loop turn go out as one
 * pipeline: the group commit), the header as a string written once (`SET NX`: never overwritten), an index
 * of runs (a sorted set by creation time) for `braid runs`, and one writer per run as a lease (`SET NX PX`
 * with an owner token, renewed while the writer lives, released by a compare-and-delete script). Every
 * append is fenced by the lease: a script writes the events only while the lock still holds the writer's
 * token, so a writer that lost its lease (it stalled past it and another process took the run over) stops
 * with `E_LOCKED` instead of writing into a run someone else continues. Runs not finished are kept in a set
 * (`<prefix>:open`), so a coordinator can find interrupted runs whose lease expired ({@link openRuns}).
 *
 * Redis is not trusted: the header and every event carry a MAC under the `records` key of the shared secret
 * (workflow-spec.md §9), bound to the run. An event whose MAC fails is reported and left out; a header whose MAC
 * fails (or that has none) makes the record `untrusted`: shown with that problem, never resumed or taken over.
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { braidSecret, Mac } from '../core/secret.js';
import { checkRunId } from '../core/run-id.js';
import { BraidError } from '../errors.js';
import type { RunEvent } from '../core/events.js';
import { RunLockedError, type LockOwner } from './run-lock.js';
import type { RunHeader, RunLockHandle, RunLog, RunRecord, RunStore } from './types.js';

/** Options of `RedisRunStore`. @beta */
export interface RedisRunStoreOptions {
  /** Key prefix. @default 'braid' */
  readonly prefix?: string;
  /** How long a writer's lease lasts without renewal (it is renewed every third of it). @default 15000 */
  readonly leaseMs?: number;
  /** The secret shared by every process of this Redis (workflow-spec.md §9). @default braidSecret() */
  readonly secret?: Buffer | string;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/** KEYS: lock, events, open set; ARGV: token, run id, '1' when the batch ends the run, then each event and its MAC. */
const APPEND = `if redis.call('get', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LEASE_LOST') end
for i = 4, #ARGV, 2 do redis.call('xadd', KEYS[2], '*', 'e', ARGV[i], 'm', ARGV[i + 1]) end
if ARGV[3] == '1' then redis.call('srem', KEYS[3], ARGV[2]) end
return (#ARGV - 3) / 2`;
/** KEYS: header, runs index, open set; ARGV: sealed header, score, run id. 1 when created, 0 when it exists. */
const CREATE = `if not redis.call('set', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('zadd', KEYS[2], ARGV[2], ARGV[3])
redis.call('sadd', KEYS[3], ARGV[3])
return 1`;
const RENEW =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/** A run store in Redis, for runs continued by other processes. @beta */
export class RedisRunStore implements RunStore {
  readonly redis: Redis;
  readonly #prefix: string;
  readonly #leaseMs: number;
  readonly #mac: Mac;
  /** The lease generation (fencing token) of each run whose lock this process holds. */
  readonly #generations = new Map<string, number>();
  /** Headers read and found authentic, by run (a header is written once, never changed). */
  readonly #headers = new Map<string, RunHeader>();
  /** Logs of this process being closed (their last appends and lock release still on the way), by run. */
  readonly #closing = new Map<string, Promise<void>>();

  constructor(url: string, options: RedisRunStoreOptions = {}) {
    // Commands wait while Redis restarts (offline queue, retried without limit): a run rides through it.
    // Stryker disable next-line ObjectLiteral: seen only when Redis restarts mid-run (distributed.test.ts, via the CLI)
    this.redis = new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    // A broken connection is reported by the command that needs it; no unhandled 'error' events.
    // Stryker disable next-line StringLiteral: ioredis only logs an 'error' nobody listens to
    this.redis.on('error', () => {});
    this.#prefix = options.prefix ?? 'braid';
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#mac = new Mac(options.secret ?? braidSecret(), 'records');
  }

  /** The stored form of a header: its JSON and the MAC that binds it to the run. */
  #sealHeader(header: RunHeader): string {
    const json = JSON.stringify(header);
    return JSON.stringify({ mac: this.#mac.sign('header', header.runId, json), header: json });
  }

  /** A stored header, or why it is not to be trusted. */
  #openHeader(runId: string, stored: string): { header?: RunHeader; untrusted?: string } {
    try {
      const { mac, header } = JSON.parse(stored) as { mac?: unknown; header?: unknown };
      if (typeof header === 'string' && this.#mac.verify(mac, 'header', runId, header)) {
        const parsed = JSON.parse(header) as RunHeader;
        if (parsed.runId === runId) return { header: parsed };
      }
    } catch {
      // not a sealed header at all
    }
    return {
      untrusted: `the header of run "${runId}" in Redis failed its MAC check: it was not written by a braid process with this secret (a forged record, one from before records were signed, or another BRAID_SECRET); it is never resumed or taken over`,
    };
  }

  /** An event as stored: the MAC over its JSON text, bound to the run. */
  #eventMac(runId: string, line: string): string {
    return this.#mac.sign('event', runId, line);
  }

  /** A stream entry's event when its MAC checks out; else a problem to report. */
  #openEvent(runId: string, id: string, fields: string[]): RunEvent | string {
    const line = fields[1];
    if (fields[0] !== 'e' || fields[2] !== 'm' || !this.#mac.verify(fields[3], 'event', runId, line))
      return `stream entry ${id} failed its MAC check (not written by a braid process with this secret), ignored`;
    try {
      return JSON.parse(line) as RunEvent;
    } catch (err) {
      return `stream entry ${id}: ${(err as Error).message}, ignored`;
    }
  }

  /**
   * The run's header when it is authentic (cached: a header never changes); undefined when there is none or
   * it fails its MAC check. Workers check the jobs they get against it.
   */
  async trustedHeader(runId: string): Promise<RunHeader | undefined> {
    const known = this.#headers.get(runId);
    if (known) return known;
    const stored = await this.redis.get(this.#key(runId, 'header'));
    const header = stored === null ? undefined : this.#openHeader(runId, stored).header;
    if (header) {
      if (this.#headers.size >= 1000) this.#headers.delete(this.#headers.keys().next().value!);
      this.#headers.set(runId, header);
    }
    return header;
  }

  /**
   * The generation of this process's lease on the run (1 for its first holder, then one more for each takeover),
   * while it holds it: the fencing token its attempts carry (BullmqExecutor's `generationOf`).
   */
  generationOf(runId: string): number | undefined {
    return this.#generations.get(runId);
  }

  /** Whether the run has not finished (it is in the set of open runs). */
  async isOpen(runId: string): Promise<boolean> {
    return (await this.redis.sismember(this.#open, runId)) === 1;
  }

  #key(runId: string, part: 'header' | 'events' | 'lock' | 'generation'): string {
    return `${this.#prefix}:run:${runId}:${part}`;
  }

  get #open(): string {
    return `${this.#prefix}:open`;
  }

  /** Runs that have not finished, with whether a live writer holds them (a coordinator takes over the others). */
  async openRuns(): Promise<{ runId: string; held: boolean }[]> {
    const ids = await this.redis.smembers(this.#open);
    if (!ids.length) return [];
    const held = await this.redis.mget(...ids.map((id) => this.#key(id, 'lock')));
    return ids.map((runId, i) => ({ runId, held: held[i] !== null }));
  }

  async create(header: RunHeader): Promise<RunLog> {
    const lock = await this.lock(checkRunId(header.runId));
    try {
      // One script: a process killed between writing the header and indexing it would leave a run no list shows
      // and no coordinator takes over, which a retry (a trigger's, with the same run id) could not create again.
      const created = await this.redis.eval(
        CREATE,
        3,
        this.#key(header.runId, 'header'),
        `${this.#prefix}:runs`,
        this.#open,
        this.#sealHeader(header),
        Date.parse(header.createdAt) || Date.now(),
        header.runId,
      );
      if (created !== 1) throw new BraidError('E_RUN_STATE', `run "${header.runId}" already exists in Redis`);
      return this.#log(header.runId, lock as RedisLock);
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
      // Stryker disable next-line StringLiteral,MethodExpression: `since` already tells this process's locks apart
      token: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2)}`,
    };
    const ok = await this.redis.set(key, JSON.stringify(owner), 'PX', this.#leaseMs, 'NX');
    if (ok !== 'OK') {
      const held = await this.redis.get(key);
      throw new RunLockedError(runId, held ? (JSON.parse(held) as LockOwner) : undefined);
    }
    const value = JSON.stringify(owner);
    // Each holder of the lease gets the next generation: what an older holder sent is told apart by it.
    const generation = await this.redis.incr(this.#key(runId, 'generation'));
    this.#generations.set(runId, generation);
    const renew = setInterval(
      () =>
        void this.redis.eval(RENEW, 1, key, value, String(this.#leaseMs)).then(
          (renewed) => renewed === 0 && handle.lost?.(),
          () => {},
        ),
      // Stryker disable next-line MethodExpression: renewing more often than every 100 ms changes nothing seen
      Math.max(100, this.#leaseMs / 3),
    );
    renew.unref();
    let released = false;
    const handle: RedisLock = {
      runId,
      token: value,
      released: Promise.resolve(),
      release: () => {
        // Stryker disable next-line ConditionalExpression,BooleanLiteral: a second release finds the token gone
        if (released) return;
        released = true;
        clearInterval(renew);
        if (this.#generations.get(runId) === generation) this.#generations.delete(runId);
        // A release that fails leaves the lock to expire at the end of its lease: another process waits that long.
        handle.released = this.redis.eval(RELEASE, 1, key, value).catch(() => {});
      },
    };
    return handle;
  }

  async reopen(runId: string, lock?: RunLockHandle): Promise<RunLog> {
    if (!(await this.redis.exists(this.#key(runId, 'header')))) throw noSuchRun(runId);
    const held = (lock ?? (await this.lock(runId))) as RedisLock;
    await this.redis.sadd(this.#open, runId);
    return this.#log(runId, held);
  }

  async read(runId: string): Promise<RunRecord> {
    const [header, entries, held] = await Promise.all([
      this.redis.get(this.#key(runId, 'header')),
      this.redis.xrange(this.#key(runId, 'events'), '-', '+'),
      this.redis.exists(this.#key(runId, 'lock')),
    ]);
    if (header === null) throw noSuchRun(runId);
    const opened = this.#openHeader(runId, header);
    const problems: string[] = opened.untrusted ? [opened.untrusted] : [];
    const events: RunEvent[] = [];
    for (const [id, fields] of entries) {
      const event = this.#openEvent(runId, id, fields);
      if (typeof event === 'string') problems.push(event);
      else events.push(event);
    }
    return {
      header: opened.header,
      events,
      problems,
      live: held === 1,
      ...(opened.untrusted ? { untrusted: opened.untrusted } : {}),
    };
  }

  /**
   * The events after `afterSeq`; with `follow`, new ones as they are appended (`XREAD BLOCK` on a connection of its
   * own).
   */
  async *follow(
    runId: string,
    options: { follow?: boolean; afterSeq?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<RunEvent> {
    if (!(await this.redis.exists(this.#key(runId, 'header')))) throw noSuchRun(runId);
    const key = this.#key(runId, 'events');
    const open = (id: string, fields: string[]) => this.#openEvent(runId, id, fields);
    const afterSeq = options.afterSeq ?? 0;
    let last = '0-0';
    let finished = false;
    const take = function* (this: void, entries: [string, string[]][]) {
      for (const [id, fields] of entries) {
        last = id;
        const event = open(id, fields);
        if (typeof event === 'string') continue; // read() reports unreadable and unauthentic entries
        if (event.type === 'run.finished') finished = true;
        if (event.seq > afterSeq) yield event;
      }
    };
    yield* take(await this.redis.xrange(key, '-', '+'));
    if (!options.follow) return;
    const reader = this.redis.duplicate();
    // Stryker disable next-line StringLiteral: ioredis only logs an 'error' nobody listens to
    reader.on('error', () => {});
    // Stryker disable next-line all: without it an abort ends the follow at the end of the block (1 s), not at once
    const stop = () => reader.disconnect();
    // Stryker disable next-line StringLiteral: as above
    options.signal?.addEventListener('abort', stop);
    try {
      while (!finished && !options.signal?.aborted) {
        // Stryker disable next-line ArrowFunction: null or undefined, nothing was read
        const got = await reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', key, last).catch(() => null);
        if (got) yield* take(got[0][1]);
        // Nothing new for a second and no writer holds the run: it was interrupted.
        else if (!(await this.redis.exists(this.#key(runId, 'lock')))) return;
      }
      // (Equivalent mutants of the finally: a listener left on a signal the follow is done with.)
    } finally {
      options.signal?.removeEventListener('abort', stop);
      reader.disconnect();
    }
  }

  /** Events only grow (appends are never trimmed): their count and whether a writer holds the run. */
  async version(runId: string): Promise<string | undefined> {
    const [[, length], [, held]] = (await this.redis
      .multi()
      .xlen(this.#key(runId, 'events'))
      .exists(this.#key(runId, 'lock'))
      .exec()) as [unknown, number][];
    return `redis:${length}:${held}`;
  }

  async list(): Promise<string[]> {
    return this.redis.zrevrange(`${this.#prefix}:runs`, 0, -1);
  }

  /** Fails with `E_CONFIG` when Redis does not answer within `timeoutMs` (commands otherwise wait for it). */
  async reachable(timeoutMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.redis.ping(), late]);
    } catch (err) {
      throw new BraidError(
        'E_CONFIG',
        `cannot reach Redis at ${this.redis.options.host}:${this.redis.options.port}: ${(err as Error).message}`,
      );
      // (An equivalent mutant of the finally: a timer left to reject a race already settled.)
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the logs closed by this process have written their last events and released their leases. */
  async idle(): Promise<void> {
    await Promise.all(this.#closing.values());
  }

  /** Close the connection once the logs being closed are written (a CLI command ends with it). */
  async close(): Promise<void> {
    await this.idle();
    // Stryker disable next-line ArrowFunction: a quit that fails has closed the connection already
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }

  /** Appends buffer; once per event-loop turn they go out as one pipeline of XADDs (the group commit). */
  #log(runId: string, lock: RedisLock): RunLog {
    const keys = [this.#key(runId, 'lock'), this.#key(runId, 'events'), this.#open];
    const storeRedis = this.redis;
    const mac = (line: string) => this.#eventMac(runId, line);
    let buffer: string[] = [];
    let finished = false;
    let pending: Promise<void> = Promise.resolve();
    let scheduled = false;
    let failure: BraidError | undefined;
    const log: RunLog = {
      append: (event) => {
        // Stryker disable next-line ConditionalExpression: write() drops what is buffered after a failure anyway
        if (failure) return;
        let line: string;
        try {
          line = JSON.stringify(event);
        } catch (err) {
          // The events before it are whole: they are written; nothing after it is.
          write();
          return fail(
            new BraidError(
              'E_STORE',
              `event ${event.seq} (${event.type}) cannot be recorded: ${(err as Error).message}`,
            ),
          );
        }
        buffer.push(line, mac(line));
        if (event.type === 'run.finished') finished = true;
        if (!scheduled) {
          // Stryker disable next-line BooleanLiteral: one write per turn instead of one per append: the same lines
          scheduled = true;
          setImmediate(write);
        }
      },
      flush: async () => {
        write();
        await pending;
      },
      // Redis has no synchronous client: what was sent is in Redis; the rest is sent now and may be lost on exit.
      // In one process the group commit sends it a turn later all the same.
      // Stryker disable next-line ArrowFunction
      flushSync: () => write(),
      close: () => {
        const closing = (async () => {
          try {
            // After a lost lease nothing more can be written: do not wait on appends queued for a Redis that is gone.
            if (!failure) await log.flush();
            // Stryker disable next-line ConditionalExpression: the same while Redis is there to answer
            else if (failure.code !== 'E_LOCKED') await pending;
          } finally {
            lock.release();
            if (!failure) await lock.released;
          }
        })();
        // Stryker disable next-line ArrowFunction: the failure is the caller's (returned below), not this copy's
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
    lock.lost = () => fail(leaseLost(runId));
    function write(this: void) {
      scheduled = false;
      // Stryker disable next-line LogicalOperator: an empty batch writes nothing; after a failure Redis refuses it
      if (!buffer.length || failure) return;
      const lines = buffer;
      buffer = [];
      // Stryker disable next-line StringLiteral: only '1' ends the run (APPEND)
      const ends = finished ? '1' : '0';
      pending = pending.then(async () => {
        try {
          await storeRedis.eval(APPEND, 3, ...keys, lock.token, runId, ends, ...lines);
        } catch (err) {
          fail(
            /LEASE_LOST/.test((err as Error).message)
              ? leaseLost(runId)
              : new BraidError('E_STORE', `Redis: could not record run "${runId}": ${(err as Error).message}`),
          );
        }
      });
    }
    return log;
  }
}

/** A lock handle of this store: the token that fences appends, and who to tell when the lease is lost. */
interface RedisLock extends RunLockHandle {
  readonly token: string;
  /** Resolves once Redis has the lock back. */
  released: Promise<unknown>;
  lost?: () => void;
}

function leaseLost(runId: string): BraidError {
  return new BraidError(
    'E_LOCKED',
    `lost the lease on run "${runId}" (this process stalled past it, or Redis lost it); another process may continue the run`,
  );
}

function noSuchRun(runId: string): BraidError {
  return new BraidError('E_RUN_NOT_FOUND', `no run "${runId}" in Redis (list them with: braid runs)`);
}
