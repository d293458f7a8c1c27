/** `runWorkflow`: load, validate, compile, schedule; returns the run result of workflow-spec.md §8. */
import { BraidError, InputValidationError, toErrorRecord, WorkflowValidationError } from '../errors.js';
import { checkInputs } from '../spec/input-check.js';
import type { RunEvent, RunEventBody } from '../core/events.js';
import { foldRun, replayOf, type RecordedRun, type Replay } from '../store/fold.js';
import { checkRunId } from '../core/run-id.js';
import { RECORD_VERSION, type RunHeader, type RunLog, type RunRecord, type RunStore } from '../store/types.js';
import { defaultStore } from '../store/default-store.js';
import { assertMcpAllowed, mcpServersOf, type McpServers } from '../toolkit/mcp/config.js';
import type { Tool } from '../toolkit/types.js';

/** An open source of tools (an `McpPool`): the run uses its tools and leaves it open. */
export interface McpToolSource {
  tools(): Promise<Tool[]>;
}
import { EventBus, type EventListener } from '../events/bus.js';
import { formatPath } from '../spec/path.js';
import { inputSchema } from '../spec/pattern.js';
import { loadWorkflow, readWorkflowFile, validateRead } from '../spec/load.js';
import type { Workflow } from '../spec/workflow.js';
import type { Budget } from '../spec/schema.js';
import { defaultTools } from '../toolkit/defaults.js';
import { toRegistry, type ToolRegistry, type ToolsOption } from '../toolkit/registry.js';
import type { ToolLimits } from '../toolkit/types.js';
import type { RetryOptions } from '../core/backoff.js';
import type { AttemptExecutor } from '../executors/contract.js';
import { LocalExecutor } from '../executors/local.js';
import type { Classifier } from './labels.js';
import { createClassifier } from '../llm/classifier.js';
import { createProvider } from '../llm/llm.js';
import type { LlmProvider } from '../llm/types.js';
import { planFor } from './plan.js';
import type { RunResult } from '../core/result.js';
import { Scheduler } from './scheduler.js';
import type { CallBudget } from './budget.js';
import { describeThrown } from '../core/thrown.js';
import { optional } from '../core/optional.js';
import { diffJson, type JsonPatchOp } from '../core/json-patch.js';

/** Options of `runWorkflow`. @public */
export interface RunOptions {
  /** Your tools; they shadow built-ins of the same name. */
  readonly tools?: ToolsOption;
  /**
   * Include the default tools: braid's built-ins (registered by every entry point: `braid`, the CLI, the service,
   * `braid/testing`). @default true
   */
  readonly builtins?: boolean;
  /** Run input, checked against the workflow's `inputs` JSON Schema when it has one. */
  readonly input?: Record<string, unknown>;
  /** Most tasks running at once. @default Infinity */
  readonly concurrency?: number;
  /** Per-tool limits by tool name (override the tools' own). */
  readonly toolLimits?: Readonly<Record<string, ToolLimits>>;
  /** Abort to cancel the run: running tools get the signal, nothing new starts. */
  readonly signal?: AbortSignal;
  /** Called for every event, in order. */
  readonly onEvent?: EventListener | readonly EventListener[];
  /**
   * The model for LLM tools and the classifier. @default createProvider(): OpenAI-compatible when OPENAI_API_KEY is
   * set, else offline
   */
  readonly llm?: LlmProvider;
  /** Decides labels the output does not carry. `null` for none. @default the LLM classifier on `llm` */
  readonly classifier?: Classifier | null;
  /**
   * Where tasks run. @default a LocalExecutor with `concurrency` and `toolLimits`
   * @beta
   */
  readonly executor?: AttemptExecutor;
  readonly retry?: RetryOptions;
  /** Made available to tools as `ctx.services`. */
  readonly services?: Readonly<Record<string, unknown>>;
  /** @default a new sortable id */
  readonly runId?: string;
  /**
   * Record the run here (append-only event log) so it can be inspected (`braid show`) and resumed; `false`
   * for no record. @default the JSONL store in `$BRAID_HOME/runs` (`.braid/runs` in the current folder)
   */
  readonly store?: RunStore | false;
  /**
   * MCP servers whose tools (`<server>.<tool>`) the run may use, besides the workflow's `mcp_servers`: a
   * config in the `mcpServers` shape (started for this run, closed after), or an open pool you keep.
   */
  readonly mcp?: McpServers | McpToolSource;
  /** Run limits; each field overrides the workflow's own `budget`. */
  readonly budget?: Budget;
  /** Noted in the record so `braid resume` can load the same workflow file and tools modules. @beta */
  readonly recordSource?: RunHeader['source'];
  /** The trigger that started this run, recorded in its header (workflow-spec.md §10). @beta */
  readonly trigger?: RunHeader['trigger'];
}

