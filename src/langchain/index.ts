/**
 * LangChain interop (`braid/langchain`): LangChain tools as braid tools, braid tools and whole
 * workflows as LangChain tools, and any LangChain chat model as a braid provider.
 */
import { randomUUID } from 'node:crypto';
import { AIMessage, HumanMessage, SystemMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { tool as lcTool, type StructuredToolInterface } from '@langchain/core/tools';
// braid's built-in tools are the default tools of the runs started here
import '../../tools/index.js';
import { runWorkflow, type RunOptions } from '../engine/run.js';
import type { RunResult } from '../core/result.js';
import { loadWorkflow } from '../spec/load.js';
import { parseStructured } from '../llm/structured.js';
import type { ChatMessage, GenerateRequest, GenerateResult, LlmProvider, ToolCall } from '../llm/types.js';
import { schemaToJsonSchema } from '../toolkit/json-schema.js';
import type { SchemaLike, Tool } from '../toolkit/types.js';

/** A LangChain `StructuredTool` / `tool()` as a braid tool; its zod schema is kept as the input schema. @public */
export function fromLangChainTool(t: StructuredToolInterface): Tool {
  const schema = t.schema as unknown;
  const isZod = typeof schema === 'object' && schema !== null && typeof (schema as SchemaLike).safeParse === 'function';
  return {
    name: t.name,
    description: t.description,
    ...(isZod ? { input: schema as SchemaLike } : {}),
    run: (input, ctx) => t.invoke(input as never, { signal: ctx.signal }),
  };
}

/** A braid tool as a LangChain tool (for agents built with LangChain). @public */
export function toLangChainTool(t: Tool): StructuredToolInterface {
  const signal = new AbortController().signal;
  return lcTool(
    async (input: unknown) => {
      const out = await t.run(input, {
        signal,
        runId: 'langchain',
        taskId: t.name,
        attempt: 1,
        visit: 1,
        // Outside a braid run there is nothing to be idempotent within: each call is its own.
        idempotencyKey: randomUUID(),
        logger: silent,
        emit: () => {},
        services: {},
      });
      return typeof out === 'string' ? out : JSON.stringify(out);
    },
    { name: t.name, description: t.description ?? t.name, schema: (t.input ?? schemaToJsonSchema(undefined)) as never },
  ) as unknown as StructuredToolInterface;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A whole workflow as one LangChain tool; its `inputs` JSON Schema is the tool's schema. @public */
export async function workflowAsLangChainTool(
  source: string | unknown,
  options: RunOptions & { name?: string; description?: string } = {},
): Promise<StructuredToolInterface> {
  const { workflow } = await loadWorkflow(source);
  const schema = workflow.inputs ?? { type: 'object', properties: {} };
  return lcTool(
    async (input: Record<string, unknown>) => {
      const result: RunResult = await runWorkflow(workflow, { ...options, input });
      return JSON.stringify({
        status: result.status,
        runId: result.runId,
        tasks: Object.fromEntries(
          Object.entries(result.tasks).map(([id, t]) => [id, { status: t.status, output: t.output, label: t.label }]),
        ),
      });
    },
    {
      name: options.name ?? workflow.name.replace(/[^A-Za-z0-9_-]/g, '_'),
      description: options.description ?? workflow.description ?? `Run the ${workflow.name} workflow`,
      schema: schema as never,
    },
  ) as unknown as StructuredToolInterface;
}

function toLangChainMessage(m: ChatMessage): BaseMessage {
  if (m.role === 'system') return new SystemMessage(m.content ?? '');
  if (m.role === 'user') return new HumanMessage(m.content ?? '');
  if (m.role === 'tool') return new ToolMessage({ content: m.content ?? '', tool_call_id: m.toolCallId ?? '' });
  return new AIMessage({
    content: m.content ?? '',
    tool_calls: (m.toolCalls ?? []).map((c) => ({
      id: c.id,
      name: c.name,
      args: c.arguments as Record<string, unknown>,
    })),
  });
}

/** Any LangChain chat model as a braid provider. Structured output is requested as JSON and validated. @public */
export function langChainProvider(model: BaseChatModel, options: { modelName?: string } = {}): LlmProvider {
  return {
    specificationVersion: 'v1',
    provider: 'langchain',
    model: options.modelName ?? model._llmType(),
    async generate(request: GenerateRequest): Promise<GenerateResult> {
      const messages = request.messages.map(toLangChainMessage);
      if (request.schema) {
        const json = request.schema.jsonSchema ?? schemaToJsonSchema(request.schema.schema);
        messages.unshift(
          new SystemMessage(`Answer with only a JSON object matching this JSON Schema:\n${JSON.stringify(json)}`),
        );
      }
      const runnable =
        request.tools?.length && model.bindTools
          ? model.bindTools(request.tools.map((t) => ({ type: 'function' as const, function: t })))
          : model;
      const reply = (await runnable.invoke(messages, { signal: request.signal })) as AIMessage;
      const text = typeof reply.content === 'string' ? reply.content : JSON.stringify(reply.content);
      const toolCalls: ToolCall[] = (reply.tool_calls ?? []).map((c, i) => ({
        id: c.id ?? `call_${i}`,
        name: c.name,
        arguments: c.args,
      }));
      const u = reply.usage_metadata;
      const usage = {
        promptTokens: u?.input_tokens ?? 0,
        completionTokens: u?.output_tokens ?? 0,
        totalTokens: u?.total_tokens ?? 0,
      };
      const object = request.schema
        ? parseStructured(request.schema.schema, text, `langchain ${this.model}`)
        : undefined;
      return { text, object, toolCalls, usage, provider: 'langchain', model: this.model };
    },
  };
}
