/**
 * The `braid` command line (workflow-spec.md §8): the program, its global options, and the table of its commands
 * (one module each under commands/). Exit codes: 0 succeeded, 1 failed/cancelled, 2 invalid input, 3 waiting for
 * approval.
 */
import { Command, CommanderError } from 'commander';
import { BraidError, exitCodeOf, InputValidationError, isInvalidUse, WorkflowValidationError } from '../errors.js';
import { EXIT, useColor } from './exit.js';
import { formatIssuesPretty, safeLines } from './format.js';
import { describeThrown } from '../core/thrown.js';
import { containLateErrors } from './late-errors.js';
import { registerApprovals, registerApprove } from './commands/approve.js';
import { registerChat } from './commands/chat.js';
import { registerConfig } from './commands/config.js';
import { registerGraph } from './commands/graph.js';
import { registerInit } from './commands/init.js';
import { registerMcp } from './commands/mcp.js';
import { registerPlan } from './commands/plan.js';
import { registerExplain, registerLogs, registerRuns, registerShow } from './commands/records.js';
import { registerResume } from './commands/resume.js';
import { registerRun } from './commands/run.js';
import { registerSchema } from './commands/schema.js';
import { registerServe } from './commands/serve.js';
import { registerTools } from './commands/tools.js';
import { registerSend, registerTrigger, registerTriggers } from './commands/triggers.js';
import { registerValidate } from './commands/validate.js';
import { registerWorker } from './commands/worker.js';

export { EXIT } from './exit.js';

/**
 * Every command, in the order `braid --help` lists them. A command's module holds its options and help and loads
 * the code that runs it when it runs: `braid --help` or `braid validate` need no HTTP server, logger or tracer.
 */
const COMMANDS: readonly ((program: Command) => void)[] = [
  registerRun,
  registerResume,
  registerApprove,
  registerApprovals,
  registerChat,
  registerServe,
  registerMcp,
  registerWorker,
  registerSend,
  registerTriggers,
  registerTrigger,
  registerRuns,
  registerShow,
  registerLogs,
  registerExplain,
  registerValidate,
  registerGraph,
  registerPlan,
  registerConfig,
  registerInit,
  registerSchema,
  registerTools,
];

export function buildProgram(): Command {
  const program = new Command('braid')
    .description(
      'Run LLM-agent tool calls as conditional, parallel workflows.\nDocs: README.md and docs/ (file format: docs/workflow-format.md)',
    )
    .version('0.1.0')
    .option(
      '--redis <url>',
      'keep runs in Redis and run attempts on braid workers (default $BRAID_REDIS_URL); see docs/scaling-out.md',
    )
    .option(
      '--insecure-redis',
      'allow a Redis beyond loopback without a password in its URL (docs/scaling-out.md, "Securing Redis" says what that exposes)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .hook('preAction', async (cmd, action) => {
      const { redis, insecureRedis } = cmd.opts<{ redis?: string; insecureRedis?: boolean }>();
      if (redis) process.env.BRAID_REDIS_URL = redis;
      if (insecureRedis) process.env.BRAID_INSECURE_REDIS = '1';
      // The project config (braid.config.*, package.json "braid"): flags and the environment win over it.
      await (await import('./project-config.js')).applyProjectConfig(action);
    });

  for (const register of COMMANDS) register(program);
  return program;
}

/** Run the CLI; resolves to the exit code instead of exiting, so tests can call it. */
export async function main(argv: readonly string[]): Promise<number> {
  process.exitCode = undefined;
  containLateErrors(`braid${argv[0] && !argv[0].startsWith('-') ? ` ${argv[0]}` : ''}`);
  try {
    await buildProgram().parseAsync(argv as string[], { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return reportError(err);
  } finally {
    await (await import('./store.js')).closeCli();
  }
}

/**
 * Say what went wrong and answer the exit code its code has in `ERROR_CODES` (`exitCodeOf`: 2 when the user's input
 * or set-up is wrong, 1 otherwise). An error that is the user's to fix is its message alone (a workflow's or an
 * input's issues, formatted); anything else keeps its stack, for a bug report.
 */
function reportError(err: unknown): number {
  const c = useColor();
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.invalid; // commander printed it
  if (!BraidError.is(err) || !isInvalidUse(err.code)) {
    const { message, stack } = describeThrown(err);
    process.stderr.write(`braid: ${safeLines(stack ?? message)}\n`);
    return BraidError.is(err) ? exitCodeOf(err.code) : EXIT.failed;
  }
  if (err instanceof WorkflowValidationError) process.stderr.write(`${formatIssuesPretty(err.issues, err.file, c)}\n`);
  else if (err instanceof InputValidationError)
    process.stderr.write(`${formatIssuesPretty(err.issues, undefined, c)}\n`);
  else process.stderr.write(`braid: ${safeLines(err.message)}\n`);
  return exitCodeOf(err.code);
}
