/**
 * Shape (zod) and cross-field checks for a workflow value. Returns every problem at once as `Issue[]`;
 * `loadWorkflow` in load.ts is the throwing form.
 */
import { z } from 'zod';
import type { Issue } from '../errors.js';
import { expressionTaskRefs, parseExpression } from './expression.js';
import { formatPath, type PathSegment } from './path.js';
import { inputPatternIssues } from './pattern.js';
import {
  KNOWN_KEYS,
  conditionObjectSchema,
  taskSchema,
  workflowObjectSchema,
  type TaskSpec,
  type WorkflowSpec,
} from './schema.js';
import { didYouMean } from './suggest.js';
import { findRefs } from './template.js';
import { conditionObject, routesOf, toList, upstreamsOf, type Workflow } from './workflow.js';
import { fromZodIssues } from './zod-issues.js';
import { describeThrown } from '../core/thrown.js';
import { refLoop } from './ref-cycle.js';
import { triggerIssues } from './triggers.js';

export interface ValidateOptions {
  /** Registered tool names; when given, unknown tools are reported. */
  readonly toolNames?: Iterable<string>;
  /** Used as the workflow name when the file has none. */
  readonly defaultName?: string;
}

/** What `validateWorkflow` returns: the workflow, or the issues. @public */
export type ValidationResult = { success: true; workflow: Workflow } | { success: false; issues: Issue[] };

const taskShape = taskSchema.extend({ condition: z.unknown().optional() });

function knownKeysAt(path: readonly PathSegment[]): readonly string[] | undefined {
  const named = path.filter((p) => typeof p === 'string');
  const last = named[named.length - 1];
  if (path.length === 0) return KNOWN_KEYS.workflow;
  if (last === 'defaults') return KNOWN_KEYS.defaults;
  if (last === 'condition') return KNOWN_KEYS.condition;
  if (last === 'classify') return KNOWN_KEYS.classify;
  if (last === 'approval') return KNOWN_KEYS.approval;
  if (last === 'budget') return KNOWN_KEYS.budget;
  if (last === 'tasks') return KNOWN_KEYS.task;
  return undefined;
}

/** Validate the shape of a bare task array or a workflow object. */
function checkShape(value: unknown, issues: Issue[]): { spec: WorkflowSpec; positions: number[] } | undefined {
  const obj = Array.isArray(value) ? { tasks: value } : value;
  const prefix: PathSegment[] = [];
  if (obj === null || typeof obj !== 'object') {
    issues.push({
      code: 'invalid_type',
      path: '',
      message: 'a workflow is an array of tasks or an object with "tasks"',
      hint: 'see workflow-spec.md §1',
    });
    return undefined;
  }
  const top = workflowObjectSchema.safeParse(obj);
  if (!top.success) {
    issues.push(...fromZodIssues(top.error.issues, obj, prefix, knownKeysAt));
    if (!Array.isArray((obj as { tasks?: unknown }).tasks)) return undefined;
  }
  const raw = obj as WorkflowSpec & { tasks: unknown[] };
  const tasks: TaskSpec[] = [];
  const positions: number[] = [];
  raw.tasks.forEach((t, i) => {
    const base: PathSegment[] = ['tasks', i];
    const parsed = taskShape.safeParse(t);
    if (!parsed.success) {
      issues.push(...fromZodIssues(parsed.error.issues, t, base, (p) => knownKeysAt(p.length === 2 ? ['tasks'] : p)));
      const partial = salvage(t);
      if (partial) (tasks.push(partial), positions.push(i));
      return;
    }
    const cond = parsed.data.condition;
    let checked: TaskSpec['condition'] = cond as TaskSpec['condition'];
    if (cond !== undefined && cond !== null && typeof cond !== 'string') {
      const c = conditionObjectSchema.safeParse(cond);
      if (!c.success)
        issues.push(...fromZodIssues(c.error.issues, cond, [...base, 'condition'], () => KNOWN_KEYS.condition));
      // Later checks read only a well-formed condition (a bad one is already reported).
      checked = c.success ? c.data : undefined;
    } else if (cond === '') {
      issues.push({
        code: 'invalid_value',
        path: formatPath([...base, 'condition']),
        message: 'empty expression',
        hint: 'use null for no condition',
      });
    }
    // Keep zod's object as it is when the condition is fine (a copy with an added key is slower to read).
    if (checked === cond) tasks.push(parsed.data as TaskSpec);
    else tasks.push({ ...(parsed.data as TaskSpec), condition: checked });
    positions.push(i);
  });
  return { spec: { ...(top.success ? top.data : raw), tasks } as WorkflowSpec, positions };
}

