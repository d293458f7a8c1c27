/**
 * The fired-at-most-once bookkeeping of triggers (workflow-spec.md §10): a small key-value interface whose one
 * atomic verb, `claim` (take a key unless someone holds it, for a time), makes a due time or an event id the
 * idempotency key of the runs it starts, whichever process sees it first. Three implementations: in memory (one
 * process, tests), files (one machine: `open(..., 'wx')` is atomic, so any number of local processes agree) and
 * Redis (`SET key value PX ttl NX`, so any number of machines agree). The same store keeps what operators set
 * (a paused trigger) and what `braid triggers` shows (the last fire of each trigger).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

/** Where triggers keep their claims and state. @beta */
export interface TriggerClaims {
  /** Take `key` with `value` for `ttlMs`, unless it is held (and not expired): true when this caller got it. */
  claim(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Set `key` (kept `ttlMs`, or until deleted when not given), whoever holds it. */
  put(key: string, value: string, ttlMs?: number): Promise<void>;
  /** The value of `key`, unless it is absent or expired. */
  get(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
}

/** Claims of one process (tests, `braid serve --no-store`), on an injectable clock. @beta */
export class MemoryClaims implements TriggerClaims {
  readonly #entries = new Map<string, { value: string; until: number }>();
  constructor(readonly now: () => number = Date.now) {}

  async claim(key: string, value: string, ttlMs: number): Promise<boolean> {
    if ((await this.get(key)) !== undefined) return false;
    this.#entries.set(key, { value, until: this.now() + ttlMs });
    return true;
  }
  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    this.#entries.set(key, { value, until: ttlMs === undefined ? Infinity : this.now() + ttlMs });
  }
  async get(key: string): Promise<string | undefined> {
    const e = this.#entries.get(key);
    if (e && e.until <= this.now()) this.#entries.delete(key);
    return e && e.until > this.now() ? e.value : undefined;
  }
  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }
}

/**
 * Claims as files in a folder (one machine): a claim creates its file with `wx` (exactly one process succeeds); an
 * expired one is moved aside by `rename` (exactly one process succeeds at that too) before it is taken again.
 * @beta
 */
export class FileClaims implements TriggerClaims {
  constructor(
    readonly dir: string,
    readonly now: () => number = Date.now,
  ) {}

  #file(key: string): string {
    const safe = key.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80);
    return join(this.dir, `${safe}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.json`);
  }

  async claim(key: string, value: string, ttlMs: number): Promise<boolean> {
    await mkdir(this.dir, { recursive: true });
    const file = this.#file(key);
    for (let tries = 0; tries < 3; tries++) {
      try {
        const fd = await open(file, 'wx');
        await fd.writeFile(JSON.stringify({ value, until: this.now() + ttlMs }));
        await fd.close();
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await this.#read(file);
      // A file just created may not be written yet: it is held.
      if (!held || held.until > this.now()) return false;
      const aside = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.expired`;
      if (
        !(await rename(file, aside).then(
          () => true,
          () => false,
        ))
      )
        return false;
      await unlink(aside).catch(() => {});
    }
    return false;
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = this.#file(key);
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, JSON.stringify({ value, until: ttlMs === undefined ? null : this.now() + ttlMs }));
    await rename(tmp, file);
  }

  async get(key: string): Promise<string | undefined> {
    const held = await this.#read(this.#file(key));
    return held && held.until > this.now() ? held.value : undefined;
  }

  async delete(key: string): Promise<void> {
    await unlink(this.#file(key)).catch(() => {});
  }

  async #read(file: string): Promise<{ value: string; until: number } | undefined> {
    try {
      const { value, until } = JSON.parse(await readFile(file, 'utf8')) as { value: string; until: number | null };
      return { value, until: until ?? Infinity };
    } catch {
      return undefined; // absent, or being written
    }
  }
}

/** Claims in Redis (`SET NX PX`): every process of every machine that shares the Redis agrees. @beta */
export class RedisClaims implements TriggerClaims {
  constructor(
    readonly redis: Redis,
    readonly prefix = 'braid:triggers',
  ) {}

  async claim(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:${key}`, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
  }
  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) await this.redis.set(`${this.prefix}:${key}`, value);
    else await this.redis.set(`${this.prefix}:${key}`, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
  }
  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.prefix}:${key}`)) ?? undefined;
  }
  async delete(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}:${key}`);
  }
}
