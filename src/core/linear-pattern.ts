/**
 * Regular expressions matched in time linear in the input: RE2 (re2js, pure JavaScript), for patterns that come
 * from one party and inputs from another (a workflow's `inputs` patterns, a tool's JSON Schema). With
 * JavaScript's backtracking engine `^([a-z]+)+$` on 31 characters held `braid serve` for a minute.
 *
 * JavaScript syntax is translated where RE2 differs (`\uXXXX`, `.`, `\s`, `\S`), so a pattern matches what it
 * matches in JavaScript; a pattern RE2 cannot run (backreferences, lookaround, `\p` ...) falls back to the regex
 * worker with a {@link PATTERN_LIMITS}.timeoutMs deadline (callers that can refuse such a pattern up front do, with
 * {@link re2Problem}). re2js is loaded with the first pattern.
 */
import type * as Re2 from 're2js';
import { isRecord } from './is-record.js';
import { lazy } from './lazy.js';
import { execRegex } from './regex-worker.js';

export const PATTERN_LIMITS = { timeoutMs: 100 } as const;

const re2 = lazy<typeof Re2>('re2js');

/** JavaScript's `\s` (WhiteSpace and LineTerminator), as the inside of an RE2 character class. */
const JS_SPACE = String.raw`\t\n\x{b}\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`;

/** A JavaScript pattern (no flags) in RE2 syntax with the same meaning, or `undefined` when there is none. */
export function toRe2Syntax(source: string): string | undefined {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) return undefined;
      const hex = source.slice(i + 2, i + 6);
      if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(hex)) {
        out += `\\x{${hex}}`;
        i += 5;
        continue;
      }
      if (n === 's') out += inClass ? JS_SPACE : `[${JS_SPACE}]`;
      else if (n === 'S' && !inClass) out += `[^${JS_SPACE}]`;
      else if ('SpPkcu'.includes(n))
        return undefined; // no RE2 equivalent, or another meaning without the u flag
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (source[i + 1] === '^') out += source[++i];
      if (source[i + 1] === ']') return undefined; // `[]` and `[^]`: JavaScript only
      continue;
    }
    out += c === '.' ? String.raw`[^\n\r\x{2028}\x{2029}]` : c;
  }
  return out;
}

/** Why RE2 cannot run `source`, or `undefined` when it can. */
export function re2Problem(source: string): string | undefined {
  const syntax = toRe2Syntax(source);
  if (syntax === undefined) return 'it uses JavaScript-only syntax (\\p, \\k, \\c, [^] ...)';
  try {
    re2().RE2JS.compile(syntax);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** What zod's regex check calls: `lastIndex`, `test`, `toString` (in its message). */
export class LinearPattern {
  lastIndex = 0;
  readonly #test: (s: string) => boolean;

  /** `flags`: '' (zod) or 'u' (@cfworker/json-schema); only the fallback needs them. */
  constructor(
    readonly source: string,
    flags = '',
  ) {
    const syntax = toRe2Syntax(source);
    let compiled: Re2.RE2JS | undefined;
    try {
      compiled = syntax === undefined ? undefined : re2().RE2JS.compile(syntax);
    } catch {
      compiled = undefined; // a pattern RE2 cannot compile: matched in the bounded regex worker below
    }
    this.#test = compiled
      ? (s) => compiled.matcher(s).find()
      : (s) => {
          const r = execRegex(source, flags, s, 0, PATTERN_LIMITS.timeoutMs);
          return 'matches' in r && r.matches.length > 0;
        };
  }

  test(s: string): boolean {
    return this.#test(s);
  }

  toString(): string {
    return `/${this.source}/`;
  }
}

/** Keywords whose values are data, not schemas: a `pattern` key there is not a pattern. */
export const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

/** The prefix of the format names that stand for patterns (see {@link patternsAsFormats}). */
export const PATTERN_FORMAT = 'braid-pattern:';

/**
 * For a tool's JSON Schema input (@cfworker/json-schema, which runs `new RegExp(pattern, 'u')`): every
 * `pattern` (mutated in place: pass a copy) becomes `allOf: [{ format: "braid-pattern:<pattern>" }]`, a
 * format registered in `formats` (cfworker's table) that matches in linear time. A tool's schema comes
 * from elsewhere (an MCP server), so a pattern RE2 cannot run is not refused: it runs in the regex worker
 * with the {@link PATTERN_LIMITS} deadline. (`patternProperties` keys are still cfworker's own regexes.)
 */
export function patternsAsFormats<T>(schema: T, formats: Record<string, (s: string) => boolean>): T {
  const visit = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isRecord(node)) return;
    for (const [key, v] of Object.entries(node)) if (!DATA_KEYWORDS.has(key)) visit(v);
    if (typeof node.pattern !== 'string') return;
    const name = PATTERN_FORMAT + node.pattern;
    if (!formats[name]) {
      const matcher = new LinearPattern(node.pattern, 'u');
      formats[name] = (s) => matcher.test(s);
    }
    node.allOf = [...(Array.isArray(node.allOf) ? node.allOf : []), { format: name }];
    delete node.pattern;
  };
  visit(schema);
  return schema;
}
