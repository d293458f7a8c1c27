/**
 * The OpenAI-compatible provider (OpenAI, Azure-compatible gateways, Ollama, vLLM, ...) on the official `openai`
 * client.
 *
 * - What is sent: `max_completion_tokens` (the request's `maxTokens`, else the provider's), structured output as
 *   `response_format: json_schema` and workflows/tools as functions, each with the schema from `modelSchema`
 *   (strict when the schema allows, else the plain schema with `strict: false`); answers are mapped back (`null` in
 *   an optional field → absent) and validated with zod.
 * - Limits, one queue per provider: at most `concurrency` requests in flight (`BRAID_LLM_CONCURRENCY`, default 8)
 *   and optionally `requestsPerMinute`; a request waiting for a slot leaves the queue when its signal aborts.
 * - Faults, handled here rather than by the client (its retries sleep through an abort and trust any
 *   `retry-after`): every attempt has a deadline covering the whole response, body included (`timeoutMs`);
 *   429, 408, 409, 5xx, connection errors and timeouts are retried `maxRetries` times with backoff, honouring
 *   `retry-after`/`retry-after-ms` up to `maxRetryAfterMs` (a server asking for longer fails the call at once with
 *   `E_RATE_LIMIT`); a 200 whose body is not a chat completion is `E_LLM_RESPONSE`. Waits end at once when the
 *   request's signal aborts, and no timer or socket outlives the call.
 */
import type OpenAI from 'openai';
import PQueue from 'p-queue';
import { BraidError, CancelledError } from '../errors.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import { modelSchema } from './model-schema.js';
import { AnswerError, parseStructured } from './structured.js';
import type { ChatMessage, GenerateRequest, GenerateResult, LlmProvider, ToolCall } from './types.js';
import { describeThrown } from '../core/thrown.js';
import { optional } from '../core/optional.js';

/** Options of `OpenAIProvider` and `createProvider`. @public */
export interface OpenAIProviderOptions {
  /** @default process.env.OPENAI_API_KEY */
  readonly apiKey?: string;
  /** @default process.env.OPENAI_BASE_URL, else OpenAI's */
  readonly baseURL?: string;
  /** @default process.env.BRAID_MODEL ?? 'gpt-4o-mini' */
  readonly model?: string;
  /** Retries of 429, 408, 409, 5xx, connection errors and timeouts. @default BRAID_LLM_RETRIES ?? 3 */
  readonly maxRetries?: number;
  /**
   * Deadline of one request, covering the whole response (connecting, waiting, reading the body), ms. @default
   * BRAID_LLM_TIMEOUT_MS ?? 60000
   */
  readonly timeoutMs?: number;
  /**
   * The longest `retry-after` honoured, ms; a server asking for more fails the call with `E_RATE_LIMIT`. @default
   * BRAID_LLM_MAX_RETRY_AFTER_MS ?? 60000
   */
  readonly maxRetryAfterMs?: number;
  /** Most requests in flight (the rest wait in the provider's queue). @default BRAID_LLM_CONCURRENCY ?? 8 */
  readonly concurrency?: number;
  /** Most requests started per minute. @default BRAID_LLM_RPM, else unlimited */
  readonly requestsPerMinute?: number;
  /** Send `strict: true` for schemas that strict mode can express (else always `strict: false`). @default true */
  readonly strict?: boolean;
  /** The `max_completion_tokens` of a request that names none. @default BRAID_MAX_TOKENS ?? 1024 */
  readonly maxTokens?: number;
}

/** A positive integer from an option or an environment variable; a bad value is a clear usage error. */
export function positiveIntSetting(
  name: string,
  value: number | string | undefined,
  fallback: number | undefined,
  min = 1,
): number | undefined {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new BraidError('E_CONFIG', `${name} must be an integer of at least ${min}, got "${value}"`);
  return n;
}

/**
 * The most completion tokens a request that names none is sent with (`BRAID_MAX_TOKENS`, else 1024): every request
 * says how long its answer may be, so a budget knows its worst case before sending it (workflow-spec.md §7).
 */
