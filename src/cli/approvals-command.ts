/** `braid approvals`: the inbox of tasks waiting for a human decision, across the store's runs (issue 36.4). */
import { pendingApprovals } from '../service/approvals.js';
import { EXIT } from './exit.js';
import { safeText } from './format.js';
import { cliStore, storeName } from './store.js';

/** How much of an input a line of the list shows. */
const INPUT_CHARS = 160;

export async function approvalsCommand(flags: { json?: boolean; limit?: number }): Promise<number> {
  const store = await cliStore();
  const pending = await pendingApprovals(store, { scan: flags.limit ?? 100 });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(pending, null, 2)}\n`);
    return EXIT.ok;
  }
  if (!pending.length) {
    process.stdout.write(`nothing waits for a decision among the newest runs in ${storeName(store)}\n`);
    return EXIT.ok;
  }
  const lines = [
    `${pending.length} task${pending.length === 1 ? '' : 's'} wait${pending.length === 1 ? 's' : ''} for a decision:`,
  ];
  for (const p of pending) {
    const input = p.inputHash === undefined ? '' : (JSON.stringify(p.input) ?? '');
    lines.push(
      '',
      `  ${p.runId}  ${p.workflow}  ${p.taskId} (visit ${p.visit})${p.since ? `, waiting since ${p.since}` : ''}`,
      `    why: ${p.why}${p.edit ? '; the decision may edit its input' : ''}${p.comment ? '; a comment is required' : ''}`,
      ...(input ? [`    input: ${input.length > INPUT_CHARS ? `${input.slice(0, INPUT_CHARS)}...` : input}`] : []),
      `    ${p.command}    (or --reject)`,
    );
  }
  process.stdout.write(`${safeText(lines.join('\n'))}\n`);
  return EXIT.ok;
}
