/** `braid run`, `braid resume`, `braid approve`: start or continue a run with live progress, a record and logs. */
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { approveTask, prepareResume, resolveInput, runWorkflow, type Approval } from '../engine/run.js';
import { BraidError, formatIssue, WorkflowValidationError } from '../errors.js';
import { createProvider } from '../llm/llm.js';
import { analyzeWorkflow } from '../spec/analyze.js';
import { checkInputs } from '../spec/input-check.js';
import { unusedInputs } from '../spec/unused-inputs.js';
import type { Workflow } from '../spec/workflow.js';
import type { RunResult } from '../core/result.js';
import type { EventListener } from '../events/bus.js';
import type { RunEvent } from '../core/events.js';
import { loadWorkflow, readWorkflowFile, validateRead } from '../spec/load.js';
import type { RunStore } from '../store/types.js';
import { builtinTools } from '../../tools/index.js';
import { loadToolsModule } from '../toolkit/load-module.js';
import { toRegistry, type ToolRegistry } from '../toolkit/registry.js';
import type { Tool } from '../toolkit/types.js';
import { EXIT } from './exit.js';
import { safeText, summaryTable } from './format.js';
import { readEditFile, readRunInput } from './input.js';
import { configuredServers, openMcp } from './mcp-option.js';
import { mcpServersOf } from '../toolkit/mcp/config.js';
import { createProgress } from './progress.js';

export interface RunFlags {
  input?: string[];
  inputFile?: string;
  tools?: string[];
  concurrency?: number;
  /** Model requests in flight (`--llm-concurrency`); else BRAID_LLM_CONCURRENCY, else 8. */
  llmConcurrency?: number;
  json?: boolean;
  events?: string;
  quiet?: boolean;
  /** A servers file in the `mcpServers` shape: their tools run as `<server>.<tool>`. */
  mcp?: string;
  /** Print where failed tasks' errors were thrown. */
  verbose?: boolean;
  /** `--no-store` sets it false. */
  store?: boolean;
  logFile?: string;
  budgetTokens?: number;
  budgetCost?: number;
  budgetMs?: number;
  budgetTasks?: number;
  /** A run that succeeds with every sink skipped exits 1. */
  failOnEmpty?: boolean;
}

/** The run's model; `--llm-concurrency` sets its limit on requests in flight. */
export const modelFor = (f: { llmConcurrency?: number }) =>
  createProvider(f.llmConcurrency ? { concurrency: f.llmConcurrency } : {});

const budgetOf = (f: RunFlags) => ({
  max_tokens: f.budgetTokens,
  max_cost_usd: f.budgetCost,
  max_duration_ms: f.budgetMs,
  max_tasks: f.budgetTasks,
});

import { cliExecutor, cliStore, recordName, redisUrl } from './store.js';
import { optional } from '../core/optional.js';

/** Print a record's unreadable lines as `braid: <file>: <problem>` on stderr. */
export const problemReporter = (store: RunStore, runId: string) => (problem: string) =>
  void process.stderr.write(`braid: ${recordName(store, runId)}: ${safeText(problem)}\n`);

export async function loadUserTools(files: readonly string[] = []): Promise<Tool[]> {
  const out: Tool[] = [];
  for (const f of files) out.push(...(await loadToolsModule(f)));
  return out;
}

export async function registryFor(toolFiles: readonly string[] | undefined) {
  return toRegistry(await loadUserTools(toolFiles), builtinTools());
}

export async function runCommand(file: string, flags: RunFlags): Promise<number> {
  const read = await readWorkflowFile(file);
  const mcp = await openMcp(flags.mcp, read.ok ? read.value : undefined);
  try {
    const registry = toRegistry([...(await loadUserTools(flags.tools)), ...mcp.tools], builtinTools());
    const loaded = validateRead(file, read, { toolNames: registry.names() });
    const input = await readRunInput(flags, loaded.workflow.inputs);
    preflight(file, loaded.workflow, toRegistry([...registry.list(), ...loaded.tools]), input, flags.quiet);
    const store = flags.store === false ? undefined : await cliStore();
    const executor = await cliExecutor(flags.concurrency);
    const source = {
      file: resolve(file),
      ...(flags.tools?.length ? { tools: flags.tools.map((t) => resolve(t)) } : {}),
      ...(flags.mcp ? { mcp: resolve(flags.mcp) } : {}),
    };
    return await withRunUi(
      loaded.workflow.tasks.map((t) => t.id),
      flags,
      store,
      (ui) =>
        // The file is read (and a TS module imported) once: run the workflow already loaded above.
        runWorkflow(loaded.workflow, {
          tools: [...registry.list(), ...loaded.tools],
          input,
          concurrency: flags.concurrency,
          llm: modelFor(flags),
          budget: budgetOf(flags),
          store: store ?? false,
          executor,
          recordSource: source,
          ...(mcp.source ? { mcp: mcp.source } : {}),
          ...ui,
        }),
    );
  } finally {
    await mcp.close();
  }
}

