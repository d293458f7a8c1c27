/**
 * The `braid` command line (workflow-spec.md §8). Exit codes: 0 succeeded, 1 failed/cancelled, 2 invalid input, 3
 * waiting for approval.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { basename, extname } from 'node:path';
import {
  BraidError,
  exitCodeOf,
  formatIssue,
  InputValidationError,
  isInvalidUse,
  WorkflowValidationError,
} from '../errors.js';
import { analyzeWorkflow } from '../spec/analyze.js';
import { toRegistry } from '../tools/registry.js';
import { toMermaid } from '../graph/mermaid.js';
import { loadWorkflow, readWorkflowFile } from '../spec/load.js';
import { validateWorkflow, type ValidationResult } from '../spec/validate.js';
import { checkInputs } from '../spec/input-check.js';
import { unusedInputs } from '../spec/unused-inputs.js';
import { readRunInput } from './input.js';
import { rootFlags, routesOf } from '../spec/workflow.js';
import { toJSONSchema } from '../tools/json-schema.js';
import type { Tool } from '../tools/types.js';
import { EXIT, useColor } from './exit.js';
import { color, formatIssuesPretty, safeLines, safeText } from './format.js';
import type { ServiceFlags } from './chat.js';
import type { PlanFlags } from './plan-command.js';
import { loadUserTools, registryFor, type RunFlags } from './run-command.js';
import { openMcp } from './mcp-option.js';
import { builtinTools } from '../../tools/index.js';
import type { ToolRegistry } from '../tools/registry.js';
import { describeThrown } from '../core/thrown.js';
import { containLateErrors } from './late-errors.js';
import { optional } from '../core/optional.js';

// Commands load their modules when they run: `braid --help` or `braid validate` need no HTTP server, logger or tracer.
const records = () => import('./record-commands.js');
const runs = () => import('./run-command.js');

export { EXIT } from './exit.js';

/** `latest`, a unique prefix, or the id itself. */
const runIdArg = async (given: string) =>
  (await import('./run-id.js')).resolveRunId(await (await import('./store.js')).cliStore(), given);

const collect = (value: string, previous: string[] = []) => [...previous, value];

type ValidateFlags = {
  tools?: string[];
  mcp?: string;
  strict?: boolean;
  json?: boolean;
  input?: string[];
  inputFile?: string;
};

async function validateCommand(file: string, flags: ValidateFlags): Promise<number> {
  const read = await readWorkflowFile(file);
  const mcp = await openMcp(flags.mcp, read.ok ? read.value : undefined);
  try {
    return await validateWith(
      file,
      flags,
      read,
      toRegistry([...(await loadUserTools(flags.tools)), ...mcp.tools, ...(read.ok ? read.tools : [])], builtinTools()),
    );
  } finally {
    await mcp.close();
  }
}

