/**
 * The LLM classifier: labels a task's output with one of the candidate labels by structured output
 * (an enum). An answer outside the set is retried once, then fails the task with a clear error.
 */
import { z } from 'zod';
import { BraidError } from '../errors.js';
import type { Classifier, ClassifyRequest, ClassifyResult } from './types.js';
import { schemaToJsonSchema, type JsonSchema } from '../core/schema.js';
import { withCost } from './cost.js';
import { generateFromPrompt, track } from './llm.js';
import { AnswerError } from './structured.js';
import type { LlmProvider, TokenUsage } from './types.js';

export function classificationSchema(labels: readonly string[]) {
  // Structured output (strict) needs every field present: nullable, not optional.
  return z.object({
    label: z.enum(labels as [string, ...string[]]),
    reason: z.string(),
    confidence: z.number().min(0).max(1).nullable(),
  });
}

/** The schema shown to the model per label set, built once (the model schema is cached by its identity). */
const shown = new Map<string, JsonSchema>();
function shownSchema(labels: readonly string[]): JsonSchema {
  const key = JSON.stringify(labels);
  let json = shown.get(key);
  if (!json) {
    if (shown.size >= 256) shown.clear();
    shown.set(key, (json = schemaToJsonSchema(classificationSchema(labels))));
  }
  return json;
}

/** A lenient schema used to read the answer, so an out-of-set label can be recognised and retried. */
const answerSchema = z.object({
  label: z.string(),
  reason: z.string().default(''),
  confidence: z.number().nullable().optional(),
});

/** A classifier that asks the model for a task's label (the `classify` purpose). @public */
export function createClassifier(provider: LlmProvider): Classifier {
  return {
    async classify(request: ClassifyRequest): Promise<ClassifyResult> {
      const llm = request.report ? track(provider, request.report, request.admit) : provider;
      let usage: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
      let last = '';
      for (let attempt = 1; attempt <= 2; attempt++) {
        const vars = {
          output: typeof request.output === 'string' ? request.output : JSON.stringify(request.output, null, 2),
          labels: request.labels.join(', '),
          instructions: request.prompt ?? 'Pick the label that fits the output best.',
        };
        let answer: z.infer<typeof answerSchema>;
        try {
          // The enum goes to the model; the answer is read leniently so an out-of-set label is seen and retried.
          const { object, result } = await generateFromPrompt(llm, 'classify', vars, {
            schema: answerSchema,
            jsonSchema: shownSchema(request.labels),
            signal: request.signal,
            purpose: 'classify',
            temperature: 0,
          });
          usage = add(usage, result.usage);
          answer = answerSchema.parse(object);
        } catch (err) {
          // Only an answer that is not JSON of the asked shape is asked again; a failed request is not.
          if (attempt === 2 || !(err instanceof AnswerError)) throw err;
          last = (err as Error).message;
          continue;
        }
        if (request.labels.includes(answer.label)) {
          return {
            label: answer.label,
            reason: answer.reason,
            ...(typeof answer.confidence === 'number' ? { confidence: answer.confidence } : {}),
            usage: withCost(provider.model, usage, provider.provider),
          };
        }
        last = `answered "${answer.label}"`;
      }
      throw new BraidError(
        'E_LABEL',
        `classifier ${last}, not one of ${request.labels.join(', ')}, twice; check the labels and classify.prompt`,
        { taskId: request.taskId },
      );
    },
  };
}

function add(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}