/**
 * Continue a recorded run with the tools it was started with (its workflow file and `--tools` modules).
 * Its lock is taken first: while another process continues the run this fails at once (`E_LOCKED`, exit 2).
 */
export async function resumeCommand(runId: string, flags: RunFlags, approve?: Approval): Promise<number> {
  const store = await cliStore();
  const { header, problems } = await store.read(runId);
  if (!header) throw new BraidError('E_RECORD', `run "${runId}" cannot be resumed: ${problems.join('; ')}`);
  problems.forEach(problemReporter(store, runId));
  const tools = await loadUserTools([...(header.source?.tools ?? []), ...(flags.tools ?? [])]);
  const file = header.source?.file;
  // A TS/JS workflow module may export its own tools: import it again for them (the definition comes from the record).
  if (file && /\.(m?[jt]s|[cm]ts)$/.test(file))
    tools.push(...(await loadWorkflow(file, { toolNames: [...toRegistry(tools, builtinTools()).names()] })).tools);
  const mcpFile = flags.mcp ?? header.source?.mcp;
  // The servers configured here (--mcp, the run's own file, else the project config) are the allow-list (§9).
  const mcp = await configuredServers(mcpFile);
  const pending = await prepareResume(runId, {
    // A record on this machine's disk is as trusted as the disk; one in Redis starts only the servers configured here.
    allowMcp: redisUrl() ? mcp : { ...mcpServersOf(header.workflow), ...mcp },
    store,
    tools,
    concurrency: flags.concurrency,
    executor: await cliExecutor(flags.concurrency),
    llm: modelFor(flags),
    budget: budgetOf(flags),
    approve,
    ...(mcp ? { mcp } : {}),
  });
  if (approve)
    process.stderr.write(`${approve.approved ? 'approved' : 'rejected'} ${approve.taskId} of run ${runId}\n`);
  try {
    return await withRunUi(
      header.workflow.tasks.map((t) => t.id),
      flags,
      store,
      (ui) => pending.start(ui),
    );
  } finally {
    pending.release();
  }
}

/** The flags of `braid approve`. */
export type ApproveFlags = RunFlags & {
  reject?: boolean;
  by?: string;
  comment?: string;
  edit?: string;
  visit?: number;
  inputHash?: string;
  resume?: boolean;
};

/** `braid approve`: the decision and the continuation under one lock, so two approvals cannot both go through. */
export async function approveCommand(runId: string, taskId: string, flags: ApproveFlags): Promise<number> {
  const decision: Approval = {
    taskId,
    approved: !flags.reject,
    by: flags.by ?? process.env.USER,
    comment: flags.comment,
    ...(flags.visit !== undefined ? { visit: flags.visit } : {}),
    ...(flags.inputHash !== undefined ? { inputHash: flags.inputHash } : {}),
    ...(flags.edit !== undefined ? { edit: await readEditFile(flags.edit) } : {}),
  };
  if (flags.resume !== false) return resumeCommand(runId, flags, decision);
  const store = await cliStore();
  // An edit is checked against its tool's schema: the run's own tools modules are loaded for it.
  const source = decision.edit === undefined ? undefined : (await store.read(runId)).header?.source;
  const tools = source || flags.tools ? await loadUserTools([...(source?.tools ?? []), ...(flags.tools ?? [])]) : [];
  await approveTask(store, runId, taskId, decision, { tools });
  process.stderr.write(
    `${flags.reject ? 'rejected' : 'approved'} ${taskId} of run ${runId}\ncontinue it with: braid resume ${runId}\n`,
  );
  return EXIT.ok;
}

/**
 * What `braid validate` would say, before anything starts: errors (bad literal inputs, required fields with
 * no source, named with the file) end the command with exit 2; warnings are printed and the run goes on.
 */
function preflight(
  file: string,
  workflow: Workflow,
  registry: ToolRegistry,
  input: Record<string, unknown>,
  quiet?: boolean,
): void {
  // Before the inputs schema reads the input: a typo gets a did-you-mean, not "unrecognized key".
  const unused = unusedInputs(workflow, registry, Object.keys(input));
  if (unused.some((i) => i.severity !== 'warning'))
    throw new WorkflowValidationError(
      file,
      unused.filter((i) => i.severity !== 'warning'),
    );
  const issues = [
    ...unused,
    ...checkInputs(workflow, registry, Object.keys(resolveInput(workflow, input))),
    ...analyzeWorkflow(workflow, registry),
  ];
  const errors = issues.filter((i) => i.severity !== 'warning');
  if (errors.length) throw new WorkflowValidationError(file, errors);
  const warnings = issues.filter((i) => i.severity === 'warning');
  if (!quiet) for (const w of warnings) process.stderr.write(`⚠ ${formatIssue(w, file)}\n`);
}

