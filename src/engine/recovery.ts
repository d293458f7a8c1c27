/** `on_failure` adjust steps: a new input for the failed task, from a template patch or from the LLM. */
import { toErrorRecord } from '../errors.js';
import { generateFromPrompt } from '../llm/llm.js';
import type { LlmProvider } from '../llm/types.js';
import type { TemplateContext } from '../spec/template.js';
import { schemaToJsonSchema } from '../toolkit/json-schema.js';
import type { Tool } from '../toolkit/types.js';
import type { PlanPolicyStep } from './plan.js';

type Adjust = Extract<PlanPolicyStep, { kind: 'adjust' }>;

/**
 * The patch (templates see the run `input`, upstream `tasks` and the failed attempt's `error`) is merged over
 * the failed input; then, with `llm: true`, the model repairs it: it sees the error, the input and the tool's
 * schema, and its answer is validated against that schema (structured output).
 */
export async function adjustInput(
  step: Adjust,
  tool: Tool,
  failedInput: unknown,
  error: unknown,
  ctx: TemplateContext,
  llm: LlmProvider | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  const errorRecord = toErrorRecord(error);
  let input = failedInput;
  if (step.patch) {
    const patch = step.patch({ ...ctx, error: errorRecord }) as Record<string, unknown>;
    input =
      failedInput && typeof failedInput === 'object' && !Array.isArray(failedInput)
        ? { ...(failedInput as Record<string, unknown>), ...patch }
        : patch;
  }
  if (!step.llm) return input;
  if (!llm) throw new Error('adjust with llm: true needs a model (RunOptions.llm)');
  const { object } = await generateFromPrompt(
    llm,
    'adjust-input',
    {
      tool: tool.name,
      description: tool.description ?? '',
      schema: JSON.stringify(schemaToJsonSchema(tool.input)),
      input,
      error: `${errorRecord.code ? `${errorRecord.code}: ` : ''}${errorRecord.message}`,
      instructions: step.prompt ?? '',
    },
    { ...(tool.input ? { schema: tool.input } : {}), signal, purpose: 'adjust' },
  );
  return object ?? input;
}
