/** The validated workflow and the edge helpers every other module reads it through. */
import type { ConditionObject, TaskSpec, WorkflowSpec } from './schema.js';

/** A workflow that passed validation: object shape, named, tasks checked. @public */
export interface Workflow extends WorkflowSpec {
  readonly name: string;
}

export function conditionObject(task: TaskSpec): ConditionObject | undefined {
  const c = task.condition;
  return c && typeof c === 'object' ? c : undefined;
}

export function toList<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [value as T];
}

const upstreamCache = new WeakMap<TaskSpec, string[]>();

/** `dependencies` plus every `condition.depends_on`, without duplicates, in order. Cached per task object. */
export function upstreamsOf(task: TaskSpec): string[] {
  let ups = upstreamCache.get(task);
  if (!ups) {
    const deps = task.dependencies ?? [];
    const cond = conditionObject(task);
    ups = cond ? [...new Set([...deps, ...toList(cond.depends_on)])] : deps.length > 1 ? [...new Set(deps)] : deps;
    upstreamCache.set(task, ups);
  }
  return ups;
}

/** Routing edges out of a task: `[target, 'success' | 'failure']`. */
export function routesOf(task: TaskSpec): [string, 'success' | 'failure'][] {
  const out: [string, 'success' | 'failure'][] = [];
  if (task.next_task_id_on_success) out.push([task.next_task_id_on_success, 'success']);
  if (task.next_task_id_on_failure) out.push([task.next_task_id_on_failure, 'failure']);
  return out;
}

/**
 * Which tasks begin a run (workflow-spec.md §6). Entry tasks have no upstreams and no incoming routing
 * edge; every task reachable from an entry (along data and routing edges) is not a root; a task without
 * upstreams that no entry reaches is a root too (a loop back to the start begins there). Linear in tasks
 * plus edges, iterative. Unknown ids (in a workflow not validated yet) are ignored.
 */
export function rootFlags(tasks: readonly TaskSpec[]): readonly boolean[] {
  let flags = rootCache.get(tasks);
  if (!flags) rootCache.set(tasks, (flags = computeRoots(tasks)));
  return flags;
}

/** Per tasks array: a validated workflow is not changed, and it runs many times. */
const rootCache = new WeakMap<readonly TaskSpec[], readonly boolean[]>();

function computeRoots(tasks: readonly TaskSpec[]): boolean[] {
  const indexOf = new Map<string, number>();
  tasks.forEach((t, i) => indexOf.set(t.id, i));
  const out: number[][] = tasks.map(() => []);
  const routedInto = new Uint8Array(tasks.length);
  tasks.forEach((t, i) => {
    for (const u of upstreamsOf(t)) {
      const j = indexOf.get(u);
      if (j !== undefined) out[j].push(i);
    }
    for (const [to] of routesOf(t)) {
      const j = indexOf.get(to);
      if (j !== undefined) (out[i].push(j), (routedInto[j] = 1));
    }
  });
  const noUpstreams = tasks.map((t) => upstreamsOf(t).length === 0);
  const reached = new Uint8Array(tasks.length);
  const stack: number[] = [];
  tasks.forEach((_, i) => {
    if (noUpstreams[i] && !routedInto[i]) stack.push(i);
  });
  while (stack.length) {
    for (const n of out[stack.pop()!]) if (!reached[n]) ((reached[n] = 1), stack.push(n));
  }
  return tasks.map((_, i) => noUpstreams[i] && !reached[i]);
}
