/** Validate a tool's input before the call and its output after, with errors that name the field. */
import { BraidError, ToolInputError, type Issue } from '../errors.js';
import { formatPath } from '../spec/path.js';
import type { SchemaLike, Tool } from '../toolkit/types.js';

/** Every failing field, its full path from `root` (`input.recipients[2].email`). */
function issuesOf(
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] },
  root: string,
): Issue[] {
  return error.issues.map((i) => ({
    code: 'invalid_value' as const,
    path: formatPath([root, ...i.path.filter((p): p is string | number => typeof p !== 'symbol')]),
    message: i.message,
  }));
}

function check<T>(
  schema: SchemaLike<T> | undefined,
  value: unknown,
  root: string,
): { ok: true; data: T } | { ok: false; issues: Issue[] } {
  if (!schema) return { ok: true, data: value as T };
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, data: parsed.data } : { ok: false, issues: issuesOf(parsed.error, root) };
}

export function validateToolInput(tool: Tool, input: unknown, taskId?: string): unknown {
  const r = check(tool.input, input, 'input');
  if (!r.ok) throw new ToolInputError(tool.name, r.issues, taskId);
  return r.data;
}

export function validateToolOutput(tool: Tool, output: unknown, taskId?: string): unknown {
  const r = check(tool.output, output, 'output');
  if (!r.ok) {
    const detail = r.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new BraidError(
      'E_TOOL_OUTPUT',
      `tool "${tool.name}" returned output that does not match its schema: ${detail}`,
      { taskId },
    );
  }
  return r.data;
}
