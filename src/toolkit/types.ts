import type { LlmProvider } from '../llm/types.js';
import type { RunResult } from '../core/result.js';
import type { SchemaLike } from '../core/schema.js';

export type { SchemaLike } from '../core/schema.js';

/** The tool contract: a plain object with a name, zod schemas and `run(input, ctx)`. @public */

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ToolProgress {
  readonly message?: string;
  /** 0..1 when known. */
  readonly progress?: number;
  readonly data?: unknown;
}

/** What a tool's `run` gets besides its input. @public */
export interface ToolContext {
  /** Aborted on timeout (`timeout_ms`) or run cancellation. */
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly taskId: string;
  /** 1 for the first attempt of a visit. */
  readonly attempt: number;
  /** 1 for the first entry into the task; routing loops increase it. */
  readonly visit: number;
  /**
   * The same for every attempt that gives this task visit (and `for_each` item) the same input: across retries,
   * resumes, takeovers and forks (workflow-spec.md §7a). A tool with external effects does a thing once per key.
   */
  readonly idempotencyKey: string;
  readonly logger: Logger;
  /** Report progress; becomes a `task.progress` event. */
  emit(progress: ToolProgress): void;
  /** Services the run was given, keyed by name. */
  readonly services: Readonly<Record<string, unknown>>;
  /** The run's model (OpenAI-compatible or offline); its calls count toward this task's usage. */
  readonly llm?: LlmProvider;
  /** Start child runs (the `plan` tool runs the workflow it generates this way). @beta */
  readonly children?: ChildRuns;
}

/** Child runs of a task: same tools and model, the task's abort signal, their own record and run id. @beta */
export interface ChildRuns {
  /** The tools a child workflow may use (the run's registry). */
  readonly tools: readonly Tool[];
  /** Run a workflow as a child of this task; a `task.child` event links it to the parent run. */
  run(workflow: unknown, input?: Record<string, unknown>): Promise<RunResult>;
}

export interface ToolLimits {
  /** Most calls of this tool running at once, across the run. */
  readonly concurrency?: number;
  /** At most `intervalCap` calls start per `interval` ms (p-queue rate limit). */
  readonly rateLimit?: { readonly intervalCap: number; readonly interval: number };
}

/** A finished upstream as a tool's upstream mapping sees it (only upstreams that succeeded). */
export interface UpstreamOutput {
  readonly taskId: string;
  readonly output: unknown;
  readonly label?: string;
  /** The classifier's reason for the label (the judge's feedback). */
  readonly labelReason?: string;
}

/** An input value and where it came from, e.g. `tasks.task_1.output.idea` (shown by `braid explain`). */
export interface Sourced {
  readonly value: unknown;
  readonly from: string;
}

/**
 * How a tool takes its upstreams' outputs when a task's `input` does not say (workflow-spec.md §5a).
 * Without one, upstream output fields are merged by name into the tool's input fields.
 */
export interface UpstreamMapping {
  /** One sentence for `braid tools` and the docs. */
  readonly description: string;
  /**
   * Input fields this mapping can fill, given the fields each upstream's output declares (`undefined`: the
   * upstream's tool declares no output schema, anything may come). `braid validate` asks it.
   */
  provides(upstreams: readonly (ReadonlySet<string> | undefined)[]): readonly string[];
  /** Input fields from the upstreams that succeeded, in dependency order. */
  take(upstreams: readonly UpstreamOutput[]): Readonly<Record<string, Sourced>>;
}

/** A tool: a name, input and output schemas, and `run`. @public */
export interface Tool<I = any, O = any> extends ToolLimits {
  readonly name: string;
  readonly description?: string;
  readonly input?: SchemaLike<I>;
  readonly output?: SchemaLike<O>;
  /** How it takes upstream outputs when the task's `input` does not name them. @default fields merged by name */
  readonly upstream?: UpstreamMapping;
  run(input: I, ctx: ToolContext): O | Promise<O>;
  /**
   * Run in the run's own process even when attempts go to `braid worker` processes: the tool needs what only
   * that process has (`ctx.children`, as the `plan` tool does). @default false
   */
  readonly runsInProcess?: boolean;
  /** Called when a run that uses the tool starts: start slow set-up (e.g. a worker process) early. */
  warm?(): void;
  /**
   * What calling it does to the world (workflow-spec.md §7a; toolkit/effects.ts), or a function of its input.
   * @default treated as `external`
   * @beta
   */
  readonly effects?: Effects | ((input: I) => Effects);
  /** Its version, for the record and cache keys; without one, a hash of its `run` source (toolkit/version.ts). */
  readonly version?: string;
}

/** What calling a tool does to the world: `none`, `idempotent` (twice is once), `external`. @beta */
export type Effects = 'none' | 'idempotent' | 'external';

export function isTool(value: unknown): value is Tool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Tool).name === 'string' &&
    typeof (value as Tool).run === 'function'
  );
}
