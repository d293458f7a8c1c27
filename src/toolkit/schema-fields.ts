/**
 * The top-level fields of a tool's input and output schemas, read from their JSON Schema once per tool:
 * what effective inputs (workflow-spec.md §5a) merge by name and what `braid validate` checks.
 */
import { schemaToJsonSchema, type JsonSchema } from './json-schema.js';
import type { SchemaLike, Tool } from './types.js';

export interface SchemaFields {
  /** Every declared top-level field, in schema order. */
  readonly all: readonly string[];
  /** Fields the input must have (no default, not optional). */
  readonly required: ReadonlySet<string>;
  /** Fields with a default in the schema. */
  readonly defaulted: ReadonlySet<string>;
}

const NONE: SchemaFields = Object.freeze({ all: [], required: new Set<string>(), defaulted: new Set<string>() });
const inputCache = new WeakMap<Tool, SchemaFields>();
const outputCache = new WeakMap<Tool, ReadonlySet<string> | null>();

function fieldsOf(schema: SchemaLike): SchemaFields | undefined {
  let json: JsonSchema;
  try {
    json = schemaToJsonSchema(schema);
  } catch {
    return undefined; // a schema that cannot be read as JSON Schema: no fields known (validation reports the schema)
  }
  const props = json.properties;
  if (json.type !== 'object' || !props || typeof props !== 'object') return undefined;
  const all = Object.keys(props);
  const defaulted = new Set(
    all.filter(
      (k) => (props as Record<string, JsonSchema>)[k] && 'default' in (props as Record<string, JsonSchema>)[k],
    ),
  );
  const required = new Set(
    (Array.isArray(json.required) ? (json.required as string[]) : []).filter((k) => !defaulted.has(k)),
  );
  return { all, required, defaulted };
}

/** The tool's input fields (none when it declares no object schema). */
export function inputFieldsOf(tool: Tool): SchemaFields {
  let f = inputCache.get(tool);
  if (!f) {
    f = (tool.input && fieldsOf(tool.input)) || NONE;
    inputCache.set(tool, f);
  }
  return f;
}

/** The fields the tool's output declares, or undefined when it declares no object output (anything may come). */
export function outputFieldsOf(tool: Tool): ReadonlySet<string> | undefined {
  let f = outputCache.get(tool);
  if (f === undefined) {
    const fields = tool.output && fieldsOf(tool.output);
    f = fields ? new Set(fields.all) : null;
    outputCache.set(tool, f);
  }
  return f ?? undefined;
}
