/**
 * What labels a task can give (workflow-spec.md §3, "Closed label sets"), read the way the engine reads a label
 * (src/engine/labels.ts): the output itself when it is a string, else `output.label`, else the classifier. A producer
 * is *closed* when it lists its labels (`classify.labels`, a zod `z.enum`/literal union or JSON Schema `enum`/`const`
 * at the field the label is read from) and *open* when it may give free text (no output schema, a plain string, a
 * classifier choosing among the `if_result` values themselves). Literal strings in the task's input add to the known
 * labels (an `echo` of a fixed label) but close nothing. `braid validate` turns this into errors and warnings.
 */
import { schemaToJsonSchema, type JsonSchema } from '../core/schema.js';
import type { ToolRegistry } from '../toolkit/registry.js';
import type { TaskSpec } from './schema.js';
import { hasTemplate } from './template.js';

export interface LabelProducers {
  /** Labels the closed producers list. */
  readonly closed: ReadonlySet<string>;
  /** Labels known to be possible: the closed ones plus string literals in the task's input. */
  readonly known: ReadonlySet<string>;
  /** Some producer may give a label nobody listed (free text). */
  readonly open: boolean;
}

/** A schema's labels: the ones it lists, whether it allows any string, whether it can give no label at all. */
interface Reading {
  labels: Set<string>;
  open: boolean;
  none: boolean;
}

const OPEN: Reading = { labels: new Set(), open: true, none: false };

export function labelProducers(task: TaskSpec, registry: ToolRegistry): LabelProducers {
  const closed = new Set<string>(task.classify?.labels ?? []);
  // A for_each task's output is a list of item results; an unknown tool (an MCP server not loaded) tells nothing.
  const out =
    task.for_each !== undefined || !registry.has(task.tool) ? OPEN : outputReading(registry.get(task.tool).output);
  for (const l of out.labels) closed.add(l);
  const known = new Set([...closed, ...literalStrings(task.input)]);
  // When the output can come without a label, the classifier decides: closed by classify.labels, else it chooses
  // among whatever the if_result values ask for.
  const open = out.open || (out.none && task.classify === undefined);
  return { closed, known, open };
}

function outputReading(schema: Parameters<typeof schemaToJsonSchema>[0]): Reading {
  if (!schema) return OPEN;
  let json: JsonSchema;
  try {
    json = schemaToJsonSchema(schema);
  } catch {
    return OPEN; // a schema that cannot be read: any label may come (no warning rests on it)
  }
  return read(json, true);
}

/** `whole`: the schema is the whole output (a label is the output itself, or its `label` field). */
function read(s: JsonSchema, whole: boolean): Reading {
  if (typeof s !== 'object' || s === null) return OPEN;
  if (Array.isArray(s.enum) || 'const' in s) {
    const values = Array.isArray(s.enum) ? s.enum : [s.const];
    const labels = new Set(values.filter((v): v is string => typeof v === 'string'));
    return { labels, open: false, none: labels.size < values.length };
  }
  const branches = [s.anyOf, s.oneOf].find(Array.isArray) as JsonSchema[] | undefined;
  if (branches) {
    const parts = branches.map((b) => read(b, whole));
    return {
      labels: new Set(parts.flatMap((p) => [...p.labels])),
      open: parts.some((p) => p.open),
      none: parts.some((p) => p.none),
    };
  }
  const types = Array.isArray(s.type) ? (s.type as unknown[]) : s.type === undefined ? undefined : [s.type];
  if (!types) return OPEN; // {} or unknown: anything may come
  const r: Reading = { labels: new Set(), open: false, none: false };
  for (const type of types) {
    if (type === 'string') r.open = true;
    else if (type === 'object' && whole) merge(r, objectReading(s));
    else r.none = true;
  }
  return r;
}

function objectReading(s: JsonSchema): Reading {
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  if (Object.hasOwn(props, 'label')) {
    const field = read(props.label, false);
    const required = Array.isArray(s.required) && s.required.includes('label');
    return { ...field, none: field.none || !required };
  }
  // No declared label field: an open object may still carry one.
  const extra = s.additionalProperties;
  return extra === false || extra === undefined ? { labels: new Set(), open: false, none: true } : OPEN;
}

function merge(into: Reading, r: Reading): void {
  for (const l of r.labels) into.labels.add(l);
  into.open ||= r.open;
  into.none ||= r.none;
}

/** Strings written out in a task's input (not templates), at any depth. */
function literalStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) out.push(value);
  } else if (Array.isArray(value)) for (const v of value) literalStrings(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) literalStrings(v, out);
  return out;
}