/**
 * Sortable and unique enough: the second and its milliseconds, then 24 random bits. Math.random, not crypto: an id is
 * not a secret, and `randomBytes` costs ~0.3 ms on a cold start, a third of a run's start-up. (The store opens a
 * record with `wx`, so a clash could never overwrite another run.)
 */
export function newRunId(): string {
  // 20261129T071628-123-1d0219: the second, its milliseconds (so runs of one second still sort in the order
  // they started, and `braid runs` lists the newest first), then 24 random bits
  const iso = new Date().toISOString();
  const stamp = iso.replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${stamp}-${iso.slice(20, 23)}-${Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, '0')}`;
}

/** Run input limits, checked before a run starts (exit 2 / HTTP 400): a record must hold its input whole. @public */
export const INPUT_LIMITS = { maxDepth: 64, maxBytes: 1024 * 1024 } as const;

/**
 * Throws `InputValidationError` when the input nests deeper than {@link INPUT_LIMITS} or is larger as JSON.
 * @public
 */
export function checkInputLimits(input: unknown): void {
  const fail = (message: string) => {
    throw new InputValidationError([
      {
        code: 'invalid_value',
        path: 'input',
        message,
        hint: `run input is limited to ${INPUT_LIMITS.maxDepth} levels and ${INPUT_LIMITS.maxBytes} bytes of JSON`,
      },
    ]);
  };
  // Iterative, so a hostile input cannot overflow the stack here; a cycle is infinitely deep.
  const stack: [unknown, number][] = [[input, 1]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > INPUT_LIMITS.maxDepth) fail(`nested deeper than ${INPUT_LIMITS.maxDepth} levels`);
    for (const v of Array.isArray(value) ? value : Object.values(value))
      if (v !== null && typeof v === 'object') stack.push([v, depth + 1]);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (err) {
    fail(`not serializable as JSON (${describeThrown(err).message})`);
  }
  // bytes, not UTF-16 units: '€' is one unit and three bytes of the record's UTF-8
  const bytes = text === undefined ? 0 : Buffer.byteLength(text);
  if (bytes > INPUT_LIMITS.maxBytes) fail(`${bytes} bytes of JSON, more than ${INPUT_LIMITS.maxBytes}`);
}

/** Check run input against `inputs` (JSON Schema) and apply its defaults. */
export function resolveInput(workflow: Workflow, input: Record<string, unknown> = {}): Record<string, unknown> {
  checkInputLimits(input);
  if (!workflow.inputs) return input;
  let parsed;
  try {
    parsed = inputSchema(workflow.inputs).safeParse(input); // patterns in linear time (spec/pattern.ts)
  } catch (err) {
    // A schema `validate` would have refused (e.g. a $ref loop): the caller's answer, not a crash.
    throw new InputValidationError([
      {
        code: 'invalid_value',
        path: 'inputs',
        message: `the workflow's inputs schema cannot check an input (${describeThrown(err).message})`,
        hint: 'run braid validate on the workflow',
      },
    ]);
  }
  if (parsed.success) return parsed.data as Record<string, unknown>;
  throw new InputValidationError(
    parsed.error.issues.map((i) => ({
      code: 'invalid_value' as const,
      path: formatPath(['input', ...i.path.filter((p): p is string | number => typeof p !== 'symbol')]),
      message: i.message,
      hint: 'pass it with --input key=value or --input-file',
    })),
  );
}

