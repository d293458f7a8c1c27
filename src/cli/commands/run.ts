/** `braid run <file>`: its options and help; the command itself is run-command.ts, loaded when it runs. */
import { Option, type Command } from 'commander';
import type { RunFlags } from '../run-command.js';
import { collect, concurrencyOption, llmConcurrencyOption, positiveInt, positiveNumber } from '../options.js';

export function registerRun(program: Command): void {
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
    .addOption(concurrencyOption('most tasks running at once'))
    .addOption(llmConcurrencyOption())
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
      process.exitCode = await (await import('../run-command.js')).runCommand(file, flags);
    });
}
