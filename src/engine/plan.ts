/**
 * Compile a validated workflow into the scheduler's plan: tasks by index, edges as index lists,
 * defaults applied, templates and expressions compiled once.
 */
import type { Expression } from '../spec/expression.js';
import { parseExpression } from '../spec/expression.js';
import {
  DEFAULT_TRIGGER_RULE,
  TRIGGER_RULE_TRAITS,
  type IfStatus,
  type PolicyStep,
  type TaskSpec,
  type TriggerRule,
} from '../spec/schema.js';
import { compileTemplate, type CompiledTemplate } from '../spec/template.js';
import { isValidated } from '../spec/validate.js';
import { conditionObject, rootFlags, routesOf, toList, upstreamsOf, type Workflow } from '../spec/workflow.js';
import type { ToolRegistry } from '../toolkit/registry.js';
import type { Tool } from '../toolkit/types.js';
import { implicitInputOf, type ImplicitInput } from './effective-input.js';

export type PlanCondition =
  | { readonly kind: 'none' }
  | { readonly kind: 'result'; readonly dep: number; readonly labels: ReadonlySet<string> }
  | { readonly kind: 'status'; readonly dep: number; readonly status: IfStatus }
  | { readonly kind: 'when'; readonly expression: Expression; readonly dep?: number };

/** A task's `approval` (workflow-spec.md §2), compiled. */
export interface PlanApproval {
  /** Wait only when this is truthy over `{ input, tasks, output }` (`input`: the task's effective input). */
  readonly when?: Expression;
  /** The task whose output is `output` in `when` (the only upstream), if any. */
  readonly dep?: number;
  /** A decision may carry an edited input. */
  readonly edit: boolean;
  /** A decision must carry a comment. */
  readonly comment: boolean;
}

/** A compiled `on_failure` step (schema.ts `policyStepSchema`). */
export type PlanPolicyStep =
  | { readonly kind: 'retry'; readonly times: number }
  | { readonly kind: 'adjust'; readonly patch?: CompiledTemplate; readonly llm: boolean; readonly prompt?: string }
  | { readonly kind: 'fallback'; readonly tool: Tool; readonly name: string; readonly input?: CompiledTemplate }
  | { readonly kind: 'skip' };

export interface PlanTask {
  readonly index: number;
  readonly id: string;
  readonly spec: TaskSpec;
  readonly tool: Tool;
  readonly upstreams: readonly number[];
  /** Upstreams the trigger rule counts: all but an `if_status` target, whose status the condition tests. */
  readonly ruleUpstreams: readonly number[];
  readonly downstreams: readonly number[];
  readonly routes: readonly { readonly to: number; readonly on: 'success' | 'failure' }[];
  /** No upstreams, but not a root (workflow-spec.md §6): runs only when routed to. */
  readonly routingOnly: boolean;
  readonly trigger: TriggerRule;
  readonly condition: PlanCondition;
  readonly retries: number;
  readonly timeoutMs?: number;
  /** The `maxTokens` of the task's model calls (its `max_tokens`, else the workflow's default); none: the tool's. */
  readonly maxTokens?: number;
  readonly maxVisits: number;
  readonly continueOnError: boolean;
  /** Wait for a human approval before each visit (`false`: never). */
  readonly approval: false | PlanApproval;
  /** Labels some `if_result` expects from this task. */
  readonly expectedLabels: ReadonlySet<string>;
  /** Candidates for the classifier (expected labels plus `classify.labels`); empty when none is needed. */
  readonly labelCandidates: readonly string[];
  /** A failure of this task is handled (§7): the run does not fail because of it. */
  readonly failureHandled: boolean;
  readonly render: CompiledTemplate;
  /**
   * Fields the explicit input leaves open, taken from run inputs and upstream outputs (§5a); none when it decides all.
   */
  readonly implicit?: ImplicitInput;
  /** Tried in order once `retries` are used up. */
  readonly policy: readonly PlanPolicyStep[];
  /** Renders the list a for_each task fans out over. */
  readonly forEach?: CompiledTemplate;
  /** Most for_each instances at once. */
  readonly itemConcurrency: number;
}

export interface Plan {
  readonly workflow: Workflow;
  readonly tasks: readonly PlanTask[];
  readonly indexOf: ReadonlyMap<string, number>;
  /** Renders the workflow's `output`, when it declares one. */
  readonly output?: CompiledTemplate;
}

export const DEFAULT_MAX_VISITS = 3;

