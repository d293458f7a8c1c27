/**
 * Tools written with the Vercel AI SDK's `tool({ description, inputSchema, execute })` run in braid as they
 * are. An AI SDK tool has no name (it is keyed in a `tools` object), so it takes the key or export name.
 * Reading one needs nothing from the `ai` package.
 */
import { jsonSchemaInput } from './json-schema-input.js';
import type { SchemaLike, Tool } from './types.js';

/** The shape of an AI SDK tool braid needs: a zod schema or a `jsonSchema()` schema, and `execute`. @beta */
export interface AiSdkToolLike {
  readonly description?: string;
  readonly inputSchema: unknown;
  execute?(input: never, options: { toolCallId: string; messages: unknown[]; abortSignal?: AbortSignal }): unknown;
}

/** Whether `value` looks like an AI SDK tool (`tool({...})` from `ai`). @beta */
export function isAiSdkTool(value: unknown): value is AiSdkToolLike {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.execute === 'function' &&
    typeof v.inputSchema === 'object' &&
    v.inputSchema !== null &&
    typeof v.run !== 'function'
  );
}

/**
 * A braid tool named `name` that validates like the AI SDK tool and calls its `execute` with the attempt's abort
 * signal.
 * @beta
 */
export function fromAiSdkTool(name: string, tool: AiSdkToolLike): Tool {
  if (!tool.execute)
    throw new TypeError(`AI SDK tool "${name}" has no execute function (a client-side tool cannot run in braid)`);
  const schema = tool.inputSchema as { _zod?: unknown; safeParse?: unknown; jsonSchema?: unknown };
  const input: SchemaLike =
    typeof schema.safeParse === 'function'
      ? (schema as SchemaLike)
      : jsonSchemaInput((schema.jsonSchema ?? schema) as Record<string, unknown>);
  const execute = tool.execute.bind(tool) as (
    input: unknown,
    options: { toolCallId: string; messages: unknown[]; abortSignal?: AbortSignal },
  ) => unknown;
  return {
    name,
    ...(tool.description ? { description: tool.description } : {}),
    input,
    run: (value, ctx) =>
      execute(value, {
        toolCallId: `${ctx.runId}.${ctx.taskId}.${ctx.visit}.${ctx.attempt}`,
        messages: [],
        abortSignal: ctx.signal,
      }),
  };
}

/** Every AI SDK tool of a `tools` object, named by its key. @beta */
export function fromAiSdkTools(tools: Readonly<Record<string, AiSdkToolLike>>): Tool[] {
  return Object.entries(tools).map(([name, t]) => fromAiSdkTool(name, t));
}
