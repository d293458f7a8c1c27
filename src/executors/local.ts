/**
 * The in-process executor: one queue (p-queue) for the run's `concurrency`, one per tool that declares
 * `concurrency` or a rate limit. An attempt validates its input, calls the tool under the deadline and the
 * run's signal, and validates the output; every failure becomes data (see contract.ts).
 */
import PQueue from 'p-queue';
import { isoNow } from '../core/clock.js';
import { BraidError, toErrorRecord } from '../errors.js';
import type { Tool, ToolLimits } from '../toolkit/types.js';
import { callWithSignal, type CancelSet } from './call-with-signal.js';
import type { AttemptExecutor, AttemptHost, AttemptRequest, AttemptResult } from './contract.js';
import { validateToolInput, validateToolOutput } from './tool-call.js';

/** Options of `LocalExecutor`. @beta */
export interface LocalExecutorOptions {
  /** Most tasks running at once. @default Infinity */
  readonly concurrency?: number;
  /** Limits per tool name; they override the tool's own `concurrency`/`rateLimit`. */
  readonly toolLimits?: Readonly<Record<string, ToolLimits>>;
}

/** The default executor: runs attempts in this process, within the run's and each tool's limits. @beta */
export class LocalExecutor implements AttemptExecutor {
  /** `null` when the run is unlimited: a queue that never holds anything back is pure overhead. */
  readonly #run: PQueue | null;
  readonly #perTool = new Map<string, PQueue | null>();
  readonly #limits: Readonly<Record<string, ToolLimits>>;
  /** Rejecters of the attempts in flight, per run: `cancel(runId)` fails them all at once. */
  readonly #inflight = new Map<string, CancelSet>();

  constructor(options: LocalExecutorOptions = {}) {
    const concurrency = options.concurrency ?? Infinity;
    this.#run = concurrency === Infinity ? null : new PQueue({ concurrency });
    this.#limits = options.toolLimits ?? {};
  }

  execute(request: AttemptRequest, host: AttemptHost): Promise<AttemptResult> {
    const tool = host.tool(request.tool);
    const toolQueue = this.#toolQueue(tool);
    if (!toolQueue && !this.#run) return this.#attempt(tool, request, host); // no slot to wait for
    const fn = () => this.#attempt(tool, request, host);
    const inRunSlot = this.#run ? () => this.#run!.add(fn) as Promise<AttemptResult> : fn;
    // Take the tool's slot first: waiting for it never holds a run slot that unrelated tasks could use.
    return toolQueue ? (toolQueue.add(inRunSlot) as Promise<AttemptResult>) : inRunSlot();
  }

  cancel(runId: string, reason: Error): void {
    const inflight = this.#inflight.get(runId);
    if (inflight) for (const cancel of [...inflight]) cancel(reason);
  }

  /** One attempt, inside its slots (one async function: a no-op attempt is a handful of promises). */
  async #attempt(tool: Tool, request: AttemptRequest, host: AttemptHost): Promise<AttemptResult> {
    if (host.signal.aborted || !host.started()) return { status: 'cancelled' };
    let inflight = this.#inflight.get(request.runId);
    if (!inflight) this.#inflight.set(request.runId, (inflight = new Set()));
    const t0 = performance.now();
    let result: AttemptResult;
    try {
      const input = validateToolInput(tool, request.input, request.taskId);
      const raw = await callWithSignal(
        (signal) => tool.run(input, host.context(signal)),
        host.signal,
        inflight,
        request.timeoutMs,
        request.taskId,
      );
      result = {
        status: 'succeeded',
        output: validateToolOutput(tool, raw, request.taskId),
        durationMs: 0,
        endedAt: '',
      };
    } catch (err) {
      result = {
        status: 'failed',
        error: { ...toErrorRecord(err), retryable: !BraidError.is(err) || err.retryable },
        durationMs: 0,
        endedAt: '',
      };
    } finally {
      if (inflight.size === 0) this.#inflight.delete(request.runId);
    }
    const ended = result as { durationMs: number; endedAt: string };
    ended.endedAt = isoNow();
    ended.durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    return result;
  }

  #toolQueue(tool: Tool): PQueue | null {
    let q = this.#perTool.get(tool.name);
    if (q !== undefined) return q;
    const limits = { ...pick(tool), ...this.#limits[tool.name] };
    q = null;
    if (limits.concurrency !== undefined || limits.rateLimit !== undefined) {
      q = new PQueue({
        concurrency: limits.concurrency ?? Infinity,
        ...(limits.rateLimit ? { intervalCap: limits.rateLimit.intervalCap, interval: limits.rateLimit.interval } : {}),
      });
    }
    this.#perTool.set(tool.name, q);
    return q;
  }
}

function pick(tool: ToolLimits): ToolLimits {
  const out: { concurrency?: number; rateLimit?: ToolLimits['rateLimit'] } = {};
  if (tool.concurrency !== undefined) out.concurrency = tool.concurrency;
  if (tool.rateLimit !== undefined) out.rateLimit = tool.rateLimit;
  return out;
}
