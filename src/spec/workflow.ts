/** The validated workflow and the edge helpers every other module reads it through. */
import type { ConditionObject, TaskSpec, WorkflowSpec } from './schema.js';

/** A workflow that passed validation: object shape, named, tasks checked. */
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