/** Every tool a run of the plan can call: its tasks' and their fallbacks'. */
export function planTools(plan: Plan): Tool[] {
  const tools: Tool[] = [];
  for (const t of plan.tasks) {
    tools.push(t.tool);
    for (const step of t.policy) if (step.kind === 'fallback') tools.push(step.tool);
  }
  return tools;
}

// Empty lists and sets are shared by every task that has nothing there (a plan is cached with its workflow).
const NONE: readonly never[] = Object.freeze([]);
const NO_LABELS: ReadonlySet<string> = new Set();
const NO_CONDITION: PlanCondition = Object.freeze({ kind: 'none' });
const shared = <T>(list: readonly T[]): readonly T[] => (list.length ? list : NONE);

/** What compiling needs of a registry (a recording view of one, for the plan cache). */
type ToolLookup = Pick<ToolRegistry, 'get' | 'has'>;

/**
 * The last plan compiled for each validated workflow, with the tool lookups it made (name → tool, or `false` for a
 * `has` miss).
 */
const plans = new WeakMap<Workflow, { plan: Plan; lookups: Map<string, Tool | false> }>();

/**
 * `compilePlan`, cached per validated workflow (they are not mutated, see validate.ts `isValidated`): a
 * workflow run again with the same tools reuses its plan (templates and expressions compiled once). Every
 * tool lookup the compilation made is checked again, so a different tool under a name compiles afresh.
 */
export function planFor(workflow: Workflow, registry: ToolRegistry): Plan {
  const cached = plans.get(workflow);
  if (cached && sameLookups(cached.lookups, registry)) return cached.plan;
  const lookups = new Map<string, Tool | false>();
  const recording: ToolLookup = {
    has: (name) => {
      const found = registry.has(name);
      if (!lookups.has(name)) lookups.set(name, found ? registry.get(name) : false);
      return found;
    },
    get: (name) => {
      const tool = registry.get(name);
      lookups.set(name, tool);
      return tool;
    },
  };
  const plan = compilePlan(workflow, recording);
  if (isValidated(workflow)) plans.set(workflow, { plan, lookups });
  return plan;
}

function sameLookups(lookups: ReadonlyMap<string, Tool | false>, registry: ToolRegistry): boolean {
  for (const [name, tool] of lookups)
    if (tool === false ? registry.has(name) : !registry.has(name) || registry.get(name) !== tool) return false;
  return true;
}

export function compilePlan(workflow: Workflow, registry: ToolLookup): Plan {
  const specs = workflow.tasks;
  const defaults = workflow.defaults ?? {};
  const indexOf = new Map(specs.map((t, i) => [t.id, i]));
  const ids = new Set(indexOf.keys());
  const idx = (id: string) => indexOf.get(id)!;

  const downstreams: number[][] = specs.map(() => []);
  // Made for the tasks some if_result names: most tasks share NONE (a plan lives as long as its workflow).
  const expected: Set<string>[] = [];
  const handledBy = specs.map(() => false);

  const ups = specs.map((t, i) => {
    const list = upstreamsOf(t).map(idx);
    for (const u of list) downstreams[u].push(i);
    const cond = conditionObject(t);
    if (cond?.if_result !== undefined)
      for (const l of toList(cond.if_result)) (expected[idx(toList(cond.depends_on)[0])] ??= new Set()).add(l);
    if (cond?.if_status === 'failed' || cond?.if_status === 'finished')
      handledBy[idx(toList(cond.depends_on)[0])] = true;
    const rule = t.trigger_rule ?? defaults.trigger_rule ?? DEFAULT_TRIGGER_RULE;
    if (TRIGGER_RULE_TRAITS[rule].runsOnFailure) for (const u of list) handledBy[u] = true;
    return list;
  });

  const roots = rootFlags(specs);
  const tasks = specs.map((t, i): PlanTask => {
    const tool = registry.get(t.tool);
    const implicit = implicitInputOf(t, tool);
    const condition = compileCondition(t, idx);
    const statusDep = condition.kind === 'status' ? condition.dep : -1;
    const expectedLabels: ReadonlySet<string> = expected[i] ?? NO_LABELS;
    const needsLabel = t.classify !== undefined || expectedLabels.size > 0;
    return {
      index: i,
      id: t.id,
      spec: t,
      tool,
      upstreams: shared(ups[i]),
      ruleUpstreams: statusDep >= 0 ? ups[i].filter((u) => u !== statusDep) : shared(ups[i]),
      downstreams: downstreams[i].length ? downstreams[i].slice() : NONE, // exact size (push leaves room)
      routes: shared(routesOf(t).map(([to, on]) => ({ to: idx(to), on }))),
      routingOnly: ups[i].length === 0 && !roots[i],
      trigger: t.trigger_rule ?? defaults.trigger_rule ?? DEFAULT_TRIGGER_RULE,
      condition,
      retries: t.retries ?? defaults.retries ?? 0,
      timeoutMs: t.timeout_ms ?? defaults.timeout_ms,
      maxTokens: t.max_tokens ?? defaults.max_tokens,
      maxVisits: t.max_visits ?? defaults.max_visits ?? DEFAULT_MAX_VISITS,
      continueOnError: t.continue_on_error ?? false,
      approval: compileApproval(t, ups[i]),
      expectedLabels,
      labelCandidates: needsLabel ? [...new Set([...expectedLabels, ...(t.classify?.labels ?? [])])] : NONE,
      failureHandled: Boolean(t.continue_on_error || t.next_task_id_on_failure || handledBy[i]),
      render: compileTemplate(t.input ?? {}, ids),
      // Every plan task has the same fields (absent ones undefined): one object shape keeps the scheduler's
      // property reads monomorphic (a spread in the middle of the literal made them slow).
      implicit,
      policy: shared(
        (t.on_failure ?? defaults.on_failure ?? []).map((step) =>
          compilePolicyStep(step, specs, indexOf, registry, ids),
        ),
      ),
      forEach: t.for_each !== undefined ? compileTemplate(t.for_each, ids) : undefined,
      itemConcurrency: t.concurrency ?? Infinity,
    };
  });
  return {
    workflow,
    tasks,
    indexOf,
    ...(workflow.output !== undefined ? { output: compileTemplate(workflow.output, ids) } : {}),
  };
}

