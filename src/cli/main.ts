/** The `braid` command line (workflow-spec.md §8). Exit codes: 0 succeeded, 1 failed/cancelled, 2 invalid input. */
import { Command, CommanderError, Option } from 'commander';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { BraidError, InputValidationError, WorkflowValidationError } from '../errors.js';
import { runWorkflow } from '../engine/run.js';
import { toMermaid } from '../graph/mermaid.js';
import { loadWorkflow, readWorkflowFile } from '../spec/load.js';
import { validateWorkflow } from '../spec/validate.js';
import { conditionObject, routesOf } from '../spec/workflow.js';
import { builtinTools } from '../tools/builtins.js';
import { toJSONSchema } from '../tools/json-schema.js';
import { loadToolsModule } from '../tools/load-module.js';
import { toRegistry } from '../tools/registry.js';
import type { Tool } from '../tools/types.js';
import type { RunEvent } from '../events/types.js';
import { formatIssuesPretty, summaryTable } from './format.js';
import { createProgress } from './progress.js';
import { parseInputPairs } from './input.js';

export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

class ExitError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const useColor = () => Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;

async function loadUserTools(files: readonly string[] = []): Promise<Tool[]> {
  const out: Tool[] = [];
  for (const f of files) out.push(...(await loadToolsModule(f)));
  return out;
}

async function registryFor(toolFiles: readonly string[] | undefined) {
  return toRegistry(await loadUserTools(toolFiles), builtinTools());
}

interface RunFlags {
  input?: string[];
  inputFile?: string;
  tools?: string[];
  concurrency?: number;
  json?: boolean;
  events?: string;
  quiet?: boolean;
}

async function runCommand(file: string, flags: RunFlags): Promise<number> {
  const registry = await registryFor(flags.tools);
  const loaded = await loadWorkflow(file, { toolNames: registry.names() });
  const fromFile = flags.inputFile ? await readInputFile(flags.inputFile) : {};
  const input = { ...fromFile, ...parseInputPairs(flags.input ?? [], loaded.workflow.inputs) };

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\ncancelling: running tools get the abort signal; press Ctrl-C again to exit now\n');
      controller.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);

  const progress = flags.quiet ? undefined : createProgress(process.stderr, loaded.workflow.tasks.map((t) => t.id));
  const eventsOut = flags.events ? createWriteStream(flags.events) : undefined;
  const providers = new Set<string>();
  const listeners = [
    (e: RunEvent) => void (e.type === 'llm.call' && providers.add(`${e.provider}${e.provider === 'offline' ? '' : ` ${e.model}`}`)),
    ...(progress ? [progress.onEvent] : []),
    ...(eventsOut ? [(e: unknown) => void eventsOut.write(`${JSON.stringify(e)}\n`)] : []),
  ];
  try {
    // The file is read (and a TS module imported) once: run the workflow already loaded above.
    const result = await runWorkflow(loaded.workflow, {
      tools: [...registry.list(), ...loaded.tools],
      input,
      concurrency: flags.concurrency,
      signal: controller.signal,
      onEvent: listeners,
    });
    progress?.stop();
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(`${summaryTable(result, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR)}\n`);
      if (providers.has('offline')) process.stdout.write('LLM: offline provider (deterministic rules, no network); set OPENAI_API_KEY for a real model\n');
      else if (providers.size) process.stdout.write(`LLM: ${[...providers].join(', ')}\n`);
    }
    return result.status === 'succeeded' ? EXIT.ok : EXIT.failed;
  } finally {
    progress?.stop();
    process.off('SIGINT', onSigint);
    if (eventsOut) await new Promise((resolve) => eventsOut.end(resolve));
  }
}

async function readInputFile(file: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ExitError(EXIT.invalid, `${file}: cannot read input: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ExitError(EXIT.invalid, `${file}: input must be a JSON object`);
  return value as Record<string, unknown>;
}

async function validateCommand(file: string, flags: { tools?: string[]; strict?: boolean; json?: boolean }): Promise<number> {
  const registry = await registryFor(flags.tools);
  const read = await readWorkflowFile(file);
  const result = read.ok
    ? validateWorkflow(read.value, { toolNames: [...registry.names(), ...read.tools.map((t) => t.name)] })
    : ({ success: false, issues: read.issues } as const);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result.success ? { ok: true, issues: [] } : { ok: false, issues: result.issues }, null, 2)}\n`);
  } else if (result.success) {
    const w = result.workflow;
    const conditional = w.tasks.filter((t) => t.condition !== undefined && t.condition !== null).length;
    const routes = w.tasks.reduce((n, t) => n + routesOf(t).length, 0);
    const roots = w.tasks.filter((t) => !(t.dependencies ?? []).length && !conditionObject(t)).length;
    process.stdout.write(`ok: ${file}: workflow "${w.name}", ${w.tasks.length} tasks, ${roots} roots, ${conditional} conditional, ${routes} routing edges\n`);
  } else {
    process.stderr.write(`${formatIssuesPretty(result.issues, file, useColor())}\n${result.issues.length} problem${result.issues.length === 1 ? '' : 's'} found\n`);
  }
  return result.success ? EXIT.ok : EXIT.invalid;
}

