/** `braid validate <file>`: its options and help; the command itself is validate-command.ts, loaded when it runs. */
import type { Command } from 'commander';
import type { ValidateFlags } from '../validate-command.js';
import { collect } from '../options.js';

export function registerValidate(program: Command): void {
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
      process.exitCode = await (await import('../validate-command.js')).validateCommand(file, flags);
    });
}
