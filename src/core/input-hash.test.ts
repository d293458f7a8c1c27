import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idempotencyKey, inputHash, recordedInput, RECORDED_INPUT_BYTES } from './input-hash.js';

describe('inputHash and the idempotency key (workflow-spec.md §7a)', () => {
  it('is the SHA-256 of the RFC 8785 canonical JSON: key order does not matter, values do', () => {
    const jcs = '{"a":[1,"x",null],"b":{"c":true,"d":1.5}}';
    expect(inputHash({ b: { d: 1.5, c: true }, a: [1, 'x', null] })).toBe(
      createHash('sha256').update(jcs).digest('hex'),
    );
    expect(inputHash({ a: 1, b: 2 })).toBe(inputHash({ b: 2, a: 1 }));
    expect(inputHash({ a: 1 })).not.toBe(inputHash({ a: '1' }));
    expect(inputHash(undefined)).toBe(inputHash(null));
  });

  it('a record keeps an input whole up to 64 KiB, else the start of its JSON and its size in bytes', () => {
    const small = { text: 'é'.repeat(100) };
    expect(recordedInput(small)).toEqual({ inputHash: inputHash(small), input: small });
    const big = { text: '€'.repeat(30_000) }; // 90,000 bytes of UTF-8
    const r = recordedInput(big);
    expect(r.inputHash).toBe(inputHash(big));
    expect(r.inputBytes).toBe(Buffer.byteLength(JSON.stringify(big)));
    expect(typeof r.input).toBe('string');
    expect(Buffer.byteLength(r.input as string)).toBeLessThanOrEqual(RECORDED_INPUT_BYTES);
    expect(JSON.stringify(big).startsWith(r.input as string)).toBe(true);
  });

  it('the key is the same for the same lineage, task, visit, item and input; any of them changes it', () => {
    const h = inputHash({ to: 'a@example.com' });
    const k = idempotencyKey('root', 't', 1, undefined, h);
    expect(idempotencyKey('root', 't', 1, undefined, h)).toBe(k);
    for (const other of [
      idempotencyKey('fork-root', 't', 1, undefined, h),
      idempotencyKey('root', 'u', 1, undefined, h),
      idempotencyKey('root', 't', 2, undefined, h),
      idempotencyKey('root', 't', 1, 0, h),
      idempotencyKey('root', 't', 1, undefined, inputHash({ to: 'b@example.com' })),
    ])
      expect(other).not.toBe(k);
  });
});
