/** `runWorkflow`: load, validate, compile, schedule; returns the run result of workflow-spec.md §8. */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { InputValidationError } from '../errors.js';
import { EventBus, type EventListener } from '../events/bus.js';
import { formatPath } from '../spec/path.js';
import { loadWorkflow } from '../spec/load.js';
import type { Workflow } from '../spec/workflow.js';
import { builtinTools } from '../tools/builtins.js';
import { toRegistry, type ToolsOption } from '../tools/registry.js';
import type { ToolLimits } from '../tools/types.js';
import type { RetryOptions } from './attempt.js';
import { LocalExecutor, type Executor } from './executor.js';
import type { Classifier } from './labels.js';
import { createClassifier } from '../llm/classifier.js';
import { createProvider } from '../llm/llm.js';
import type { LlmProvider } from '../llm/types.js';
import { compilePlan } from './plan.js';
import type { RunResult } from './result.js';
import { Scheduler } from './scheduler.js';

export interface RunOptions {
  /** Your tools; they shadow built-ins of the same name. */
  readonly tools?: ToolsOption;
  /** Include braid's built-in tools. @default true */
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
  /** The model for LLM tools and the classifier. @default createProvider(): OpenAI-compatible when OPENAI_API_KEY is set, else offline */
  readonly llm?: LlmProvider;
  /** Decides labels the output does not carry. `null` for none. @default the LLM classifier on `llm` */
  readonly classifier?: Classifier | null;
  /** Where tasks run. @default a LocalExecutor with `concurrency` and `toolLimits` */
  readonly executor?: Executor;
  readonly retry?: RetryOptions;
  /** Made available to tools as `ctx.services`. */
  readonly services?: Readonly<Record<string, unknown>>;
  /** @default a new sortable id */
  readonly runId?: string;
}

export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Check run input against `inputs` (JSON Schema) and apply its defaults. */
export function resolveInput(workflow: Workflow, input: Record<string, unknown> = {}): Record<string, unknown> {
  if (!workflow.inputs) return input;
  const schema = z.fromJSONSchema(workflow.inputs as Parameters<typeof z.fromJSONSchema>[0]);
  const parsed = schema.safeParse(input);
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

export async function runWorkflow(source: string | Workflow | unknown, options: RunOptions = {}): Promise<RunResult> {
  const base = options.builtins === false ? [] : builtinTools();
  const initial = toRegistry(options.tools, base);
  const loaded = await loadWorkflow(source, { toolNames: initial.names() });
  const registry = loaded.tools.length ? toRegistry([...initial.list(), ...loaded.tools]) : initial;
  const workflow = loaded.workflow;
  const input = resolveInput(workflow, options.input);
  const runId = options.runId ?? newRunId();
  const listeners = options.onEvent === undefined ? [] : typeof options.onEvent === 'function' ? [options.onEvent] : [...options.onEvent];
  const bus = new EventBus(runId, listeners);
  const llm = options.llm ?? createProvider();
  const scheduler = new Scheduler({
    runId,
    plan: compilePlan(workflow, registry),
    input,
    bus,
    executor: options.executor ?? new LocalExecutor({ concurrency: options.concurrency, toolLimits: options.toolLimits }),
    classifier: options.classifier === null ? undefined : (options.classifier ?? createClassifier(llm)),
    llm,
    signal: options.signal,
    retry: options.retry,
    services: options.services,
  });
  return scheduler.run();
}
