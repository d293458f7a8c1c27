/**
 * One base error with a stable `code`, flat subclasses that carry data.
 * Validation problems are plain data (`Issue`), formatted separately.
 */
import { fileURLToPath } from 'node:url';
import { describeThrown } from './core/thrown.js';

/** The kind of a validation `Issue`. @public */
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
  /** A run input that nothing can take (a warning; an error when `inputs` forbids other keys). */
  | 'unknown_input'
  | 'exclusive_join'
  | 'unbounded_loop'
  | 'unknown_output_field'
  | 'ambiguous_input';

/** One validation problem. `path` reads like `tasks[2].condition.depends_on`. @public */
export interface Issue {
  readonly code: IssueCode;
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
  /** Warnings do not stop a run; `braid validate --strict` treats them as errors. @default 'error' */
  readonly severity?: 'error' | 'warning';
}

/**
 * Every code a `BraidError` may carry, in one list. For each: whether an attempt that fails with it is
 * retried unless the error says otherwise (`retryable`), the HTTP answer when a request to the server
 * caused it (`http`: status, and the code the client sees when it differs; none: a bug, answered 500
 * `E_INTERNAL` with the details in the server log), and whether it means the user's input or set-up is
 * wrong (`invalid`: the CLI prints the message alone and exits 2).
 * @public
 */
