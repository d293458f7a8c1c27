/**
 * braid as an MCP server: every workflow of a catalog is an MCP tool (its `inputs` the input schema, the
 * run's `output` the result), each finished task a progress notification, a cancelled request a cancelled
 * run. Runs are recorded as usual and readable as resources `braid://runs/<runId>`. The same server serves
 * `braid mcp` (stdio) and `/mcp` of `braid serve` (Streamable HTTP, one server per session).
 *
 * Tools are served through the SDK's low-level `tools/list` and `tools/call` handlers rather than
 * `McpServer.registerTool`: registerTool takes zod schemas only, while a workflow declares its inputs as JSON
 * Schema. The handlers hand that JSON Schema to clients unchanged, and braid checks the arguments against it
 * itself (`RunManager.start`), as for a run started any other way.
 */
import { readFileSync } from 'node:fs';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RunResult } from '../core/result.js';
import { BraidError, InputValidationError } from '../errors.js';
import type { RunEvent } from '../core/events.js';
import { packagePath } from '../paths.js';
import type { CatalogEntry, WorkflowCatalog } from '../service/catalog.js';
import type { RunHandle, RunManager } from '../service/run-manager.js';
import { RunSummaries } from '../service/run-summaries.js';
import { foldRun, processAlive } from '../store/fold.js';
import type { RunStore } from '../store/types.js';
import { describeThrown } from '../core/thrown.js';
import { noSuchRun } from './log.js';

export interface McpServiceOptions {
  readonly catalog: WorkflowCatalog;
  readonly runs: RunManager;
  /** Where runs are recorded; without one, only the runs of this process can be read. */
  readonly store?: RunStore;
  /** Runs listed in `resources/list`, newest first. @default 50 */
  readonly recentRuns?: number;
  /** Told of every run a tool call starts (e.g. so that a session with runs going is not closed as idle). */
  readonly onRun?: (handle: RunHandle) => void;
}

/** The URI of a run's resource. */
export const runUri = (runId: string) => `braid://runs/${runId}`;

/** MCP's "resource not found" error code (the spec's -32002; the SDK has no name for it). */
const RESOURCE_NOT_FOUND = -32002;

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

let version: string | undefined;
const braidVersion = () =>
  (version ??= (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version);

/** A new MCP server over the catalog's workflows (one per connection: an McpServer serves one transport). */
export function createMcpServer(options: McpServiceOptions): McpServer {
  const { catalog } = options;
  const server = new McpServer(
    { name: 'braid', version: braidVersion() },
    {
      capabilities: { tools: {} },
      instructions: `Each tool runs a braid workflow and answers with the run's output. Runs are recorded; read one as the resource ${runUri('<runId>')} (the run id is in the result).`,
    },
  );

  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: catalog.list().map(toolOf) }));
  server.server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    callWorkflow(options, request.params.name, request.params.arguments, extra),
  );

  const summaries = new RunSummaries(options.runs, options.store);
  server.registerResource(
    'run',
    new ResourceTemplate(runUri('{runId}'), {
      list: async () => ({
        resources: (await summaries.list({ limit: options.recentRuns ?? 50 })).map((s) => ({
          uri: runUri(s.runId),
          name: s.runId,
          title: `${s.workflow} ${s.status} (${s.runId})`,
          description: `run of ${s.workflow}, ${s.status}, started ${s.startedAt}; ${s.tasks.done}/${s.tasks.total} tasks finished`,
          mimeType: 'application/json',
        })),
      }),
    }),
    {
      title: 'braid run',
      description: 'A recorded workflow run: status, output, every task with its status, output, error and attempts',
      mimeType: 'application/json',
    },
    async (uri, { runId }) => {
      const id = Array.isArray(runId) ? runId[0] : runId;
      return {
        contents: [
          { uri: uri.href, mimeType: 'application/json', text: JSON.stringify(await readRun(options, id), null, 2) },
        ],
      };
    },
  );
  return server;
}

function toolOf(entry: CatalogEntry): McpTool {
  const schema = entry.inputs as Record<string, unknown>;
  return {
    name: entry.name,
    description: entry.description,
    inputSchema: { ...schema, type: 'object' },
    ...(entry.confirm ? { annotations: { destructiveHint: true } } : {}),
  };
}

/** Start the workflow's run, report its tasks as progress, cancel it with the request, answer with its output. */
async function callWorkflow(
  options: McpServiceOptions,
  name: string,
  args: Record<string, unknown> | undefined,
  extra: Extra,
): Promise<CallToolResult> {
  const entry = options.catalog.get(name);
  if (!entry)
    throw new McpError(
      ErrorCode.InvalidParams,
      `no tool "${name}"; tools: ${
        options.catalog
          .list()
          .map((e) => e.name)
          .join(', ') || '(none)'
      }`,
    );
  let handle: RunHandle;
  try {
    handle = options.runs.start(name, args ?? {});
  } catch (err) {
    // Bad arguments are the caller's to fix: a tool error (the model sees it), not a protocol error.
    if (err instanceof InputValidationError)
      return errorResult(
        `invalid input for ${name}: ${err.issues.map((i) => `${i.path || 'input'}: ${i.message}`).join('; ')}`,
      );
    throw err;
  }
  options.onRun?.(handle);
  const cancel = () => handle.cancel();
  if (extra.signal.aborted) cancel();
  else extra.signal.addEventListener('abort', cancel, { once: true });
  const token = extra._meta?.progressToken;
  const progress = token === undefined ? undefined : reportProgress(handle, entry.workflow.tasks.length, token, extra);
  try {
    const result = await handle.done;
    // Every notification goes out before the result, and a moment before it: the SDK's client drops a progress
    // notification it reads in the same chunk as the response (modelcontextprotocol/typescript-sdk#2580).
    if ((await progress) ?? 0) await new Promise((r) => setTimeout(r, 20));
    return toolResult(result);
  } catch (err) {
    // E.g. the record could not be written (E_STORE): said without the store's folder.
    const dir = (options.store as { dir?: string } | undefined)?.dir;
    const { message } = describeThrown(err);
    return errorResult(
      `run ${handle.runId} of ${name} stopped: ${dir ? message.split(dir).join('<store>') : message}`,
      handle.runId,
      name,
    );
  } finally {
    extra.signal.removeEventListener('abort', cancel);
  }
}

