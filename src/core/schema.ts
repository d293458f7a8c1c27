/**
 * Schemas as braid sees them: any zod schema (v4 or v3) or a plain JSON Schema input, and its JSON Schema
 * (zod 4 natively, zod 3 via zod-to-json-schema), built once per schema and cached: the result is frozen,
 * so share it, never change it.
 */
import { z } from 'zod';
import type * as ZodToJsonSchema from 'zod-to-json-schema';
import { lazy } from './lazy.js';

/** Only zod 3 schemas need it. */
const zodV3ToJsonSchema = lazy<typeof ZodToJsonSchema>('zod-to-json-schema');

/** Any zod schema, v4 or v3: what braid needs from it. @public */
export interface SchemaLike<T = unknown> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

export type JsonSchema = Record<string, unknown>;

const cache = new WeakMap<object, JsonSchema>();
const ANY_OBJECT: JsonSchema = deepFreeze({ type: 'object', properties: {}, additionalProperties: true });

export function schemaToJsonSchema(schema: SchemaLike | undefined): JsonSchema {
  if (!schema) return ANY_OBJECT;
  let json = cache.get(schema);
  if (!json) {
    // zod 4 natively; a plain JSON Schema input (MCP, AI SDK jsonSchema()) as it is; else zod 3
    const built =
      '_zod' in schema
        ? zod4ToJsonSchema(schema as unknown as z.ZodType)
        : typeof (schema as { jsonSchema?: unknown }).jsonSchema === 'object'
          ? structuredClone((schema as unknown as { jsonSchema: JsonSchema }).jsonSchema)
          : (zodV3ToJsonSchema().zodToJsonSchema(schema as never, {
              target: 'openApi3',
              $refStrategy: 'none',
            }) as JsonSchema);
    const { $schema: _, ...rest } = built;
    json = deepFreeze(rest);
    cache.set(schema, json);
  }
  return json;
}

/**
 * A zod 4 schema's JSON Schema, made by the schema's own copy of zod when it has the method (zod ≥ 4.1): braid's
 * bundle carries its own zod, and a user's schema is best read by the zod that made it.
 */
function zod4ToJsonSchema(schema: z.ZodType): JsonSchema {
  const options = { io: 'input', unrepresentable: 'any' } as const;
  return (
    typeof schema.toJSONSchema === 'function' ? schema.toJSONSchema(options) : z.toJSONSchema(schema, options)
  ) as JsonSchema;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
