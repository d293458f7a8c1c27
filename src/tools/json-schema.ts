/** JSON Schema for function calling, from a tool's zod schema (zod 4 natively, zod 3 via zod-to-json-schema). */
import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import type { SchemaLike, Tool } from './types.js';

export type JsonSchema = Record<string, unknown>;

export function schemaToJsonSchema(schema: SchemaLike | undefined): JsonSchema {
  if (!schema) return { type: 'object', properties: {}, additionalProperties: true };
  if ('_zod' in schema) {
    const { $schema: _, ...rest } = z.toJSONSchema(schema as unknown as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    return rest;
  }
  const { $schema: _, ...rest } = zodToJsonSchema(schema as never, { target: 'openApi3', $refStrategy: 'none' }) as JsonSchema;
  return rest;
}

/** The tool's input as JSON Schema, ready for an LLM's `tools[].function.parameters`. */
export function toJSONSchema(tool: Tool): JsonSchema {
  return schemaToJsonSchema(tool.input);
}

/** An OpenAI-style function definition for the tool. */
export function toFunctionDefinition(tool: Tool): { name: string; description: string; parameters: JsonSchema } {
  return { name: tool.name, description: tool.description ?? tool.name, parameters: toJSONSchema(tool) };
}
