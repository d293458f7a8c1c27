/**
 * The workflow chat agent: each workflow of a catalog is a function the model may call (name, description,
 * inputs JSON Schema). The model picks one and fills its inputs from the conversation; the agent validates
 * them, asks for missing required inputs, confirms workflows marked `confirm: true`, runs the workflow
 * (streaming its events) and answers with the outcome.
 *
 * With the offline provider, intent matching is deterministic (offline rule 5: shared words with workflow
 * names and descriptions; `about ...` fills a topic, an email address fills a recipient) and every answer
 * says it is offline.
 */
import { InputValidationError } from '../src/errors.js';
import type { RunResult } from '../src/core/result.js';
import type { RunEvent } from '../src/core/events.js';
import { extractArguments } from '../src/llm/offline.js';
import { loadPrompt, renderPrompt } from '../src/llm/prompts.js';
import type { ChatMessage, FunctionSpec, LlmProvider, ToolCall } from '../src/llm/types.js';
import type { CatalogEntry, WorkflowCatalog } from '../src/service/catalog.js';
import type { RunHandle, RunManager } from '../src/service/run-manager.js';
import { RunSummaries } from '../src/service/run-summaries.js';
import type { JsonSchema } from '../src/toolkit/json-schema.js';

/** What one turn streams: the agent's text, and the life of any run it starts. @beta */
export type AgentChunk =
  | { type: 'text'; text: string }
  | { type: 'ask'; workflow: string; missing: string[]; text: string }
  | { type: 'confirm'; workflow: string; input: Record<string, unknown>; text: string }
  | { type: 'run.started'; runId: string; workflow: string; input: Record<string, unknown> }
  | { type: 'event'; event: RunEvent }
  | { type: 'run.finished'; runId: string; result: RunResult };

/** What a `WorkflowAgent` works with: the catalog, the run manager, the model. @beta */
export interface WorkflowAgentOptions {
  readonly catalog: WorkflowCatalog;
  readonly runs: RunManager;
  readonly llm: LlmProvider;
  /** Where it reads waiting runs from (share the server's: one fold per record). @default one of its own */
  readonly summaries?: RunSummaries;
}

type Pending = {
  kind: 'confirm' | 'ask';
  entry: CatalogEntry;
  input: Record<string, unknown>;
  missing: string[];
  call: ToolCall;
};

