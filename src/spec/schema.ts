/**
 * The workflow file format (workflow-spec.md §1–2) as strict zod schemas.
 * Shapes only: cross-field rules (references, cycles, templates) live in validate.ts.
 */
import { z } from 'zod';
import { mcpServersSchema } from '../toolkit/mcp/schema.js';
import type { TriggerSpec } from './triggers.js';

export { mcpServerSchema, mcpServersSchema } from '../toolkit/mcp/schema.js';

export const TRIGGER_RULES = [
  'none_failed_min_one_success',
  'all_success',
  'all_done',
  'one_success',
  'one_failed',
  'none_failed',
] as const;
/** When a task with upstreams runs (`trigger_rule`), as in Airflow. @public */
export type TriggerRule = (typeof TRIGGER_RULES)[number];
/** The rule of a task that names none (and whose workflow's `defaults` name none). */
export const DEFAULT_TRIGGER_RULE: TriggerRule = 'none_failed_min_one_success';

/**
 * What each trigger rule is, in one table the compiler holds complete (a new rule is an entry here and its case in
 * engine/trigger-rules.ts `decideTrigger`): the words `braid explain` uses, whether it may decide before every
 * upstream has finished (the driver looks at such a task after each upstream ends), and whether a task under it
 * still runs after an upstream failed (that failure is handled: the run does not fail because of it).
 */
export const TRIGGER_RULE_TRAITS: {
  readonly [R in TriggerRule]: {
    readonly means: string;
    readonly decidesEarly: boolean;
    readonly runsOnFailure: boolean;
  };
} = {
  none_failed_min_one_success: {
    means: 'no upstream failed and at least one succeeded',
    decidesEarly: false,
    runsOnFailure: false,
  },
  all_success: { means: 'every upstream succeeded', decidesEarly: false, runsOnFailure: false },
  all_done: { means: 'all upstreams finished', decidesEarly: false, runsOnFailure: true },
  one_success: { means: 'at least one upstream succeeded', decidesEarly: true, runsOnFailure: true },
  one_failed: { means: 'at least one upstream failed', decidesEarly: true, runsOnFailure: true },
  none_failed: { means: 'no upstream failed', decidesEarly: false, runsOnFailure: false },
};

export const IF_STATUSES = ['succeeded', 'failed', 'skipped', 'finished'] as const;
export type IfStatus = (typeof IF_STATUSES)[number];

export const TASK_ID_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Names every JS object has: as ids they would vanish into (or pollute) the objects results are kept in. */
export const RESERVED_IDS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const taskId = z
  .string()
  .regex(TASK_ID_PATTERN, 'must match [A-Za-z0-9_.-]+')
  .refine((id) => !RESERVED_IDS.has(id), {
    message: 'is a reserved name (__proto__, constructor and prototype cannot be task ids)',
  });
const oneOrMany = <T extends z.ZodType>(item: T, what: string) =>
  z.union([item, z.array(item).min(1)], {
    error: (iss) => (iss.code === 'invalid_union' ? `expected ${what} or a list of them` : undefined),
  });

export const conditionObjectSchema = z.strictObject({
  depends_on: oneOrMany(taskId, 'a task id'),
  if_result: oneOrMany(z.string().min(1), 'a label').optional(),
  if_status: z.enum(IF_STATUSES).optional(),
  when: z.string().min(1).optional(),
});

/** `null`, a JSONata expression, or an object (§3). */
export const conditionSchema = z.union([z.null(), z.string().min(1), conditionObjectSchema]);

/**
 * `approval`'s object form (workflow-spec.md §2): wait only when `when` is truthy; `edit` lets the decision replace
 * the input; `comment` makes a comment required.
 */
export const approvalObjectSchema = z.strictObject({
  /** JSONata over `{ input, tasks, output }` (`input`: the task's effective input): wait only when truthy. */
  when: z.string().min(1).optional(),
  /** An approval may carry an edited input (checked against the tool's input schema). */
  edit: z.boolean().optional(),
  /** A decision must carry a comment. */
  comment: z.boolean().optional(),
});
export type ApprovalSpec = z.infer<typeof approvalObjectSchema>;

/** `true` (the same as `{}`), `false`, or the object form. */
export const approvalSchema = z.union([z.boolean(), approvalObjectSchema], {
  error: (iss) =>
    iss.code === 'invalid_union' ? 'expected true, false or { when?, edit?: bool, comment?: bool }' : undefined,
});

export const classifySchema = z.strictObject({
  labels: z.array(z.string().min(1)).min(1),
  prompt: z.string().optional(),
});

/**
 * One step of a failure policy (`on_failure`), tried in order after an attempt fails: retry the same
 * input, adjust the input (a template patch or the LLM) and run again, run a fallback tool instead, or skip.
 */
