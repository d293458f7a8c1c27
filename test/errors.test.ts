/** One error model: every code braid uses is in ERROR_CODES, which decides retries, HTTP statuses and CLI exits. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  BraidError,
  ERROR_CODES,
  exitCodeOf,
  httpCodeOf,
  httpStatusOf,
  InputValidationError,
  isErrorCode,
  isInvalidUse,
  NonRetriableError,
  OfflineProvider,
  toErrorRecord,
  type ErrorCode,
} from '../src/index.js';
import { createApp } from '../src/server/app.js';
import { RunManager } from '../src/service/run-manager.js';
import { WorkflowCatalog } from '../src/service/catalog.js';

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
    // the HTTP server's own refusals (bad JSON, a foreign Host, ...) are codes of the list too
    expect([...used].filter((c) => !(c in ERROR_CODES))).toEqual([]);
    expect(Object.keys(ERROR_CODES)).not.toContain('E_USAGE');
  });

  it('the code a client sees instead of another is itself a code of the list, with the same status', () => {
    for (const [code, info] of Object.entries(ERROR_CODES) as [string, { http?: { status: number; code?: string } }][])
      if (info.http?.code) expect([code, httpStatusOf(info.http.code)]).toEqual([code, info.http.status]);
  });

  it('docs/errors.md has one row per code, with its retries, exit code and HTTP status as the list has them', () => {
    const rows = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')
      .split('\n')
      .filter((l) => /^\| `E_/.test(l))
      .map((l) => l.split('|').map((cell) => cell.trim()));
    const documented = rows.map(([, code, retried, exit, http]) => [code.replace(/`/g, ''), retried, exit, http]);
    const listed = Object.keys(ERROR_CODES).map((code) => {
      const status = httpStatusOf(code);
      const shown = httpCodeOf(code);
      return [
        code,
        ERROR_CODES[code as ErrorCode].retryable ? 'yes' : 'no',
        String(exitCodeOf(code)),
        status === undefined ? '—' : `${status}${shown === code ? '' : ` \`${shown}\``}`,
      ];
    });
    expect(documented).toEqual(listed);
  });

  it('every error class in src/, tools/ and agents/ is a BraidError, but two documented internal ones', () => {
    const bases = new Map<string, string>();
    for (const dir of ['src', 'tools', 'agents']) {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
        if (!e.isFile() || !/\.m?ts$/.test(e.name) || e.name.endsWith('.test.ts')) continue;
        const text = readFileSync(join(e.parentPath, e.name), 'utf8');
        for (const m of text.matchAll(/\bclass\s+(\w+)(?:<[^>]*>)?\s+extends\s+([\w.]+)/g))
          bases.set(m[1], `${m[2]} (${relative(ROOT, join(e.parentPath, e.name))})`);
      }
    }
    const base = (name: string) => bases.get(name)?.split(' ')[0];
    const braid = (name: string, seen = 0): boolean =>
      name === 'BraidError' || (seen < 20 && bases.has(name) && braid(base(name)!, seen + 1));
    /** A class extending a built-in error (`Error`, `TypeError`, ...), or another error class that is no BraidError. */
    const errorClass = (name: string, seen = 0): boolean =>
      /Error$/.test(name) && (!bases.has(name) || (seen < 20 && errorClass(base(name)!, seen + 1)));
    const offenders = [...bases.keys()]
      .filter((name) => name !== 'BraidError' && !braid(name) && (errorClass(base(name)!) || /Error$/.test(name)))
      .map((name) => `${name} extends ${bases.get(name)}`);
    expect(bases.size).toBeGreaterThan(10);
    // Internal control flow, caught in the module that throws it (docs/errors.md, "Errors nothing reports").
    expect(offenders.sort()).toEqual([
      'NotStrict extends Error (src/llm/model-schema.ts)',
      'WalkError extends Error (tools/workspace-fd.ts)',
    ]);
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

  it('the exit code comes from the code: 2 for what the user must fix, 1 for anything else', () => {
    expect([exitCodeOf('E_BAD_ARGUMENT'), exitCodeOf('E_CONFIG'), exitCodeOf('E_LOCKED')]).toEqual([2, 2, 2]);
    expect([exitCodeOf('E_TOOL'), exitCodeOf('E_INTERNAL'), exitCodeOf('ENOENT')]).toEqual([1, 1, 1]);
  });

  it("recorded codes: braid's are told apart from a tool's own and from unknown ones", () => {
    expect([isErrorCode('E_TOOL'), isErrorCode('ENOENT'), isErrorCode('toString'), isErrorCode(7)]).toEqual([
      true,
      false,
      false,
      false,
    ]);
    const own: { code: ErrorCode } = toErrorRecord(new BraidError('E_BUDGET', 'over'));
    expect(own.code).toBe('E_BUDGET');
    expect(toErrorRecord(Object.assign(new Error('gone'), { code: 'ENOENT' })).code).toBe('ENOENT');
  });

  it("a BraidError's path is what in a request it is about; none by default", () => {
    expect(new BraidError('E_BAD_REQUEST', 'x', { path: 'limit' }).path).toBe('limit');
    expect(new BraidError('E_BAD_REQUEST', 'x').path).toBeUndefined();
  });
});

describe('the HTTP answer to an error comes from its code alone', () => {
  it('each code with a status is answered with it, the code the client sees, the message and the path', async () => {
    const catalog = await WorkflowCatalog.load(join(ROOT, 'test/fixtures/service'));
    const llm = new OfflineProvider();
    const app = createApp({ catalog, runs: new RunManager({ catalog, llm }), llm });
    app.get('/throw/:code', (c) => {
      throw new BraidError(c.req.param('code') as ErrorCode, `thrown ${c.req.param('code')}`, { path: 'here' });
    });
    const log = vi.spyOn(process.stderr, 'write').mockImplementation(() => true); // the 500s' details
    for (const code of [...Object.keys(ERROR_CODES), 'NOT_A_CODE']) {
      const res = await app.request(`/throw/${code}`, { headers: { host: 'localhost' } });
      const status = httpStatusOf(code);
      expect([code, res.status, await res.json()]).toEqual([
        code,
        status ?? 500,
        status === undefined
          ? { error: { code: 'E_INTERNAL', message: 'internal error (details in the server log)' } }
          : { error: { code: httpCodeOf(code), message: `thrown ${code}`, path: 'here' } },
      ]);
    }
    expect(log.mock.calls.map(([line]) => String(line).split(':')[0])).toContain('braid serve');
    log.mockRestore();
  });
});