async function validateWith(
  file: string,
  flags: ValidateFlags,
  read: Awaited<ReturnType<typeof readWorkflowFile>>,
  registry: ToolRegistry,
): Promise<number> {
  let result: ValidationResult = read.ok
    ? validateWorkflow(read.value, { toolNames: registry.names(), defaultName: basename(file, extname(file)) })
    : { success: false, issues: [...read.issues] };
  const analysis = result.success ? analyzeWorkflow(result.workflow, registry) : [];
  const warnings = analysis.filter((i) => i.severity === 'warning');
  if (result.success && analysis.length > warnings.length)
    result = { success: false, issues: analysis.filter((i) => i.severity !== 'warning') };
  if (result.success) {
    // What `braid run` would refuse before starting: bad literal inputs, required fields nothing gives (§5a).
    const input = await readRunInput(flags, result.workflow.inputs);
    const inputIssues = [
      ...unusedInputs(result.workflow, registry, Object.keys(input)),
      ...checkInputs(result.workflow, registry, Object.keys(input), { declaredCount: true }),
    ];
    warnings.push(...inputIssues.filter((i) => i.severity === 'warning'));
    const errors = inputIssues.filter((i) => i.severity !== 'warning');
    if (errors.length) result = { success: false, issues: errors };
  }
  const ok = result.success && !(flags.strict && warnings.length);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ok, issues: result.success ? [] : result.issues, warnings }, null, 2)}\n`);
  } else if (result.success) {
    const w = result.workflow;
    const conditional = w.tasks.filter((t) => t.condition !== undefined && t.condition !== null).length;
    const routes = w.tasks.reduce((n, t) => n + routesOf(t).length, 0);
    const isRoot = rootFlags(w.tasks);
    const rootIds = w.tasks.filter((_, i) => isRoot[i]).map((t) => t.id);
    const roots = `${rootIds.length} root${rootIds.length === 1 ? '' : 's'} (${rootIds.slice(0, 5).join(', ')}${rootIds.length > 5 ? ', ...' : ''})`;
    const c = color(useColor());
    if (warnings.length) {
      const mark = flags.strict ? c.red('✖') : c.yellow('⚠');
      process.stderr.write(`${warnings.map((i) => `${mark} ${safeLines(formatIssue(i, file))}`).join('\n')}\n`);
    }
    const counted = `${warnings.length} warning${warnings.length === 1 ? '' : 's'}${flags.strict && warnings.length ? ' (errors with --strict)' : ''}`;
    const summary = `${file}: workflow "${safeText(w.name)}", ${w.tasks.length} tasks, ${roots}, ${conditional} conditional, ${routes} routing edges${warnings.length ? `; ${counted}` : ''}`;
    if (ok) process.stdout.write(`ok: ${summary}\n`);
    else process.stderr.write(`invalid: ${summary}\n`);
  } else {
    process.stderr.write(
      `${formatIssuesPretty(result.issues, file, useColor())}\n${result.issues.length} problem${result.issues.length === 1 ? '' : 's'} found\n`,
    );
  }
  return ok ? EXIT.ok : EXIT.invalid;
}

export function buildProgram(): Command {
  const program = new Command('braid')
    .description(
      'Run LLM-agent tool calls as conditional, parallel workflows.\nDocs: README.md and docs/ (file format: docs/workflow-format.md)',
    )
    .version('0.1.0')
    .option(
      '--redis <url>',
      'keep runs in Redis and run attempts on braid workers (default $BRAID_REDIS_URL); see docs/scaling-out.md',
    )
    .option(
      '--insecure-redis',
      'allow a Redis beyond loopback without a password in its URL (docs/scaling-out.md, "Securing Redis" says what that exposes)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .hook('preAction', async (cmd, action) => {
      const { redis, insecureRedis } = cmd.opts<{ redis?: string; insecureRedis?: boolean }>();
      if (redis) process.env.BRAID_REDIS_URL = redis;
      if (insecureRedis) process.env.BRAID_INSECURE_REDIS = '1';
      // The project config (braid.config.*, package.json "braid"): flags and the environment win over it.
      await (await import('./project-config.js')).applyProjectConfig(action);
    });

  program
    .command('run')
    .description('run a workflow file (.yaml, .json, or a .ts/.mjs module) and print a summary')
    .argument('<file>', 'workflow file')
    .option(
      '-i, --input <key=value>',
      'run input (repeatable); values that parse as JSON keep their type unless the inputs schema says string',
      collect,
    )
    .option('--input-file <file.json>', 'run input as a JSON object (--input wins on conflicts)')
    .option(
      '-t, --tools <module>',
      'ES module whose exported tools are registered (repeatable; shadows built-ins)',
      collect,
    )
    .option('--mcp <servers.json>', 'MCP servers ({ "mcpServers": {...} }) whose tools run as <server>.<tool>')
    .addOption(new Option('-c, --concurrency <n>', 'most tasks running at once').argParser(positiveInt))
    .addOption(
      new Option(
        '--llm-concurrency <n>',
        'most model requests in flight (default $BRAID_LLM_CONCURRENCY, else 8)',
      ).argParser(positiveInt),
    )
    .option('--json', 'print the run result as one JSON object on stdout (progress stays on stderr)')
    .option('--events <out.jsonl>', 'write every event as a JSON line to this file')
    .option('--fail-on-empty', 'exit 1 when the run succeeds but every final task was skipped (no result)')
    .option('-q, --quiet', 'no progress output')
    .option('-v, --verbose', "print where failed tasks' errors were thrown (the stack frames in tool code)")
    .option('--no-store', 'do not record the run under .braid/runs (no show/resume later)')
    .option('--log-file <file>', 'write structured JSON logs (pino) here; or set BRAID_LOG_FILE / BRAID_LOG_LEVEL')
    .addOption(
      new Option('--budget-tokens <n>', 'stop the run when its LLM calls pass n tokens').argParser(positiveInt),
    )
    .addOption(
      new Option('--budget-cost <usd>', 'stop the run when its LLM cost passes this many US dollars').argParser(
        positiveNumber,
      ),
    )
    .addOption(new Option('--budget-ms <n>', 'stop the run after n milliseconds').argParser(positiveInt))
    .addOption(
      new Option('--budget-tasks <n>', 'stop the run when more than n task visits would start').argParser(positiveInt),
    )
    .addHelpText(
      'after',
      `