export const ERROR_CODES = {
  // ---- what the user gave: the workflow, the input, the command line, the set-up
  /** The workflow file (or object) breaks the contract; `WorkflowValidationError.issues` says where. */
  E_SPEC: { retryable: false, invalid: true },
  /** A `--tools` module (or a workflow module) cannot be loaded. */
  E_TOOLS_MODULE: { retryable: false, invalid: true },
  /** The run input does not match the workflow's `inputs` (`InputValidationError.issues`). */
  E_INPUT: { retryable: false, invalid: true, http: { status: 400 } },
  /** An argument that cannot be right: `--input` without `=`, a malformed run id. */
  E_BAD_ARGUMENT: { retryable: false, invalid: true, http: { status: 400 } },
  /**
   * A setting or file braid needs is missing or wrong: an environment variable, a prompt file, an MCP servers file, a
   * store.
   */
  E_CONFIG: { retryable: false, invalid: true },
  /** No recorded run with that id. */
  E_RUN_NOT_FOUND: { retryable: false, invalid: true, http: { status: 404, code: 'E_NOT_FOUND' } },
  /** A workflow, run or task that does not exist (server and approvals). */
  E_NOT_FOUND: { retryable: false, invalid: true, http: { status: 404 } },
  /** The run is not in a state that allows the request: already finished, not waiting, already approved. */
  E_RUN_STATE: { retryable: false, invalid: true, http: { status: 409, code: 'E_CONFLICT' } },
  /** A run record that cannot be continued (no header line). */
  E_RECORD: { retryable: false, invalid: true, http: { status: 409, code: 'E_CONFLICT' } },
  /**
   * A job, result or run record in Redis whose MAC does not check out under this process's secret: written by
   * something without the secret (or a process configured with another `BRAID_SECRET`). Never run or continued.
   */
  E_UNTRUSTED: { retryable: false, invalid: true, http: { status: 409, code: 'E_CONFLICT' } },
  /** Another process is continuing the run (its record's lock is held). */
  E_LOCKED: { retryable: false, invalid: true, http: { status: 409 } },
  /** The run store cannot be written (disk full, read-only, an event that cannot be serialized). */
  E_STORE: { retryable: false, invalid: true, http: { status: 500 } },
  // ---- a request the HTTP server refuses before braid runs anything
  /** The request body is not JSON. */
  E_BAD_JSON: { retryable: false, invalid: true, http: { status: 400 } },
  /** The request body, or a query parameter, does not have the expected shape (`path` says which field). */
  E_BAD_REQUEST: { retryable: false, invalid: true, http: { status: 400 } },
  /** A missing or wrong bearer token (`Authorization: Bearer $BRAID_TOKEN`). */
  E_UNAUTHORIZED: { retryable: false, invalid: true, http: { status: 401 } },
  /** A `Host` the server does not serve without a token, or a cross-origin `Origin`. */
  E_FORBIDDEN: { retryable: false, invalid: true, http: { status: 403 } },
  /** The request conflicts with how the server runs: an approval or a resume on a server without a run store. */
  E_CONFLICT: { retryable: false, invalid: true, http: { status: 409 } },
  /** The request body is larger than the server takes (`maxBodyBytes`, 1 MiB by default). */
  E_TOO_LARGE: { retryable: false, invalid: true, http: { status: 413 } },
  /** A POST whose body is not `Content-Type: application/json`. */
  E_UNSUPPORTED_MEDIA_TYPE: { retryable: false, invalid: true, http: { status: 415 } },
  // ---- a task's attempt
  /** A tool's input does not match its schema (not retried: the same input fails again). */
  E_TOOL_INPUT: { retryable: false },
  /** A tool's output does not match its output schema. */
  E_TOOL_OUTPUT: { retryable: false },
  /** A tool failed; retried unless it threw `NonRetriableError`. */
  E_TOOL: { retryable: true },
  /** An attempt ran past `timeout_ms`. */
  E_TIMEOUT: { retryable: true },
  /** The run was cancelled (Ctrl-C, `signal`, the server). */
  E_CANCELLED: { retryable: false },
  /** A condition or template expression failed or ran past its budget. */
  E_EXPRESSION: { retryable: false },
  /** No label could be decided for a task whose downstream tasks branch on labels. */
  E_LABEL: { retryable: false },
  /** `for_each` did not give a list, or one of its items failed. */
  E_FOR_EACH: { retryable: false },
  /** A human rejected the task (`braid approve --reject`), in records from before a rejection skipped it. */
  E_REJECTED: { retryable: false },
  /** A `braid worker` could not run the attempt: it died too often mid-attempt, or does not have the tool. */
  E_WORKER: { retryable: true },
  // ---- the run
  /** A routing loop entered a task more than `max_visits` times. */
  E_MAX_VISITS: { retryable: false },
  /** A budget (tokens, cost, tasks, time) was crossed. */
  E_BUDGET: { retryable: false },
  /** The `plan` tool could not produce a valid sub-workflow. */
  E_PLAN: { retryable: false },
  // ---- models
  /** A model request failed (network, HTTP error, an answer of the wrong shape). */
  E_LLM: { retryable: true },
  /** A model endpoint answered with something that is not a chat completion (an HTML page, another API). */
  E_LLM_RESPONSE: { retryable: false },
  /** A model endpoint kept rate limiting, or asked to wait longer than braid waits. */
  E_RATE_LIMIT: { retryable: true },
  /**
   * A model call under `max_cost_usd` whose model has no price (prices.json, `BRAID_PRICES`): its worst case cannot be
   * priced, so it is not sent (the budget fails closed).
   */
  E_PRICE_UNKNOWN: { retryable: false },
  // ---- braid itself
  /** A bug in braid (the scheduler found a task it can never decide); please report it. */
  E_INTERNAL: { retryable: false },
} as const satisfies Record<
  string,
  {
    readonly retryable: boolean;
    readonly invalid?: true;
    readonly http?: { readonly status: number; readonly code?: string };
  }
>;

/** A code of `ERROR_CODES`. @public */
export type ErrorCode = keyof typeof ERROR_CODES;

type CodeInfo = {
  readonly retryable: boolean;
  readonly invalid?: true;
  readonly http?: { readonly status: number; readonly code?: string };
};
const info = (code: string): CodeInfo | undefined =>
  Object.hasOwn(ERROR_CODES, code) ? (ERROR_CODES as Record<string, CodeInfo>)[code] : undefined;

/**
 * True when `code` is one of {@link ERROR_CODES} (a recorded code may be a tool's own, or another version's).
 * @public
 */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && info(code) !== undefined;
}