export function defaultMaxTokens(given?: number): number {
  return positiveIntSetting('BRAID_MAX_TOKENS', given ?? process.env.BRAID_MAX_TOKENS, 1024)!;
}

function toOpenAIMessage(m: ChatMessage): OpenAI.Chat.Completions.ChatCompletionMessageParam {
  if (m.role === 'tool') return { role: 'tool', content: m.content ?? '', tool_call_id: m.toolCallId ?? '' };
  if (m.role === 'assistant' && m.toolCalls?.length) {
    return {
      role: 'assistant',
      content: m.content,
      tool_calls: m.toolCalls.map((c) => ({
        id: c.id,
        type: 'function' as const,
        function: { name: c.name, arguments: JSON.stringify(c.arguments) },
      })),
    };
  }
  return { role: m.role, content: m.content ?? '' } as OpenAI.Chat.Completions.ChatCompletionMessageParam;
}

type Completion = OpenAI.Chat.Completions.ChatCompletion;
/** Why an attempt failed, and whether (and after how long) to try again. */
type Failure = { error: BraidError; retry: boolean; retryAfterMs?: number };

/** The openai package, loaded once on first use. */
let openaiModule: Promise<typeof OpenAI> | undefined;
/** Set once loaded; errors from the client (classified below) only exist after that. */
let SDK: typeof OpenAI | undefined;
const loadOpenAI = () => (openaiModule ??= optional('openai', () => import('openai')).then((m) => (SDK = m.default)));

const RETRY = { baseDelayMs: 500, maxDelayMs: 8000 };

/** An OpenAI-compatible chat completions provider (the SDK loads on the first request). @public */
export class OpenAIProvider implements LlmProvider {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'openai';
  readonly model: string;
  readonly maxTokens: number;
  /** Requests in flight at most. */
  readonly concurrency: number;
  /** The SDK client, created on the first request: `import 'braid'` does not load the openai package. */
  #client?: OpenAI;
  readonly #clientOptions: ConstructorParameters<typeof OpenAI>[0];
  readonly #queue: PQueue;
  readonly #strict: boolean;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #who: string;

