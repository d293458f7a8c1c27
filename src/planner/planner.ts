/**
 * Task generation: a goal in, a validated workflow out. With a model, the answer is structured output
 * (tools limited to the registered ones), checked by the same validator as any file; its problems go back
 * to the model for repair, at most `maxRounds` answers in all, then a clear failure. Offline, `offlinePlan`
 * builds the workflow by documented keyword rules.
 */
import { z } from 'zod';
import { BraidError, formatIssues, type Issue } from '../errors.js';
import { loadPrompt, renderPrompt } from '../llm/prompts.js';
import type { ChatMessage, LlmProvider } from '../llm/types.js';
import type { WorkflowSpec } from '../spec/schema.js';
import { validateWorkflow } from '../spec/validate.js';
import type { Workflow } from '../spec/workflow.js';
import { AnswerError } from '../llm/structured.js';
import { schemaToJsonSchema, toJSONSchema, type JsonSchema } from '../toolkit/json-schema.js';
import type { ToolRegistry } from '../toolkit/registry.js';
import { offlinePlan } from './offline-plan.js';

/** Options of `planWorkflow`. @beta */
export interface PlanOptions {
  readonly llm: LlmProvider;
  /** The tools a plan may use (`plan` itself is left out). */
  readonly registry: ToolRegistry;
  /** Answers from the model in all, the first included. @default 3 */
  readonly maxRounds?: number;
  readonly signal?: AbortSignal;
}

/** What `planWorkflow` made: the workflow, and what it took. @beta */
export interface PlanResult {
  readonly workflow: Workflow;
  /** Model answers it took (0 offline). */
  readonly rounds: number;
  /** Planned by the offline keyword rules, not a model. */
  readonly offline: boolean;
}

/** The planner could not make a valid workflow of the goal (`E_PLAN`). @beta */
export class PlanError extends BraidError {
  constructor(
    message: string,
    readonly issues: readonly Issue[],
  ) {
    super('E_PLAN', message);
  }
}

/**
 * The answer's shape: strict-mode friendly (every field required, the input as JSON text). The model is
 * shown the tool names as an enum; the answer is parsed with plain strings, so an unknown tool becomes a
 * validation issue the model can repair rather than a parse failure.
 */
function answerSchema(toolNames: readonly string[]) {
  const task = (tool: z.ZodType<string>) =>
    z.strictObject({
      id: z.string(),
      tool,
      input_json: z
        .string()
        .describe(
          'the input object as JSON text; templates like "{{ tasks.<id>.output.field }}" read upstream outputs',
        ),
      dependencies: z.array(z.string()),
    });
  const shape = (tool: z.ZodType<string>) =>
    z.strictObject({ name: z.string(), description: z.string(), tasks: z.array(task(tool)).min(1) });
  const key = toolNames.join('\n');
  let schemas = answerSchemas.get(key);
  if (!schemas) {
    if (answerSchemas.size >= 64) answerSchemas.clear();
    answerSchemas.set(
      key,
      (schemas = {
        parse: shape(z.string()),
        jsonSchema: schemaToJsonSchema(shape(z.enum(toolNames as [string, ...string[]]))),
      }),
    );
  }
  return schemas;
}
/** Built once per set of tool names (the model schema is then cached by identity too). */
const answerSchemas = new Map<string, { parse: z.ZodType<Answer>; jsonSchema: JsonSchema }>();
type Answer = {
  name: string;
  description: string;
  tasks: { id: string; tool: string; input_json: string; dependencies: string[] }[];
};

/** Ask the model for a workflow that reaches `goal` with the given tools, validated before it is returned. @beta */
export async function planWorkflow(goal: string, options: PlanOptions): Promise<PlanResult> {
  const { llm, signal } = options;
  const registry = options.registry.without('plan'); // a plan never plans again
  const toolNames = registry.names();
  if (llm.provider === 'offline') {
    const spec = offlinePlan(goal, registry);
    const checked = validateWorkflow(spec, { toolNames });
    if (!checked.success)
      throw new PlanError(
        `the offline planner made an invalid workflow:\n${formatIssues(checked.issues)}`,
        checked.issues,
      );
    return { workflow: checked.workflow, rounds: 0, offline: true };
  }
  const maxRounds = options.maxRounds ?? 3;
  const { parse: schema, jsonSchema } = answerSchema(toolNames);
  const tools = registry
    .list()
    .map((t) => `- ${t.name}: ${t.description ?? ''}\n  input: ${JSON.stringify(toJSONSchema(t))}`)
    .join('\n');
  const prompt = renderPrompt(loadPrompt('plan'), { goal, tools });
  const messages: ChatMessage[] = [...prompt.messages];
  let issues: Issue[] = [];
  for (let round = 1; round <= maxRounds; round++) {
    let text: string;
    let spec: WorkflowSpec | undefined;
    issues = [];
    try {
      const result = await llm.generate({
        messages,
        schema: { name: 'workflow', schema, jsonSchema },
        purpose: 'plan',
        signal,
        ...(prompt.maxTokens === undefined ? {} : { maxTokens: prompt.maxTokens }),
      });
      text = result.text;
      spec = toSpec(result.object as Answer, issues);
    } catch (err) {
      // An answer that is not JSON or not of the asked shape is repaired like any other problem.
      if (!(err instanceof AnswerError)) throw err;
      text = '(an answer that could not be read)';
      issues.push({ code: 'parse_error', path: '', message: err.message });
    }
    if (spec) {
      const checked = validateWorkflow(spec, { toolNames });
      if (checked.success) return { workflow: checked.workflow, rounds: round, offline: false };
      issues = checked.issues;
    }
    messages.push(
      { role: 'assistant', content: text },
      {
        role: 'user',
        content: `That workflow has problems:\n${formatIssues(issues)}\nAnswer again with the whole corrected workflow.`,
      },
    );
  }
  throw new PlanError(
    `no valid workflow after ${maxRounds} round${maxRounds === 1 ? '' : 's'}; last problems:\n${formatIssues(issues)}`,
    issues,
  );
}

function toSpec(answer: Answer, issues: Issue[]): WorkflowSpec | undefined {
  const tasks = answer.tasks.map((t, i) => {
    let input: unknown = {};
    try {
      input = t.input_json.trim() ? JSON.parse(t.input_json) : {};
    } catch (err) {
      issues.push({
        code: 'parse_error',
        path: `tasks[${i}].input_json`,
        message: `not JSON: ${(err as Error).message}`,
      });
    }
    return { id: t.id, tool: t.tool, input, ...(t.dependencies.length ? { dependencies: t.dependencies } : {}) };
  });
  return issues.length ? undefined : { name: answer.name, description: answer.description, tasks };
}
