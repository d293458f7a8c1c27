/**
 * What calling a tool does to the world (workflow-spec.md §7a): `none` (it only computes or reads), `idempotent`
 * (doing it twice is doing it once), `external` (an email, a write, a payment). Forks, replay and the cache decide
 * by it; a tool that declares nothing is treated as `external` by all of them (it stays valid: nothing warns).
 */
import type { Effects, Tool } from './types.js';

/** The tool's effects for this input: its declaration (a value, or a function of the input), else `external`. @beta */
export function effectsOf(tool: Pick<Tool, 'effects'>, input?: unknown): Effects {
  const declared = tool.effects;
  if (typeof declared === 'function') {
    try {
      return declared(input);
    } catch {
      return 'external'; // an input the function cannot judge: assume the worst
    }
  }
  return declared ?? 'external';
}

/** An MCP tool's annotations as effects: `readOnlyHint` → none, `idempotentHint` → idempotent, else external. */
export function effectsFromHints(
  annotations: { readOnlyHint?: unknown; idempotentHint?: unknown } | undefined,
): Effects {
  if (annotations?.readOnlyHint === true) return 'none';
  if (annotations?.idempotentHint === true) return 'idempotent';
  return 'external';
}
