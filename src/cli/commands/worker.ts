/**
 * `braid worker`: its options and help; the command itself is worker-command.ts, loaded when it runs (BullMQ is an
 * optional dependency: only the commands that use Redis need it).
 */
import { Option, type Command } from 'commander';
import { optional } from '../../core/optional.js';
import type { WorkerFlags } from '../worker-command.js';
import { collect, concurrencyOption, llmConcurrencyOption, nonNegativeMs, positiveInt } from '../options.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('take attempts of runs from Redis and run them with these tools (start one or more per machine)')
    .option('-t, --tools <module>', 'ES module with your tools (repeatable; the same modules the runs use)', collect)
    .addOption(concurrencyOption('attempts this worker runs at once').default(4))
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
    .option('-w, --workflows <dir>', "with --coordinate: also fire the triggers of this folder's workflows")
    .option(
      '--mcp <servers.json>',
      'MCP servers (mcpServers shape) that runs continued here may use: the allow-list for their mcp_servers',
    )
    .addOption(llmConcurrencyOption())
    .option('-q, --quiet', 'no line per attempt')
    .addHelpText(
      'after',
      '\nExample (docs/scaling-out.md):\n  redis-server --appendonly yes &\n  braid worker --redis redis://127.0.0.1:6379 --tools ./my-tools.mjs &   # on each machine\n  braid run flow.yaml --redis redis://127.0.0.1:6379\n\nAn attempt runs at least once: when a worker dies mid-attempt, another one runs it again.',
    )
    .action(async (flags: WorkerFlags) => {
      process.exitCode = await (await optional('worker', () => import('../worker-command.js'))).workerCommand(flags);
    });
}
