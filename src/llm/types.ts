/** The model layer's small, versioned contract: one `generate` call that both providers implement. */
import type { Usage } from '../core/events.js';
import type { JsonSchema, SchemaLike } from '../core/schema.js';

/** One message of a conversation with the model. @public */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string | null;
  readonly toolCalls?: readonly ToolCall[];
  /** For role "tool": the call this message answers. */
  readonly toolCallId?: string;
}

/** A function call the model asked for. @public */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: unknown;
}

/** A function the model may call. @public */
export interface FunctionSpec {
  readonly name: string;
  readonly description: string;
  readonly parameters: JsonSchema;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

/** One request to the model. @public */
export interface GenerateRequest {
  readonly messages: readonly ChatMessage[];
  /** Functions the model may call. */
  readonly tools?: readonly FunctionSpec[];
  /**
   * Structured output: the answer is parsed and validated against `schema`. The model is shown `jsonSchema` when
   * given (e.g. labels as an enum while the answer is read leniently), else `schema`; either goes through
   * `modelSchema` (strict when possible).
   */
  readonly schema?: { readonly name: string; readonly schema: SchemaLike; readonly jsonSchema?: JsonSchema };
  readonly temperature?: number;
  /**
   * Most completion tokens the answer may use (reasoning included); the run sends every request with one: the task's
   * `max_tokens`, else this (the tool's), else the provider's default (workflow-spec.md §7 "Budgets").
   */
  readonly maxTokens?: number;
  readonly signal?: AbortSignal;
  /** What the call is for, in events ("classify", "llm_generate_idea", ...). */
  readonly purpose?: string;
  /** Offline provider only: rendered deterministic answer (text or JSON) from the prompt template. */
  readonly offlineAnswer?: string;
  /** The prompt file the messages were rendered from, and the SHA-256 of its text (for the record). */
  readonly prompt?: { readonly name: string; readonly hash: string };
}

/** The model's answer to a `GenerateRequest`. @public */
export interface GenerateResult {
  readonly text: string;
  /** The parsed, validated object when `schema` was given. */
  readonly object?: unknown;
  readonly toolCalls: readonly ToolCall[];
  readonly usage: TokenUsage;
  readonly provider: string;
  readonly model: string;
}

/** A model braid can call: OpenAI-compatible, offline, LangChain, scripted, or your own. @public */
export interface LlmProvider {
  readonly specificationVersion: 'v1';
  /** "openai", "offline", "langchain", ... shown in every event. */
  readonly provider: string;
  readonly model: string;
  /** The `maxTokens` a request that names none is sent with. @default BRAID_MAX_TOKENS, else 1024 */
  readonly maxTokens?: number;
  generate(request: GenerateRequest): Promise<GenerateResult>;
}

/** What a tracked call reports, for `llm.call` events and usage accounting. */
export interface LlmCallInfo {
  readonly provider: string;
  readonly model: string;
  readonly purpose: string;
  readonly latencyMs: number;
  readonly usage: TokenUsage;
  readonly error?: { message: string; code?: string };
  /** The call was made in this child run of the task (e.g. the workflow a `plan` task runs). */
  readonly childRunId?: string;
  /** The sampling temperature asked for. */
  readonly temperature?: number;
  /** The prompt file the messages were rendered from, and the SHA-256 of its text. */
  readonly prompt?: { readonly name: string; readonly hash: string };
  /** The SHA-256 of the request as the model saw it (core/input-hash.ts over model, messages, functions, schema). */
  readonly requestHash?: string;
  /** The most completion tokens the request allowed. */
  readonly maxTokens?: number;
  /** The worst case the run's budget held for the call until it settled (only under `max_tokens`/`max_cost_usd`). */
  readonly reserved?: Reserved;
}

/** A call's worst case: its prompt's bound plus its `maxTokens`, and their price (null: the model has no price). */
export interface Reserved {
  readonly tokens: number;
  readonly costUsd: number | null;
}

/**
 * Asked before each call is sent: gives the request to send (its `maxTokens` settled) and, under a budget, holds its
 * worst case until `settle()`; throws when the call may not be sent (`E_BUDGET`, `E_PRICE_UNKNOWN`). The engine makes
 * one per task (engine/call-admission.ts); `track()` applies it.
 */
export type CallAdmission = (request: GenerateRequest, provider: LlmProvider) => Promise<AdmittedCall>;

export interface AdmittedCall {
  readonly request: GenerateRequest;
  /** What the call's report adds: the `maxTokens` sent, the worst case reserved. */
  readonly facts?: Pick<LlmCallInfo, 'maxTokens' | 'reserved'>;
  /** Called once, after the call's usage was reported. */
  settle(): void;
}

/** What a `Classifier` is asked: a task's output and the labels to choose from. @public */
export interface ClassifyRequest {
  readonly output: unknown;
  /** The candidate labels; the answer must be one of them. */
  readonly labels: readonly string[];
  /** Extra instructions from `classify.prompt`. */
  readonly prompt?: string;
  readonly taskId: string;
  readonly runId: string;
  readonly signal: AbortSignal;
  /** The task's rendered input, for context. */
  readonly context?: unknown;
  /** Report each LLM call (the engine turns it into an `llm.call` event for this task). */
  readonly report?: (info: LlmCallInfo) => void;
  /** Admit each LLM call before it is sent (the task's `max_tokens`, the run's budget): pass it to `track()`. */
  readonly admit?: CallAdmission;
}

/** A `Classifier`'s answer: one of the labels, and why. @public */
export interface ClassifyResult {
  readonly label: string;
  readonly reason?: string;
  readonly confidence?: number;
  readonly usage?: Usage;
}

/** What the engine needs from an LLM classifier; the LLM layer implements it. @public */
export interface Classifier {
  classify(request: ClassifyRequest): Promise<ClassifyResult>;
}
