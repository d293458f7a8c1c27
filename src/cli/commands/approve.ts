/** `braid approve <runId> <taskId>`: its options; the command itself is in run-command.ts, loaded when it runs. */
import type { Command } from 'commander';
import type { ApproveFlags } from '../run-command.js';
import { collect, positiveInt, runIdArg } from '../options.js';

export function registerApprove(program: Command): void {
  program
    .command('approve')
    .description('approve (or --reject) a task waiting for a human (approval: true), then continue the run')
    .argument('<runId>', 'run id, a unique prefix of one, or latest')
    .argument('<taskId>', 'the waiting task')
    .option('--reject', 'reject: the task is skipped (reason rejected)')
    .option('--by <name>', 'who decided (default $USER)')
    .option('--comment <text>', 'a note kept in the record (required where the task says approval: { comment: true })')
    .option('--edit <file.json>', 'approve with this input instead (approval: { edit: true }; checked by the tool)')
    .option('--visit <n>', 'the visit decided on (default: the one waiting)', positiveInt)
    .option('--input-hash <hash>', 'the inputHash decided on: refused if the task now waits on another input')
    .option('--no-resume', 'only record the decision; continue later with braid resume')
    .option('-t, --tools <module>', 'more tools modules', collect)
    .option('--json', 'print the run result as JSON')
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Examples:
  braid approve latest publish --comment "reads well"
  braid approve latest pay --edit pay-input.json --by ana      # run "pay" with this input instead
  braid approve latest publish --reject --comment "not this week"
See docs/records.md ("Approvals") for what the record keeps.`,
    )
    .action(async (runId: string, taskId: string, flags: ApproveFlags) => {
      process.exitCode = await (await import('../run-command.js')).approveCommand(await runIdArg(runId), taskId, flags);
    });
}

export function registerApprovals(program: Command): void {
  program
    .command('approvals')
    .description(
      'list the tasks waiting for a human decision, across runs: what each waits on, since when, how to decide',
    )
    .option('-n, --limit <n>', 'how many of the newest runs to look at', positiveInt, 100)
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Examples:
  braid approvals                      # then: braid approve <runId> <taskId> (or --reject)
  braid approvals --json | jq '.[0].input'`,
    )
    .action(async (flags: { json?: boolean; limit?: number }) => {
      process.exitCode = await (await import('../approvals-command.js')).approvalsCommand(flags);
    });
}
