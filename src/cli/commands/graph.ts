/**
 * `braid graph [file]`: a workflow file, or with `--run` a recorded run, as a Mermaid flowchart. Drawing needs no
 * tools: a tool that is not registered here is drawn by its name, not an error.
 */
import type { Command } from 'commander';
import { BraidError } from '../../errors.js';
import { collect, runIdArg } from '../options.js';

export function registerGraph(program: Command): void {
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
      if (flags.run) {
        const { graphRunCommand } = await import('../record-commands.js');
        return void (process.exitCode = await graphRunCommand(await runIdArg(flags.run)));
      }
      if (!file) throw new BraidError('E_BAD_ARGUMENT', 'graph needs a workflow file or --run <runId>');
      const { loadWorkflow } = await import('../../spec/load.js');
      const { toMermaid } = await import('../../graph/mermaid.js');
      process.stdout.write(`${toMermaid((await loadWorkflow(file)).workflow)}\n`);
    });
}