/** The well-formed parts of a task that failed its shape check, so reference checks still see it. */
function salvage(t: unknown): TaskSpec | undefined {
  if (t === null || typeof t !== 'object') return undefined;
  const o = t as Record<string, unknown>;
  if (typeof o.id !== 'string') return undefined;
  const strings = (v: unknown) =>
    Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  const cond = conditionObjectSchema.safeParse(o.condition);
  return {
    id: o.id,
    tool: typeof o.tool === 'string' ? o.tool : '',
    dependencies: strings(o.dependencies),
    condition: cond.success ? cond.data : undefined,
    next_task_id_on_success: typeof o.next_task_id_on_success === 'string' ? o.next_task_id_on_success : undefined,
    next_task_id_on_failure: typeof o.next_task_id_on_failure === 'string' ? o.next_task_id_on_failure : undefined,
  };
}

/**
 * Find one cycle per strongly connected group of the data edges, as `a → b → a`. Iterative (an explicit
 * stack), so a chain of many thousand tasks cannot overflow the call stack.
 */
function findCycles(tasks: readonly TaskSpec[], byId: ReadonlyMap<string, TaskSpec>): string[][] {
  const state = new Map<string, 1 | 2>(); // 1 = on the path, 2 = done
  const path: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  for (const root of tasks) {
    if (state.has(root.id)) continue;
    // frames: a task and how many of its upstreams were looked at
    const frames: { id: string; ups: string[]; next: number }[] = [{ id: root.id, ups: upstreamsOf(root), next: 0 }];
    state.set(root.id, 1);
    path.push(root.id);
    while (frames.length) {
      const f = frames[frames.length - 1];
      if (f.next === f.ups.length) {
        frames.pop();
        path.pop();
        state.set(f.id, 2);
        continue;
      }
      const up = f.ups[f.next++];
      const u = byId.get(up);
      if (!u) continue;
      if (state.get(up) === 1) {
        const cycle = path.slice(path.indexOf(up)).reverse();
        const key = [...cycle].sort().join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cycle, cycle[0]]);
        }
      } else if (!state.has(up)) {
        state.set(up, 1);
        path.push(up);
        frames.push({ id: up, ups: upstreamsOf(u), next: 0 });
      }
    }
  }
  return cycles;
}

/**
 * Which tasks can read `ancestor`: those that start only after it finished, i.e. reached from it along
 * data and routing edges. One walk per distinct ancestor (memoised by the caller), so checking every
 * template of a long chain that reads its first task is linear, not quadratic.
 */
function readersOf(ancestor: string, downstream: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [ancestor];
  while (stack.length) {
    for (const d of downstream.get(stack.pop()!) ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        stack.push(d);
      }
    }
  }
  return seen;
}

