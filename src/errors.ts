/**
 * One base error with a stable `code`, flat subclasses that carry data.
 * Validation problems are plain data (`Issue`), formatted separately.
 */
import { fileURLToPath } from 'node:url';

export type IssueCode =
  | 'parse_error'
  | 'invalid_type'
  | 'invalid_value'
  | 'unknown_field'
  | 'missing_field'
  | 'duplicate_id'
  | 'unknown_task'
  | 'unknown_tool'
  | 'cycle'
  | 'invalid_expression'
  | 'invalid_template'
  | 'non_upstream_reference'
  /** A required tool input field that nothing gives (workflow-spec.md §5a). */
  | 'missing_input'
  // warnings (static analysis: the workflow is valid but part of it can never run as written)
  | 'unreachable_label'
  | 'exclusive_join'
  | 'unbounded_loop'
  | 'unknown_output_field'
  | 'ambiguous_input';

/** One validation problem. `path` reads like `tasks[2].condition.depends_on`. */
export interface Issue {
  readonly code: IssueCode;
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
  /** Warnings do not stop a run; `braid validate --strict` treats them as errors. @default 'error' */
  readonly severity?: 'error' | 'warning';
}

export type ErrorCode =
  | 'E_SPEC'
  | 'E_TOOLS_MODULE'
  | 'E_USAGE'
  | 'E_TOOL_INPUT'
  | 'E_TOOL_OUTPUT'
  | 'E_TOOL'
  | 'E_TIMEOUT'
  | 'E_CANCELLED'
  | 'E_EXPRESSION'
  | 'E_LABEL'
  | 'E_MAX_VISITS'
  | 'E_LLM'
  /** A model endpoint answered with something that is not a chat completion (an HTML page, another API). */
  | 'E_LLM_RESPONSE'
  /** A model endpoint kept rate limiting, or asked to wait longer than braid waits. */
  | 'E_RATE_LIMIT'
  | 'E_NOT_FOUND'
  | 'E_REJECTED'
  | 'E_BUDGET'
  | 'E_FOR_EACH'
  | 'E_PLAN'
  /** The run store cannot be written (disk full, read-only, an event that cannot be serialized). */
  | 'E_STORE'
  /** Another process is continuing the run (its record's lock is held). */
  | 'E_LOCKED';

const MARK = Symbol.for('braid.error');

export class BraidError extends Error {
  readonly [MARK] = true;
  readonly code: ErrorCode;
  readonly taskId?: string;
  /** When false, the engine does not retry the attempt. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; taskId?: string; retryable?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.taskId = opts.taskId;
    this.retryable = opts.retryable ?? true;
  }

  static is(value: unknown): value is BraidError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
  }
}

/** A workflow file (or object) that does not satisfy the contract. */
export class WorkflowValidationError extends BraidError {
  constructor(readonly file: string | undefined, readonly issues: readonly Issue[]) {
    super('E_SPEC', formatIssues(issues, file), { retryable: false });
  }
}

/** Throw from a tool to fail the attempt without further retries. */
export class NonRetriableError extends BraidError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('E_TOOL', message, { ...opts, retryable: false });
  }
}

export class ToolInputError extends BraidError {
  constructor(readonly toolName: string, readonly issues: readonly Issue[], taskId?: string) {
    super('E_TOOL_INPUT', `invalid input for tool "${toolName}": ${issues.map((i) => `${i.path || 'input'}: ${i.message}`).join('; ')}`, {
      taskId,
      retryable: false,
    });
  }
}

export class TaskTimeoutError extends BraidError {
  constructor(readonly timeoutMs: number, taskId?: string) {
    super('E_TIMEOUT', `attempt timed out after ${timeoutMs} ms (timeout_ms)`, { taskId });
  }
}

export class CancelledError extends BraidError {
  constructor(taskId?: string) {
    super('E_CANCELLED', 'run was cancelled', { taskId, retryable: false });
  }
}

/** One line per issue: `file: path: message (hint)`. */
export function formatIssue(issue: Issue, file?: string): string {
  const where = [file, issue.path].filter(Boolean).join(': ');
  const hint = issue.hint ? ` (${issue.hint})` : '';
  return `${where ? `${where}: ` : ''}${issue.message}${hint}`;
}

export function formatIssues(issues: readonly Issue[], file?: string): string {
  return issues.map((i) => formatIssue(i, file)).join('\n');
}

/** braid's own source folder (src/ or dist/src/): its frames say nothing about where a tool failed. */
const OWN_DIR = fileURLToPath(new URL('.', import.meta.url));
const OWN_URL = new URL('.', import.meta.url).href;

const own = (frame: string) => frame.includes(OWN_DIR) || frame.includes(OWN_URL);

/**
 * The frames of an error's stack that are in tool code (not braid's, not Node's, not a dependency's), at
 * most 10; undefined for an error braid itself created (its first frame after the constructors is braid's).
 */
export function userFrames(err: Error): string | undefined {
  // frames with a file location only (not `at async Promise.all (index 0)`)
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l) && /:\d+:\d+\)?$/.test(l));
  const origin = frames.find((l) => !/^\s+at new /.test(l) || !own(l));
  if (!origin || own(origin)) return undefined;
  const user = frames.filter((l) => !own(l) && !l.includes('node:') && !l.includes('/node_modules/'));
  return user.length ? user.slice(0, 10).map((l) => l.trim()).join('\n') : undefined;
}

/** A plain `{ message, code?, stack? }` record for results and events; `stack` only has frames in tool code. */
export function toErrorRecord(err: unknown): { message: string; code?: string; stack?: string } {
  if (!(err instanceof Error) && !BraidError.is(err)) return { message: String(err) };
  const e = err as Error;
  const own = (e as { code?: unknown }).code;
  const code = BraidError.is(err) ? err.code : typeof own === 'string' ? own : undefined;
  const stack = userFrames(e);
  return { message: e.message, ...(code !== undefined ? { code } : {}), ...(stack ? { stack } : {}) };
}

export class NoSuchToolError extends BraidError {
  constructor(readonly toolName: string, readonly available: readonly string[]) {
    super('E_SPEC', `unknown tool "${toolName}"; available: ${available.join(', ') || '(none)'}`, { retryable: false });
  }
}

/** A `--tools` module (or a workflow module) that cannot be loaded. */
export class ToolsModuleError extends BraidError {
  constructor(readonly file: string, message: string, opts: { cause?: unknown } = {}) {
    super('E_TOOLS_MODULE', `${file}: ${message}`, { ...opts, retryable: false });
  }
}

/** Run input that does not match the workflow's `inputs` schema. */
export class InputValidationError extends BraidError {
  constructor(readonly issues: readonly Issue[]) {
    super('E_USAGE', `invalid run input:\n${formatIssues(issues)}`, { retryable: false });
  }
}
