/**
 * What a `braid worker` checks before it runs a job whose MAC is good: that the job belongs to a run recorded in
 * Redis whose record is authentic, that has not finished, and whose workflow has the task with that tool. A
 * signed job replayed after its run ended, or one naming a tool its task never uses, is refused.
 */
import type { AttemptRequest } from '../executors/contract.js';
import type { RedisRunStore } from '../store/redis-store.js';

/**
 * The reason to refuse a signed job, if any: it runs only for a run recorded in Redis (its header authentic), not
 * finished, whose workflow has the task with that tool (its own, or a fallback of its or the defaults'
 * `on_failure`).
 */
export const admitFromRecords =
  (store: RedisRunStore) =>
  async (r: AttemptRequest): Promise<string | undefined> => {
    const header = await store.trustedHeader(r.runId);
    if (!header) return `run "${r.runId}" has no authentic record in Redis`;
    if (!(await store.isOpen(r.runId))) return `run "${r.runId}" has finished`;
    const task = header.workflow.tasks.find((t) => t.id === r.taskId);
    if (!task) return `run "${r.runId}" has no task "${r.taskId}"`;
    // Stryker disable next-line ArrayDeclaration: a string in the policy names no fallback
    const policy = [...(task.on_failure ?? []), ...(header.workflow.defaults?.on_failure ?? [])];
    const fallbacks = policy.filter((s) => typeof s === 'object' && 'fallback' in s).map((s) => s.fallback);
    const tools = [task.tool, ...fallbacks];
    if (!tools.includes(r.tool)) return `task "${r.taskId}" of run "${r.runId}" does not use tool "${r.tool}"`;
    return undefined;
  };
