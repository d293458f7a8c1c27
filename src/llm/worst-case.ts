/**
 * The most a model request can spend, known before it is sent: what a run's budget reserves for it
 * (workflow-spec.md §7 "Budgets"). Pure, and without a tokenizer: the bound must hold for whatever model answers.
 *
 * - Prompt tokens: at most the UTF-8 bytes of what the request asks, as JSON (its messages, its functions and its
 *   structured-output schema, as sent or as shown in a message), plus a few for the reply's opening. Every
 *   tokenizer in use (byte-level BPE such as OpenAI's, SentencePiece with byte fallback) makes each token of at
 *   least one byte, so the text's bytes bound its tokens; the JSON's quotes, keys and braces (28 bytes for the
 *   smallest message) bound the few tokens each message, function and schema adds on top. It is about four times
 *   the real count for English: safe, and the budget gets the difference back when the call settles.
 * - Completion tokens: the request's `maxTokens`, which the model cannot pass (reasoning tokens included).
 * - Cost: both at the model's dearest prices (`worstCostOf`); `null` when the model has no price.
 */
import { schemaToJsonSchema } from '../core/schema.js';
import { modelSchema } from './model-schema.js';
import { worstCostOf } from './cost.js';
import { defaultMaxTokens } from './openai.js';
import type { CallAdmission, GenerateRequest, LlmProvider, Reserved } from './types.js';

/** Tokens a chat completion adds around the messages (the assistant's reply header), with room to spare. */
const REPLY_OVERHEAD = 16;
/** Bytes of the sentence a provider may wrap a schema in when it asks for JSON in a message. */
const SCHEMA_MESSAGE = 128;

/** The `maxTokens` a request is sent with: the task's, else the request's (the tool's), else the provider's. */
export function maxTokensFor(request: GenerateRequest, provider: LlmProvider, taskMaxTokens?: number): number {
  return taskMaxTokens ?? request.maxTokens ?? provider.maxTokens ?? defaultMaxTokens();
}

const NOTHING_HELD = () => {};

/** Admits every call, sent with its `maxTokens` settled by {@link maxTokensFor} (no budget holds it). */
export function maxTokensAdmission(taskMaxTokens?: number): CallAdmission {
  return async (asked, provider) => {
    const maxTokens = maxTokensFor(asked, provider, taskMaxTokens);
    const request = asked.maxTokens === maxTokens ? asked : { ...asked, maxTokens };
    return { request, facts: { maxTokens }, settle: NOTHING_HELD };
  };
}

/** An upper bound of the prompt tokens `request` is billed for, whatever the tokenizer (see the header). */
export function promptTokensBound(request: GenerateRequest): number {
  const shown = {
    messages: request.messages.map((m) => ({
      role: m.role,
      content: m.content,
      ...(m.toolCalls?.length
        ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: JSON.stringify(c.arguments) })) }
        : {}),
      ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}),
    })),
    tools: request.tools?.map((t) => ({
      name: t.name,
      description: t.description,
      parameters: modelSchema(t.parameters).schema,
    })),
  };
  return Buffer.byteLength(JSON.stringify(shown)) + schemaBytes(request) + REPLY_OVERHEAD;
}

/**
 * The bytes of the structured-output schema: as sent for structured outputs (`modelSchema`), or, for a provider
 * without them (the LangChain one), the plain schema in a message of its own; whichever is larger.
 */
function schemaBytes(request: GenerateRequest): number {
  const { schema } = request;
  if (!schema) return 0;
  const source = schema.jsonSchema ?? schema.schema;
  const sent = Buffer.byteLength(JSON.stringify({ name: schema.name, schema: modelSchema(source).schema }));
  const plain = Buffer.byteLength(JSON.stringify(schema.jsonSchema ?? schemaToJsonSchema(schema.schema)));
  return Math.max(sent, plain + SCHEMA_MESSAGE);
}

/** The worst case of a request that names its `maxTokens`: tokens, and their cost at `provider`'s model's prices. */
export function worstCase(request: GenerateRequest & { readonly maxTokens: number }, provider: LlmProvider): Reserved {
  const prompt = promptTokensBound(request);
  return {
    tokens: prompt + request.maxTokens,
    costUsd: worstCostOf(provider.model, prompt, request.maxTokens, provider.provider),
  };
}
