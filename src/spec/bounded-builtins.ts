/**
 * JSONata built-ins replaced because they ignore the time budget. JSONata checks its budget at every
 * evaluation step, but a built-in runs as one step: `$distinct` compares every pair of items (quadratic:
 * 100,000 numbers took 12 s, a 980 KB request held `braid serve` 17 s) and `$sort` merges by copying the rest
 * of a list at every step (quadratic in time and memory: 100,000 numbers ran out of a 4 GB heap). The others
 * are linear in their input (bounded by the run input's size) or call a lambda, which is an evaluation step.
 *
 * Same results as JSONata's, in O(n) and O(n log n), checking the evaluation's deadline as they go.
 */
import { BraidError } from '../errors.js';

/** The binding that carries an evaluation's budget (a name no JSONata variable can spell). */
export const BUDGET = 'braid budget';

export interface Budget {
  readonly deadline: number;
  readonly timeoutMs: number;
  /** When the evaluation last gave the event loop a turn. */
  lastTurn: number;
  /** This evaluation's JSONata options (see expression.ts). */
  options?: object;
}

/** What JSONata passes built-ins as `this`. */
interface Focus {
  readonly environment: { lookup(name: string): unknown };
  createSequence(): unknown[];
}

export const budgetError = (budget: Budget) =>
  new BraidError('E_EXPRESSION', `ran past its time budget of ${budget.timeoutMs} ms (timeout_ms)`);

/** Checks the deadline every `every` calls. */
function ticker(focus: Focus, every = 1024): () => void {
  const budget = focus.environment.lookup(BUDGET) as Budget | undefined;
  let n = 0;
  return () => {
    if (budget && ++n % every === 0 && Date.now() > budget.deadline) throw budgetError(budget);
  };
}

/**
 * A string equal for two values exactly when JSONata's deep equality holds: objects by their sorted keys,
 * arrays in order, numbers by value (`0` and `-0` alike); functions and `NaN` only equal themselves.
 */
interface Ids {
  readonly of: WeakMap<object, number>;
  next: number;
}

function canonical(value: unknown, tick: () => void, ids: Ids): string {
  tick();
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 't' : 'f';
    case 'number':
      return Number.isNaN(value) ? `N${ids.next++}` : `d${value}`;
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'n';
      if (Array.isArray(value)) return `[${value.map((v) => canonical(v, tick, ids)).join(',')}]`;
      const keys = Object.getOwnPropertyNames(value).sort();
      const v = value as Record<string, unknown>;
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k], tick, ids)}`).join(',')}}`;
    }
    default: {
      const f = value as object;
      if (!ids.of.has(f)) ids.of.set(f, ids.next++);
      return `F${ids.of.get(f)}`;
    }
  }
}

/** `$distinct(array)`: the first of each group of deeply equal items, in order. */
export function boundedDistinct(this: Focus, arr: unknown): unknown {
  if (arr === undefined) return undefined;
  if (!Array.isArray(arr) || arr.length <= 1) return arr;
  const tick = ticker(this);
  const ids: Ids = { of: new WeakMap(), next: 0 };
  const seen = new Set<string>();
  const results = (arr as { sequence?: boolean }).sequence === true ? this.createSequence() : [];
  for (const value of arr) {
    const key = canonical(value, tick, ids);
    if (seen.has(key)) continue;
    seen.add(key);
    results.push(value);
  }
  return results;
}

const numbers = (a: unknown[]) => a.every((v) => typeof v === 'number');
const strings = (a: unknown[]) => a.every((v) => typeof v === 'string');

/**
 * `$sort(array, comparator?)`: stable; `comparator($a, $b)` true puts `$b` first. Without one, numbers or
 * strings in ascending order (JSONata's D3070 otherwise).
 */
export async function boundedSort(
  this: Focus,
  arr: unknown[] | undefined,
  comparator?: (a: unknown, b: unknown) => unknown,
): Promise<unknown[] | undefined> {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  const tick = ticker(this, 256);
  if (comparator === undefined) {
    if (!numbers(arr) && !strings(arr)) throw { code: 'D3070', index: 1, stack: new Error().stack };
    return [...arr].sort(
      (a, b) => (tick(), (a as number) > (b as number) ? 1 : (a as number) < (b as number) ? -1 : 0),
    );
  }
  // Bottom-up merge sort: about n log2 n comparisons, each awaited (a lambda is an evaluation step).
  let from = [...arr];
  const n = from.length;
  for (let width = 1; width < n; width *= 2) {
    const to = new Array<unknown>(n);
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        tick();
        to[k++] = (await comparator(from[i], from[j])) ? from[j++] : from[i++];
      }
      while (i < mid) to[k++] = from[i++];
      while (j < hi) to[k++] = from[j++];
    }
    from = to;
  }
  return from;
}
