/**
 * The JSON Schema of the workflow file format, generated from the same zod schemas the loader uses, for
 * editors (`# yaml-language-server: $schema=...`) and `braid schema`. With a tool registry, `tool` is an
 * enum of the registered tools and each task's `input` is checked against its tool's input schema
 * (templates are strings, so a templated field accepts any string as well).
 */
import { z } from 'zod';
import type { ToolRegistry } from '../toolkit/registry.js';
import { schemaToJsonSchema, type JsonSchema } from '../toolkit/json-schema.js';
import { conditionSchema, taskSchema, workflowObjectSchema } from './schema.js';
import { triggerSchema } from './triggers.js';

const described = <T extends z.ZodType>(schema: T, text: string) => schema.describe(text);

/**
 * @param registry tools to describe: their names complete `tool`, their schemas check `input`
 * @param opts.onlyTheseTools `tool` must be one of them (else other names are allowed, e.g. your own tools)
 */
export function workflowFormatSchema(registry?: ToolRegistry, opts: { onlyTheseTools?: boolean } = {}): JsonSchema {
  const task = taskSchema.extend({
    condition: described(
      conditionSchema.optional(),
      'null, a JSONata expression, or { depends_on, if_result | if_status | when }',
    ),
  });
  const object = workflowObjectSchema.extend({ tasks: z.array(task), triggers: z.array(triggerSchema).optional() });
  const format = z.union([z.array(task), object]);
  const { $schema: _, ...schema } = z.toJSONSchema(format, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-7',
  }) as JsonSchema;
  const out: JsonSchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'braid workflow',
    description:
      'A braid workflow: a bare array of tasks, or { name, description, inputs, defaults, output, budget, tasks }. Reference: docs/workflow-format.md',
    ...schema,
  };
  if (!registry) return out;
  return withTools(out, registry, opts.onlyTheseTools ?? false);
}

/** `tool` as an enum of the registered tools, and `input` checked per tool (if tool = x then input: x's schema). */
function withTools(schema: JsonSchema, registry: ToolRegistry, only: boolean): JsonSchema {
  const tools = registry.list();
  const perTool = tools.map((t) => ({
    if: { properties: { tool: { const: t.name } }, required: ['tool'] },
    then: { properties: { input: templated(schemaToJsonSchema(t.input)) } },
  }));
  const patchTask = (task: JsonSchema): JsonSchema => ({
    ...task,
    properties: {
      ...(task.properties as JsonSchema),
      tool: {
        type: 'string',
        ...(only ? { enum: tools.map((t) => t.name) } : { examples: tools.map((t) => t.name) }),
        description: 'a registered tool (braid tools)',
      },
    },
    allOf: perTool,
  });
  // A plain copy: tool schemas are cached frozen objects, and validators annotate what they are given.
  return structuredClone(mapTasks(schema, patchTask));
}

/** Apply `f` to every task object schema (the array items of both shapes). */
function mapTasks(schema: JsonSchema, f: (task: JsonSchema) => JsonSchema): JsonSchema {
  const walk = (s: unknown): unknown => {
    if (Array.isArray(s)) return s.map(walk);
    if (!s || typeof s !== 'object') return s;
    const o = s as JsonSchema;
    const isTask =
      o.type === 'object' &&
      o.properties &&
      typeof o.properties === 'object' &&
      'tool' in (o.properties as object) &&
      'id' in (o.properties as object);
    const mapped = Object.fromEntries(Object.entries(o).map(([k, v]) => [k, walk(v)]));
    return isTask ? f(mapped) : mapped;
  };
  return walk(schema) as JsonSchema;
}

/** A field of a tool input may also be a template string (`"{{ tasks.a.output.x }}"`). */
function templated(input: JsonSchema): JsonSchema {
  const props = input.properties as Record<string, JsonSchema> | undefined;
  if (!props) return input;
  const template = { type: 'string', pattern: '\\{\\{' };
  return {
    ...input,
    required: [],
    properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, { anyOf: [v, template] }])),
  };
}
