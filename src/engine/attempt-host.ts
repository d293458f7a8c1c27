/**
 * The host of one attempt (executors/contract.ts `AttemptHost`): its coordinates, the run's hooks it reaches the
 * driver through, and the child runs a tool may start (`ctx.children`). The driver (scheduler.ts) makes one per
 * attempt.
 */
import type { RunEvent, Usage } from '../core/events.js';
import type { RunResult } from '../core/result.js';
import { idempotencyKey, type recordedInput } from '../core/input-hash.js';
import type { EventBus } from '../events/bus.js';
import type { AttemptEvent, AttemptHost } from '../executors/contract.js';
import type { LlmCallInfo } from '../llm/types.js';
import type { ChildRuns, Tool, ToolContext } from '../toolkit/types.js';
import type { CallBudget } from './budget.js';
import type { PlanTask } from './plan.js';

/** Runs a workflow as a child of a task attempt; `childRunId` is decided by the scheduler. */
export interface ChildRunner {
  readonly tools: readonly Tool[];
  run(
    workflow: unknown,
    input: Record<string, unknown>,
    parent: {
      taskId: string;
      childRunId: string;
      signal: AbortSignal;
      onEvent: (e: RunEvent) => void;
      announce: (childRunId: string) => void;
      /** Holds the child's model calls against the parent's budget. */
      budget?: CallBudget;
    },
  ): Promise<RunResult>;
}

export interface HostHooks {
  signal(): AbortSignal;
  started(host: Host, worker: string | undefined, startedAt: string | undefined): boolean;
  context(host: Host, signal: AbortSignal): ToolContext;
  forward(host: Host, e: AttemptEvent): void;
}

/** The host of one attempt (see executors/contract.ts): its coordinates, and the run's hooks. */
export class Host implements AttemptHost {
  /** Set when the attempt got its slot and started. */
  startedAt = '';
  /** The tool's model calls recorded for this attempt (by this process, or before it took the run over). */
  llmCalls = 0;
  /** What those calls spent. */
  usage: Usage | undefined = undefined;

  constructor(
    readonly hooks: HostHooks,
    readonly t: PlanTask,
    /** The tool the attempt calls (a fallback step's, after an `on_failure` fallback). */
    readonly calls: Tool,
    readonly attempt: number,
    readonly visit: number,
    readonly item: number | undefined,
    /** The effective input as the record keeps it, with its hash (core/input-hash.ts). */
    readonly recorded: ReturnType<typeof recordedInput>,
    /** The run's lineage root (workflow-spec.md §7a): the run itself until forks exist. */
    readonly lineageRoot: string,
  ) {}

  #key?: string;

  /** `ctx.idempotencyKey`, made when first asked for (a hash: most tools never ask). */
  get idempotencyKey(): string {
    return (this.#key ??= idempotencyKey(this.lineageRoot, this.t.id, this.visit, this.item, this.recorded.inputHash));
  }

  tool(): Tool {
    return this.calls;
  }

  get signal(): AbortSignal {
    return this.hooks.signal();
  }

  started(worker?: string, startedAt?: string): boolean {
    return this.hooks.started(this, worker, startedAt);
  }

  context(signal: AbortSignal): ToolContext {
    return this.hooks.context(this, signal);
  }

  forward(e: AttemptEvent): void {
    this.hooks.forward(this, e);
  }
}

/** What `ctx.children` needs of the run. */
export interface ChildRunDeps {
  readonly runner?: ChildRunner;
  readonly bus: EventBus;
  readonly runId: string;
  /** Reports the child's model calls as the attempt's. */
  reporter(t: PlanTask, h: Host): (info: LlmCallInfo) => void;
  /** A task of the child was entered: it counts toward the parent's `max_tasks`. */
  childTask(): void;
  /** The parent's budget, which holds the child's model calls too. */
  readonly budget?: CallBudget;
}

/**
 * `ctx.children` for one attempt: child runs get ids `<runId>.<taskId>.<visit>.<attempt>[.<item>][-n]` (the runner
 * may add `-r2`...).
 */
export function childRuns(
  run: ChildRunDeps,
  t: PlanTask,
  h: Host,
  signal: AbortSignal,
  coordinates: string,
): ChildRuns | undefined {
  const { runner, bus, runId } = run;
  if (!runner) return undefined;
  let count = 0;
  return {
    tools: runner.tools,
    run: (workflow, input = {}) => {
      const childRunId = `${runId}.${t.id}.${coordinates}${count++ ? `-${count}` : ''}`;
      const report = run.reporter(t, h);
      const onEvent = (e: RunEvent) => {
        // The child's model calls are this task's: its usage, the run's, and this run's budget (which stops the
        // child).
        if (e.type === 'llm.call') {
          const { provider, model, purpose, latencyMs, usage, error, temperature, prompt, requestHash } = e;
          const { maxTokens, reserved } = e;
          report({
            provider,
            model,
            purpose,
            latencyMs,
            usage,
            ...(error ? { error } : {}),
            childRunId: e.childRunId ?? e.runId,
            ...(temperature === undefined ? {} : { temperature }),
            ...(prompt ? { prompt } : {}),
            ...(requestHash ? { requestHash } : {}),
            ...(maxTokens === undefined ? {} : { maxTokens }),
            ...(reserved ? { reserved } : {}),
          });
        } else if (e.type === 'task.ready') run.childTask();
        if (
          e.type === 'task.started' ||
          e.type === 'task.succeeded' ||
          e.type === 'task.failed' ||
          e.type === 'task.skipped'
        ) {
          bus.emit({
            type: 'task.progress',
            taskId: t.id,
            message: `child ${e.runId}: ${e.taskId} ${e.type.slice(5)}`,
            data: { childRunId: e.runId },
          });
        }
      };
      // The runner settles the id (a resumed run must not reuse an earlier child's record), then announces it.
      const announce = (id: string) => bus.emit({ type: 'task.child', taskId: t.id, childRunId: id, workflow });
      return runner.run(workflow, input, {
        taskId: t.id,
        childRunId,
        signal,
        onEvent,
        announce,
        ...(run.budget ? { budget: run.budget } : {}),
      });
    },
  };
}
