/**
 * Coordinator failover: runs recorded in a shared store (Redis) whose writer died are continued by another
 * process. The writer of a run holds a lease on it, renewed while it lives; a run that has not finished and
 * whose lease expired is taken over: its lock taken (one process wins), then resumed from its record as
 * `braid resume` would (recorded successes are reused, not re-run; attempts sent again keep their job ids,
 * so one a worker still runs is awaited, not started twice). `braid worker --coordinate` and
 * `braid serve --redis` run this loop.
 */
import { prepareResume, type ResumeOptions } from '../engine/run.js';
import { BraidError } from '../errors.js';
import type { RunResult } from '../core/result.js';
import type { RunStore } from '../store/types.js';

/** A store that knows which runs are open and whether a live writer holds each (RedisRunStore). @beta */
export interface LeasedRunStore extends RunStore {
  openRuns(): Promise<{ readonly runId: string; readonly held: boolean }[]>;
}

/** Options of `takeOverRuns`. @beta */
export interface TakeoverOptions extends Omit<ResumeOptions, 'store' | 'approve'> {
  readonly store: LeasedRunStore;
  /** How often to look for orphaned runs. @default 2000 */
  readonly intervalMs?: number;
  /** A run was taken over and is being continued here. */
  readonly onTakeover?: (runId: string) => void;
  readonly onFinished?: (runId: string, result: RunResult) => void;
  /** A run that could not be taken over or continued (it is not tried again by this process). */
  readonly onError?: (runId: string, err: Error) => void;
}

/** The loop `takeOverRuns` started. @beta */
export interface Takeover {
  /** Runs this process continues now. */
  readonly running: ReadonlyMap<string, Promise<RunResult | undefined>>;
  /** Look once now (the loop also looks every `intervalMs`). */
  scan(): Promise<void>;
  /** Stop looking; the runs continued here go on (await `running` to wait for them). */
  stop(): void;
}

/** Continue runs whose coordinator's lease expired, checking every `intervalMs`. @beta */
export function takeOverRuns(options: TakeoverOptions): Takeover {
  const { store, intervalMs = 2000, onTakeover, onFinished, onError, ...resume } = options;
  const running = new Map<string, Promise<RunResult | undefined>>();
  const failed = new Set<string>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let scanning: Promise<void> | undefined;

  const takeOver = async (runId: string) => {
    let pending;
    try {
      pending = await prepareResume(runId, { ...resume, store });
    } catch (err) {
      if (BraidError.is(err) && err.code === 'E_LOCKED') return; // another process was quicker
      failed.add(runId);
      return onError?.(runId, err as Error);
    }
    onTakeover?.(runId);
    const continued = pending.start().then(
      (result) => (onFinished?.(runId, result), result),
      // A continued run reports its failures in its result; only an internal error rejects.
      // Stryker disable next-line ArrowFunction
      (err: Error) => (failed.add(runId), onError?.(runId, err), undefined),
    );
    running.set(runId, continued);
    void continued.finally(() => running.delete(runId));
  };

  const scan = () =>
    (scanning ??= (async () => {
      try {
        for (const { runId, held } of await store.openRuns())
          // `held` saves a lock attempt: a held run fails to lock (E_LOCKED) and is left alone all the same.
          // Stryker disable next-line ConditionalExpression,LogicalOperator
          if (!held && !running.has(runId) && !failed.has(runId) && !stopped) await takeOver(runId);
      } catch {
        // Redis unreachable: look again next time
      } finally {
        scanning = undefined;
      }
    })());

  const loop = () => {
    // Stryker disable next-line ConditionalExpression: a scan after stop takes nothing over
    if (stopped) return;
    timer = setTimeout(() => void scan().finally(loop), intervalMs);
    timer.unref();
  };
  loop();
  return {
    running,
    scan,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
