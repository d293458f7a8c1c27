/** Parse and validate a structured-output answer; a bad answer is an `AnswerError` (`E_LLM`) that says why. */
import { BraidError } from '../errors.js';
import type { SchemaLike } from '../core/schema.js';
import type { TokenUsage } from './types.js';

/**
 * The model answered, but not usably (not JSON of the asked shape, cut off, a refusal): worth asking again, unlike a
 * failed request. `usage` is what the answer cost, so it still counts toward the task.
 */
export class AnswerError extends BraidError {
  usage?: TokenUsage;
  constructor(message: string) {
    super('E_LLM', message);
  }
}

/** `fromModel` maps the answer back first (see `modelSchema`: `null` in an optional field → absent). */
export function parseStructured(
  schema: SchemaLike,
  text: string,
  who: string,
  fromModel?: (value: unknown) => unknown,
): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AnswerError(`${who} returned malformed JSON for structured output: ${text.slice(0, 120)}`);
  }
  return validateStructured(schema, fromModel ? fromModel(value) : value, who);
}

export function validateStructured(schema: SchemaLike, value: unknown, who: string): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new AnswerError(`${who} answer does not match the schema: ${detail}`);
}
