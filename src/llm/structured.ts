/** Parse and validate a structured-output answer; a bad answer is an `E_LLM` error that says why. */
import { BraidError } from '../errors.js';
import type { SchemaLike } from '../tools/types.js';

export function parseStructured(schema: SchemaLike, text: string, who: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BraidError('E_LLM', `${who} returned malformed JSON for structured output: ${text.slice(0, 120)}`);
  }
  return validateStructured(schema, value, who);
}

export function validateStructured(schema: SchemaLike, value: unknown, who: string): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new BraidError('E_LLM', `${who} answer does not match the schema: ${detail}`);
}
