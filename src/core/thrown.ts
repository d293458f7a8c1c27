/**
 * What a thrown value says, without ever throwing. A tool may throw anything: `Object.create(null)` (no
 * `toString`), an object whose `toString` or `message` getter throws, a Symbol (`String(symbol)` works,
 * `${symbol}` throws), a Proxy whose every trap throws, null. Each use of `String(err)`, `err.message` or
 * `${err}` on such a value used to throw again inside a catch block and take the process down; every
 * place that turns an unknown thrown value into text goes through `describeThrown` instead.
 */

/** A thrown value as text and data: `message` always a string; `code` when the value has a string one. */
export interface ThrownDescription {
  readonly message: string;
  readonly code?: string;
  /** The value's `stack`, when it is an Error with a string one. */
  readonly stack?: string;
}

/** `f()`, or undefined when it throws. */
function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined; // the callers fall back to what they can say (describing a thrown value must never throw)
  }
}

const MAX = 2000;
const cut = (s: string) => (s.length > MAX ? `${s.slice(0, MAX)}…` : s);

/** `[object Null]`, `[object Object]`, `[object Foo]`: the tag, or `an object` when even that throws (a Proxy). */
const tagOf = (value: unknown) => attempt(() => Object.prototype.toString.call(value)) ?? 'an object';

/** The thrown value as `{ message, code?, stack? }`; never throws. */
export function describeThrown(value: unknown): ThrownDescription {
  switch (typeof value) {
    case 'string':
      return { message: cut(value) };
    case 'symbol':
      return { message: `threw ${attempt(() => `Symbol(${value.description ?? ''})`) ?? 'a symbol'}` };
    case 'undefined':
      return { message: 'threw undefined' };
    case 'number':
    case 'bigint':
    case 'boolean':
      return { message: String(value) };
    case 'function':
    case 'object': {
      if (value === null) return { message: 'threw null' };
      const get = (key: string): unknown => attempt(() => (value as Record<string, unknown>)[key]);
      const isError = attempt(() => value instanceof Error) ?? false;
      const given = get('message');
      const code = get('code');
      const stack = isError ? get('stack') : undefined;
      const extra = {
        ...(typeof code === 'string' ? { code } : {}),
        ...(typeof stack === 'string' ? { stack } : {}),
      };
      if (typeof given === 'string' && given) return { message: cut(given), ...extra };
      // No usable message: what the value says of itself, else its JSON, else its tag.
      const text = attempt(() => String(value));
      if (typeof text === 'string' && text && !/^\[object \w*\]$/.test(text)) return { message: cut(text), ...extra };
      const name = isError ? get('name') : undefined;
      if (typeof name === 'string' && name) return { message: name, ...extra };
      const json = attempt(() => JSON.stringify(value));
      if (typeof json === 'string' && json !== '{}' && json !== '[]') return { message: cut(json), ...extra };
      return { message: `threw ${tagOf(value)} without a message`, ...extra };
    }
  }
  return { message: 'threw an unknown value' };
}