Examples:
  braid run examples/conditional.yaml --input topic="solar kites"
  braid run flow.yaml --json --events events.jsonl --concurrency 4

Every run is recorded in .braid/runs/<runId>.jsonl ($BRAID_HOME/runs): see it with
braid show <runId>, continue it after a crash or Ctrl-C with braid resume <runId>.
Logs: BRAID_LOG_LEVEL=debug prints JSON log lines on stderr (pretty on a terminal).

Exit codes: 0 succeeded, 1 failed or cancelled (Ctrl-C) or, with --fail-on-empty, succeeded with
every final task skipped, 2 invalid workflow, tools module or input, 3 waiting for an approval.`,
    )
    .action(async (file: string, flags: RunFlags) => {
      process.exitCode = await (await runs()).runCommand(file, flags);
    });

  program
    .command('resume')
    .description('continue a recorded run: succeeded tasks are reused, tasks that were running or failed run again')
    .argument('<runId>', 'run id (see braid runs), a unique prefix of one, or latest')
    .option('-t, --tools <module>', 'more tools modules (the ones the run started with are loaded again)', collect)
    .option('--mcp <servers.json>', 'MCP servers (default: the file the run started with)')
    .addOption(new Option('-c, --concurrency <n>', 'most tasks running at once').argParser(positiveInt))
    .addOption(
      new Option(
        '--llm-concurrency <n>',
        'most model requests in flight (default $BRAID_LLM_CONCURRENCY, else 8)',
      ).argParser(positiveInt),
    )
    .option('--json', 'print the run result as one JSON object on stdout')
    .option('--events <out.jsonl>', 'write the new events as JSON lines to this file')
    .option('-q, --quiet', 'no progress output')
    .option('--log-file <file>', 'write structured JSON logs here')
    .addHelpText(
      'after',
      '\nA task whose success was recorded is not run again (its output is reused); one that was running\nwhen the process died runs again (at-least-once). A run that already succeeded is only printed.',
    )
    .action(async (runId: string, flags: RunFlags) => {
      process.exitCode = await (await runs()).resumeCommand(await runIdArg(runId), flags);
    });

  program
    .command('approve')
    .description('approve (or --reject) a task waiting for a human (approval: true), then continue the run')
    .argument('<runId>', 'run id, a unique prefix of one, or latest')
    .argument('<taskId>', 'the waiting task')
    .option('--reject', 'reject: the task fails with E_REJECTED (failure handling applies)')
    .option('--by <name>', 'who decided (default $USER)')
    .option('--comment <text>', 'a note kept in the record')
    .option('--no-resume', 'only record the decision; continue later with braid resume')
    .option('-t, --tools <module>', 'more tools modules', collect)
    .option('--json', 'print the run result as JSON')
    .option('-q, --quiet', 'no progress output')
    .action(
      async (
        runId: string,
        taskId: string,
        flags: RunFlags & { reject?: boolean; by?: string; comment?: string; resume?: boolean },
      ) => {
        process.exitCode = await (await runs()).approveCommand(await runIdArg(runId), taskId, flags);
      },
    );

  serviceOptions(
    program
      .command('chat')
      .description('chat with an agent that starts workflows for you (each workflow is a tool the LLM can call)'),
    'do not record runs',
  )
    .addHelpText(
      'after',
      '\nExample:\n  braid chat\n  you> write an email about solar kites to the team\n\nOffline by default (deterministic intent matching); set OPENAI_API_KEY for a real model.',
    )
    .action(async (flags: ServiceFlags) => {
      process.exitCode = await (await import('./chat.js')).chatCommand(flags);
    });

  serviceOptions(
    program
      .command('serve')
      .description(
        'the dashboard (open the printed URL in a browser) and the HTTP API: POST /runs, GET /runs, GET /runs/:id, GET /runs/:id/events (SSE), POST /runs/:id/cancel|approve|resume, POST /chat, GET /workflows, /mcp (MCP over Streamable HTTP)',
      ),
    'do not record runs (no approvals, no reading finished runs after a restart)',
  )
    .addOption(new Option('-p, --port <n>', 'port (0 picks a free one)').argParser(nonNegativeInt).default(8787))
    .option('--host <address>', 'address to listen on; beyond loopback BRAID_TOKEN is required', '127.0.0.1')
    .option(
      '--allowed-hosts <names>',
      'comma-separated Host names served without a token besides localhost, 127.0.0.1 and [::1]',
    )
    .addHelpText(
      'after',
      '\nExample:\n  braid serve --port 8787 &   # then open http://127.0.0.1:8787/\n  curl -s localhost:8787/runs -H "content-type: application/json" -d \'{"workflow":"parallel"}\'\n\nSet BRAID_TOKEN to require "Authorization: Bearer <token>" on every request.',
    )
    .action(async (flags: ServiceFlags & { port?: number; host?: string; allowedHosts?: string }) => {
      process.exitCode = await (await import('./chat.js')).serveCommand(flags);
    });

  serviceOptions(
    program
      .command('mcp')
      .description(
        'serve every workflow of a folder as an MCP tool over stdio (for Claude Desktop, Cursor, any MCP client); runs are recorded and readable as resources braid://runs/<id>',
      ),
    'do not record runs (only runs of this process can be read as resources)',
  )
    .addHelpText(
      'after',
      '\nAn MCP client starts it, e.g. in Claude Desktop\'s claude_desktop_config.json:\n  { "mcpServers": { "braid": { "command": "npx", "args": ["braid", "mcp", "--workflows", "/path/to/workflows"] } } }\n\nstdout carries MCP messages only; notes go to stderr. braid serve offers the same at /mcp (Streamable HTTP).',
    )
    .action(async (flags: ServiceFlags) => {
      process.exitCode = await (await optional('mcpServer', () => import('./mcp-command.js'))).mcpCommand(flags);
    });

  program
    .command('worker')
    .description('take attempts of runs from Redis and run them with these tools (start one or more per machine)')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable; the same modules the runs use)', collect)
    .addOption(
      new Option('-c, --concurrency <n>', 'attempts this worker runs at once').argParser(positiveInt).default(4),
    )
    .addOption(
      new Option(
        '--lock-duration <ms>',
        "how soon a dead worker's attempts go to another worker (keep it above a tool's longest blocking stretch)",
      )
        .argParser(positiveInt)
        .default(10_000),
    )
    .addOption(
      new Option('--grace <ms>', 'on SIGTERM, how long running attempts may take to finish')
        .argParser(nonNegativeMs)
        .default(30_000),
    )
    .option('--coordinate', 'also continue runs whose coordinator died (its lease on the run expired)')
    .option(
      '--mcp <servers.json>',
      'MCP servers (mcpServers shape) that runs continued here may use: the allow-list for their mcp_servers',
    )
    .addOption(
      new Option(
        '--llm-concurrency <n>',
        'most model requests in flight (default $BRAID_LLM_CONCURRENCY, else 8)',
      ).argParser(positiveInt),
    )
    .option('-q, --quiet', 'no line per attempt')
    .addHelpText(
      'after',
      '\nExample (docs/scaling-out.md):\n  redis-server --appendonly yes &\n  braid worker --redis redis://127.0.0.1:6379 --tools ./my-tools.mjs &   # on each machine\n  braid run flow.yaml --redis redis://127.0.0.1:6379\n\nAn attempt runs at least once: when a worker dies mid-attempt, another one runs it again.',
    )
    .action(async (flags: import('./worker-command.js').WorkerFlags) => {
      process.exitCode = await (await optional('worker', () => import('./worker-command.js'))).workerCommand(flags);
    });

  program
    .command('runs')
    .description('list recorded runs, newest first: status, duration, task counts, tokens and cost')
    .addOption(new Option('-n, --limit <n>', 'how many').argParser(positiveInt).default(20))
    .option('--json', 'print as JSON')
    .action(async (flags: { json?: boolean; limit?: number }) => {
      process.exitCode = await (await records()).runsCommand(flags);
    });

  program
    .command('show')
    .description(
      'what happened in a run: summary, per-task timeline, labels, tokens, and why tasks were skipped or failed',
    )
    .argument('<runId>', 'run id (see braid runs), a unique prefix of one, or latest')
    .option('--timeline', 'the text Gantt chart of task intervals (on by default)')
    .option('--no-timeline', 'leave the timeline out')
    .option('--mermaid', 'print the timeline as a Mermaid gantt diagram instead')
    .option('--json', 'print the run rebuilt from its record as JSON')
    .action(async (runId: string, flags: { json?: boolean; timeline?: boolean; mermaid?: boolean }) => {
      process.exitCode = await (await records()).showCommand(await runIdArg(runId), flags);
    });

  program
    .command('logs')
    .description("print a run's events; --follow keeps printing until the run finishes")
    .argument('<runId>', 'run id, a unique prefix of one, or latest')
    .option('-f, --follow', 'wait for new events')
    .option('--json', 'raw JSON lines')
    .option('--all', 'every event (by default task.ready, task.progress, task.log and llm.call are counted, not shown)')
    .action(async (runId: string, flags: { json?: boolean; follow?: boolean; all?: boolean }) => {
      process.exitCode = await (await records()).logsCommand(await runIdArg(runId), flags);
    });

  program
    .command('explain')
    .description(
      'why a task ran, was skipped or failed: upstream statuses, labels and reasons, trigger rule, condition values',
    )
    .argument('<runId>', 'run id, a unique prefix of one, or latest')
    .argument('<taskId>', 'task id')
    .action(async (runId: string, taskId: string) => {
      process.exitCode = await (await records()).explainCommand(await runIdArg(runId), taskId);
    });

  program
    .command('validate')
    .description('check a workflow file and list every problem with its field path')
    .argument('<file>', 'workflow file')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .option('--strict', 'treat warnings (parts of the workflow that can never run as written) as errors')
    .option('--mcp <servers.json>', 'MCP servers whose tools (<server>.<tool>) the workflow may use')
    .option(
      '-i, --input <key=value>',
      'a run input the run will have (repeatable): required tool fields may come from it',
      collect,
    )
    .option('--input-file <file.json>', 'run input as a JSON object')
    .option('--json', 'print { ok, issues } as JSON')
    .addHelpText(
      'after',
      `
