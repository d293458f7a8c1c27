/**
 * What a tool gets as `ctx`: ids, the abort signal, a logger and progress that become events, and the run's
 * model. A class, so creating one per attempt is a plain allocation (an object literal with getters is not).
 */
import type { EventBus } from '../events/bus.js';
import type { CallAdmission, LlmCallInfo, LlmProvider } from '../llm/types.js';
import { track } from '../llm/llm.js';
import type { ChildRuns, Logger, ToolContext, ToolProgress } from '../toolkit/types.js';

export class TaskContext implements ToolContext {
  readonly #bus: EventBus;
  readonly #model?: LlmProvider;
  readonly #report: () => (info: LlmCallInfo) => void;
  readonly #admit: () => CallAdmission;
  readonly #children: () => ChildRuns | undefined;
  readonly #key: () => string;
  #childRuns?: ChildRuns;

  constructor(
    readonly signal: AbortSignal,
    readonly runId: string,
    readonly taskId: string,
    readonly attempt: number,
    readonly visit: number,
    /** `ctx.idempotencyKey`, made on first use (a hash most tools never need). */
    key: () => string,
    readonly services: Readonly<Record<string, unknown>>,
    bus: EventBus,
    model: LlmProvider | undefined,
    /**
     * Builds the reporter that turns this task's model calls into `llm.call` events (only when a tool asks for `llm`).
     */
    report: () => (info: LlmCallInfo) => void,
    /** The task's admission of model calls: their `maxTokens`, and the run's budget holding their worst case. */
    admit: () => CallAdmission,
    /** Builds `ctx.children` (only when a tool asks for it, like the reporter). */
    children: () => ChildRuns | undefined,
  ) {
    this.#bus = bus;
    this.#model = model;
    this.#report = report;
    this.#admit = admit;
    this.#children = children;
    this.#key = key;
  }

  get idempotencyKey(): string {
    return this.#key();
  }

  get logger(): Logger {
    return createTaskLogger(this.#bus, this.taskId);
  }

  /** An arrow property, so `const { emit } = ctx` works. */
  readonly emit = (progress: ToolProgress): void => emitTaskProgress(this.#bus, this.taskId, progress);

  get llm(): LlmProvider | undefined {
    return this.#model && track(this.#model, this.#report(), this.#admit());
  }

  /** One per attempt, made on first use: its child runs share one numbering. */
  get children(): ChildRuns | undefined {
    return (this.#childRuns ??= this.#children());
  }
}

/** The logger a tool gets in `ctx.logger`: lines become `task.log` events, which log sinks subscribe to. */
export function createTaskLogger(bus: EventBus, taskId?: string): Logger {
  const log = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) =>
    emitTaskLog(bus, taskId, level, message, fields);
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A tool's log line as the run's `task.log` event (from `ctx.logger`, here or in a worker). */
export function emitTaskLog(
  bus: EventBus,
  taskId: string | undefined,
  level: LogLevel,
  message: string,
  fields?: Record<string, unknown>,
): void {
  bus.emit({ type: 'task.log', level, message, ...(taskId ? { taskId } : {}), ...(fields ? { fields } : {}) });
}

/** A tool's progress as the run's `task.progress` event (from `ctx.emit`, here or in a worker). */
export function emitTaskProgress(bus: EventBus, taskId: string, progress: ToolProgress): void {
  bus.emit({ type: 'task.progress', taskId, ...progress });
}
