/**
 * The one secret (workflow-spec.md §9) and the keys derived from it. Processes that share a Redis share the
 * secret, so what one of them writes there (a job, its result, a run record) carries a MAC the others check:
 * Redis holds data, never authority. `BRAID_SECRET` gives it; without it a random one is made once in
 * `$BRAID_HOME/secret` (mode 0600), which serves every process of one machine. Each purpose has its own key
 * (HKDF-SHA256 with a distinct label), so a MAC made for one purpose is never valid for another.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What a key is for: its HKDF label. */
export type KeyPurpose = 'jobs' | 'records' | 'callbacks';

/** Where the generated secret lives when `BRAID_SECRET` is not set. */
export const secretFile = (): string => join(resolve(process.env.BRAID_HOME ?? '.braid'), 'secret');

/** `BRAID_SECRET`, else the machine's generated secret (made on first use, readable by its owner only). */
export function braidSecret(): Buffer {
  const given = process.env.BRAID_SECRET;
  if (given) return Buffer.from(given, 'utf8');
  const file = secretFile();
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(resolve(file, '..'), { recursive: true });
  try {
    // 'wx': two processes starting at once agree on the first one's secret.
    writeFileSync(file, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readFileSync(file);
}

/** MACs under one purpose's key: `sign(parts)` and a constant-time `verify`. */
export class Mac {
  readonly #key: Buffer;

  constructor(secret: Buffer | string, purpose: KeyPurpose) {
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'braid', `braid:${purpose}`, 32));
  }

  /** HMAC-SHA256 (hex) of the parts, each length-prefixed so no two lists of parts sign alike. */
  sign(...parts: readonly string[]): string {
    const h = createHmac('sha256', this.#key);
    for (const p of parts) h.update(`${Buffer.byteLength(p)}:`).update(p);
    return h.digest('hex');
  }

  verify(mac: unknown, ...parts: readonly string[]): boolean {
    if (typeof mac !== 'string' || mac.length !== 64) return false;
    return timingSafeEqual(Buffer.from(mac, 'latin1'), Buffer.from(this.sign(...parts), 'latin1'));
  }
}
