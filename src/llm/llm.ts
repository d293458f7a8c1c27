/**
 * Choosing a provider and calling it: `createProvider()` reads the environment (and `.env`), `track()`
 * reports every call for events and usage, `generateFromPrompt()` renders a prompt file and calls.
 */
import { config as loadDotenv } from 'dotenv';
import type { JsonSchema } from '../core/schema.js';
import type { SchemaLike } from '../core/schema.js';
import { OfflineProvider } from './offline.js';
import { OpenAIProvider, type OpenAIProviderOptions } from './openai.js';
import { loadPrompt, renderPrompt } from './prompts.js';
import { AnswerError } from './structured.js';
import type { CallAdmission, GenerateRequest, GenerateResult, LlmCallInfo, LlmProvider } from './types.js';
import { describeThrown } from '../core/thrown.js';
import { inputHash } from '../core/input-hash.js';

let envLoaded = false;
/** One provider (one queue, one limit) per configuration, shared by every run in the process. */
const shared = new Map<string, LlmProvider>();

/**
 * OpenAI-compatible when OPENAI_API_KEY (or BRAID_PROVIDER=openai) is set, else the offline provider. Providers
 * are shared per configuration, so concurrent runs in one process share the limit on requests in flight.
 * @public
 */
export function createProvider(options: OpenAIProviderOptions & { provider?: 'openai' | 'offline' } = {}): LlmProvider {
  if (!envLoaded) {
    loadDotenv({ quiet: true });
    envLoaded = true;
  }
  const choice =
    options.provider ??
    ((process.env.BRAID_PROVIDER || undefined) as 'openai' | 'offline' | undefined) ??
    (options.apiKey || process.env.OPENAI_API_KEY ? 'openai' : 'offline');
  if (choice !== 'openai') return new OfflineProvider();
  const env = process.env;
  const key = JSON.stringify([
    options,
    env.OPENAI_API_KEY,
    env.OPENAI_BASE_URL,
    env.BRAID_MODEL,
    env.BRAID_LLM_CONCURRENCY,
    env.BRAID_LLM_RPM,
    env.BRAID_LLM_TIMEOUT_MS,
    env.BRAID_LLM_RETRIES,
    env.BRAID_LLM_MAX_RETRY_AFTER_MS,
    env.BRAID_MAX_TOKENS,
  ]);
  let provider = shared.get(key);
  if (!provider) shared.set(key, (provider = new OpenAIProvider(options)));
  return provider;
}

export type CallReporter = (info: LlmCallInfo) => void;

/**
 * A provider that reports each call (latency, tokens, errors) to `report`. With `admit`, each call is admitted first
 * (a call that is not is neither sent nor reported), and settled right after its report, in the same turn: a budget
 * never sees the call neither held nor spent. @beta
 */
export function track(provider: LlmProvider, report: CallReporter, admit?: CallAdmission): LlmProvider {
  return {
    specificationVersion: 'v1',
    provider: provider.provider,
    model: provider.model,
    ...(provider.maxTokens === undefined ? {} : { maxTokens: provider.maxTokens }),
    async generate(asked: GenerateRequest): Promise<GenerateResult> {
      const admitted = admit && (await admit(asked, provider));
      const request = admitted ? admitted.request : asked;
      const t0 = performance.now();
      const purpose = request.purpose ?? 'generate';
      const facts = { ...requestFacts(provider.model, request), ...admitted?.facts };
      try {
        const result = await provider.generate(request);
        report({
          provider: result.provider,
          model: result.model,
          purpose,
          latencyMs: Math.round(performance.now() - t0),
          usage: result.usage,
          ...facts,
        });
        return result;
      } catch (err) {
        // An answer that could not be used still cost its tokens; a failed request cost none.
        const usage = (err instanceof AnswerError && err.usage) || {
          promptTokens: 0,
          completionTokens: 0,
          totalTokens: 0,
        };
        report({
          provider: provider.provider,
          model: provider.model,
          purpose,
          latencyMs: Math.round(performance.now() - t0),
          usage,
          error: { message: describeThrown(err).message },
          ...facts,
        });
        throw err;
      } finally {
        admitted?.settle();
      }
    },
  };
}

/**
 * What the record keeps of a model request (workflow-spec.md §7a): its temperature, the prompt file it came from, and
 * one hash of what the model is asked (the model, messages, functions, the schema's name and temperature), by the
 * hash everyone uses (core/input-hash.ts).
 */
function requestFacts(
  model: string,
  request: GenerateRequest,
): Pick<LlmCallInfo, 'temperature' | 'prompt' | 'requestHash'> {
  const { messages, tools, schema, temperature, prompt } = request;
  const asked = {
    model,
    messages,
    tools: tools ?? null,
    schema: schema ? [schema.name, schema.jsonSchema ?? null] : null,
    temperature: temperature ?? null,
  };
  return {
    ...(temperature === undefined ? {} : { temperature }),
    ...(prompt ? { prompt } : {}),
    requestHash: inputHash(asked),
  };
}

/** Render `prompts/<name>.md` with `vars` and call the provider; with `schema`, returns the parsed object. @beta */
export async function generateFromPrompt<T = unknown>(
  llm: LlmProvider,
  name: string,
  vars: Readonly<Record<string, unknown>>,
  options: {
    schema?: SchemaLike<T>;
    jsonSchema?: JsonSchema;
    signal?: AbortSignal;
    purpose?: string;
    temperature?: number;
    /** @default the prompt file's `max_tokens` */
    maxTokens?: number;
  } = {},
): Promise<{ text: string; object: T; result: GenerateResult }> {
  const template = loadPrompt(name);
  const { messages, offlineAnswer, maxTokens } = renderPrompt(template, vars);
  const limit = options.maxTokens ?? maxTokens;
  const result = await llm.generate({
    messages,
    offlineAnswer,
    prompt: { name, hash: template.hash },
    signal: options.signal,
    purpose: options.purpose ?? name,
    temperature: options.temperature,
    ...(limit === undefined ? {} : { maxTokens: limit }),
    ...(options.schema
      ? {
          schema: { name: name.replace(/[^A-Za-z0-9_]/g, '_'), schema: options.schema, jsonSchema: options.jsonSchema },
        }
      : {}),
  });
  return { text: result.text, object: result.object as T, result };
}