/**
 * The `code` of an error as recorded (in events, results, attempt results): one of {@link ERROR_CODES} when braid
 * raised the error. An error a tool threw keeps the string `code` it carried (`ENOENT`), and a record written by
 * another version of braid may hold a code this one does not know: narrow it with {@link isErrorCode}.
 * @public
 */
export type RecordedErrorCode = ErrorCode | (string & {});

/** The HTTP status for an error a request caused, from its code; undefined when the error is a bug (500). @public */
export function httpStatusOf(code: string): number | undefined {
  return info(code)?.http?.status;
}

/** The code a client of the HTTP API sees for `code` (`E_RUN_STATE` reads `E_CONFLICT`). @public */
export function httpCodeOf(code: string): string {
  return info(code)?.http?.code ?? code;
}

/** Whether an attempt that failed with this code may be tried again (its `retryable` in the table). @public */
export function isRetryable(code: string): boolean {
  return info(code)?.retryable ?? true;
}

/** True when the code says the user's input or set-up is wrong (not a failure of a run or a bug). @public */
export function isInvalidUse(code: string): boolean {
  return info(code)?.invalid === true;
}

/**
 * The CLI's exit code for an error with this code: 2 when the code is `invalid` (the user's input or set-up is
 * wrong), else 1 (a failed run, a bug).
 * @public
 */
export function exitCodeOf(code: string): 1 | 2 {
  return isInvalidUse(code) ? 2 : 1;
}

const MARK = Symbol.for('braid.error');

/** The base of braid's errors: a stable `code` from `ERROR_CODES`, and whether it may be retried. @public */
export class BraidError extends Error {
  readonly [MARK] = true;
  readonly code: ErrorCode;
  readonly taskId?: string;
  /** When false, the engine does not retry the attempt. @default the code's `retryable` in {@link ERROR_CODES} */
  readonly retryable: boolean;
  /**
   * What in a request the error is about: a field of its body (`taskId`), a route parameter (`runId`), a query
   * parameter (`limit`). The HTTP API answers it as the error's `path`.
   */
  readonly path?: string;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; taskId?: string; retryable?: boolean; path?: string } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.taskId = opts.taskId;
    this.retryable = opts.retryable ?? info(code)?.retryable ?? true;
    this.path = opts.path;
  }

  static is(value: unknown): value is BraidError {
    if (typeof value !== 'object' || value === null) return false;
    try {
      return (value as Record<symbol, unknown>)[MARK] === true;
    } catch {
      return false; // a Proxy whose get trap throws: a thrown value, not braid's
    }
  }
}

/** A workflow file (or object) that does not satisfy the contract. @public */
export class WorkflowValidationError extends BraidError {
  constructor(
    readonly file: string | undefined,
    readonly issues: readonly Issue[],
  ) {
    super('E_SPEC', formatIssues(issues, file));
  }
}

/** Throw from a tool to fail the attempt without further retries. @public */
export class NonRetriableError extends BraidError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('E_TOOL', message, { ...opts, retryable: false });
  }
}

/** A tool was given an input its schema refuses. @public */
export class ToolInputError extends BraidError {
  constructor(
    readonly toolName: string,
    readonly issues: readonly Issue[],
    taskId?: string,
  ) {
    super(
      'E_TOOL_INPUT',
      `invalid input for tool "${toolName}": ${issues.map((i) => `${i.path || 'input'}: ${i.message}`).join('; ')}`,
      { taskId },
    );
  }
}

/** A task ran past its `timeout_ms` (`E_TIMEOUT`). @public */
export class TaskTimeoutError extends BraidError {
  constructor(
    readonly timeoutMs: number,
    taskId?: string,
  ) {
    super('E_TIMEOUT', `attempt timed out after ${timeoutMs} ms (timeout_ms)`, { taskId });
  }
}

/** The run was cancelled (`E_CANCELLED`). @public */
export class CancelledError extends BraidError {
  constructor(taskId?: string) {
    super('E_CANCELLED', 'run was cancelled', { taskId });
  }
}