/** Run a workflow (a file, a `workflow()` or a spec object) to the end; recorded unless `store: false`. @public */
export async function runWorkflow(source: string | Workflow | unknown, options: RunOptions = {}): Promise<RunResult> {
  const { workflow, registry, close } = await prepare(source, options);
  try {
    const input = resolveInput(workflow, options.input);
    assertInputs(workflow, registry, input);
    const runId = options.runId === undefined ? newRunId() : checkRunId(options.runId);
    const header: RunHeader = {
      type: 'run.record',
      version: RECORD_VERSION,
      runId,
      createdAt: new Date().toISOString(),
      workflow,
      input,
      pid: process.pid,
      ...(options.recordSource ? { source: options.recordSource } : {}),
      ...(options.trigger ? { trigger: options.trigger } : {}),
    };
    const store = options.store === false ? undefined : (options.store ?? defaultStore());
    const log = await store?.create(header);
    // Child runs (a plan's workflow) are recorded in the same store.
    return await execute(workflow, registry, input, runId, { ...options, store: store ?? false }, log);
  } finally {
    await close();
  }
}

/** A human decision on a task waiting for approval (`approval`, workflow-spec.md §2). @public */
export interface Approval {
  readonly taskId: string;
  readonly approved: boolean;
  readonly by?: string;
  /** Required when the task says `approval: { comment: true }`. */
  readonly comment?: string;
  /** The visit decided on; a decision on any other than the one waiting is refused. @default the one waiting */
  readonly visit?: number;
  /** The `inputHash` of the input the decision was made on: refused when the task waits on another input. */
  readonly inputHash?: string;
  /**
   * An approval's edited input, run instead of the task's (`approval: { edit: true }`): checked against the tool's
   * input schema (a bad one is refused with the fields, nothing recorded) and recorded as a JSON Patch.
   */
  readonly edit?: unknown;
}

/** Options of `resumeRun` and `approveTask`: the store holding the record, and the run options. @public */
export interface ResumeOptions extends Omit<RunOptions, 'input' | 'runId' | 'store' | 'recordSource'> {
  readonly store: RunStore;
  /**
   * Record this decision first, under the same lock as the continuation (`braid approve`, `POST /runs/:id/approve`).
   */
  readonly approve?: Approval;
  /**
   * The MCP servers a recorded workflow may start (workflow-spec.md §9): each of its `mcp_servers` must be one of
   * these with the same settings, else the run is not continued (`E_CONFIG` naming the server). A record is data:
   * it never decides which programs this process starts. @default the servers of `mcp` when it is a config
   */
  readonly allowMcp?: McpServers;
}

/** A run whose lock is held, checked and ready to continue. @beta */
export interface PendingResume {
  readonly runId: string;
  /** The workflow's name. */
  readonly workflow: string;
  /** Continue the run (appending to its record); resolves to the result rebuilt from the whole record. */
  start(extra?: Pick<RunOptions, 'onEvent' | 'signal'>): Promise<RunResult>;
  /** Give up without continuing: releases the lock. */
  release(): void;
}

/**
 * Take the run's lock and check it can continue, without starting it: `E_LOCKED` at once (naming the
 * process) when another process continues it, `E_RECORD` when the record has no header, `E_RUN_STATE` when the decision
 * does not apply. The lock is held until the continued run ends (or `release`).
 * @beta
 */
