/** Read a workflow file (JSON or YAML) into a plain value, or issues that name the line. */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type * as Yaml from 'yaml';
import { lazy } from '../core/lazy.js';
import type { Issue } from '../errors.js';

/** The YAML parser, loaded by the first YAML file (a JSON workflow never needs it). */
const yaml = lazy<typeof Yaml>('yaml');

export type ParsedFile = { ok: true; value: unknown } | { ok: false; issues: Issue[] };

/** Limits on a workflow file: beyond them it is refused with exit 2, before anything walks it. */
export const FILE_LIMITS = { maxBytes: 10 * 1024 * 1024, maxDepth: 64, maxAliases: 1000 } as const;

/** The path of the first value nested deeper than `max`, or undefined. Iterative: any depth is safe to check. */
export function tooDeep(value: unknown, max: number): string | undefined {
  return deeperThan(value, max) ? deepPath(value, max) : undefined;
}

/** Whether some value nests `max` levels or more (no paths built: the common answer, no, is cheap). */
function deeperThan(value: unknown, max: number): boolean {
  const stack: unknown[] = [value];
  const depths: number[] = [0];
  while (stack.length) {
    const v = stack.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    if (Array.isArray(v)) for (const x of v) (stack.push(x), depths.push(depth + 1));
    else
      for (const k in v)
        if (Object.hasOwn(v, k)) (stack.push((v as Record<string, unknown>)[k]), depths.push(depth + 1));
  }
  return false;
}

function deepPath(value: unknown, max: number): string | undefined {
  const stack: [unknown, number, string][] = [[value, 0, '']];
  while (stack.length) {
    const [v, depth, path] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return path || '(top)';
    for (const [k, x] of Object.entries(v))
      stack.push([x, depth + 1, Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k]);
  }
  return undefined;
}

function limited(value: unknown): ParsedFile {
  const deep = tooDeep(value, FILE_LIMITS.maxDepth);
  if (deep === undefined) return { ok: true, value };
  const at = deep.length > 80 ? `${deep.slice(0, 80)}...` : deep;
  return {
    ok: false,
    issues: [
      {
        code: 'parse_error',
        path: '',
        message: `nested more than ${FILE_LIMITS.maxDepth} levels deep (at ${at})`,
        hint: 'a workflow file is limited to 64 levels of nesting',
      },
    ],
  };
}

export function parseText(text: string, format: 'json' | 'yaml'): ParsedFile {
  if (text.length > FILE_LIMITS.maxBytes) {
    return {
      ok: false,
      issues: [
        {
          code: 'parse_error',
          path: '',
          message: `the file is larger than ${FILE_LIMITS.maxBytes / 1024 / 1024} MiB`,
          hint: 'a workflow file is limited to 10 MiB',
        },
      ],
    };
  }
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return {
        ok: false,
        issues: [
          {
            code: 'parse_error',
            path: '',
            message: `invalid JSON: ${(err as Error).message}`,
            hint: 'check commas and quotes near that position',
          },
        ],
      };
    }
    return limited(value);
  }
  const doc = yaml().parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    // An unclosed quote is found where the text runs out: report the line that opened it, and not the
    // indentation errors that follow from it.
    const quote = doc.errors.find((e) => e.code === 'MISSING_CHAR' && /quote/.test(e.message));
    const opened = quote && openQuoteLine(text, quote.pos[0], quote.message.includes('"') ? '"' : "'");
    if (quote && opened) {
      return {
        ok: false,
        issues: [
          {
            code: 'parse_error',
            path: `line ${opened}`,
            message: `invalid YAML: a ${quote.message.includes('"') ? 'double' : 'single'} quote opened here is never closed`,
            hint: 'close the quote on the same line, or use a block scalar (|) for long text',
          },
        ],
      };
    }
    return {
      ok: false,
      issues: doc.errors.map((e) => ({
        code: 'parse_error' as const,
        path: e.linePos ? `line ${e.linePos[0].line}` : '',
        message: `invalid YAML: ${e.message.split('\n')[0]}`,
        hint: 'check indentation and quoting',
      })),
    };
  }
  try {
    return limited(doc.toJS({ maxAliasCount: FILE_LIMITS.maxAliases }));
  } catch (err) {
    // yaml refuses alias expansion that explodes (a "billion laughs" file) or nests beyond the stack
    const message = /alias/i.test((err as Error).message)
      ? `too many alias expansions (more than ${FILE_LIMITS.maxAliases})`
      : `cannot read it: ${(err as Error).message}`;
    return {
      ok: false,
      issues: [
        {
          code: 'parse_error',
          path: '',
          message: `invalid YAML: ${message}`,
          hint: 'YAML anchors and aliases are limited; write the values out',
        },
      ],
    };
  }
}

/** The first line before `end` whose quotes of this kind do not balance (where a string was opened). */
function openQuoteLine(text: string, end: number, q: '"' | "'"): number | undefined {
  const lines = text.slice(0, end).split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    let count = 0;
    for (let k = 0; k < line.length; k++) {
      if (line[k] === '\\' && q === '"') k++;
      else if (line[k] === q) {
        // a single quote only opens a string where a value starts (not the apostrophe in "it's")
        if (q === "'" && count % 2 === 0 && !/(^|[\s:,[{-])$/.test(line.slice(0, k))) continue;
        count++;
      }
    }
    if (count % 2 === 1) return n + 1;
  }
  return undefined;
}

export function formatOf(file: string): 'json' | 'yaml' | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  return undefined;
}

export async function parseFile(file: string): Promise<ParsedFile> {
  const format = formatOf(file);
  if (!format) {
    return {
      ok: false,
      issues: [
        {
          code: 'parse_error',
          path: '',
          message: `unsupported file type "${extname(file) || '(none)'}"`,
          hint: 'use .json, .yaml or .yml',
        },
      ],
    };
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : `cannot read file: ${(err as Error).message}`;
    return { ok: false, issues: [{ code: 'parse_error', path: '', message, hint: 'check the path' }] };
  }
  return parseText(text, format);
}
