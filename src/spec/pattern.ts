/**
 * JSON Schema `pattern`s of a workflow's `inputs`, matched in linear time (core/linear-pattern.ts). Why: the
 * input is the caller's and the pattern the workflow's; with JavaScript's backtracking engine `^([a-z]+)+$` on
 * 31 characters held `braid serve` for a minute (`/health` included).
 *
 * - A pattern RE2 cannot run (backreferences, lookaround, `\p` ...) is refused by `braid validate` (and any
 *   run) naming its place, `inputs.properties.<name>.pattern`.
 * - `patternProperties` keys are patterns too; with `additionalProperties: false` they are refused, as zod
 *   checks those keys with a regular expression of its own, out of reach.
 * - A pattern that reaches the matcher without validation (not expected) falls back to the regex worker
 *   with a {@link PATTERN_LIMITS}.timeoutMs deadline; past it the value counts as not matching.
 * re2js is loaded with the first pattern.
 */
import { z } from 'zod';
import { isRecord } from '../core/is-record.js';
import { DATA_KEYWORDS, LinearPattern, re2Problem } from '../core/linear-pattern.js';
import type { Issue } from '../errors.js';
import { formatPath } from './path.js';

type ZodLike = { _zod: { def: Record<string, unknown>; innerType?: unknown } };
const isZod = (v: unknown): v is ZodLike => isRecord(v) && isRecord((v as { _zod?: unknown })._zod);

/** Swap every regex check in a zod schema tree for its linear-time matcher. */
function boundPatterns(root: unknown): void {
  const seen = new Set<unknown>();
  const stack = [root];
  while (stack.length) {
    const s = stack.pop();
    if (!isZod(s) || seen.has(s)) continue;
    seen.add(s);
    const def = s._zod.def;
    for (const check of (def.checks as ZodLike[] | undefined) ?? []) {
      const cd = check._zod.def;
      if (cd.check === 'string_format' && cd.format === 'regex' && cd.pattern instanceof RegExp)
        cd.pattern = new LinearPattern(cd.pattern.source);
    }
    for (const [key, v] of Object.entries(def)) {
      if (key === 'checks') continue;
      if (Array.isArray(v)) stack.push(...v);
      else if (isZod(v)) stack.push(v);
      else if (key === 'shape' && isRecord(v)) stack.push(...Object.values(v));
    }
    if (def.type === 'lazy') stack.push(s._zod.innerType);
  }
}

const compiled = new WeakMap<object, z.ZodType>();

/** The zod schema for a workflow's `inputs`, its patterns matched in linear time (built once per object). */
export function inputSchema(inputs: object): z.ZodType {
  let schema = compiled.get(inputs);
  if (!schema) {
    schema = z.fromJSONSchema(inputs as Parameters<typeof z.fromJSONSchema>[0]);
    if (JSON.stringify(inputs).includes('"pattern')) boundPatterns(schema);
    compiled.set(inputs, schema);
  }
  return schema;
}

/** Patterns in `inputs` that cannot run in linear time, each naming its place. */
export function inputPatternIssues(inputs: unknown, base: (string | number)[] = ['inputs']): Issue[] {
  const issues: Issue[] = [];
  const visit = (node: unknown, path: (string | number)[]) => {
    if (Array.isArray(node)) return node.forEach((v, i) => visit(v, [...path, i]));
    if (!isRecord(node)) return;
    if (typeof node.pattern === 'string') {
      const problem = re2Problem(node.pattern);
      if (problem) issues.push(patternIssue([...path, 'pattern'], node.pattern, problem));
    }
    if (isRecord(node.patternProperties)) {
      for (const key of Object.keys(node.patternProperties)) {
        const problem =
          node.additionalProperties === false
            ? 'patternProperties with additionalProperties: false is not supported in inputs'
            : re2Problem(key);
        if (problem) issues.push(patternIssue([...path, 'patternProperties', key], key, problem));
      }
    }
    for (const [key, v] of Object.entries(node))
      if (!DATA_KEYWORDS.has(key) && key !== 'pattern') visit(v, [...path, key]);
  };
  visit(inputs, base);
  return issues;
}

function patternIssue(path: (string | number)[], pattern: string, problem: string): Issue {
  return {
    code: 'invalid_value',
    path: formatPath(path),
    message: `pattern /${pattern}/ cannot run in linear time: ${problem}`,
    hint: 'input patterns run on RE2 (no backreferences or lookaround); check the rest of the value in a task',
  };
}
