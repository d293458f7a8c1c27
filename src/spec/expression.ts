/**
 * Safe conditions (workflow-spec.md §3): JSONata, never eval/Function.
 * Evaluated over `{ input, tasks: { <id>: { status, output, label, error } }, output }`.
 *
 * Every evaluation runs under a budget, so a condition cannot take the process down:
 * - time (the task's `timeout_ms`, else {@link EXPRESSION_LIMITS}.timeoutMs) and depth, checked by JSONata on
 *   every evaluation step (its `timeout`/`stack` guardrails): a tail-recursive loop or a deep recursion fails;
 * - sequences of at most `maxSequence` items, `$pad` to at most `maxString` characters;
 * - the built-ins that are not evaluation steps themselves stay within the budget too: `$distinct` (JSONata's
 *   compares every pair: 100,000 numbers took 12 s past any budget) keys values by a canonical form in one
 *   pass, and `$sort` (JSONata's merge copies the rest of a list at every step: quadratic) is an O(n log n)
 *   merge sort; both check the deadline as they go (`bounded-builtins.ts`); the appends JSONata makes by
 *   copying (`*` over many arrays, grouping, `$spread`: quadratic) check it at each append;
 * - the evaluation gives the event loop a turn every {@link EXPRESSION_LIMITS}.yieldEveryMs (JSONata awaits
 *   a hook at every step, but only microtasks run in between): a long condition does not stop a server
 *   from answering others (`/health` included) while it runs;
 * - regular expressions run in a worker thread the caller waits for synchronously, up to the remaining
 *   budget; a catastrophic one is stopped by terminating that worker (V8 cannot interrupt a running
 *   regular expression in its own thread).
 * A failure is an `E_EXPRESSION` error.
 */
import type jsonataModule from 'jsonata';
import { lazy } from '../core/lazy.js';
import { BraidError } from '../errors.js';
import { BUDGET, boundedDistinct, boundedSort, type Budget, budgetError } from './bounded-builtins.js';
import { execRegex, type RegexMatch } from '../core/regex-worker.js';

/** Limits of one condition or expression evaluation. @public */
export const EXPRESSION_LIMITS = {
  timeoutMs: 1000,
  maxDepth: 500,
  maxSequence: 1_000_000,
  maxString: 1_000_000,
  yieldEveryMs: 20,
} as const;

export interface EvaluateOptions {
  /** Time budget for this evaluation. @default EXPRESSION_LIMITS.timeoutMs */
  readonly timeoutMs?: number;
}

export interface Expression {
  readonly source: string;
  evaluate(context: unknown, options?: EvaluateOptions): Promise<unknown>;
}

export type ParseResult = { ok: true; expression: Expression } | { ok: false; message: string };

/** JSONata (~0.1 s to load), loaded when the first expression is parsed. */
const jsonata = lazy<typeof jsonataModule>('jsonata');

type Options = { timeout: number; stack: number; sequence: number; RegexEngine: unknown };

export function parseExpression(source: string): ParseResult {
  // Compiled once per time budget: JSONata keeps its guardrail options per compiled expression (parsing
  // costs ~0.2 ms, evaluating a simple condition ~30 µs).
  const compiled = new Map<number, { expression: jsonataModule.Expression; options: Options }>();
  const compile = (timeoutMs: number) => {
    let c = compiled.get(timeoutMs);
    if (!c) {
      const options: Options = {
        timeout: timeoutMs,
        stack: EXPRESSION_LIMITS.maxDepth,
        sequence: EXPRESSION_LIMITS.maxSequence,
        RegexEngine: RegExp,
      };
      const expression = jsonata()(source, options as unknown as Parameters<typeof jsonataModule>[1]);
      expression.registerFunction('distinct', boundedDistinct as never, '<x:x>');
      expression.registerFunction('sort', boundedSort as never, '<af?:a>');
      expression.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, onStep);
      c = { expression, options };
      compiled.set(timeoutMs, c);
    }
    return c;
  };
  try {
    compile(EXPRESSION_LIMITS.timeoutMs);
  } catch (err) {
    const e = err as { message?: string; position?: number };
    const at = typeof e.position === 'number' ? ` at character ${e.position}` : '';
    return { ok: false, message: `expression does not parse${at}: ${e.message ?? String(err)}` };
  }
  return {
    ok: true,
    expression: {
      source,
      evaluate: async (ctx, options) => {
        const timeoutMs = options?.timeoutMs ?? EXPRESSION_LIMITS.timeoutMs;
        const deadline = Date.now() + timeoutMs;
        const c = compile(timeoutMs);
        // JSONata takes the regular expression engine from its options when an evaluation starts
        // (synchronously, before its first await): this evaluation's regular expressions get its deadline.
        c.options.RegexEngine = function RegexEngine(regex: RegExp) {
          return new BoundedRegExp(regex, deadline, timeoutMs);
        };
        const budget: Budget = { deadline, timeoutMs, lastTurn: Date.now() };
        try {
          return await c.expression.evaluate(ctx, { pad: boundedPad, [BUDGET]: budget });
        } catch (err) {
          throw expressionError(err, timeoutMs);
        }
      },
    },
  };
}

