/**
 * Safe conditions (workflow-spec.md §3): JSONata, never eval/Function.
 * Evaluated over `{ input, tasks: { <id>: { status, output, label, error } }, output }`.
 */
import jsonata from 'jsonata';

export interface Expression {
  readonly source: string;
  evaluate(context: unknown): Promise<unknown>;
}

export type ParseResult = { ok: true; expression: Expression } | { ok: false; message: string };

export function parseExpression(source: string): ParseResult {
  try {
    const compiled = jsonata(source);
    return { ok: true, expression: { source, evaluate: (ctx) => compiled.evaluate(ctx) } };
  } catch (err) {
    const e = err as { message?: string; position?: number };
    const at = typeof e.position === 'number' ? ` at character ${e.position}` : '';
    return { ok: false, message: `expression does not parse${at}: ${e.message ?? String(err)}` };
  }
}

/** JSONata-style truthiness: undefined, null, false, 0, "", [] and {} are false. */
export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(isTruthy);
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

/** Task ids an expression reads through `tasks.<id>` or ``tasks.`<id>` ``. */
export function expressionTaskRefs(source: string): string[] {
  const ids = new Set<string>();
  for (const m of source.matchAll(/\btasks\s*\.\s*(?:`([^`]+)`|([A-Za-z0-9_]+))/g)) ids.add(m[1] ?? m[2]);
  return [...ids];
}
