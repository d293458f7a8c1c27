/**
 * A tool input described by a plain JSON Schema (an MCP tool's `inputSchema`, an AI SDK `jsonSchema()`),
 * validated with @cfworker/json-schema: the same `safeParse` contract zod schemas give the engine, and the
 * schema itself for function calling and `braid tools`. Its `pattern`s match in linear time (RE2: see
 * `patternsAsFormats` in core/linear-pattern.ts), as the values are the caller's.
 */
import type * as CfWorker from '@cfworker/json-schema';
import { lazy } from '../core/lazy.js';
import { PATTERN_FORMAT, patternsAsFormats } from '../core/linear-pattern.js';
import type { JsonSchema } from './json-schema.js';
import type { SchemaLike } from './types.js';

export interface JsonSchemaInput extends SchemaLike {
  readonly jsonSchema: JsonSchema;
}

/** cfworker's message for a pattern that became a format. */
const PATTERN_MESSAGE = new RegExp(`^String does not match format "${PATTERN_FORMAT}(.*)"\\.$`, 's');

/** Loaded by the first JSON Schema input (MCP and AI SDK tools). */
const cfworker = lazy<typeof CfWorker>('@cfworker/json-schema');

export function jsonSchemaInput(schema: JsonSchema): JsonSchemaInput {
  const { Validator, format } = cfworker();
  const linear = patternsAsFormats(structuredClone(schema), format as Record<string, (s: string) => boolean>);
  const validator = new Validator(linear as never, '2020-12', false);
  return {
    jsonSchema: schema,
    safeParse(value: unknown) {
      const r = validator.validate(value);
      if (r.valid) return { success: true as const, data: value };
      // The leaf errors name the field: keep those, one per location.
      const seen = new Set<string>();
      const issues = r.errors
        .filter((e) => e.keyword !== 'properties' && e.keyword !== '$ref' && e.keyword !== 'allOf')
        .map((e) => ({
          path: e.instanceLocation.replace(/^#\/?/, '').split('/').filter(Boolean),
          message: e.error.replace(PATTERN_MESSAGE, 'String does not match pattern "$1".'),
        }))
        .filter((i) => !seen.has(i.path.join('/')) && seen.add(i.path.join('/')));
      return {
        success: false as const,
        error: { issues: issues.length ? issues : [{ path: [], message: 'does not match the input schema' }] },
      };
    },
  };
}

export function isJsonSchemaInput(schema: SchemaLike): schema is JsonSchemaInput {
  return (
    typeof (schema as { jsonSchema?: unknown }).jsonSchema === 'object' &&
    (schema as { jsonSchema?: unknown }).jsonSchema !== null
  );
}