const YES = /^\s*(y|yes|yeah|yep|sure|ok|okay|go|go ahead|do it|run it|confirm|please do)\b/i;
const NO = /^\s*(n|no|nope|cancel|stop|don't|do not|abort)\b/i;

/** The chat agent: each workflow of the catalog is a function the model may call; it asks, confirms, runs. @beta */
export class WorkflowAgent {
  /** The conversation as the model sees it (system prompt first). */
  readonly messages: ChatMessage[];
  readonly #o: WorkflowAgentOptions;
  readonly #functions: FunctionSpec[];
  readonly #summaries: RunSummaries;
  #pending?: Pending;

  constructor(options: WorkflowAgentOptions) {
    this.#o = options;
    this.#summaries = options.summaries ?? new RunSummaries(options.runs, options.runs.options.store);
    const entries = options.catalog.list();
    this.#functions = entries.map((e) => ({
      name: functionName(e.name),
      description: e.description,
      parameters: e.inputs,
    }));
    const list = entries
      .map((e) => `- ${functionName(e.name)}: ${e.description}${e.confirm ? ' (asks for confirmation)' : ''}`)
      .join('\n');
    const system = renderPrompt(loadPrompt('chat-agent'), { workflows: list || '(none)', message: '' }).messages[0];
    this.messages = [system];
  }

  get offline(): boolean {
    return this.#o.llm.provider === 'offline';
  }

  /** One user turn. Iterate it to get the reply, including live run progress. */
  async *send(text: string, signal?: AbortSignal): AsyncGenerator<AgentChunk> {
    this.messages.push({ role: 'user', content: text });
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending?.kind === 'confirm' && YES.test(text))
      return yield* this.#run(pending.entry, pending.input, pending.call, signal);
    if (pending?.kind === 'confirm' && NO.test(text))
      return yield this.#say(`OK, I did not run ${pending.entry.name}.`);
    if (pending?.kind === 'confirm' && this.offline) {
      // Details given instead of a yes ("about tidal power", "to ana@example.com", "tone: formal") update the inputs.
      const details = explicitArguments(pending.entry.inputs, text);
      if (Object.keys(details).length)
        return yield* this.#decide(pending.entry, { ...pending.input, ...details }, pending.call, signal);
    }
    if (pending?.kind === 'ask' && this.offline) {
      // Offline: one missing input takes the whole answer; several take `key: value` pairs.
      const filled =
        pending.missing.length === 1
          ? { [pending.missing[0]]: text.trim() }
          : extractArguments(pending.entry.inputs, text);
      return yield* this.#decide(pending.entry, { ...pending.input, ...filled }, pending.call, signal);
    }

    // Deciding on or asking about runs that wait is never a request to start one (whatever words a workflow shares).
    const intent = approvalIntent(text);
    if (intent) {
      if (pending?.kind === 'confirm') this.#pending = pending;
      return yield* this.#approvals(intent, signal);
    }

    const answer = await this.#o.llm.generate({
      messages: this.messages,
      tools: this.#functions,
      purpose: 'chat',
      signal,
    });
    const call = answer.toolCalls[0];
    const entry = call && this.#o.catalog.list().find((e) => functionName(e.name) === call.name);
    if (!call || !entry) {
      // Nothing to run: a confirmation still waiting keeps waiting.
      if (pending?.kind === 'confirm') this.#pending = pending;
      const reply = this.offline
        ? this.#offlineHelp(text, pending?.kind === 'confirm' ? pending.entry.name : undefined)
        : answer.text || 'I could not match that to a workflow.';
      return yield this.#say(reply);
    }
    this.messages.push({ role: 'assistant', content: null, toolCalls: [call] });
    let args = call.arguments && typeof call.arguments === 'object' ? (call.arguments as Record<string, unknown>) : {};
    // Offline rule 5 falls back to the whole sentence for a required string: a guess, so ask instead.
    if (this.offline) args = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== text));
    // The model calls the workflow that was waiting again (the user added details): what was settled stays, new values
    // win.
    if (pending && pending.entry.name === entry.name)
      args = {
        ...pending.input,
        ...Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined && v !== null && v !== '')),
      };
    yield* this.#decide(entry, args, call, signal);
  }

  /** Valid inputs run (after a confirmation when asked for); missing ones are asked for. */
  async *#decide(
    entry: CatalogEntry,
    input: Record<string, unknown>,
    call: ToolCall,
    signal?: AbortSignal,
  ): AsyncGenerator<AgentChunk> {
    const clean = Object.fromEntries(
      Object.entries(input).filter(([, v]) => v !== undefined && v !== null && v !== ''),
    );
    const missing = missingInputs(entry.inputs, clean);
    if (missing.length) {
      this.#pending = { kind: 'ask', entry, input: clean, missing, call };
      const props = (entry.inputs.properties ?? {}) as Record<string, JsonSchema>;
      const what = missing.map((k) => `${k}${props[k]?.description ? ` (${props[k].description})` : ''}`).join(', ');
      const text = `To run ${entry.name} I need ${what}. ${missing.length === 1 ? 'What should it be?' : 'Reply with key: value pairs.'}`;
      this.#toolAnswer(call, { needs: missing });
      this.messages.push({ role: 'assistant', content: text });
      return yield { type: 'ask', workflow: entry.name, missing, text };
    }
    if (entry.confirm || entry.caution) {
      this.#pending = { kind: 'confirm', entry, input: clean, missing: [], call };
      const why = !entry.confirm && entry.caution ? ` I ask first because ${entry.caution}.` : '';
      const text = `I will run ${entry.name} with ${describeInput(clean)}. ${entry.description}${why} Go ahead? (yes/no)`;
      this.#toolAnswer(call, { awaiting: 'confirmation' });
      this.messages.push({ role: 'assistant', content: text });
      return yield { type: 'confirm', workflow: entry.name, input: clean, text };
    }
    yield* this.#run(entry, clean, call, signal);
  }

  async *#run(
    entry: CatalogEntry,
    input: Record<string, unknown>,
    call: ToolCall,
    signal?: AbortSignal,
  ): AsyncGenerator<AgentChunk> {
    let handle;
    try {
      handle = this.#o.runs.start(entry.name, input);
    } catch (err) {
      if (!(err instanceof InputValidationError)) throw err;
      const problems = err.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      this.#toolAnswer(call, { error: problems });
      return yield this.#say(`The inputs for ${entry.name} are not valid: ${problems}. Please correct them.`);
    }
    yield { type: 'run.started', runId: handle.runId, workflow: entry.name, input };
    const result = yield* this.#follow(handle, signal);
    this.#toolAnswer(call, compact(result));
    if (this.offline) return yield this.#say(summarize(result));
    const answer = await this.#o.llm.generate({ messages: this.messages, purpose: 'chat', signal });
    yield this.#say(answer.text || summarize(result));
  }

  /** A run's events as it goes (the turn's abort cancels it), then its result. */
  async *#follow(handle: RunHandle, signal?: AbortSignal): AsyncGenerator<AgentChunk, RunResult> {
    const stop = () => handle.cancel();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const event of handle.stream()) yield { type: 'event', event };
      const result = await handle.done;
      yield { type: 'run.finished', runId: handle.runId, result };
      return result;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  /**
   * "What is waiting?", "approve publish", "reject the send of 20261207T...": the runs waiting for a human, from the
   * run store (whoever started them) and this process. A decision needs exactly one waiting task to match; the run
   * then continues here and its progress streams.
   */
  async *#approvals(intent: ApprovalIntent, signal?: AbortSignal): AsyncGenerator<AgentChunk> {
    const waiting = (await this.#summaries.list({ status: 'waiting', limit: 50 }, 0)).flatMap((run) =>
      (run.waiting ?? []).map((taskId) => ({ runId: run.runId, workflow: run.workflow, taskId })),
    );
    const line = (w: (typeof waiting)[number]) => `  ${w.taskId} of run ${w.runId} (${w.workflow})`;
    if (intent.kind === 'status') {
      if (!waiting.length) return yield this.#say('Nothing is waiting for a decision.');
      const list = waiting.map(line).join('\n');
      return yield this.#say(`Waiting for a decision:\n${list}\nSay "approve <task>" or "reject <task>".`);
    }
    const verb = intent.approved ? 'approve' : 'reject';
    const words = intent.target.toLowerCase().split(/\s+/).filter(Boolean);
    const matching = waiting.filter((w) =>
      words.every((word) => [w.taskId, w.workflow, w.runId].some((name) => name.toLowerCase().includes(word))),
    );
    if (!waiting.length) return yield this.#say(`Nothing is waiting for a decision, so there is nothing to ${verb}.`);
    if (matching.length !== 1) {
      const which = matching.length ? matching : waiting;
      const head = matching.length
        ? `Several waiting tasks match "${intent.target}"; which one?`
        : `No waiting task matches "${intent.target}". Waiting:`;
      return yield this.#say(`${head}\n${which.map(line).join('\n')}\nSay "${verb} <task> <run id>".`);
    }
    const [{ runId, workflow, taskId }] = matching;
    let handle: RunHandle;
    try {
      handle = await this.#o.runs.resume(runId, workflow, { taskId, approved: intent.approved, by: 'chat' });
    } catch (err) {
      return yield this.#say(`Could not ${verb} ${taskId} of run ${runId}: ${(err as Error).message}`);
    }
    yield this.#say(
      `${intent.approved ? 'Approved' : 'Rejected'} ${taskId} of run ${runId} (${workflow}); continuing it.`,
    );
    const result = yield* this.#follow(handle, signal);
    const said = summarize(result);
    yield this.#say(this.offline ? said : said.replace(/^\[offline\] /, ''));
  }

  #toolAnswer(call: ToolCall, content: unknown): void {
    // Only answer a call once (a confirmation and the run answer the same call).
    const answered = this.messages.some((m) => m.role === 'tool' && m.toolCallId === call.id);
    if (!answered) this.messages.push({ role: 'tool', toolCallId: call.id, content: JSON.stringify(content) });
    else this.messages.push({ role: 'user', content: `[run result] ${JSON.stringify(content)}` });
  }

  #say(text: string): AgentChunk {
    this.messages.push({ role: 'assistant', content: text });
    return { type: 'text', text };
  }

  /** Offline, a request that fits no workflow well: say so, and list what can run (never run something unrelated). */
  #offlineHelp(text: string, waiting?: string): string {
    const list = this.#o.catalog
      .list()
      .map((e) => `  ${e.name}: ${e.description}`)
      .join('\n');
    const still = waiting ? `\n(${waiting} is still waiting for your yes or no.)` : '';
    return `[offline] None of my workflows fits "${text.trim().slice(0, 80)}" well: offline I match your words against workflow names and descriptions (a word of the name, or two of the description). I can run:\n${list}${still}\nSet OPENAI_API_KEY for a real model.`;
  }
}