Errors (exit 2): what braid run would refuse, including task inputs: a literal value the tool rejects,
an unknown input field, a required tool field that nothing gives. A field may come from the task's
input, a run input of the same name (--input name=..., or declared in the workflow's inputs), a tool
default, or an upstream's output (see "Data between tasks" in docs/workflow-format.md).

Warnings (exit 0; errors with --strict): an if_result label its task never yields, an all_success join
over exclusive branches, a routing loop without max_visits, a template reading an output field the
tool does not have, an input field two upstreams both give.

Examples:
  braid validate examples/seed-conditional.json --input topic="bike sharing" --input to=team@example.com
  braid validate flow.yaml --tools ./my-tools.mjs --strict

Exit codes: 0 valid, 2 invalid.`,
    )
    .action(async (file: string, flags: ValidateFlags) => {
      process.exitCode = await validateCommand(file, flags);
    });

  program
    .command('graph')
    .description('print the workflow as a Mermaid flowchart (conditions label the edges, routing edges are dotted)')
    .argument('[file]', 'workflow file')
    .option('-t, --tools <module>', 'accepted for symmetry with run; not needed to draw', collect)
    .option(
      '--run <runId>',
      "a recorded run instead: tasks coloured by status, child runs (e.g. a plan's workflow) as subgraphs",
    )
    .action(async (file: string | undefined, flags: { tools?: string[]; run?: string }) => {
      if (flags.run)
        return void (process.exitCode = await (await records()).graphRunCommand(await runIdArg(flags.run)));
      if (!file) throw new BraidError('E_BAD_ARGUMENT', 'graph needs a workflow file or --run <runId>');
      // Drawing needs no tools: a tool that is not registered here is drawn by its name, not an error.
      const { workflow } = await loadWorkflow(file);
      process.stdout.write(`${toMermaid(workflow)}\n`);
    });

  program
    .command('plan')
    .description('write a validated workflow from a sentence (LLM, or offline keyword rules) and show its graph')
    .argument('<goal>', 'what the workflow should do, e.g. "compare solar and wind costs and email me a summary"')
    .option('-o, --out <file.yaml>', 'write the workflow here (default: print it)')
    .option('--run', 'run it right away (recorded like braid run)')
    .option('-t, --tools <module>', 'ES module with tools the plan may use (repeatable)', collect)
    .addOption(
      new Option('--max-rounds <n>', 'model answers allowed, repairs included').argParser(positiveInt).default(3),
    )
    .addHelpText(
      'after',
      '\nOffline (no OPENAI_API_KEY) the planner uses documented keyword rules and says so.\n\nExample:\n  braid plan "compare solar and wind costs and email me a summary" --out flow.yaml --run',
    )
    .action(async (goal: string, flags: PlanFlags) => {
      process.exitCode = await (await import('./plan-command.js')).planCommand(goal, flags);
    });

  program
    .command('config')
    .description('print the resolved settings (project config, environment, defaults) and where each came from')
    .option('--json', 'print { file, settings: { <name>: { value, source } } } as JSON')
    .addHelpText(
      'after',
      `
The project config is braid.config.json (or .yaml, .yml, .mjs, .js, .ts) or a "braid" key in package.json,
found by walking up from the current folder. Paths in it resolve relative to its file. Example:
  { "tools": ["./tools.mjs"], "workflows": "workflows",
    "mcp_servers": { "files": { "command": "npx", "args": ["@modelcontextprotocol/server-filesystem", "."] } },
    "defaults": { "provider": "offline", "concurrency": 4, "store": ".braid", "outbox": "outbox" } }
A flag wins over an environment variable, which wins over the config. mcp_servers is also the allow-list
of servers a recorded workflow may start when it is resumed or taken over. See docs/environment.md.

Examples:
  braid config          # every setting, its value and where it came from (docs/cli.md shows the output)
  braid config --json   # the same as { file?, settings: { <name>: { value, source } } }`,
    )
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = (await import('./config-command.js')).configCommand(flags);
    });

  program
    .command('init')
    .description(
      'create a project: a tools module, a workflow with a conditional branch, .env.example and an offline test',
    )
    .argument('[dir]', 'folder to create (default: the current folder, which must be empty)')
    .option('--braid <spec>', 'the braid dependency in package.json: a version, a tarball or a git URL')
    .option('--force', 'write into a folder that is not empty')
    .addHelpText(
      'after',
      `
The braid dependency (without --braid) installs anywhere: braid run from a checkout is packed with
npm pack into the project's vendor/ ("braid": "file:vendor/braid-<version>.tgz"); braid installed in a
project's node_modules writes the spec that project used (a tarball it names is copied to vendor/),
else "^<version>" (braid is not on the npm registry: then pass --braid).

Example:
  braid init my-agents && cd my-agents && npm install && npm test && npm start`,
    )
    .action(async (dir: string | undefined, flags: { braid?: string; force?: boolean }) => {
      process.exitCode = await (await import('./init-command.js')).initCommand(dir, flags);
    });

  program
    .command('schema')
    .description('print the JSON Schema of the workflow file format (for editor completion and checks)')
    .option(
      '-t, --tools <module>',
      'also describe these tools: `tool` must name a registered tool, each input is checked against its tool',
      collect,
    )
    .addHelpText(
      'after',
      `
braid ships schema/workflow.schema.json (built-in tools suggested, other tool names allowed). In VS Code
(with the YAML extension), start a workflow file with:
  # yaml-language-server: $schema=./node_modules/braid/schema/workflow.schema.json
or write your own with your tools:  braid schema --tools ./tools.mjs > workflow.schema.json`,
    )
    .action(async (flags: { tools?: string[] }) => {
      const { workflowFormatSchema } = await import('../spec/format-schema.js');
      const registry = await registryFor(flags.tools);
      process.stdout.write(
        `${JSON.stringify(workflowFormatSchema(registry, { onlyTheseTools: Boolean(flags.tools?.length) }), null, 2)}\n`,
      );
    });

  program
    .command('tools')
    .description('list registered tools with their input schema')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .option('--mcp <servers.json>', 'also list the tools of these MCP servers (<server>.<tool>)')
    .option('--json', 'print name, description and JSON Schema of each tool as JSON')
    .action(async (flags: { tools?: string[]; mcp?: string; json?: boolean }) => {
      const mcp = await openMcp(flags.mcp);
      await mcp.close();
      const tools = toRegistry([...(await loadUserTools(flags.tools)), ...mcp.tools], builtinTools()).list();
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify(
            tools.map((t) => ({
              name: t.name,
              description: t.description ?? '',
              input: toJSONSchema(t),
              upstream: upstreamText(t),
              effects: effectsText(t),
            })),
            null,
            2,
          )}\n`,
        );
        return;
      }
      for (const t of tools) {
        const schema = toJSONSchema(t) as {
          properties?: Record<string, { type?: unknown; description?: string }>;
          required?: string[];
        };
        const fields = Object.entries(schema.properties ?? {}).map(
          ([k, v]) =>
            `${k}${schema.required?.includes(k) ? '' : '?'}: ${Array.isArray(v.type) ? v.type.join('|') : (v.type ?? 'any')}`,
        );
        process.stdout.write(
          `${t.name}(${fields.join(', ')})\n  ${t.description ?? ''}\n  from upstream: ${upstreamText(t)}\n  effects: ${effectsText(t)}\n`,
        );
      }
    });

  return program;
}

/** How a tool takes upstream outputs when a task's input does not name a field (workflow-spec.md §5a). */
const upstreamText = (t: Tool) =>
  t.upstream?.description ?? 'output fields with the names of its input fields (a later upstream wins)';

/** The options of every command that serves a folder of workflows (chat, serve, mcp). */
function serviceOptions(cmd: Command, noStore: string): Command {
  return cmd
    .option('-w, --workflows <dir>', "folder of workflow files (default: ./workflows, else braid's examples)")
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .addOption(new Option('-c, --concurrency <n>', 'most tasks running at once per run').argParser(positiveInt))
    .addOption(
      new Option(
        '--llm-concurrency <n>',
        'most model requests in flight (default $BRAID_LLM_CONCURRENCY, else 8)',
      ).argParser(positiveInt),
    )
    .option('--no-store', noStore);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got "${value}"`);
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

