/**
 * The one secret (workflow-spec.md §9) and the keys derived from it. Processes that share a Redis share the
 * secret, so what one of them writes there (a job, its result, a run record) carries a MAC the others check:
 * Redis holds data, never authority. `BRAID_SECRET` gives it; without it a random one is made once in
 * `$BRAID_HOME/secret` (mode 0600), which serves every process of one machine. Each purpose has its own key
 * (HKDF-SHA256 with a distinct label), so a MAC made for one purpose is never valid for another.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { BraidError } from '../errors.js';
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
  // Reading first saves a write; without it the link below fails (EEXIST) and the same file is read.
  // Stryker disable next-line BlockStatement
  try {
    return checked(readFileSync(file), file);
    // (Equivalent mutants: as above, the same error comes from the last read.)
  } catch (err) {
    // Stryker disable next-line ConditionalExpression: as above
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(resolve(file, '..'), { recursive: true });
  // Written whole beside it, then linked into place (a link fails if the file exists): two processes starting at
  // once agree on the first one's secret, and neither ever reads a secret file half written.
  const made = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(made, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  try {
    linkSync(made, file);
  } catch (err) {
    // Only two processes making the secret in the same microsecond get here (secret.test.ts races eight child
    // processes, where mutants are not active).
    // Stryker disable next-line all
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(made);
  }
  return checked(readFileSync(file), file);
}

/** A secret file must hold something: an empty one (truncated, or made by hand) would sign with no secret at all. */
function checked(secret: Buffer, file: string): Buffer {
  if (secret.length === 0)
    throw new BraidError(
      'E_CONFIG',
      `the secret file ${file} is empty: delete it (a new one is made) or set BRAID_SECRET`,
    );
  return secret;
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
