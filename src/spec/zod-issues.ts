/** Turn zod issues into braid `Issue`s with CLI paths, the offending value and did-you-mean hints. */
import type { z } from 'zod';
import type { Issue } from '../errors.js';
import { formatPath, type PathSegment } from './path.js';
import { didYouMean } from './suggest.js';

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return '`null`';
  const kind = Array.isArray(value) ? 'array' : typeof value;
  const text = JSON.stringify(value);
  return `\`${text.length > 40 ? `${text.slice(0, 37)}...` : text}\` (${kind})`;
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let cur = root;
  for (const s of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

/**
 * @param knownKeys returns the allowed keys of the object at a path (for unknown-field hints)
 */
export function fromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  prefix: readonly PathSegment[] = [],
  knownKeys?: (path: readonly PathSegment[]) => readonly string[] | undefined,
): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const rel = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
    const path = [...prefix, ...rel];
    if (issue.code === 'unrecognized_keys') {
      const keys = knownKeys?.(path) ?? [];
      for (const key of issue.keys) {
        out.push({
          code: 'unknown_field',
          path: formatPath([...path, key]),
          message: `unknown field "${key}"`,
          hint: didYouMean(key, keys) ?? (keys.length ? `allowed fields: ${keys.join(', ')}` : 'remove it'),
        });
      }
      continue;
    }
    const value = valueAt(input, rel);
    const field = path.length ? String(path[path.length - 1]) : 'value';
    if (value === undefined && issue.code === 'invalid_type') {
      out.push({
        code: 'missing_field',
        path: formatPath(path),
        message: `missing required field "${field}"`,
        hint: `expected ${issue.expected}`,
      });
      continue;
    }
    const base = issue.message.replace(/^Invalid input: /, '').replace(/^Too (small|big): /, '');
    out.push({
      code: issue.code === 'invalid_type' ? 'invalid_type' : 'invalid_value',
      path: formatPath(path),
      message: `${base}, got ${describeValue(value)}`,
    });
  }
  return out;
}
