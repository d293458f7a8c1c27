/** JSON Schema for function calling, from a tool's input schema (see core/schema.ts). */
import { schemaToJsonSchema, type JsonSchema } from '../core/schema.js';
import type { Tool } from './types.js';

export { deepFreeze, schemaToJsonSchema, type JsonSchema } from '../core/schema.js';

/** The tool's input as JSON Schema, ready for an LLM's `tools[].function.parameters`. @public */
export function toJSONSchema(tool: Tool): JsonSchema {
  return schemaToJsonSchema(tool.input);
}

/** An OpenAI-style function definition for the tool. @public */
export function toFunctionDefinition(tool: Tool): { name: string; description: string; parameters: JsonSchema } {
  return { name: tool.name, description: tool.description ?? tool.name, parameters: toJSONSchema(tool) };
}
