/** One error model: every code braid uses is in ERROR_CODES, which decides retries, HTTP statuses and CLI exits. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BraidError,
  ERROR_CODES,
  httpCodeOf,
  httpStatusOf,
  InputValidationError,
  isInvalidUse,
  NonRetriableError,
} from '../src/index.js';

const ROOT = resolve(import.meta.dirname, '..');

describe('error codes', () => {
  it('every E_ code in the source is in the one documented list', () => {
    const used = new Set<string>();
    for (const dir of ['src', 'tools', 'agents']) {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
        if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.test.ts')) continue;
        const text = readFileSync(join(e.parentPath, e.name), 'utf8');
        for (const m of text.matchAll(/(?:BraidError\(|super\(|code: )'(E_[A-Z_]+)'/g)) used.add(m[1]);
      }
    }
    expect(used.size).toBeGreaterThan(15);
    // HTTP-only codes the server writes itself (a request it refuses before braid runs anything)
    const httpOnly = new Set([
      'E_CONFLICT',
      'E_BAD_JSON',
      'E_TOO_LARGE',
      'E_UNAUTHORIZED',
      'E_FORBIDDEN',
      'E_UNSUPPORTED_MEDIA_TYPE',
      'E_BAD_REQUEST',
      'E_SESSION',
    ]);
    expect([...used].filter((c) => !(c in ERROR_CODES) && !httpOnly.has(c) && !c.startsWith('E_HTTP'))).toEqual([]);
    expect(Object.keys(ERROR_CODES)).not.toContain('E_USAGE');
  });

  it('retryable defaults to what the code means; an explicit value wins', () => {
    expect(new BraidError('E_TOOL', 'x').retryable).toBe(true);
    expect(new BraidError('E_TIMEOUT', 'x').retryable).toBe(true);
    expect(new BraidError('E_LLM', 'x').retryable).toBe(true);
    expect(new BraidError('E_CONFIG', 'x').retryable).toBe(false);
    expect(new BraidError('E_TOOL_INPUT', 'x').retryable).toBe(false);
    expect(new BraidError('E_TOOL', 'x', { retryable: false }).retryable).toBe(false);
    expect(new BraidError('E_CONFIG', 'x', { retryable: true }).retryable).toBe(true);
    expect(new NonRetriableError('x').retryable).toBe(false);
    // a code from outside the list (an error record's code passed through) keeps the old default
    expect(new BraidError('ENOENT' as never, 'x').retryable).toBe(true);
  });

  it('the HTTP status and the client-facing code come from the code, in one place', () => {
    expect([httpStatusOf('E_RUN_NOT_FOUND'), httpCodeOf('E_RUN_NOT_FOUND')]).toEqual([404, 'E_NOT_FOUND']);
    expect([httpStatusOf('E_RUN_STATE'), httpCodeOf('E_RUN_STATE')]).toEqual([409, 'E_CONFLICT']);
    expect([httpStatusOf('E_LOCKED'), httpCodeOf('E_LOCKED')]).toEqual([409, 'E_LOCKED']);
    expect([httpStatusOf('E_INPUT'), httpStatusOf('E_BAD_ARGUMENT'), httpStatusOf('E_STORE')]).toEqual([400, 400, 500]);
    // a tool failure or a bug is not the client's doing: 500 E_INTERNAL, details in the log
    expect([httpStatusOf('E_TOOL'), httpStatusOf('E_INTERNAL'), httpStatusOf('toString')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("usage errors are split by what was wrong, and all of them are the user's to fix (CLI exit 2)", () => {
    for (const code of [
      'E_SPEC',
      'E_TOOLS_MODULE',
      'E_INPUT',
      'E_BAD_ARGUMENT',
      'E_CONFIG',
      'E_RUN_NOT_FOUND',
      'E_RUN_STATE',
      'E_RECORD',
      'E_LOCKED',
      'E_STORE',
    ])
      expect(isInvalidUse(code)).toBe(true);
    for (const code of ['E_TOOL', 'E_TIMEOUT', 'E_LLM', 'E_INTERNAL', 'E_BUDGET', 'nope'])
      expect(isInvalidUse(code)).toBe(false);
    expect(new InputValidationError([]).code).toBe('E_INPUT');
  });
});
