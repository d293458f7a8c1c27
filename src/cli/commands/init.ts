/** `braid init [dir]`: its options and help; the command itself is init-command.ts, loaded when it runs. */
import type { Command } from 'commander';
import type { InitFlags } from '../init-command.js';

export function registerInit(program: Command): void {
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
    .action(async (dir: string | undefined, flags: InitFlags) => {
      process.exitCode = await (await import('../init-command.js')).initCommand(dir, flags);
    });
}