/** One line per issue: `file: path: message (hint)`. @public */
export function formatIssue(issue: Issue, file?: string): string {
  const where = [file, issue.path].filter(Boolean).join(': ');
  const hint = issue.hint ? ` (${issue.hint})` : '';
  return `${where ? `${where}: ` : ''}${issue.message}${hint}`;
}

/** The issues, one a line, each as `formatIssue` writes it. @public */
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
 * @public
 */
export function userFrames(err: Error | string): string | undefined {
  // frames with a file location only (not `at async Promise.all (index 0)`)
  const frames = ((typeof err === 'string' ? err : err.stack) ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l) && /:\d+:\d+\)?$/.test(l));
  const origin = frames.find((l) => !/^\s+at new /.test(l) || !own(l));
  if (!origin || own(origin)) return undefined;
  const user = frames.filter((l) => !own(l) && !l.includes('node:') && !l.includes('/node_modules/'));
  return user.length
    ? user
        .slice(0, 10)
        .map((l) => l.trim())
        .join('\n')
    : undefined;
}

/**
 * An error that is data already (an executor's `AttemptError`, an error record): not an Error, a string `message`,
 * `retryable` set.
 */
function isErrorData(err: unknown): err is { message: string; code?: string; stack?: string } {
  try {
    return (
      typeof err === 'object' &&
      err !== null &&
      !(err instanceof Error) &&
      typeof (err as { message?: unknown }).message === 'string' &&
      typeof (err as { retryable?: unknown }).retryable === 'boolean'
    );
  } catch {
    return false; // a getter or a Proxy trap that throws
  }
}

/**
 * A plain `{ message, code?, stack? }` record for results and events; `stack` only has frames in tool code. Never
 * throws, whatever was thrown (see core/thrown.ts). A `BraidError`'s record has its code, one of `ERROR_CODES`; any
 * other value keeps the string `code` it carried.
 * @public
 */
export function toErrorRecord(err: BraidError): { message: string; code: ErrorCode; stack?: string };
/**
 * The record of any thrown value: its message as `describeThrown` gives it, the string `code` it carried (a
 * `BraidError`'s is one of `ERROR_CODES`), and its stack's frames in tool code. Never throws.
 * @public
 */
export function toErrorRecord(err: unknown): { message: string; code?: RecordedErrorCode; stack?: string };
export function toErrorRecord(err: unknown): { message: string; code?: RecordedErrorCode; stack?: string } {
  if (isErrorData(err)) {
    const { message, code } = describeThrown(err);
    let stack: unknown;
    try {
      stack = err.stack;
    } catch {
      // a getter that throws: no stack
    }
    return { message, ...(code !== undefined ? { code } : {}), ...(typeof stack === 'string' ? { stack } : {}) };
  }
  const { message, code: own, stack } = describeThrown(err);
  const code = BraidError.is(err) ? err.code : own;
  const frames = stack === undefined ? undefined : userFrames(stack);
  return { message, ...(code !== undefined ? { code } : {}), ...(frames ? { stack: frames } : {}) };
}

/** A workflow names a tool no registry has. @public */
export class NoSuchToolError extends BraidError {
  constructor(
    readonly toolName: string,
    readonly available: readonly string[],
  ) {
    super('E_SPEC', `unknown tool "${toolName}"; available: ${available.join(', ') || '(none)'}`);
  }
}

/** A `--tools` module (or a workflow module) that cannot be loaded. @public */
export class ToolsModuleError extends BraidError {
  constructor(
    readonly file: string,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super('E_TOOLS_MODULE', `${file}: ${message}`, opts);
  }
}

/** Run input that does not match the workflow's `inputs` schema. @public */
export class InputValidationError extends BraidError {
  /** @param what - what the input is, in the message (an approval's edit names its task; default `run input`) */
  constructor(
    readonly issues: readonly Issue[],
    what = 'run input',
  ) {
    super('E_INPUT', `invalid ${what}:\n${formatIssues(issues)}`);
  }
}
