/**
 * The OpenAI-compatible provider (OpenAI, Azure-compatible gateways, Ollama, vLLM, ...) on the official
 * `openai` client. The client retries 429/5xx/timeouts with backoff and honours `retry-after`; a p-queue
 * bounds concurrency and requests per minute.
 */
import OpenAI from 'openai';
import PQueue from 'p-queue';
import { BraidError } from '../errors.js';
import { schemaToJsonSchema } from '../tools/json-schema.js';
import { parseStructured } from './structured.js';
import type { ChatMessage, GenerateRequest, GenerateResult, LlmProvider, ToolCall } from './types.js';

export interface OpenAIProviderOptions {
  /** @default process.env.OPENAI_API_KEY */
  readonly apiKey?: string;
  /** @default process.env.OPENAI_BASE_URL, else OpenAI's */
  readonly baseURL?: string;
  /** @default process.env.BRAID_MODEL ?? 'gpt-4o-mini' */
  readonly model?: string;
  /** Retries on 429, 5xx, connection errors and timeouts. @default 3 */
  readonly maxRetries?: number;
  /** Per request, ms. @default 60000 */
  readonly timeoutMs?: number;
  /** Most requests in flight. @default 8 */
  readonly concurrency?: number;
  /** Most requests started per minute. @default unlimited */
  readonly requestsPerMinute?: number;
  /** Use strict json_schema structured output. @default true */
  readonly strict?: boolean;
}

function toOpenAIMessage(m: ChatMessage): OpenAI.Chat.Completions.ChatCompletionMessageParam {
  if (m.role === 'tool') return { role: 'tool', content: m.content ?? '', tool_call_id: m.toolCallId ?? '' };
  if (m.role === 'assistant' && m.toolCalls?.length) {
    return {
      role: 'assistant',
      content: m.content,
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify(c.arguments) } })),
    };
  }
  return { role: m.role, content: m.content ?? '' } as OpenAI.Chat.Completions.ChatCompletionMessageParam;
}

export class OpenAIProvider implements LlmProvider {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'openai';
  readonly model: string;
  readonly #client: OpenAI;
  readonly #queue: PQueue;
  readonly #strict: boolean;

  constructor(options: OpenAIProviderOptions = {}) {
    const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
    if (!apiKey) throw new BraidError('E_LLM', 'OPENAI_API_KEY is not set; set it (any value for Ollama/vLLM) or use the offline provider');
    this.model = options.model ?? process.env.BRAID_MODEL ?? 'gpt-4o-mini';
    this.#client = new OpenAI({
      apiKey,
      baseURL: options.baseURL ?? (process.env.OPENAI_BASE_URL || undefined),
      maxRetries: options.maxRetries ?? 3,
      timeout: options.timeoutMs ?? 60_000,
    });
    this.#queue = new PQueue({
      concurrency: options.concurrency ?? 8,
      ...(options.requestsPerMinute ? { intervalCap: options.requestsPerMinute, interval: 60_000 } : {}),
    });
    this.#strict = options.strict ?? true;
  }

  generate(request: GenerateRequest): Promise<GenerateResult> {
    return this.#queue.add(() => this.#generate(request), { signal: request.signal });
  }

  async #generate(request: GenerateRequest): Promise<GenerateResult> {
    const schema = request.schema;
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.#client.chat.completions.create(
        {
          model: this.model,
          messages: request.messages.map(toOpenAIMessage),
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request.tools?.length
            ? { tools: request.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.parameters } })) }
            : {}),
          ...(schema
            ? {
                response_format: {
                  type: 'json_schema' as const,
                  json_schema: { name: schema.name, schema: schema.jsonSchema ?? schemaToJsonSchema(schema.schema), strict: this.#strict },
                },
              }
            : {}),
        },
        { signal: request.signal },
      );
    } catch (err) {
      const status = (err as { status?: number }).status;
      throw new BraidError('E_LLM', `${this.provider} ${this.model}: ${(err as Error).message}`, { cause: err, retryable: status === undefined || status === 429 || status >= 500 });
    }
    const choice = completion.choices[0];
    const text = choice?.message?.content ?? '';
    const toolCalls: ToolCall[] = (choice?.message?.tool_calls ?? [])
      .filter((c) => c.type === 'function')
      .map((c) => ({ id: c.id, name: c.function.name, arguments: safeJson(c.function.arguments) }));
    const u = completion.usage;
    const usage = { promptTokens: u?.prompt_tokens ?? 0, completionTokens: u?.completion_tokens ?? 0, totalTokens: u?.total_tokens ?? 0 };
    const object = schema ? parseStructured(schema.schema, text, `${this.provider} ${this.model}`) : undefined;
    return { text, object, toolCalls, usage, provider: this.provider, model: completion.model || this.model };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