function compilePolicyStep(
  step: PolicyStep,
  specs: readonly TaskSpec[],
  indexOf: ReadonlyMap<string, number>,
  registry: ToolLookup,
  ids: ReadonlySet<string>,
): PlanPolicyStep {
  if (step === 'skip') return { kind: 'skip' };
  if ('retry' in step) return { kind: 'retry', times: step.retry };
  if ('adjust' in step)
    return {
      kind: 'adjust',
      llm: step.adjust.llm ?? false,
      ...(step.adjust.input ? { patch: compileTemplate(step.adjust.input, ids) } : {}),
      ...(step.adjust.prompt ? { prompt: step.adjust.prompt } : {}),
    };
  // A fallback names a tool, or a task whose tool and input stand in (a tool of that name wins).
  const task = registry.has(step.fallback) ? undefined : specs[indexOf.get(step.fallback) ?? -1];
  const tool = registry.get(task ? task.tool : step.fallback);
  const input = step.input ?? task?.input;
  return {
    kind: 'fallback',
    tool,
    name: step.fallback,
    ...(input !== undefined ? { input: compileTemplate(input, ids) } : {}),
  };
}

function compileCondition(t: TaskSpec, idx: (id: string) => number): PlanCondition {
  if (typeof t.condition === 'string') return { kind: 'when', expression: expression(t.condition) };
  const cond = conditionObject(t);
  if (!cond) return NO_CONDITION;
  const deps = toList(cond.depends_on);
  if (cond.if_result !== undefined)
    return { kind: 'result', dep: idx(deps[0]), labels: new Set(toList(cond.if_result)) };
  if (cond.if_status !== undefined) return { kind: 'status', dep: idx(deps[0]), status: cond.if_status };
  if (cond.when !== undefined)
    return { kind: 'when', expression: expression(cond.when), dep: deps.length === 1 ? idx(deps[0]) : undefined };
  return NO_CONDITION;
}

function compileApproval(t: TaskSpec, upstreams: readonly number[]): false | PlanApproval {
  if (!t.approval) return false;
  const a = t.approval === true ? {} : t.approval;
  return {
    ...(a.when !== undefined ? { when: expression(a.when) } : {}),
    ...(upstreams.length === 1 ? { dep: upstreams[0] } : {}),
    edit: a.edit ?? false,
    comment: a.comment ?? false,
  };
}

function expression(source: string): Expression {
  const parsed = parseExpression(source);
  if (!parsed.ok) throw new Error(parsed.message); // validation already rejected it
  return parsed.expression;
}
