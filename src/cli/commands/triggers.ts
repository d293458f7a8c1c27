/**
 * `braid send`, `braid triggers` (and its `pause` / `resume`) and `braid trigger`: runs that start themselves
 * (workflow-spec.md §10). Their options and help; the commands are in trigger-command.ts, loaded when one runs.
 */
import type { Command } from 'commander';
import { serviceOptions } from '../options.js';
import type { FireFlags, SendFlags } from '../trigger-command.js';
import type { ServiceFlags } from '../chat.js';

const commands = () => import('../trigger-command.js');
const NO_STORE = 'do not record the runs (and keep no claims: an id sent twice starts twice)';

export function registerSend(program: Command): void {
  serviceOptions(
    program
      .command('send')
      .description(
        'send an event: start a run of every workflow whose event trigger matches (an id sent again starts nothing)',
      )
      .argument('<name>', 'the event name, e.g. ticket.created')
      .option('--data <file.json>', "the event's data (a JSON file)")
      .option('--id <id>', 'the delivery id: the same id again starts nothing new (default: a fresh one)')
      .option('--json', 'print the delivery (id, runs, duplicate) as JSON'),
    NO_STORE,
  )
    .addHelpText(
      'after',
      `
Examples:
  braid send ticket.created --data ticket.json --id ticket-4711
  braid send ticket.created --data ticket.json --id ticket-4711   # again: nothing new, the first runs are named
  braid send nightly.refresh -w ./workflows --json
The runs it starts run here, to the end; with --redis they are recorded in Redis and run on braid workers.`,
    )
    .action(async (name: string, flags: SendFlags) => {
      process.exitCode = await (await commands()).sendCommand(name, flags);
    });
}

export function registerTriggers(program: Command): void {
  const triggers = serviceOptions(
    program
      .command('triggers')
      .description('list every trigger of the workflows folder: its next fire times, last runs and state')
      .option('--json', 'print as JSON'),
    NO_STORE,
  )
    .addHelpText(
      'after',
      `
Examples:
  braid triggers -w ./workflows
  braid triggers pause daily-digest:morning
  braid triggers resume daily-digest:morning
A trigger is named <workflow>:<name> (a trigger without a name is <kind>-<index>, e.g. schedule-0).`,
    )
    .action(async (flags: ServiceFlags & { json?: boolean }) => {
      process.exitCode = await (await commands()).triggersCommand(flags);
    });
  for (const [verb, pause] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    serviceOptions(
      triggers
        .command(verb)
        .description(pause ? 'pause a trigger: it fires nothing until resumed' : 'resume a paused trigger')
        .argument('<trigger>', '<workflow>:<name>'),
      NO_STORE,
    )
      .addHelpText(
        'after',
        `\nExamples:\n  braid triggers ${verb} daily-digest:morning\n  braid triggers ${verb} triage:tickets -w ./workflows`,
      )
      .action(async (id: string, flags: ServiceFlags) => {
        process.exitCode = await (await commands()).pauseCommand(id, pause, flags);
      });
  }
}

export function registerTrigger(program: Command): void {
  serviceOptions(
    program
      .command('trigger')
      .description('fire a schedule now, at a time, or for every due time of a range (each due time at most once)')
      .argument('<trigger>', '<workflow>:<name>')
      .option('--at <time>', 'the due time to fire (ISO 8601; default now)')
      .option('--from <time>', 'backfill: every due time from this one...')
      .option('--to <time>', '...up to this one (default now)')
      .option('--json', 'print the runs started and the due times already fired as JSON'),
    NO_STORE,
  )
    .addHelpText(
      'after',
      `
Examples:
  braid trigger daily-digest:morning
  braid trigger daily-digest:morning --at 2026-12-01T08:00:00+01:00
  braid trigger daily-digest:morning --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z   # a week's backfill`,
    )
    .action(async (id: string, flags: FireFlags) => {
      process.exitCode = await (await commands()).fireCommand(id, flags);
    });
}
