/**
 * One hash of an attempt's input, used by everyone (workflow-spec.md §7a): the record, the idempotency key, and
 * (later) the cache, forks, replay and approvals. `inputHash` is the SHA-256 (hex) of the RFC 8785 (JCS)
 * canonical JSON of the *effective* input, the object handed to the tool's schema, so two inputs that are equal
 * as JSON hash alike whatever order their keys were built in.
 */
import * as crypto from 'node:crypto';
import canonicalize from 'canonicalize';

/** How much of an input a record keeps: larger ones keep their first 64 KiB of JSON and their size. */
export const RECORDED_INPUT_BYTES = 64 * 1024;

/** The canonical JSON of an input (`null` for one JSON cannot hold, such as `undefined`). */
const canonical = (input: unknown): string => canonicalize(input) ?? 'null';

/** One-shot `crypto.hash` (Node 20.12+) is about 3x faster than a `Hash` object for inputs this small. */
const sha256: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

export function inputHash(input: unknown): string {
  return sha256(canonical(input));
}

/** An input as a record keeps it, with its hash: whole up to 64 KiB, else the start of its JSON and its size. */
export function recordedInput(input: unknown): {
  readonly inputHash: string;
  readonly input: unknown;
  readonly inputBytes?: number;
} {
  const text = canonical(input);
  const hash = sha256(text);
  // A string's UTF-16 length is at most its UTF-8 length: only a long one needs counting.
  if (text.length * 3 <= RECORDED_INPUT_BYTES) return { inputHash: hash, input };
  const bytes = Buffer.byteLength(text);
  if (bytes <= RECORDED_INPUT_BYTES) return { inputHash: hash, input };
  const cut = Buffer.from(text)
    .subarray(0, RECORDED_INPUT_BYTES)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return { inputHash: hash, input: cut, inputBytes: bytes };
}

/**
 * `ctx.idempotencyKey`: the same for every attempt that gives a task visit (and `for_each` item) the same input,
 * across retries, resumes, takeovers and forks (which keep their parent's lineage root); different when the
 * input differs. A tool with external effects uses it to do a thing once.
 */
export function idempotencyKey(
  lineageRoot: string,
  taskId: string,
  visit: number,
  item: number | undefined,
  hash: string,
): string {
  return sha256(JSON.stringify([lineageRoot, taskId, visit, item ?? null, hash]));
}
