/**
 * A model for users' tests: answers come from a script, queued per purpose ("classify", "draft_email",
 * "plan", "adjust", a tool's name...), and every request is recorded. Like the AI SDK's mock model, it
 * implements the same provider contract as the real ones, so the engine cannot tell the difference.
 */
import { BraidError } from '../errors.js';
import type { GenerateRequest, GenerateResult, LlmProvider, ToolCall } from '../llm/types.js';

/** One scripted answer: text, a structured object, tool calls, or a function of the request. @public */
export type ScriptedAnswer =
  | string
  | { readonly text?: string; readonly object?: unknown; readonly toolCalls?: readonly Omit<ToolCall, 'id'>[] }
  | ((
      request: GenerateRequest,
    ) => string | { text?: string; object?: unknown; toolCalls?: readonly Omit<ToolCall, 'id'>[] });

/** Answers queued by purpose; `'*'` answers any purpose whose own queue is empty. @public */
export type Script = Readonly<Record<string, readonly ScriptedAnswer[]>>;

/** Options of `ScriptedModel`. @public */
export interface ScriptedModelOptions {
  /** @default 'scripted' */
  readonly model?: string;
}

/** A label answer for the classifier: `classify: [label('good', 'specific and feasible')]`. @public */
export const label = (value: string, reason = `scripted: ${value}`) => ({
  object: { label: value, reason, confidence: 1 },
});

/** A model that answers from a script, queued per purpose, and records every request. @public */
export class ScriptedModel implements LlmProvider {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'scripted';
  readonly model: string;
  /** Every request, in order, with the purpose it was made for. */
  readonly calls: GenerateRequest[] = [];
  readonly #queues = new Map<string, ScriptedAnswer[]>();
  #ids = 0;

  constructor(script: Script = {}, options: ScriptedModelOptions = {}) {
    this.model = options.model ?? 'scripted';
    for (const [purpose, answers] of Object.entries(script)) this.#queues.set(purpose, [...answers]);
  }

  /** Queue more answers for a purpose. */
  enqueue(purpose: string, ...answers: ScriptedAnswer[]): this {
    this.#queues.set(purpose, [...(this.#queues.get(purpose) ?? []), ...answers]);
    return this;
  }

  /** The requests made for one purpose. */
  callsFor(purpose: string): GenerateRequest[] {
    return this.calls.filter((c) => c.purpose === purpose);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if (request.signal?.aborted) throw request.signal.reason;
    this.calls.push(request);
    const purpose = request.purpose ?? 'generate';
    const queue = this.#queues.get(purpose)?.length ? this.#queues.get(purpose)! : this.#queues.get('*');
    const next = queue?.shift();
    if (next === undefined) {
      const left = [...this.#queues].filter(([, q]) => q.length).map(([p, q]) => `${p} (${q.length})`);
      throw new BraidError(
        'E_LLM',
        `ScriptedModel: no answer left for purpose "${purpose}"; answers left: ${left.join(', ') || 'none'}`,
        { retryable: false },
      );
    }
    const raw = typeof next === 'function' ? next(request) : next;
    const answer = typeof raw === 'string' ? { text: raw } : raw;
    let object = answer.object;
    if (request.schema) {
      if (object === undefined && answer.text !== undefined) {
        try {
          object = JSON.parse(answer.text);
        } catch {
          throw new BraidError(
            'E_LLM_RESPONSE',
            `ScriptedModel: the answer for "${purpose}" must be an object or JSON text (structured output was asked for)`,
          );
        }
      }
      const parsed = request.schema.schema.safeParse(object);
      if (!parsed.success) {
        const detail = parsed.error.issues
          .map((i) => `${i.path.map(String).join('.') || '(answer)'}: ${i.message}`)
          .join('; ');
        throw new BraidError(
          'E_LLM_RESPONSE',
          `ScriptedModel: the answer for "${purpose}" does not match the requested schema "${request.schema.name}": ${detail}`,
        );
      }
      object = parsed.data;
    }
    const text = answer.text ?? (object !== undefined ? JSON.stringify(object) : '');
    const toolCalls = (answer.toolCalls ?? []).map((c) => ({ ...c, id: `call_${++this.#ids}` }));
    const promptTokens = Math.ceil(request.messages.reduce((n, m) => n + (m.content?.length ?? 0), 0) / 4);
    const completionTokens = Math.ceil(text.length / 4);
    return {
      text,
      ...(object !== undefined ? { object } : {}),
      toolCalls,
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
      provider: this.provider,
      model: this.model,
    };
  }
}
