/** `braid plan "<goal>"`: its options and help; the command itself is plan-command.ts, loaded when it runs. */
import { Option, type Command } from 'commander';
import type { PlanFlags } from '../plan-command.js';
import { collect, positiveInt } from '../options.js';

export function registerPlan(program: Command): void {
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
      process.exitCode = await (await import('../plan-command.js')).planCommand(goal, flags);
    });
}