type ApprovalIntent = { kind: 'status' } | { kind: 'decide'; approved: boolean; target: string };

const STATUS =
  /^\s*(?:status|what(?:'s| is| are)? (?:is |are )?(?:waiting|pending)|(?:which|what) (?:runs?|tasks?|approvals?) (?:are |is )?(?:waiting|pending)|(?:show|list)(?: me)?(?: the)? (?:waiting|pending|approvals))\b/i;
const DECIDE = /^\s*(?:please\s+)?(approve|reject|deny|decline)\b(.*)$/i;

/** A message that asks what waits for a decision, or decides one ("approve publish", "reject the send"). */
export function approvalIntent(text: string): ApprovalIntent | undefined {
  if (STATUS.test(text)) return { kind: 'status' };
  const m = DECIDE.exec(text);
  if (!m) return undefined;
  const target = m[2]
    .replace(/[.!?"'`]+/g, ' ')
    .replace(/\b(?:the|task|step|run|of|please|it)\b/gi, ' ')
    .trim()
    .replace(/\s+/g, ' ');
  return { kind: 'decide', approved: m[1].toLowerCase() === 'approve', target };
}

/** OpenAI function names: letters, digits, `_` and `-`, at most 64. */
export function functionName(workflowName: string): string {
  return workflowName.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

/**
 * Offline rule 5's arguments that the user stated (a `key: value`, "about ...", an email address), not guessed from the
 * whole sentence.
 */
function explicitArguments(schema: JsonSchema, text: string): Record<string, unknown> {
  // No required field, so nothing is filled from the whole sentence.
  return extractArguments({ ...schema, required: [] }, text);
}

function missingInputs(schema: JsonSchema, input: Record<string, unknown>): string[] {
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  return ((schema.required as string[] | undefined) ?? []).filter(
    (k) => input[k] === undefined && props[k]?.default === undefined,
  );
}

function describeInput(input: Record<string, unknown>): string {
  const pairs = Object.entries(input).map(([k, v]) => `${k}: ${typeof v === 'string' ? `"${v}"` : JSON.stringify(v)}`);
  return pairs.length ? pairs.join(', ') : 'its default inputs';
}

/** The run result the model sees: its output, statuses, labels, errors, and the task outputs, trimmed. */
function compact(result: RunResult): unknown {
  return {
    runId: result.runId,
    status: result.status,
    ...(result.output !== undefined ? { output: JSON.stringify(result.output).slice(0, 1000) } : {}),
    tasks: Object.fromEntries(
      Object.entries(result.tasks).map(([id, t]) => [
        id,
        {
          status: t.status,
          ...(t.reason ? { reason: t.reason } : {}),
          ...(t.label ? { label: t.label } : {}),
          ...(t.error ? { error: t.error.message } : {}),
          ...(t.output !== undefined ? { output: JSON.stringify(t.output).slice(0, 400) } : {}),
        },
      ]),
    ),
  };
}

/** The offline answer after a run: what ran, what was skipped and why, and the final output. */
export function summarize(result: RunResult): string {
  const ms = Date.parse(result.endedAt) - Date.parse(result.startedAt);
  const parts = Object.entries(result.tasks).map(([id, t]) => {
    if (t.status === 'skipped') return `${id} skipped (${t.reason})`;
    if (t.status === 'failed') return `${id} failed: ${t.error?.message}`;
    return `${id} ${t.status}${t.label ? ` (label ${t.label})` : ''}`;
  });
  const output = result.output !== undefined ? ` Output: ${JSON.stringify(result.output).slice(0, 300)}` : '';
  return `[offline] ${result.workflow} ${result.status} in ${ms} ms (run ${result.runId}): ${parts.join('; ')}.${output}`;
}
