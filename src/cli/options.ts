/**
 * What the command modules (commands/) share: parsers of option values, the options every command serving a
 * folder of workflows takes, and the run id argument (`latest`, a unique prefix, or the id itself).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got "${value}"`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

export function nonNegativeMs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected milliseconds >= 0, got "${value}"`);
  return n;
}

export function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`expected a port number 0..65535, got "${value}"`);
  return n;
}

/** `-c, --concurrency <n>`, described for the command. */
export const concurrencyOption = (description: string) =>
  new Option('-c, --concurrency <n>', description).argParser(positiveInt);

/** `--llm-concurrency <n>`: the same on every command that calls a model. */
export const llmConcurrencyOption = () =>
  new Option(
    '--llm-concurrency <n>',
    'most model requests in flight (default $BRAID_LLM_CONCURRENCY, else 8)',
  ).argParser(positiveInt);

/** The options of every command that serves a folder of workflows (chat, serve, mcp). */
export function serviceOptions(cmd: Command, noStore: string): Command {
  return cmd
    .option('-w, --workflows <dir>', "folder of workflow files (default: ./workflows, else braid's examples)")
    .option('-t, --tools <module>', 'ES module with your tools (repeatable)', collect)
    .addOption(concurrencyOption('most tasks running at once per run'))
    .addOption(llmConcurrencyOption())
    .option('--no-store', noStore);
}

/** `latest`, a unique prefix, or the id itself. */
export const runIdArg = async (given: string) =>
  (await import('./run-id.js')).resolveRunId(await (await import('./store.js')).cliStore(), given);