/** Check a workflow against the contract; a valid one comes back ready to run. @public */
export function validateWorkflow(value: unknown, options: ValidateOptions = {}): ValidationResult {
  const issues: Issue[] = [];
  const shape = checkShape(value, issues);
  if (!shape) return { success: false, issues };
  const { spec, positions } = shape;

  const tasks = spec.tasks;
  const byId = new Map<string, TaskSpec>();
  const indexOf = new Map<string, number>();
  const at = (t: TaskSpec, ...rest: PathSegment[]) => formatPath(['tasks', positions[tasks.indexOf(t)], ...rest]);
  tasks.forEach((t, k) => {
    const i = positions[k];
    if (byId.has(t.id)) {
      issues.push({
        code: 'duplicate_id',
        path: formatPath(['tasks', i, 'id']),
        message: `duplicate task id "${t.id}"`,
        hint: `first used at tasks[${indexOf.get(t.id)}]; ids must be unique`,
      });
      return;
    }
    byId.set(t.id, t);
    indexOf.set(t.id, i);
  });
  const ids = new Set(byId.keys());

  const checkRef = (t: TaskSpec, ref: string, path: PathSegment[]) => {
    if (byId.has(ref)) return true;
    issues.push({
      code: 'unknown_task',
      path: at(t, ...path),
      message: `unknown task "${ref}"`,
      hint: didYouMean(ref, ids) ?? `known tasks: ${[...ids].join(', ')}`,
    });
    return false;
  };

  const toolNames = options.toolNames ? new Set(options.toolNames) : undefined;
  const routedFrom = new Map<string, string[]>();
  for (const t of tasks) checkTaskRefs({ issues, at, checkRef, toolNames }, t, routedFrom);

  for (const cycle of findCycles(tasks, byId).filter((c) => c.length > 2)) {
    const first = byId.get(cycle[0])!;
    issues.push({
      code: 'cycle',
      path: at(first, 'dependencies'),
      message: `dependency cycle: ${cycle.join(' → ')}`,
      hint: 'break it, or use next_task_id_on_* routing for loops',
    });
  }

  // Expressions and templates: they must parse and read only tasks that finish before this one starts.
  const downstream = new Map<string, string[]>();
  const edge = (from: string, to: string) => (downstream.get(from) ?? downstream.set(from, []).get(from)!).push(to);
  for (const t of byId.values()) for (const up of upstreamsOf(t)) edge(up, t.id);
  for (const [target, sources] of routedFrom) for (const src of sources) edge(src, target);
  const readers = new Map<string, Set<string>>();
  const canRead = (taskId: string, ancestor: string) => {
    let r = readers.get(ancestor);
    if (!r) readers.set(ancestor, (r = readersOf(ancestor, downstream)));
    return r.has(taskId);
  };
  const checkReads = (t: TaskSpec, refs: string[], path: PathSegment[], what: string) => {
    for (const ref of refs) {
      if (!byId.has(ref)) checkRef(t, ref, path);
      else if (ref === t.id || !canRead(t.id, ref)) {
        issues.push({
          code: 'non_upstream_reference',
          path: at(t, ...path),
          message: `${what} reads task "${ref}", which is not upstream of "${t.id}"`,
          hint: `add "${ref}" to dependencies`,
        });
      }
    }
  };
  const c: Checks = { issues, byId, ids, at, checkRef, toolNames, checkReads };
  for (const t of byId.values()) {
    checkTaskExpressions(c, t);
    checkTaskTemplates(c, t);
  }

  issues.push(...outputIssues(spec.output, byId, ids));

  if (spec.inputs !== undefined) issues.push(...inputsIssues(spec.inputs));

  issues.push(...triggerIssues((spec as { triggers?: unknown }).triggers));

  if (issues.length) return { success: false, issues };
  const workflow: Workflow = { ...spec, name: spec.name ?? options.defaultName ?? 'workflow' };
  validated.add(workflow);
  return { success: true, workflow };
}

/** What the checks of one workflow share: its issues, its tasks by id, where a task is in the file. */
interface Checks {
  readonly issues: Issue[];
  readonly byId: ReadonlyMap<string, TaskSpec>;
  readonly ids: ReadonlySet<string>;
  readonly at: (t: TaskSpec, ...rest: PathSegment[]) => string;
  /** Whether `ref` names a task; an issue when not. */
  readonly checkRef: (t: TaskSpec, ref: string, path: PathSegment[]) => boolean;
  readonly toolNames: ReadonlySet<string> | undefined;
  /** Each of `refs` must be a task that finishes before `t` starts. */
  readonly checkReads: (t: TaskSpec, refs: string[], path: PathSegment[], what: string) => void;
}

