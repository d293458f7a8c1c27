/** `braid resume <runId>`: its options and help; the command itself is in run-command.ts, loaded when it runs. */
import type { Command } from 'commander';
import type { RunFlags } from '../run-command.js';
import { collect, concurrencyOption, llmConcurrencyOption, runIdArg } from '../options.js';

export function registerResume(program: Command): void {
  program
    .command('resume')
    .description('continue a recorded run: succeeded tasks are reused, tasks that were running or failed run again')
    .argument('<runId>', 'run id (see braid runs), a unique prefix of one, or latest')
    .option('-t, --tools <module>', 'more tools modules (the ones the run started with are loaded again)', collect)
    .option('--mcp <servers.json>', 'MCP servers (default: the file the run started with)')
    .addOption(concurrencyOption('most tasks running at once'))
    .addOption(llmConcurrencyOption())
    .option('--json', 'print the run result as one JSON object on stdout')
    .option('--events <out.jsonl>', 'write the new events as JSON lines to this file')
    .option('-q, --quiet', 'no progress output')
    .option('--log-file <file>', 'write structured JSON logs here')
    .addHelpText(
      'after',
      '\nA task whose success was recorded is not run again (its output is reused); one that was running\nwhen the process died runs again (at-least-once). A run that already succeeded is only printed.',
    )
    .action(async (runId: string, flags: RunFlags) => {
      process.exitCode = await (await import('../run-command.js')).resumeCommand(await runIdArg(runId), flags);
    });
}