  constructor(options: OpenAIProviderOptions = {}) {
    const env = process.env;
    const apiKey = options.apiKey ?? env.OPENAI_API_KEY;
    if (!apiKey)
      throw new BraidError(
        'E_LLM',
        'OPENAI_API_KEY is not set; set it (any value for Ollama/vLLM) or use the offline provider',
      );
    this.model = options.model ?? (env.BRAID_MODEL || 'gpt-4o-mini');
    this.#who = `${this.provider} ${this.model}`;
    this.maxTokens = defaultMaxTokens(options.maxTokens);
    this.#maxRetries = positiveIntSetting('BRAID_LLM_RETRIES', options.maxRetries ?? env.BRAID_LLM_RETRIES, 3, 0)!;
    this.#timeoutMs = positiveIntSetting(
      'BRAID_LLM_TIMEOUT_MS',
      options.timeoutMs ?? env.BRAID_LLM_TIMEOUT_MS,
      60_000,
    )!;
    this.#maxRetryAfterMs = positiveIntSetting(
      'BRAID_LLM_MAX_RETRY_AFTER_MS',
      options.maxRetryAfterMs ?? env.BRAID_LLM_MAX_RETRY_AFTER_MS,
      60_000,
      0,
    )!;
    this.concurrency = positiveIntSetting(
      'BRAID_LLM_CONCURRENCY',
      options.concurrency ?? env.BRAID_LLM_CONCURRENCY,
      8,
    )!;
    const rpm = positiveIntSetting('BRAID_LLM_RPM', options.requestsPerMinute ?? env.BRAID_LLM_RPM, undefined);
    // Retries are braid's (below): the client's own would sleep through an abort and trust any retry-after.
    this.#clientOptions = {
      apiKey,
      baseURL: options.baseURL ?? (env.OPENAI_BASE_URL || undefined),
      maxRetries: 0,
      timeout: this.#timeoutMs,
    };
    this.#queue = new PQueue({ concurrency: this.concurrency, ...(rpm ? { intervalCap: rpm, interval: 60_000 } : {}) });
    this.#strict = options.strict ?? true;
  }

  generate(request: GenerateRequest): Promise<GenerateResult> {
    return this.#queue.add(() => this.#generate(request), request.signal ? { signal: request.signal } : {});
  }

  async #generate(request: GenerateRequest): Promise<GenerateResult> {
    const structured = request.schema && modelSchema(request.schema.jsonSchema ?? request.schema.schema);
    const functions = request.tools?.map((t) => ({ spec: t, schema: modelSchema(t.parameters) }));
    const body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming = {
      model: this.model,
      messages: request.messages.map(toOpenAIMessage),
      // The current name: `max_tokens` is deprecated, and refused by reasoning models.
      max_completion_tokens: request.maxTokens ?? this.maxTokens,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(functions?.length
        ? {
            tools: functions.map(({ spec, schema }) => ({
              type: 'function' as const,
              function: {
                name: spec.name,
                description: spec.description,
                parameters: schema.schema,
                strict: this.#strict && schema.strict,
              },
            })),
          }
        : {}),
      ...(request.schema && structured
        ? {
            response_format: {
              type: 'json_schema' as const,
              json_schema: {
                name: request.schema.name,
                schema: structured.schema,
                strict: this.#strict && structured.strict,
              },
            },
          }
        : {}),
    };
    const completion = await this.#complete(body, request.signal);
    const choice = completion.choices[0];
    const message = choice.message;
    const u = completion.usage;
    const usage = {
      promptTokens: u?.prompt_tokens ?? 0,
      completionTokens: u?.completion_tokens ?? 0,
      totalTokens: u?.total_tokens ?? 0,
    };
    /** An answer that cannot be used still cost its tokens. */
    const unusable = (what: string) => Object.assign(new AnswerError(`${this.#who} ${what}`), { usage });
    if (message.refusal) throw unusable(`refused: ${message.refusal}`);
    const text = message.content ?? '';
    const byName = new Map(functions?.map((f) => [f.spec.name, f.schema]));
    const toolCalls: ToolCall[] = (message.tool_calls ?? [])
      .filter((c) => c.type === 'function')
      .map((c) => {
        const args = safeJson(c.function.arguments);
        return { id: c.id, name: c.function.name, arguments: byName.get(c.function.name)?.fromModel(args) ?? args };
      });
    if (request.schema && choice.finish_reason === 'length')
      throw unusable('answer was cut off at the token limit before the JSON ended');
    let object: unknown;
    try {
      object = request.schema
        ? parseStructured(request.schema.schema, text, this.#who, structured?.fromModel)
        : undefined;
    } catch (err) {
      if (err instanceof AnswerError) err.usage = usage;
      throw err;
    }
    return { text, object, toolCalls, usage, provider: this.provider, model: completion.model || this.model };
  }

  /** One chat completion with braid's deadline, retries and checks. */
  async #complete(
    body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
    signal: AbortSignal | undefined,
  ): Promise<Completion> {
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw abortError(signal);
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let timedOut = false;
      const deadline = setTimeout(() => ((timedOut = true), controller.abort()), this.#timeoutMs);
      let failure: Failure;
      try {
        const client = (this.#client ??= new (await loadOpenAI())(this.#clientOptions));
        const { data, response } = await client.chat.completions
          .create(body, { signal: controller.signal })
          .withResponse();
        return this.#checkCompletion(data, response);
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        failure = this.#classify(err, timedOut, attempt);
      } finally {
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
      }
      if (!failure.retry || attempt >= this.#maxRetries) throw failure.error;
      await sleep(failure.retryAfterMs ?? backoffDelay(attempt + 1, RETRY), signal);
    }
  }

  /** A 200 whose body is not a chat completion (an HTML login page, another API's JSON) is a clear error. */
  #checkCompletion(data: unknown, response: Response): Completion {
    const c = data as Partial<Completion> | undefined;
    if (
      typeof c !== 'object' ||
      c === null ||
      !Array.isArray(c.choices) ||
      typeof c.choices[0]?.message !== 'object' ||
      c.choices[0].message === null
    ) {
      const type = response.headers.get('content-type') ?? 'no content-type';
      const preview = (typeof data === 'string' ? data : (JSON.stringify(data) ?? ''))
        .replace(/\s+/g, ' ')
        .slice(0, 120);
      throw new BraidError(
        'E_LLM_RESPONSE',
        `${this.#who}: the answer from ${response.url || this.#client?.baseURL} is not a chat completion (HTTP ${response.status}, ${type}): ${preview}; check OPENAI_BASE_URL`,
      );
    }
    return c as Completion;
  }

  #classify(err: unknown, timedOut: boolean, attempt: number): Failure {
    const tries = `${attempt + 1} attempt${attempt ? 's' : ''}`;
    if (timedOut)
      return {
        retry: true,
        error: new BraidError(
          'E_LLM',
          `${this.#who}: no complete answer within ${this.#timeoutMs} ms (BRAID_LLM_TIMEOUT_MS, the whole response), ${tries}; timed out`,
          { cause: err },
        ),
      };
    if (BraidError.is(err)) return { retry: false, error: err };
    if (err instanceof SyntaxError)
      return {
        retry: false,
        error: new BraidError(
          'E_LLM_RESPONSE',
          `${this.#who}: the answer is not valid JSON (${err.message}); check OPENAI_BASE_URL`,
          { cause: err },
        ),
      };
    if (SDK && err instanceof SDK.APIError && err.status !== undefined) {
      const status = err.status;
      const said = `HTTP ${status}: ${(err.error as { message?: string } | undefined)?.message ?? err.message}`;
      const should = err.headers?.get('x-should-retry');
      const retry =
        should === 'true' ||
        (should !== 'false' && (status === 408 || status === 409 || status === 429 || status >= 500));
      if (status === 429) {
        const asked = retryAfterMs(err.headers);
        if (asked !== undefined && asked > this.#maxRetryAfterMs) {
          const error = new BraidError(
            'E_RATE_LIMIT',
            `${this.#who}: rate limited (${said}); the server asked to wait ${seconds(asked)} before retrying, more than braid waits (${seconds(this.#maxRetryAfterMs)}, BRAID_LLM_MAX_RETRY_AFTER_MS)`,
            { cause: err, retryable: false },
          );
          return { retry: false, error };
        }
        return {
          retry,
          retryAfterMs: asked,
          error: new BraidError('E_RATE_LIMIT', `${this.#who}: rate limited (${said}), ${tries}`, { cause: err }),
        };
      }
      const hint =
        status === 401 ? '; check OPENAI_API_KEY' : status === 404 ? '; check BRAID_MODEL and OPENAI_BASE_URL' : '';
      const asked = retryAfterMs(err.headers);
      return {
        retry,
        retryAfterMs: asked !== undefined && asked <= this.#maxRetryAfterMs ? asked : undefined,
        error: new BraidError('E_LLM', `${this.#who}: ${said}${hint}${retry ? `, ${tries}` : ''}`, {
          cause: err,
          retryable: retry,
        }),
      };
    }
    if (SDK && err instanceof SDK.APIConnectionError) {
      const cause = (err.cause as Error | undefined)?.message;
      return {
        retry: true,
        error: new BraidError(
          'E_LLM',
          `${this.#who}: cannot reach ${this.#client?.baseURL} (${err.message}${cause && cause !== err.message ? `: ${cause}` : ''}), ${tries}`,
          { cause: err },
        ),
      };
    }
    return {
      retry: false,
      error: new BraidError('E_LLM', `${this.#who}: ${describeThrown(err).message}`, { cause: err }),
    };
  }
}

/** `retry-after-ms`, else `retry-after` in seconds or as an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const seconds = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`);

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new CancelledError();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: the text itself, as given
  }
}