/** A task's tool, dependencies, routes and condition name what exists, once, and not the task itself. */
function checkTaskRefs(
  c: Pick<Checks, 'issues' | 'at' | 'checkRef' | 'toolNames'>,
  t: TaskSpec,
  routedFrom: Map<string, string[]>,
): void {
  const { issues, at, checkRef, toolNames } = c;
  if (toolNames && t.tool && !toolNames.has(t.tool)) {
    issues.push({
      code: 'unknown_tool',
      path: at(t, 'tool'),
      message: `unknown tool "${t.tool}"`,
      hint: didYouMean(t.tool, toolNames) ?? 'run `braid tools` to list tools, or load yours with --tools',
    });
  }
  (t.dependencies ?? []).forEach((d, j) => checkRef(t, d, ['dependencies', j]));
  for (const [target, on] of routesOf(t)) {
    if (checkRef(t, target, [`next_task_id_on_${on}`]))
      routedFrom.set(target, [...(routedFrom.get(target) ?? []), t.id]);
  }
  const cond = conditionObject(t);
  if (cond) {
    const deps = toList(cond.depends_on);
    if (Array.isArray(cond.depends_on))
      cond.depends_on.forEach((d, j) => checkRef(t, d, ['condition', 'depends_on', j]));
    else checkRef(t, cond.depends_on, ['condition', 'depends_on']);
    const tests = (['if_result', 'if_status', 'when'] as const).filter((k) => cond[k] !== undefined);
    if (tests.length > 1) {
      issues.push({
        code: 'invalid_value',
        path: at(t, 'condition'),
        message: `use only one of ${tests.join(', ')}`,
        hint: 'combine tests in one `when` expression',
      });
    }
    for (const k of ['if_result', 'if_status'] as const) {
      if (cond[k] !== undefined && deps.length !== 1) {
        issues.push({
          code: 'invalid_value',
          path: at(t, 'condition', 'depends_on'),
          message: `${k} tests exactly one task, got ${deps.length}`,
          hint: 'use a `when` expression to test several tasks',
        });
      }
    }
    if (deps.includes(t.id))
      issues.push({
        code: 'cycle',
        path: at(t, 'condition', 'depends_on'),
        message: `task "${t.id}" depends on itself`,
      });
  }
  if ((t.dependencies ?? []).includes(t.id))
    issues.push({ code: 'cycle', path: at(t, 'dependencies'), message: `task "${t.id}" depends on itself` });
}

/** A task's condition and `approval.when` parse, and read only tasks that finish before it starts. */
function checkTaskExpressions(c: Checks, t: TaskSpec): void {
  const { issues, at, checkReads } = c;
  const cond = t.condition;
  const source = typeof cond === 'string' ? cond : conditionObject(t)?.when;
  if (source !== undefined) {
    const path: PathSegment[] = typeof cond === 'string' ? ['condition'] : ['condition', 'when'];
    const parsed = parseExpression(source);
    if (!parsed.ok)
      issues.push({
        code: 'invalid_expression',
        path: at(t, ...path),
        message: parsed.message,
        hint: 'conditions are JSONata, e.g. tasks.t1.output.score > 0.5',
      });
    else checkReads(t, expressionTaskRefs(source), path, 'expression');
  }
  const approval = typeof t.approval === 'object' ? t.approval : undefined;
  if (approval?.when !== undefined) {
    const parsed = parseExpression(approval.when);
    if (!parsed.ok)
      issues.push({
        code: 'invalid_expression',
        path: at(t, 'approval', 'when'),
        message: parsed.message,
        hint: 'approval.when is JSONata over { input, tasks, output }, e.g. input.amount > 100',
      });
    else checkReads(t, expressionTaskRefs(approval.when), ['approval', 'when'], 'expression');
  }
  if (approval?.edit && t.for_each !== undefined)
    issues.push({
      code: 'invalid_value',
      path: at(t, 'approval', 'edit'),
      message: 'a for_each task has one input per item: its approval cannot carry an edited input',
      hint: 'remove approval.edit, or approve the task that makes the list',
    });
}

