/**
 * The approvals inbox (issue 36.4): every task waiting for a human decision, across runs, with what the decision is
 * on (the task's effective input and its hash), since when it waits, what a decision may carry (an edit, a required
 * comment), and the command that decides it. `braid approvals` and `GET /approvals` list it.
 */
import type { RunStore } from '../store/types.js';
import { foldRun } from '../store/fold.js';
import type { TaskSpec } from '../spec/schema.js';

/** One task waiting for a decision. @beta */
export interface PendingApproval {
  readonly runId: string;
  readonly workflow: string;
  readonly taskId: string;
  readonly visit: number;
  /** When it started waiting (its `task.waiting` event). */
  readonly since?: string;
  /** The effective input the decision is on (cut past 64 KiB: `inputBytes` then set), and its hash. */
  readonly input?: unknown;
  readonly inputHash?: string;
  readonly inputBytes?: number;
  /** Why it waits: `approval: true`, or the `approval.when` expression that was truthy. */
  readonly why: string;
  /** A decision may carry an edited input (`approval: { edit: true }`). */
  readonly edit: boolean;
  /** A decision must carry a comment (`approval: { comment: true }`). */
  readonly comment: boolean;
  /** The command that approves it (add `--reject` to reject it). */
  readonly command: string;
}

/**
 * The tasks waiting for a decision in `runIds` (by default the store's newest `scan` runs), oldest wait first. A
 * record the store does not trust (a forged Redis header) is left out: it can never be approved.
 */
export async function pendingApprovals(
  store: RunStore,
  options: { readonly runIds?: readonly string[]; readonly scan?: number } = {},
): Promise<PendingApproval[]> {
  const ids = options.runIds ?? (await store.list()).slice(0, options.scan ?? 100);
  const out: PendingApproval[] = [];
  for (const runId of ids) {
    const record = await store.read(runId).catch(() => undefined);
    if (!record?.header || record.untrusted) continue;
    const run = foldRun(record);
    if (run.status !== 'waiting') continue;
    const specs = new Map<string, TaskSpec>(record.header.workflow.tasks.map((t) => [t.id, t]));
    for (const [taskId, t] of Object.entries(run.tasks)) {
      if (t.status !== 'waiting') continue;
      const approval = specs.get(taskId)?.approval;
      const options = typeof approval === 'object' ? approval : {};
      const waited = record.events.findLast((e) => e.type === 'task.waiting' && e.taskId === taskId);
      out.push({
        runId,
        workflow: run.workflow,
        taskId,
        visit: t.visits,
        ...(waited ? { since: waited.ts } : {}),
        ...(t.inputHash === undefined
          ? {}
          : {
              input: t.input,
              inputHash: t.inputHash,
              ...(t.inputBytes === undefined ? {} : { inputBytes: t.inputBytes }),
            }),
        why: options.when ? `approval.when was true: ${options.when}` : 'approval: true',
        edit: options.edit === true,
        comment: options.comment === true,
        command: `braid approve ${runId} ${taskId}${options.comment ? ' --comment "..."' : ''}`,
      });
    }
  }
  return out.sort((a, b) => (a.since ?? '').localeCompare(b.since ?? ''));
}
