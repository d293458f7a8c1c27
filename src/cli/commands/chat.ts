/** `braid chat`: its options and help; the command itself is in chat.ts, loaded when it runs. */
import type { Command } from 'commander';
import type { ServiceFlags } from '../chat.js';
import { serviceOptions } from '../options.js';

export function registerChat(program: Command): void {
  serviceOptions(
    program
      .command('chat')
      .description('chat with an agent that starts workflows for you (each workflow is a tool the LLM can call)'),
    'do not record runs',
  )
    .addHelpText(
      'after',
      '\nExample:\n  braid chat\n  you> write an email about solar kites to the team\n\nOffline by default (deterministic intent matching); set OPENAI_API_KEY for a real model.',
    )
    .action(async (flags: ServiceFlags) => {
      process.exitCode = await (await import('../chat.js')).chatCommand(flags);
    });
}