/** A task's templates (input, for_each, on_failure) read what exists when they are filled. */
function checkTaskTemplates(c: Checks, t: TaskSpec): void {
  const { issues, at, checkReads, ids, toolNames } = c;
  const checkTemplates = (value: unknown, base: PathSegment[], extraRoots: readonly string[] = []) => {
    for (const { ref, path } of findRefs(value, ids, base)) {
      if (ref.problem) issues.push({ code: 'invalid_template', path: at(t, ...path), message: ref.problem });
      else if (ref.taskId) checkReads(t, [ref.taskId], path, `template "{{ ${ref.raw} }}"`);
      else if (
        (ref.segments[0] === 'item' || ref.segments[0] === 'index') &&
        t.for_each === undefined &&
        !extraRoots.includes(ref.segments[0])
      ) {
        issues.push({
          code: 'invalid_template',
          path: at(t, ...path),
          message: `"{{ ${ref.raw} }}" reads ${ref.segments[0]}, which only for_each tasks have`,
          hint: 'add for_each: "{{ tasks.<id>.output.list }}"',
        });
      } else if (ref.segments[0] === 'error' && !extraRoots.includes('error')) {
        issues.push({
          code: 'invalid_template',
          path: at(t, ...path),
          message: `"{{ ${ref.raw} }}": error is only set in on_failure adjust inputs`,
        });
      }
    }
  };
  checkTemplates(t.input, ['input']);
  if (t.for_each !== undefined) {
    if (!findRefs(t.for_each, ids).length)
      issues.push({
        code: 'invalid_value',
        path: at(t, 'for_each'),
        message: 'for_each needs a template that gives a list',
        hint: 'e.g. for_each: "{{ tasks.search.output.results }}"',
      });
    checkTemplates(t.for_each, ['for_each']);
  }
  (t.on_failure ?? []).forEach((step, k) => {
    if (typeof step !== 'object') return;
    if ('adjust' in step) {
      if (!step.adjust.input && !step.adjust.llm)
        issues.push({
          code: 'invalid_value',
          path: at(t, 'on_failure', k, 'adjust'),
          message: 'adjust needs `input` (a patch) or `llm: true`',
        });
      checkTemplates(step.adjust.input, ['on_failure', k, 'adjust', 'input'], ['error']);
    }
    if ('fallback' in step) {
      const known = ids.has(step.fallback) || !toolNames || toolNames.has(step.fallback);
      if (!known)
        issues.push({
          code: 'unknown_tool',
          path: at(t, 'on_failure', k, 'fallback'),
          message: `unknown tool or task "${step.fallback}"`,
          hint:
            didYouMean(step.fallback, new Set([...(toolNames ?? []), ...ids])) ??
            'name a registered tool (braid tools) or a task id',
        });
      checkTemplates(step.input, ['on_failure', k, 'input']);
    }
  });
}

/** The run's output reads tasks once all are finished: any known task may be named. */
function outputIssues(output: unknown, byId: ReadonlyMap<string, TaskSpec>, ids: ReadonlySet<string>): Issue[] {
  const issues: Issue[] = [];
  for (const { ref, path } of findRefs(output, ids, ['output'])) {
    if (ref.problem) issues.push({ code: 'invalid_template', path: formatPath(path), message: ref.problem });
    else if (ref.taskId && !byId.has(ref.taskId))
      issues.push({
        code: 'unknown_task',
        path: formatPath(path),
        message: `unknown task "${ref.taskId}"`,
        hint: didYouMean(ref.taskId, ids) ?? `known tasks: ${[...ids].join(', ')}`,
      });
    else if (!ref.taskId && ref.segments[0] !== 'input' && ref.segments[0] !== 'run')
      issues.push({
        code: 'invalid_template',
        path: formatPath(path),
        message: `"{{ ${ref.raw} }}": the output reads tasks.<id>..., input... or run.id`,
      });
  }

  return issues;
}

/** The run's `inputs` are a JSON Schema braid can use. */
function inputsIssues(inputs: unknown): Issue[] {
  const issues: Issue[] = [];
  const loop = refLoop(inputs);
  if (loop)
    issues.push({
      code: 'invalid_value',
      path: formatPath(['inputs', ...loop]),
      message: 'this $ref leads back to itself without any properties or items in between, so no input can match it',
      hint: 'point $ref at a definition (e.g. "#/$defs/node") whose recursion goes through properties or items',
    });
  else
    try {
      z.fromJSONSchema(inputs as Parameters<typeof z.fromJSONSchema>[0]).safeParse({});
    } catch (err) {
      issues.push({
        code: 'invalid_value',
        path: 'inputs',
        message: `not a usable JSON Schema: ${describeThrown(err).message}`,
      });
    }
  if (!loop) issues.push(...inputPatternIssues(inputs));
  return issues;
}

/** Workflows this module produced: running one again needs no second validation (do not mutate them). */
const validated = new WeakSet<object>();

/** Whether `value` is a workflow `validateWorkflow` returned, every tool of which is in `toolNames`. */
export function isValidated(value: unknown, toolNames?: Iterable<string>): value is Workflow {
  if (value === null || typeof value !== 'object' || !validated.has(value)) return false;
  if (!toolNames) return true;
  const names = new Set(toolNames);
  const w = value as Workflow;
  return w.tasks.every(
    (t) =>
      names.has(t.tool) &&
      (t.on_failure ?? w.defaults?.on_failure ?? []).every(
        (s) =>
          typeof s !== 'object' ||
          !('fallback' in s) ||
          names.has(s.fallback) ||
          w.tasks.some((x) => x.id === s.fallback),
      ),
  );
}