function nonNegativeMs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected milliseconds >= 0, got "${value}"`);
  return n;
}

/** A tool's declared effects (workflow-spec.md §7a), as `braid tools` shows them. */
function effectsText(t: Tool): string {
  if (typeof t.effects === 'function') return 'depends on the input';
  return t.effects ?? 'undeclared (treated as external)';
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`expected a port number 0..65535, got "${value}"`);
  return n;
}

/** Run the CLI; resolves to the exit code instead of exiting, so tests can call it. */
export async function main(argv: readonly string[]): Promise<number> {
  process.exitCode = undefined;
  containLateErrors(`braid${argv[0] && !argv[0].startsWith('-') ? ` ${argv[0]}` : ''}`);
  try {
    await buildProgram().parseAsync(argv as string[], { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return reportError(err);
  } finally {
    await (await import('./store.js')).closeCli();
  }
}

/**
 * Say what went wrong and answer the exit code its code has in `ERROR_CODES` (`exitCodeOf`: 2 when the user's input
 * or set-up is wrong, 1 otherwise). An error that is the user's to fix is its message alone (a workflow's or an
 * input's issues, formatted); anything else keeps its stack, for a bug report.
 */
function reportError(err: unknown): number {
  const c = useColor();
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.invalid; // commander printed it
  if (!BraidError.is(err) || !isInvalidUse(err.code)) {
    const { message, stack } = describeThrown(err);
    process.stderr.write(`braid: ${safeLines(stack ?? message)}\n`);
    return BraidError.is(err) ? exitCodeOf(err.code) : EXIT.failed;
  }
  if (err instanceof WorkflowValidationError) process.stderr.write(`${formatIssuesPretty(err.issues, err.file, c)}\n`);
  else if (err instanceof InputValidationError)
    process.stderr.write(`${formatIssuesPretty(err.issues, undefined, c)}\n`);
  else process.stderr.write(`braid: ${safeLines(err.message)}\n`);
  return exitCodeOf(err.code);
}