export const policyStepSchema = z.union([
  z.literal('skip'),
  z.strictObject({ retry: z.int().min(1) }),
  z.strictObject({
    adjust: z.strictObject({
      /** Fields merged over the failed input; templates may read `input`, upstream `tasks` and `error.message`. */
      input: z.record(z.string(), z.unknown()).optional(),
      /** Ask the LLM for a corrected input (it sees the error, the input and the tool's schema). */
      llm: z.boolean().optional(),
      /** Extra instructions for the LLM. */
      prompt: z.string().optional(),
    }),
  }),
  z.strictObject({ fallback: z.string().min(1), input: z.unknown().optional() }),
]);
export type PolicyStep = z.infer<typeof policyStepSchema>;

export const budgetSchema = z.strictObject({
  max_tokens: z.int().positive().optional(),
  max_cost_usd: z.number().positive().optional(),
  max_duration_ms: z.int().positive().optional(),
  max_tasks: z.int().positive().optional(),
  /** A model call whose worst case does not fit: fail the run (default), or wait for calls in flight to settle. */
  on_exhausted: z.enum(['fail', 'wait']).optional(),
});
export type Budget = z.infer<typeof budgetSchema>;

export const taskSchema = z.strictObject({
  id: taskId,
  tool: z.string().min(1),
  input: z.unknown().optional(),
  dependencies: z.array(taskId).optional(),
  condition: conditionSchema.optional(),
  next_task_id_on_success: taskId.optional(),
  next_task_id_on_failure: taskId.optional(),
  trigger_rule: z.enum(TRIGGER_RULES).optional(),
  retries: z.int().min(0).optional(),
  timeout_ms: z.int().positive().optional(),
  max_visits: z.int().min(1).optional(),
  continue_on_error: z.boolean().optional(),
  classify: classifySchema.optional(),
  description: z.string().optional(),
  /** Pause the run before this task until a human approves it (`braid approve`); the object form says when and how. */
  approval: approvalSchema.optional(),
  on_failure: z.array(policyStepSchema).min(1).optional(),
  /** A template giving a list: one instance per item (`{{ item }}`, `{{ index }}`), outputs merged in order. */
  for_each: z.string().min(1).optional(),
  /** Most `for_each` instances running at once. */
  concurrency: z.int().min(1).optional(),
  /** Most completion tokens each of the task's model calls may use (over the tool's and the provider's default). */
  max_tokens: z.int().positive().optional(),
});

export const defaultsSchema = z.strictObject({
  retries: z.int().min(0).optional(),
  on_failure: z.array(policyStepSchema).min(1).optional(),
  timeout_ms: z.int().positive().optional(),
  max_visits: z.int().min(1).optional(),
  trigger_rule: z.enum(TRIGGER_RULES).optional(),
  max_tokens: z.int().positive().optional(),
});

export const workflowObjectSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  inputs: z.record(z.string(), z.unknown()).optional(),
  defaults: defaultsSchema.optional(),
  /** Ask a chat agent to confirm before running (e.g. a workflow that sends email). */
  confirm: z.boolean().optional(),
  /** Limits for the whole run; when one is exceeded nothing new starts and the run fails. */
  budget: budgetSchema.optional(),
  /** The run's overall result: a template or an object of templates over the tasks (`{{ tasks.t3.output }}`). */
  output: z.unknown().optional(),
  /** MCP servers whose tools the tasks may use, in the common `mcpServers` shape. */
  mcp_servers: mcpServersSchema.optional(),
  /** Runs that start themselves: schedules, events, webhooks (workflow-spec.md §10; checked in triggers.ts). */
  triggers: z.array(z.unknown()).optional(),
  tasks: z.array(z.unknown()),
});

export type ConditionObject = z.infer<typeof conditionObjectSchema>;
export type Condition = z.infer<typeof conditionSchema>;
/** One task of a workflow, as written. @public */
export type TaskSpec = z.infer<typeof taskSchema>;
export type WorkflowDefaults = z.infer<typeof defaultsSchema>;

/** A workflow as written by a user: the object shape, tasks not yet checked. @public */
export interface WorkflowSpec {
  name?: string;
  description?: string;
  inputs?: Record<string, unknown>;
  defaults?: WorkflowDefaults;
  confirm?: boolean;
  budget?: Budget;
  output?: unknown;
  mcp_servers?: z.infer<typeof mcpServersSchema>;
  /** Runs that start themselves: schedules, events, webhooks (workflow-spec.md §10). */
  triggers?: TriggerSpec[];
  tasks: TaskSpec[];
}

/** Known keys per object, for "did you mean" hints on unknown fields. */
export const KNOWN_KEYS = {
  workflow: Object.keys(workflowObjectSchema.shape),
  defaults: Object.keys(defaultsSchema.shape),
  task: Object.keys(taskSchema.shape),
  condition: Object.keys(conditionObjectSchema.shape),
  classify: Object.keys(classifySchema.shape),
  approval: Object.keys(approvalObjectSchema.shape),
  budget: Object.keys(budgetSchema.shape),
} as const;