/**
 * One `notifications/progress` per finished task: progress = tasks finished so far, total = the workflow's tasks.
 * Resolves to how many were sent.
 */
async function reportProgress(
  handle: RunHandle,
  total: number,
  progressToken: string | number,
  extra: Extra,
): Promise<number> {
  let finished = 0;
  try {
    for await (const e of handle.stream(extra.signal)) {
      const message = finishedTask(e);
      if (message === undefined) continue;
      finished++;
      // Progress must grow with every notification: a task visited again (a routing loop) counts again, past the total.
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken, progress: finished, ...(finished <= total ? { total } : {}), message },
      });
    }
  } catch {
    // The client went away: the run goes on (or is cancelled by the closed connection); nobody is left to tell.
  }
  return finished;
}

function finishedTask(e: RunEvent): string | undefined {
  switch (e.type) {
    case 'task.succeeded':
      return `${e.taskId} succeeded`;
    case 'task.failed':
      return `${e.taskId} failed: ${e.error.message}`;
    case 'task.skipped':
      return `${e.taskId} skipped (${e.reason})`;
    default:
      return undefined;
  }
}

/**
 * The run's output as the tool result: structuredContent when it is an object, a text rendering always; failures as
 * isError.
 */
export function toolResult(result: RunResult): CallToolResult {
  const { runId, workflow, status } = result;
  const meta = { _meta: { 'braid/runId': runId, 'braid/status': status } };
  if (status === 'failed' || status === 'cancelled') {
    const failed = Object.entries(result.tasks).filter(([, t]) => t.status === 'failed' && t.error);
    const lines = [
      ...(result.error ? [result.error.message] : []),
      ...failed.map(([id, t]) => `${id}: ${t.error!.message}`),
    ];
    const text = `run ${runId} of ${workflow} ${status}${lines.length ? `:\n${lines.map((l) => `- ${l}`).join('\n')}` : ''}`;
    return { ...errorResult(text, runId, workflow), ...meta };
  }
  if (status === 'waiting') {
    const waiting = Object.entries(result.tasks)
      .filter(([, t]) => t.status === 'waiting')
      .map(([id]) => id);
    const text = `run ${runId} of ${workflow} is waiting for a human approval of ${waiting.join(', ')}: approve it with \`braid approve ${runId} ${waiting[0] ?? '<taskId>'}\` (or in the dashboard of braid serve), then read ${runUri(runId)}`;
    return { content: [{ type: 'text', text }, runLink(runId, workflow)], ...meta };
  }
  const output = result.output;
  const text =
    output === undefined
      ? `run ${runId} of ${workflow} succeeded (no output)`
      : typeof output === 'string'
        ? output
        : JSON.stringify(output, null, 2);
  const structured =
    output !== null && typeof output === 'object' && !Array.isArray(output)
      ? { structuredContent: output as Record<string, unknown> }
      : {};
  return { content: [{ type: 'text', text }, runLink(runId, workflow)], ...structured, ...meta };
}

const runLink = (runId: string, workflow: string) => ({
  type: 'resource_link' as const,
  uri: runUri(runId),
  name: runId,
  description: `the record of this run of ${workflow}`,
  mimeType: 'application/json',
});

function errorResult(text: string, runId?: string, workflow = 'the workflow'): CallToolResult {
  return { content: [{ type: 'text', text }, ...(runId ? [runLink(runId, workflow)] : [])], isError: true };
}

/** A run rebuilt from its record (or, without a store, from this process's memory), as `GET /runs/:id` answers. */
async function readRun(options: McpServiceOptions, runId: string): Promise<unknown> {
  const { store, runs } = options;
  const handle = runs.get(runId);
  const missing = () => new McpError(RESOURCE_NOT_FOUND, `no run "${runId}"`, { uri: runUri(runId) });
  if (!store) {
    if (!handle) throw missing();
    if (handle.result) return handle.result;
    const { lastSeq: _, ...partial } = foldRun({ events: handle.events, problems: [] }, () => !handle.finished);
    return { ...partial, workflow: handle.workflow };
  }
  try {
    const folded = store.fold
      ? await store.fold(runId, processAlive)
      : await store.read(runId).then((r) => ({ run: foldRun(r, processAlive), problems: [...r.problems] }));
    const { lastSeq: _, problems: foldProblems, ...run } = folded.run;
    // A client never sees the store's folder (a problem names its file).
    const dir = (store as { dir?: string }).dir;
    const problems = [...folded.problems, ...(foldProblems ?? [])].map((p) => (dir ? p.split(dir).join('<store>') : p));
    return { ...run, ...(problems.length ? { problems } : {}) };
  } catch (err) {
    if (noSuchRun(err)) throw missing(); // no such run, or not a run id
    throw new McpError(
      ErrorCode.InternalError,
      `run "${runId}" could not be read${BraidError.is(err) ? ` (${err.code})` : ''}`,
    );
  }
}
