/**
 * JSON Schema for function calling, from a tool's zod schema (zod 4 natively, zod 3 via zod-to-json-schema).
 * Built once per schema and cached: the result is frozen, so share it, never change it.
 */
import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import type { SchemaLike, Tool } from './types.js';

export type JsonSchema = Record<string, unknown>;

const cache = new WeakMap<object, JsonSchema>();
const ANY_OBJECT: JsonSchema = deepFreeze({ type: 'object', properties: {}, additionalProperties: true });

export function schemaToJsonSchema(schema: SchemaLike | undefined): JsonSchema {
  if (!schema) return ANY_OBJECT;
  let json = cache.get(schema);
  if (!json) {
    // zod 4 natively; a plain JSON Schema input (MCP, AI SDK jsonSchema()) as it is; else zod 3
    const built = '_zod' in schema
      ? (z.toJSONSchema(schema as unknown as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema)
      : typeof (schema as { jsonSchema?: unknown }).jsonSchema === 'object'
        ? structuredClone((schema as unknown as { jsonSchema: JsonSchema }).jsonSchema)
        : (zodToJsonSchema(schema as never, { target: 'openApi3', $refStrategy: 'none' }) as JsonSchema);
    const { $schema: _, ...rest } = built;
    json = deepFreeze(rest);
    cache.set(schema, json);
  }
  return json;
}

/** The tool's input as JSON Schema, ready for an LLM's `tools[].function.parameters`. */
export function toJSONSchema(tool: Tool): JsonSchema {
  return schemaToJsonSchema(tool.input);
}

/** An OpenAI-style function definition for the tool. */
export function toFunctionDefinition(tool: Tool): { name: string; description: string; parameters: JsonSchema } {
  return { name: tool.name, description: tool.description ?? tool.name, parameters: toJSONSchema(tool) };
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
