/**
 * Templates in task input (workflow-spec.md §5): `"{{ input.topic }}"`, `"{{ tasks.t1.output.text }}"`.
 * A string that is exactly one template keeps the value's JSON type; inside a longer string the value
 * is stringified. A missing value renders as `null` (whole-string) or `""` (inside a string).
 */

/** `item`/`index` exist in for_each tasks, `error` in on_failure adjust patches (validate.ts checks where). */
export const TEMPLATE_ROOTS = ['input', 'tasks', 'item', 'index', 'run', 'error'] as const;

const SEGMENT_RE = /^[A-Za-z0-9_$-]+$/;

export interface TemplateRef {
  /** The text between the braces. */
  readonly raw: string;
  /** Segments with a task id kept whole: `['tasks', 'a.b', 'output', 'x']`. */
  readonly segments: readonly string[];
  /** Set for `tasks.<id>...` references. */
  readonly taskId?: string;
  /** Set when the reference cannot be understood. */
  readonly problem?: string;
}

export interface TemplateContext {
  readonly input: unknown;
  readonly tasks: Readonly<Record<string, unknown>>;
  readonly item?: unknown;
  readonly index?: number;
  readonly run?: unknown;
  /** The failed attempt's error, in on_failure adjust patches. */
  readonly error?: unknown;
}

/**
 * Split a string into literal text and template bodies: `[text, body, text, body, ..., text]` (odd
 * indexes are bodies, trimmed). A linear scan with indexOf: no pattern that can backtrack on `{{` followed
 * by thousands of spaces.
 */
export function splitTemplates(s: string): string[] {
  const out: string[] = [];
  let pos = 0;
  for (;;) {
    const open = s.indexOf('{{', pos);
    const close = open < 0 ? -1 : s.indexOf('}}', open + 2);
    if (close < 0) break;
    out.push(s.slice(pos, open), s.slice(open + 2, close).trim());
    pos = close + 2;
  }
  out.push(s.slice(pos));
  return out;
}

/** The template bodies in a string. */
const bodiesOf = (s: string): string[] => splitTemplates(s).filter((_, i) => i % 2 === 1);

/** Split `a.b[0].c` into `['a','b','0','c']`, or undefined if it is not a plain path. */
function splitPath(expr: string): string[] | undefined {
  const parts = expr.replace(/\[(\d+)\]/g, '.$1').split('.');
  return parts.every((p) => SEGMENT_RE.test(p)) ? parts : undefined;
}

/** Parse one template body; task ids may contain dots, so they are matched against known ids. */
export function parseRef(raw: string, taskIds: ReadonlySet<string>): TemplateRef {
  const parts = splitPath(raw);
  if (!parts)
    return { raw, segments: [], problem: `"{{ ${raw} }}" is not a path like input.topic or tasks.<id>.output.field` };
  const root = parts[0];
  if (!(TEMPLATE_ROOTS as readonly string[]).includes(root)) {
    return {
      raw,
      segments: parts,
      problem: `"{{ ${raw} }}" starts with "${root}"; templates start with ${TEMPLATE_ROOTS.join(', ')}`,
    };
  }
  if (root !== 'tasks') return { raw, segments: parts };
  if (parts.length < 2)
    return { raw, segments: parts, problem: `"{{ ${raw} }}" names no task; write tasks.<id>.output` };
  for (let end = 2; end <= parts.length; end++) {
    const id = parts.slice(1, end).join('.');
    if (taskIds.has(id)) return { raw, segments: ['tasks', id, ...parts.slice(end)], taskId: id };
  }
  return { raw, segments: ['tasks', parts[1], ...parts.slice(2)], taskId: parts[1] };
}

/** Every template reference in a JSON value, with the field path where it occurs. */
export function findRefs(
  value: unknown,
  taskIds: ReadonlySet<string>,
  path: (string | number)[] = [],
): { ref: TemplateRef; path: (string | number)[] }[] {
  const out: { ref: TemplateRef; path: (string | number)[] }[] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (typeof v === 'string') {
      for (const body of bodiesOf(v)) out.push({ ref: parseRef(body, taskIds), path: p });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(value, path);
  return out;
}

/** Own members only: `{{ input.constructor }}` or `{{ tasks.__proto__ }}` never reach an inherited value. */
function lookup(ctx: TemplateContext, segments: readonly string[]): unknown {
  let cur: unknown = ctx;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, s)) return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export type CompiledTemplate = (ctx: TemplateContext) => unknown;

/** Compile a JSON value with templates into a renderer; values without templates are returned as is. */
export function compileTemplate(value: unknown, taskIds: ReadonlySet<string>): CompiledTemplate {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return () => value;
    const pieces = splitTemplates(value);
    // a string that is exactly one template keeps the value's type
    if (pieces.length === 3 && pieces[0] === '' && pieces[2] === '') {
      const { segments } = parseRef(pieces[1], taskIds);
      return (ctx) => lookup(ctx, segments) ?? null;
    }
    // even indexes are literal text, odd ones template bodies
    const refs = pieces.map((p, i) => (i % 2 === 1 ? parseRef(p, taskIds).segments : undefined));
    return (ctx) => pieces.map((p, i) => (i % 2 === 1 ? stringify(lookup(ctx, refs[i]!)) : p)).join('');
  }
  if (Array.isArray(value)) {
    const items = value.map((v) => compileTemplate(v, taskIds));
    if (!hasTemplate(value)) return () => value;
    return (ctx) => items.map((f) => f(ctx));
  }
  if (value && typeof value === 'object') {
    if (!hasTemplate(value)) return () => value;
    const entries = Object.entries(value).map(([k, v]) => [k, compileTemplate(v, taskIds)] as const);
    return (ctx) => Object.fromEntries(entries.map(([k, f]) => [k, f(ctx)]));
  }
  return () => value;
}

export function hasTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (Array.isArray(value)) return value.some(hasTemplate);
  if (value && typeof value === 'object') return Object.values(value).some(hasTemplate);
  return false;
}