interface Environment {
  lookup(name: string): unknown;
  readonly base?: { options: object };
}

/**
 * JSONata appends sequences (`*`, grouping, array constructors, `$spread`) by copying, which is quadratic in
 * native code between two evaluation steps; every append reads `options.sequence` first: reading it checks
 * the deadline.
 */
function deadlineOptions(shared: object, budget: Budget): object {
  const { sequence } = shared as { sequence: number };
  return Object.create(shared, {
    sequence: {
      get() {
        if (Date.now() > budget.deadline) throw budgetError(budget);
        return sequence;
      },
    },
  });
}

/** JSONata's hook at every evaluation step: a turn for the event loop every `yieldEveryMs`. */
function onStep(_expr: unknown, _input: unknown, environment: Environment) {
  const budget = environment.lookup(BUDGET) as Budget | undefined;
  if (!budget) return undefined;
  // This evaluation's own options (the first step comes before any other), whose `sequence` checks the deadline.
  const base = environment.base;
  if (base && base.options !== budget.options) base.options = budget.options ??= deadlineOptions(base.options, budget);
  const now = Date.now();
  if (now - budget.lastTurn < EXPRESSION_LIMITS.yieldEveryMs) return undefined;
  if (now > budget.deadline) throw budgetError(budget);
  budget.lastTurn = now;
  return new Promise<void>((resolve) => setImmediate(resolve));
}

function expressionError(err: unknown, timeoutMs: number): BraidError {
  if (BraidError.is(err)) return err;
  const e = err as { code?: string; message?: string };
  const message =
    e?.code === 'D1012'
      ? `ran past its time budget of ${timeoutMs} ms (timeout_ms)`
      : e?.code === 'D1011'
        ? `recursed deeper than ${EXPRESSION_LIMITS.maxDepth} steps`
        : e?.code === 'D2015'
          ? `built a sequence of more than ${EXPRESSION_LIMITS.maxSequence} items`
          : (e?.message ?? String(err));
  return new BraidError('E_EXPRESSION', message, { cause: err });
}

/** `$pad` with a bound on the result (JSONata's builds the padding as one array: `$pad('', 5e8)` aborts V8). */
function boundedPad(str: unknown, width: unknown, char?: unknown): unknown {
  if (typeof str === 'undefined') return undefined;
  if (
    typeof str !== 'string' ||
    typeof width !== 'number' ||
    !Number.isFinite(width) ||
    (char !== undefined && typeof char !== 'string')
  ) {
    throw new BraidError('E_EXPRESSION', '$pad(str, width, char?) expects a string, a number and an optional string');
  }
  const w = Math.trunc(width);
  if (Math.abs(w) > EXPRESSION_LIMITS.maxString)
    throw new BraidError('E_EXPRESSION', `$pad to ${Math.abs(w)} characters, more than ${EXPRESSION_LIMITS.maxString}`);
  const fill = char || ' ';
  const missing = Math.abs(w) - [...str].length;
  if (missing <= 0) return str;
  const padding = [...fill.repeat(Math.ceil(missing / [...fill].length))].slice(0, missing).join('');
  return w > 0 ? str + padding : padding + str;
}

/**
 * JSONata's regular expression engine (`new RegexEngine(regex)`, then `lastIndex` + `exec`), with every
 * match computed in the regex worker under the current evaluation's deadline. A global regex is matched
 * once for all its matches from a position; the following `exec` calls read them back.
 */
class BoundedRegExp {
  lastIndex = 0;
  readonly source: string;
  readonly flags: string;
  #str?: string;
  readonly #matches = new Map<number, RegexMatch | null>();

  constructor(
    regex: RegExp,
    private readonly deadline: number,
    private readonly timeoutMs: number,
  ) {
    this.source = regex.source;
    this.flags = regex.flags;
  }

  exec(str: string): RegExpExecArray | null {
    const from = this.lastIndex;
    if (this.#str !== str) {
      this.#str = str;
      this.#matches.clear();
    }
    if (!this.#matches.has(from)) {
      const { deadline, timeoutMs } = this;
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new BraidError('E_EXPRESSION', `ran past its time budget of ${timeoutMs} ms (timeout_ms)`);
      const found = execRegex(this.source, this.flags, str, from, remaining);
      if ('error' in found)
        throw new BraidError(
          'E_EXPRESSION',
          found.error === 'timeout'
            ? `regular expression /${this.source}/ ran past the time budget of ${timeoutMs} ms (timeout_ms)`
            : found.error,
        );
      if (!found.matches.length) this.#matches.set(from, null);
      for (const m of found.matches) this.#matches.set(m.from, m);
    }
    const m = this.#matches.get(from);
    if (!m) {
      this.lastIndex = 0;
      return null;
    }
    this.lastIndex = m.lastIndex;
    return Object.assign([...m.groups] as unknown as RegExpExecArray, { index: m.index, input: str });
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