export function buildProgram(): Command {
  const program = new Command('braid')
    .description('Run LLM-agent tool calls as conditional, parallel workflows.\nDocs: README.md; file format: workflow-spec.md')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description('run a workflow file (.yaml, .json, or a .ts/.mjs module) and print a summary')
    .argument('<file>', 'workflow file')
    .option('-i, --input <key=value>', 'run input (repeatable); values that parse as JSON keep their type unless the inputs schema says string', collect)
    .option('--input-file <file.json>', 'run input as a JSON object (--input wins on conflicts)')
    .option('-t, --tools <module>', 'ES module whose exported tools are registered (repeatable; shadows built-ins)', collect)
    .addOption(new Option('-c, --concurrency <n>', 'most tasks running at once').argParser(positiveInt))
    .option('--json', 'print the run result as one JSON object on stdout (progress stays on stderr)')
    .option('--events <out.jsonl>', 'write every event as a JSON line to this file')
    .option('-q, --quiet', 'no progress output')
    .addHelpText('after', '\nExamples:\n  braid run examples/conditional.yaml --input topic="solar kites"\n  braid run flow.yaml --json --events events.jsonl --concurrency 4\n\nExit codes: 0 succeeded, 1 failed or cancelled (Ctrl-C), 2 invalid workflow, tools module or input.')
    .action(async (file: string, flags: RunFlags) => {
      process.exitCode = await runCommand(file, flags);
    });

  program
    .command('validate')
    .description('check a workflow file and list every problem with its field path')
    .argument('<file>', 'workflow file')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .option('--strict', 'treat warnings as errors')
    .option('--json', 'print { ok, issues } as JSON')
    .addHelpText('after', '\nExit codes: 0 valid, 2 invalid.')
    .action(async (file: string, flags: { tools?: string[]; strict?: boolean; json?: boolean }) => {
      process.exitCode = await validateCommand(file, flags);
    });

  program
    .command('graph')
    .description('print the workflow as a Mermaid flowchart (conditions label the edges, routing edges are dotted)')
    .argument('<file>', 'workflow file')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .action(async (file: string, flags: { tools?: string[] }) => {
      const registry = await registryFor(flags.tools);
      const { workflow } = await loadWorkflow(file, { toolNames: registry.names() });
      process.stdout.write(`${toMermaid(workflow)}\n`);
    });

  program
    .command('tools')
    .description('list registered tools with their input schema')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .option('--json', 'print name, description and JSON Schema of each tool as JSON')
    .action(async (flags: { tools?: string[]; json?: boolean }) => {
      const tools = (await registryFor(flags.tools)).list();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(tools.map((t) => ({ name: t.name, description: t.description ?? '', input: toJSONSchema(t) })), null, 2)}\n`);
        return;
      }
      for (const t of tools) {
        const schema = toJSONSchema(t) as { properties?: Record<string, { type?: unknown; description?: string }>; required?: string[] };
        const fields = Object.entries(schema.properties ?? {}).map(([k, v]) => `${k}${schema.required?.includes(k) ? '' : '?'}: ${Array.isArray(v.type) ? v.type.join('|') : (v.type ?? 'any')}`);
        process.stdout.write(`${t.name}(${fields.join(', ')})\n  ${t.description ?? ''}\n`);
      }
    });

  return program;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ExitError(EXIT.invalid, `--concurrency must be an integer >= 1, got "${value}"`);
  return n;
}

/** Run the CLI; resolves to the exit code instead of exiting, so tests can call it. */
export async function main(argv: readonly string[]): Promise<number> {
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(argv as string[], { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  const c = useColor();
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.invalid;
  if (err instanceof ExitError) {
    process.stderr.write(`braid: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof WorkflowValidationError) {
    process.stderr.write(`${formatIssuesPretty(err.issues, err.file, c)}\n`);
    return EXIT.invalid;
  }
  if (err instanceof InputValidationError) {
    process.stderr.write(`${formatIssuesPretty(err.issues, undefined, c)}\n`);
    return EXIT.invalid;
  }
  if (BraidError.is(err) && (err.code === 'E_TOOLS_MODULE' || err.code === 'E_USAGE' || err.code === 'E_SPEC')) {
    process.stderr.write(`braid: ${err.message}\n`);
    return EXIT.invalid;
  }
  process.stderr.write(`braid: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.failed;
}
