/**
 * `braid schema`: the JSON Schema of the workflow file format, for editors; with `--tools`, one that knows these
 * tools and checks each task's input against its tool.
 */
import type { Command } from 'commander';
import { collect } from '../options.js';

export function registerSchema(program: Command): void {
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
      const { workflowFormatSchema } = await import('../../spec/format-schema.js');
      const registry = await (await import('../run-command.js')).registryFor(flags.tools);
      process.stdout.write(
        `${JSON.stringify(workflowFormatSchema(registry, { onlyTheseTools: Boolean(flags.tools?.length) }), null, 2)}\n`,
      );
    });
}
