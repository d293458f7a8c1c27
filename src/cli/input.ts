/** `--input key=value` pairs into an object, typed by the workflow's `inputs` schema when it has one. */
import { BraidError } from '../errors.js';

export function parseInputPairs(pairs: readonly string[], inputsSchema?: Record<string, unknown>): Record<string, unknown> {
  const props = (inputsSchema?.properties ?? {}) as Record<string, { type?: unknown }>;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BraidError('E_USAGE', `--input expects key=value, got "${pair}"`, { retryable: false });
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    out[key] = props[key]?.type === 'string' ? raw : parseLoose(raw, props[key] !== undefined);
  }
  return out;
}

/** JSON when it parses (numbers, booleans, arrays, objects); a plain string otherwise. */
function parseLoose(raw: string, declared: boolean): unknown {
  if (!declared && !/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(raw.trim())) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