type Ui = { onEvent: EventListener[]; signal: AbortSignal };

/** Progress, Ctrl-C, the events file, logs and traces around one run; prints the result and returns the exit code. */
async function withRunUi(
  taskIds: readonly string[],
  flags: RunFlags,
  store: (RunStore & { flushSync?(): void; idle?(): Promise<void> }) | undefined,
  start: (ui: Ui) => Promise<RunResult>,
): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\ncancelling: running tools get the abort signal; press Ctrl-C again to exit now\n');
      controller.abort();
    } else {
      store?.flushSync?.(); // nothing recorded is lost
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);

  const logFile = flags.logFile ?? process.env.BRAID_LOG_FILE;
  const logToStderr = !logFile && process.env.BRAID_LOG_LEVEL !== undefined;
  // pino and OpenTelemetry load only when asked for.
  const logger =
    logFile || logToStderr
      ? await optional('logs', () => import('../monitor/logger.js')).then((m) =>
          m.eventLogger(m.createLogger({ file: logFile })),
        )
      : undefined;
  const tracer = process.env.BRAID_OTEL
    ? await optional('tracing', () =>
        Promise.all([import('@opentelemetry/api'), import('../monitor/tracing.js')]),
      ).then(([api, m]) => m.otelListener(api.trace.getTracer('braid')))
    : undefined;
  // Log lines on stderr are the progress: no live view over them.
  const progress = flags.quiet || logToStderr ? undefined : createProgress(process.stderr, taskIds);
  const eventsOut = flags.events ? createWriteStream(flags.events) : undefined;
  const providers = new Set<string>();
  const onEvent: EventListener[] = [
    (e: RunEvent) =>
      void (e.type === 'llm.call' && providers.add(`${e.provider}${e.provider === 'offline' ? '' : ` ${e.model}`}`)),
    ...(progress ? [progress.onEvent] : []),
    ...(eventsOut ? [(e: RunEvent) => void eventsOut.write(`${jsonLine(e)}\n`)] : []),
    ...(logger ? [logger] : []),
    ...(tracer ? [tracer] : []),
  ];
  try {
    const result = await start({ onEvent, signal: controller.signal });
    // This process lost the run (its lease ran out, e.g. it stalled or Redis was gone): it stops here, and the
    // process that took the run over finishes it. Its outcome is in the record, not in this summary.
    if (result.error?.code === 'E_LOCKED')
      process.stderr.write(`braid: ${safeText(result.error.message)}; see it with: braid show ${result.runId}\n`);
    logger?.drain();
    tracer?.drain();
    progress?.stop();
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(
        `${summaryTable(result, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR, { stacks: flags.verbose })}\n`,
      );
      if (providers.has('offline'))
        process.stdout.write(
          'LLM: offline provider (deterministic rules, no network); set OPENAI_API_KEY for a real model\n',
        );
      else if (providers.size) process.stdout.write(`LLM: ${safeText([...providers].join(', '))}\n`);
      for (const line of nextSteps(result, Boolean(store))) process.stdout.write(`${line}\n`);
    }
    await store?.idle?.(); // the record's last fsync, before the process exits
    if (result.status === 'succeeded') return result.empty && flags.failOnEmpty ? EXIT.failed : EXIT.ok;
    return result.status === 'waiting' ? EXIT.waiting : EXIT.failed;
  } finally {
    progress?.stop();
    process.off('SIGINT', onSigint);
    if (eventsOut) await new Promise((done) => eventsOut.end(done));
  }
}

function nextSteps(result: RunResult, recorded: boolean): string[] {
  const waiting = Object.entries(result.tasks)
    .filter(([, t]) => t.status === 'waiting')
    .map(([id]) => id);
  const lines = waiting.map((id) => `waiting for approval: braid approve ${result.runId} ${id}   (or --reject)`);
  if (recorded && (result.status === 'failed' || result.status === 'cancelled'))
    lines.push(`inspect: braid show ${result.runId}    continue: braid resume ${result.runId}`);
  return lines.map(safeText);
}

/** An event as one JSON line for `--events` (one that cannot be serialized is noted, the file stays valid). */
function jsonLine(e: RunEvent): string {
  try {
    return JSON.stringify(e);
  } catch (err) {
    return JSON.stringify({
      seq: e.seq,
      ts: e.ts,
      runId: e.runId,
      type: e.type,
      unserializable: (err as Error).message,
    });
  }
}
