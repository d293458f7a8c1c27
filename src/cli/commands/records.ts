/**
 * The commands that read run records: `braid runs`, `braid show`, `braid logs`, `braid explain`. Their options and
 * help; the commands themselves are in record-commands.ts, loaded when one runs.
 */
import { Option, type Command } from 'commander';
import { positiveInt, runIdArg } from '../options.js';

const records = () => import('../record-commands.js');

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('list recorded runs, newest first: status, duration, task counts, tokens and cost')
    .addOption(new Option('-n, --limit <n>', 'how many').argParser(positiveInt).default(20))
    .option('--json', 'print as JSON')
    .option('--trigger <name>', 'only runs this trigger started (<name> or <workflow>:<name>; among the newest 1000)')
    .action(async (flags: { json?: boolean; limit?: number; trigger?: string }) => {
      process.exitCode = await (await records()).runsCommand(flags);
    });
}

export function registerShow(program: Command): void {
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
}

export function registerLogs(program: Command): void {
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
}

export function registerExplain(program: Command): void {
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
}