export async function prepareResume(runId: string, options: ResumeOptions): Promise<PendingResume> {
  const { store, approve } = options;
  const lock = await store.lock(runId);
  try {
    const record = await store.read(runId);
    const header = headerOf(runId, record);
    // The lock is ours: whoever wrote the record last has stopped (a run without run.finished was interrupted).
    const before = foldRun(record);
    // Checked before anything starts (a refusal records nothing); an edit is checked once the tools are known.
    const waiting = approve && checkDecision(runId, record.events, before, header.workflow, approve);
    const name = before.workflow || header.workflow.name;
    if (before.status === 'succeeded' && !approve) {
      return {
        runId,
        workflow: name,
        start: async () => (lock.release(), toResult(before)),
        release: () => lock.release(),
      };
    }
    const allowed = options.allowMcp ?? (isToolSource(options.mcp) ? undefined : options.mcp);
    assertMcpAllowed(mcpServersOf(header.workflow), allowed, `run "${runId}"`);
    const { workflow, registry, close } = await prepare(header.workflow, options);
    let decision: RunEventBody | undefined;
    try {
      decision = waiting && approvalEvent(runId, header.workflow, approve, waiting, registry);
    } catch (err) {
      await close();
      throw err;
    }
    return {
      runId,
      workflow: workflow.name,
      release: () => (lock.release(), void close()),
      start: async (extra = {}) => {
        try {
          const log = await store.reopen(runId, lock);
          let events = record.events;
          let lastSeq = before.lastSeq;
          if (decision) {
            const bus = new EventBus(runId, [(e) => log.append(e)], lastSeq);
            events = [...events, bus.emit(decision)];
            lastSeq++;
          }
          const added: RunEvent[] = [];
          const collect = (e: RunEvent) => void added.push(e);
          const listeners = [collect, ...listenersOf(options.onEvent), ...listenersOf(extra.onEvent)];
          await execute(
            workflow,
            registry,
            header.input,
            runId,
            { ...options, signal: extra.signal ?? options.signal, onEvent: listeners },
            log,
            { replay: replayOf(events), fromSeq: lastSeq },
          );
          return toResult(foldRun({ ...record, events: [...events, ...added] }));
        } finally {
          await close();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * Continue a recorded run (after a crash, `kill -9`, a failure or an approval): recorded successes are reused,
 * not re-run; tasks that were running, failed or never started run now. Appends to the same record and
 * returns the result rebuilt from the whole record. A run that already succeeded is returned as it is.
 * One writer per run: while another process continues it, this fails at once with `E_LOCKED`.
 * @public
 */
export async function resumeRun(runId: string, options: ResumeOptions): Promise<RunResult> {
  return (await prepareResume(runId, options)).start();
}

/**
 * The header of a record that may be continued: `E_UNTRUSTED` when the store could not authenticate it (nothing a
 * forged record names is loaded, started or run), `E_RECORD` when it has none.
 */
function headerOf(runId: string, record: RunRecord): RunHeader {
  if (record.untrusted) throw new BraidError('E_UNTRUSTED', record.untrusted);
  if (!record.header)
    throw new BraidError('E_RECORD', `run "${runId}" has no header line: ${record.problems.join('; ')}`);
  const { version } = record.header;
  if (typeof version === 'number' && version > RECORD_VERSION)
    throw new BraidError(
      'E_RECORD',
      `run "${runId}" was recorded by a newer braid (record version ${version}; this one reads up to ${RECORD_VERSION}): continue it with that version`,
    );
  return record.header;
}

type WaitingEvent = Extract<RunEvent, { type: 'task.waiting' }>;

/**
 * Check a decision applies (workflow-spec.md §2): the task has `approval`, waits on the visit named (default: the one
 * waiting) not yet decided, on the input named by `inputHash` (when given), with a comment when the task requires
 * one and an edit only where the task allows one. Returns the `task.waiting` event of the visit decided on.
 */
function checkDecision(
  runId: string,
  events: readonly RunEvent[],
  run: RecordedRun,
  workflow: Workflow,
  decision: Approval,
): WaitingEvent {
  const { taskId } = decision;
  const task = Object.hasOwn(run.tasks, taskId) ? run.tasks[taskId] : undefined;
  if (!task) throw new BraidError('E_NOT_FOUND', `run "${runId}" has no task "${taskId}"`);
  const waiting = Object.entries(run.tasks)
    .filter(([, t]) => t.status === 'waiting')
    .map(([id]) => id);
  const others = waiting.length ? ` (waiting: ${waiting.join(', ')})` : '';
  const spec = workflow.tasks.find((t) => t.id === taskId);
  if (spec && !spec.approval)
    throw new BraidError(
      'E_RUN_STATE',
      `task "${taskId}" of run "${runId}" has no approval: it never waits for a decision${others}`,
    );
  if (task.status !== 'waiting') {
    throw new BraidError(
      'E_RUN_STATE',
      `task "${taskId}" of run "${runId}" is ${task.status}, not waiting for approval${others}`,
    );
  }
  const visit = decision.visit ?? task.visits;
  if (visit !== task.visits)
    throw new BraidError(
      'E_RUN_STATE',
      visit > task.visits
        ? `visit ${visit} of task "${taskId}" of run "${runId}" has not been reached: it waits on visit ${task.visits}`
        : `visit ${visit} of task "${taskId}" of run "${runId}" is over: it waits on visit ${task.visits} now; look at it again (braid show ${runId}) and decide on that one`,
    );
  const given = [...events]
    .reverse()
    .find(
      (e): e is Extract<RunEvent, { type: 'task.approval' }> =>
        e.type === 'task.approval' && e.taskId === taskId && e.visit === task.visits,
    );
  if (given) {
    throw new BraidError(
      'E_RUN_STATE',
      `task "${taskId}" of run "${runId}" was already ${given.approved ? 'approved' : 'rejected'}${given.by ? ` by ${given.by}` : ''}; continue it with: braid resume ${runId}`,
    );
  }
  const waitingEvent = [...events]
    .reverse()
    .find((e): e is WaitingEvent => e.type === 'task.waiting' && e.taskId === taskId && e.visit === task.visits);
  if (decision.inputHash !== undefined && decision.inputHash !== waitingEvent?.inputHash)
    throw new BraidError(
      'E_RUN_STATE',
      `task "${taskId}" of run "${runId}" waits on another input than the one decided on (inputHash ${waitingEvent?.inputHash ?? 'not recorded'}, not ${decision.inputHash}): look at it again (braid show ${runId}) and decide on what it waits with`,
    );
  const rules = spec && typeof spec.approval === 'object' ? spec.approval : {};
  if (rules.comment && !decision.comment?.trim())
    throw new BraidError(
      'E_BAD_ARGUMENT',
      `task "${taskId}" requires a comment with its decision (approval: { comment: true }): give one with --comment`,
      { path: 'comment' },
    );
  if (decision.edit !== undefined) {
    if (!decision.approved)
      throw new BraidError('E_BAD_ARGUMENT', 'an edited input goes with an approval, not a rejection', {
        path: 'edit',
      });
    if (!rules.edit)
      throw new BraidError(
        'E_BAD_ARGUMENT',
        `task "${taskId}" does not take an edited input: its approval does not say edit: true`,
        { path: 'edit' },
      );
    if (waitingEvent?.inputHash === undefined || waitingEvent.inputBytes !== undefined)
      throw new BraidError(
        'E_RUN_STATE',
        `the input task "${taskId}" waits with is not recorded whole (${waitingEvent?.inputBytes ? `${waitingEvent.inputBytes} bytes, over 64 KiB` : 'an older record'}): it cannot be edited; approve it as it is, or reject it`,
        { path: 'edit' },
      );
  }
  return waitingEvent ?? { type: 'task.waiting', taskId, visit: task.visits, seq: 0, ts: '', runId };
}

/**
 * The `task.approval` event of a checked decision: its edit checked against the tool's input schema (refused with
 * the fields) and kept as a JSON Patch against the waiting input.
 */
function approvalEvent(
  runId: string,
  workflow: Workflow,
  decision: Approval,
  waiting: WaitingEvent,
  tools: ToolRegistry,
): RunEventBody {
  const { taskId } = decision;
  let patch: JsonPatchOp[] | undefined;
  if (decision.edit !== undefined) {
    const toolName = workflow.tasks.find((t) => t.id === taskId)?.tool ?? '';
    if (!tools.has(toolName))
      throw new BraidError(
        'E_CONFIG',
        `the edit of task "${taskId}" cannot be checked: its tool "${toolName}" is not known here (give its module with --tools)`,
      );
    const parsed = tools.get(toolName).input?.safeParse(decision.edit);
    if (parsed && !parsed.success)
      throw new InputValidationError(
        parsed.error.issues.map((i) => ({
          code: 'invalid_value' as const,
          path: formatPath(['edit', ...i.path.filter((p): p is string | number => typeof p !== 'symbol')]),
          message: i.message,
        })),
        `edited input of task "${taskId}" (tool "${toolName}")`,
      );
    patch = diffJson(waiting.input, decision.edit);
  }
  return {
    type: 'task.approval',
    taskId,
    visit: waiting.visit,
    approved: decision.approved,
    ...(decision.by ? { by: decision.by } : {}),
    ...(decision.comment ? { comment: decision.comment } : {}),
    ...(waiting.inputHash !== undefined ? { inputHash: waiting.inputHash } : {}),
    ...(patch ? { patch } : {}),
  };
}

/**
 * Record a human decision on a task waiting for approval (`approval: true`), under the run's lock; a second
 * decision on the same visit is refused. Continue the run afterwards with `resumeRun` (or pass `approve` to
 * `resumeRun` to do both under one lock).
 * @public
 */
export async function approveTask(
  store: RunStore,
  runId: string,
  taskId: string,
  decision: Omit<Approval, 'taskId'>,
  options: Pick<RunOptions, 'tools'> = {},
): Promise<void> {
  const lock = await store.lock(runId);
  try {
    const record = await store.read(runId);
    const { workflow } = headerOf(runId, record);
    const run = foldRun(record);
    const approval = { taskId, ...decision };
    const waiting = checkDecision(runId, record.events, run, workflow, approval);
    const event = approvalEvent(runId, workflow, approval, waiting, toRegistry(options.tools, defaultTools()));
    const log = await store.reopen(runId, lock);
    new EventBus(runId, [(e) => log.append(e)], run.lastSeq).emit(event);
    await log.close();
  } finally {
    lock.release();
  }
}

/**
 * Cancel a recorded run that is not running in any process (waiting for an approval, or interrupted): its
 * unfinished tasks are skipped (`cancelled`) and the run ends `cancelled`, under its lock. A finished run is
 * refused (`E_RUN_STATE`); one another process continues fails with `E_LOCKED`.
 * @public
 */
export async function cancelRecordedRun(store: RunStore, runId: string): Promise<RunResult> {
  const lock = await store.lock(runId);
  try {
    const record = await store.read(runId);
    headerOf(runId, record);
    const run = foldRun(record);
    if (run.status !== 'waiting' && run.status !== 'interrupted' && run.status !== 'running') {
      throw new BraidError('E_RUN_STATE', `run "${runId}" already finished (${run.status})`);
    }
    const log = await store.reopen(runId, lock);
    const added: RunEvent[] = [];
    const bus = new EventBus(runId, [(e) => log.append(e), (e) => void added.push(e)], run.lastSeq);
    for (const [taskId, t] of Object.entries(run.tasks)) {
      if (t.status === 'waiting' || t.status === 'pending' || t.status === 'running')
        bus.emit({ type: 'task.skipped', taskId, reason: 'cancelled' });
    }
    bus.emit({
      type: 'run.finished',
      status: 'cancelled',
      durationMs: Math.max(0, Date.now() - Date.parse(run.startedAt)) || 0,
    });
    await log.close();
    if (log.failure) throw log.failure;
    return toResult(foldRun({ ...record, events: [...record.events, ...added] }));
  } finally {
    lock.release();
  }
}

/** Refuse a run before it starts when a task's input has a bad literal or a required field with no source (§5a). */
function assertInputs(workflow: Workflow, registry: ToolRegistry, input: Record<string, unknown>): void {
  const issues = checkInputs(workflow, registry, Object.keys(input)).filter((i) => i.severity !== 'warning');
  if (!issues.length) return;
  if (issues.every((i) => i.code === 'missing_input')) throw new InputValidationError(issues);
  throw new WorkflowValidationError(undefined, issues);
}

type Prepared = { workflow: Workflow; registry: ToolRegistry; close: () => Promise<void> };

async function prepare(source: unknown, options: Pick<RunOptions, 'tools' | 'builtins' | 'mcp'>): Promise<Prepared> {
  const base = options.builtins === false ? [] : defaultTools();
  // A file is read once: its raw value names the MCP servers, its validation needs their tools.
  const read = typeof source === 'string' ? await readWorkflowFile(source) : undefined;
  const mcp = await mcpToolsFor(read ? (read.ok ? read.value : undefined) : source, options.mcp);
  const initial = toRegistry(
    mcp.tools.length ? [...toRegistry(options.tools).list(), ...mcp.tools] : options.tools,
    base,
  );
  try {
    const toolNames = initial.names();
    const loaded = read
      ? validateRead(source as string, read, { toolNames })
      : await loadWorkflow(source, { toolNames });
    const registry = loaded.tools.length ? toRegistry([...initial.list(), ...loaded.tools]) : initial;
    return { workflow: loaded.workflow, registry, close: mcp.close };
  } catch (err) {
    await mcp.close();
    throw err;
  }
}

const isToolSource = (mcp: RunOptions['mcp']): mcp is McpToolSource =>
  typeof (mcp as McpToolSource | undefined)?.tools === 'function';

const NO_MCP = { tools: [] as Tool[], close: async () => {} };

/**
 * The tools of the MCP servers a run may use: the workflow's `mcp_servers` and `options.mcp` (a config, or
 * a pool the caller owns and keeps open). A pool made here is closed when the run ends. The MCP SDK is
 * loaded only when some server is configured.
 */
async function mcpToolsFor(
  raw: unknown,
  given: RunOptions['mcp'],
): Promise<{ tools: Tool[]; close: () => Promise<void> }> {
  if (isToolSource(given)) return { tools: await (given as McpToolSource).tools(), close: async () => {} };
  const servers = { ...(given as McpServers | undefined), ...mcpServersOf(raw) };
  if (Object.keys(servers).length === 0) return NO_MCP;
  const { McpPool } = await optional('mcpClient', () => import('../toolkit/mcp/client-tools.js'));
  const pool = new McpPool(servers);
  try {
    return { tools: await pool.tools(), close: () => pool.close() };
  } catch (err) {
    await pool.close();
    throw err;
  }
}

/** A child run's parent's budget, from the parent's scheduler to the child's (not an option callers set). */
const PARENT_BUDGET = Symbol('braid.parentBudget');
type WithParentBudget = RunOptions & { readonly [PARENT_BUDGET]?: CallBudget };

const listenersOf = (l: RunOptions['onEvent']): EventListener[] =>
  l === undefined ? [] : typeof l === 'function' ? [l] : [...l];

async function execute(
  workflow: Workflow,
  registry: ToolRegistry,
  input: Record<string, unknown>,
  runId: string,
  options: RunOptions,
  log: RunLog | undefined,
  resume?: { replay: Replay; fromSeq: number },
): Promise<RunResult> {
  // Tools with slow set-up (calculate's worker process) start it now, beside the first tasks.
  for (const name of new Set(workflow.tasks.map((t) => t.tool))) if (registry.has(name)) registry.get(name).warm?.();
  // The record first: a listener that throws cannot cost an event its place in the log.
  const bus = new EventBus(
    runId,
    [...(log ? [(e: RunEvent) => log.append(e)] : []), ...listenersOf(options.onEvent)],
    resume?.fromSeq,
  );
  const llm = options.llm ?? createProvider();
  const scheduler = new Scheduler({
    runId,
    plan: planFor(workflow, registry),
    input,
    bus,
    executor:
      options.executor ?? new LocalExecutor({ concurrency: options.concurrency, toolLimits: options.toolLimits }),
    classifier: options.classifier === null ? undefined : (options.classifier ?? createClassifier(llm)),
    llm,
    signal: options.signal,
    retry: options.retry,
    services: options.services,
    replay: resume?.replay,
    budget: { ...workflow.budget, ...definedOnly(options.budget) },
    parentBudget: (options as WithParentBudget)[PARENT_BUDGET],
    children: {
      tools: registry.list(),
      // A child gets its own executor: sharing the parent's slots could deadlock (the parent task holds one).
      run: async (child, input, parent) => {
        let childRunId = parent.childRunId;
        for (let n = 2; options.store && (await recorded(options.store, childRunId)); n++)
          childRunId = `${parent.childRunId}-r${n}`;
        parent.announce(childRunId);
        const childOptions: WithParentBudget = {
          ...options,
          tools: registry,
          builtins: false,
          input,
          runId: childRunId,
          signal: parent.signal,
          onEvent: parent.onEvent,
          executor: undefined,
          llm,
          budget: undefined,
          recordSource: undefined,
          [PARENT_BUDGET]: parent.budget,
        };
        return runWorkflow(child, childOptions);
      },
    },
  });
  // The record cannot take more events (disk full, read-only, an unserializable event, the lock lost):
  // running tasks are cancelled and the run fails with E_STORE naming the file; what was written stays readable.
  if (log) log.onFailure = (err) => scheduler.fail(toErrorRecord(err));
  try {
    return await scheduler.run();
  } finally {
    // Written at once (a reader sees the whole record now); its last fsync completes in the background.
    // A failure is already the run's error.
    log
      ?.close()
      .catch((err: Error) => log.failure === err || process.emitWarning(`braid: run record ${runId}: ${err.message}`));
  }
}

/** Whether the store already has a record for this id (e.g. a child run from before a resume). */
const recorded = (store: RunStore, runId: string) =>
  store.read(runId).then(
    () => true,
    () => false,
  );

const definedOnly = <T extends object>(o: T | undefined): Partial<T> =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;

function toResult(run: RecordedRun): RunResult {
  const { lastSeq: _, status, endedAt, ...rest } = run;
  return {
    ...rest,
    status: status === 'running' || status === 'interrupted' ? 'failed' : status,
    endedAt: endedAt ?? rest.startedAt,
  };
}
