/**
 * Where a task runs. The scheduler decides *what* may run; an executor runs it within limits.
 * `LocalExecutor` runs in this process on p-queue: one queue for the run's `concurrency`, one per
 * tool that declares `concurrency` or a rate limit. A distributed executor implements the same type.
 */
import PQueue from 'p-queue';
import type { Tool, ToolLimits } from '../tools/types.js';

export interface Executor {
  /** Run `fn` as a call of `tool`, once the run and the tool have a free slot. */
  run<T>(tool: Tool, fn: () => Promise<T>): Promise<T>;
}

export interface LocalExecutorOptions {
  /** Most tasks running at once. @default Infinity */
  readonly concurrency?: number;
  /** Limits per tool name; they override the tool's own `concurrency`/`rateLimit`. */
  readonly toolLimits?: Readonly<Record<string, ToolLimits>>;
}

export class LocalExecutor implements Executor {
  /** `null` when the run is unlimited: a queue that never holds anything back is pure overhead. */
  readonly #run: PQueue | null;
  readonly #perTool = new Map<string, PQueue | null>();
  readonly #limits: Readonly<Record<string, ToolLimits>>;

  constructor(options: LocalExecutorOptions = {}) {
    const concurrency = options.concurrency ?? Infinity;
    this.#run = concurrency === Infinity ? null : new PQueue({ concurrency });
    this.#limits = options.toolLimits ?? {};
  }

  run<T>(tool: Tool, fn: () => Promise<T>): Promise<T> {
    const toolQueue = this.#toolQueue(tool);
    const inRunSlot = this.#run ? () => this.#run!.add(fn) as Promise<T> : fn;
    // Take the tool's slot first: waiting for it never holds a run slot that unrelated tasks could use.
    return toolQueue ? (toolQueue.add(inRunSlot) as Promise<T>) : inRunSlot();
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
