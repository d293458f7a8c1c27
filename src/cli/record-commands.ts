/** Reading run records: `braid runs`, `braid show`, `braid logs`, `braid explain`. */
import { describeThrown } from '../core/thrown.js';
import { BraidError } from '../errors.js';
import { explainTask } from '../store/explain.js';
import { toMermaid } from '../graph/mermaid.js';
import { validateWorkflow } from '../spec/validate.js';
import { foldRun, processAlive, type RecordedRun } from '../store/fold.js';
import { followRun } from '../store/follow.js';
import type { RunRecord } from '../store/types.js';
import type { TriggerRef } from '../spec/triggers.js';
import { EXIT, useColor } from './exit.js';
import { STATUS_ICON, color, formatDuration, paint, safeLines, safeText, summaryTable, table } from './format.js';
import { describeEvent } from './progress.js';
import { problemReporter } from './run-command.js';
import { cliStore, storeName } from './store.js';
import { intervals, mermaidTimeline, textTimeline } from './timeline.js';

async function load(runId: string): Promise<{ record: RunRecord; run: RecordedRun }> {
  const record = await (await cliStore()).read(runId);
  return { record, run: foldRun(record, processAlive) };
}

async function reportProblems(runId: string, record: RunRecord): Promise<void> {
  record.problems.forEach(problemReporter(await cliStore(), runId));
}

export async function runsCommand(flags: { json?: boolean; limit?: number; trigger?: string }): Promise<number> {
  const store = await cliStore();
  const limit = flags.limit ?? 20;
  const ids = (await store.list()).slice(0, flags.trigger === undefined ? limit : 1000);
  const runs: (RecordedRun & { trigger?: TriggerRef })[] = [];
  for (const id of ids) {
    if (runs.length >= limit) break;
    const record = await store.read(id);
    const trigger = record.header?.trigger;
    const wanted =
      flags.trigger === undefined ||
      (trigger && [trigger.name, `${trigger.workflow}:${trigger.name}`].includes(flags.trigger));
    if (wanted) runs.push({ ...foldRun(record, processAlive), ...(trigger ? { trigger } : {}) });
  }
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify(
        runs.map(({ tasks, ...r }) => ({ ...r, counts: counts(tasks) })),
        null,
        2,
      )}\n`,
    );
    return EXIT.ok;
  }
  if (!runs.length && flags.trigger !== undefined) {
    process.stdout.write(`no runs of trigger ${safeText(flags.trigger)} among the newest in ${storeName(store)}\n`);
    return EXIT.ok;
  }
  if (!runs.length) {
    process.stdout.write(`no runs in ${storeName(store)} yet (braid run <file> records one)\n`);
    return EXIT.ok;
  }
  const c = useColor(process.stdout);
  const started = runs.some((r) => r.trigger);
  const rows = [
    ['run', 'workflow', 'status', 'started', 'duration', 'tasks', 'tokens', 'cost', ...(started ? ['trigger'] : [])],
  ];
  for (const r of runs) {
    const n = counts(r.tasks);
    rows.push([
      safeText(r.runId),
      safeText(r.workflow),
      paint(r.status, `${STATUS_ICON[r.status] ?? '·'} ${safeText(r.status)}`, c),
      r.startedAt.replace('T', ' ').slice(0, 19),
      r.endedAt ? formatDuration(Date.parse(r.endedAt) - Date.parse(r.startedAt)) : '-',
      Object.entries(n)
        .map(([s, k]) => `${k}${STATUS_ICON[s] ?? safeText(s)}`)
        .join(' '),
      r.usage ? String(r.usage.totalTokens) : '',
      r.usage?.costUsd ? `$${r.usage.costUsd.toFixed(4)}` : '',
      ...(started
        ? [r.trigger ? safeText(`${r.trigger.name} ${r.trigger.due ?? r.trigger.eventId ?? ''}`.trim()) : '']
        : []),
    ]);
  }
  process.stdout.write(`${table(rows)}\n`);
  return EXIT.ok;
}

function counts(tasks: RecordedRun['tasks']): Record<string, number> {
  const n: Record<string, number> = Object.create(null);
  for (const t of Object.values(tasks)) n[t.status] = (n[t.status] ?? 0) + 1;
  return n;
}

export async function showCommand(
  runId: string,
  flags: { json?: boolean; timeline?: boolean; mermaid?: boolean },
): Promise<number> {
  const { record, run } = await load(runId);
  await reportProblems(runId, record);
  const spans = intervals(record.events, run.endedAt ? Date.parse(run.endedAt) : Date.now());
  if (flags.mermaid) {
    process.stdout.write(`${safeLines(mermaidTimeline(`${run.workflow} run ${run.runId}`, spans))}\n`);
    return EXIT.ok;
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...run, problems: record.problems }, null, 2)}\n`);
    return EXIT.ok;
  }
  const colored = useColor(process.stdout);
  const c = color(colored);
  const out: string[] = [summaryTable(run, colored, { stacks: true })];
  const ids = Object.keys(run.tasks);
  if (flags.timeline !== false) out.push('', c.bold('timeline'), textTimeline(ids, spans, colored));
  if (run.usage) {
    const spent = Object.entries(run.tasks)
      .filter(([, t]) => t.usage)
      .sort(([, a], [, b]) => b.usage!.totalTokens - a.usage!.totalTokens);
    out.push(
      '',
      c.bold('tokens'),
      ...spent.map(
        ([id, t]) =>
          `${safeText(id)}: ${t.usage!.totalTokens} tokens (${t.usage!.promptTokens} in, ${t.usage!.completionTokens} out)${t.usage!.costUsd === null ? '' : `, $${t.usage!.costUsd.toFixed(4)}`}`,
      ),
    );
  }
  if (record.header) {
    // Only tasks of the recorded workflow: a damaged record may name others.
    const known = new Set(record.header.workflow.tasks.map((t) => t.id));
    const why = ids.filter(
      (id) => known.has(id) && ['skipped', 'failed', 'waiting', 'running'].includes(run.tasks[id].status),
    );
    if (why.length) out.push('', c.bold('why'));
    for (const id of why)
      out.push(
        ...(await explainTask(record.header, run, id))
          .slice(0, 4)
          .map((l, k) => (k ? `    ${safeText(l)}` : `  ${safeText(l)}`)),
      );
  }
  if (run.status === 'interrupted')
    out.push('', c.yellow(`the process stopped mid-run; continue it with: braid resume ${safeText(run.runId)}`));
  process.stdout.write(`${out.join('\n')}\n`);
  return EXIT.ok;
}

export async function explainCommand(runId: string, taskId: string): Promise<number> {
  const { record, run } = await load(runId);
  await reportProblems(runId, record);
  if (!record.header) throw new BraidError('E_RECORD', `run "${runId}" has no header: cannot explain`);
  if (!Object.hasOwn(run.tasks, taskId) || !record.header.workflow.tasks.some((t) => t.id === taskId)) {
    throw new BraidError(
      'E_NOT_FOUND',
      `run "${runId}" has no task "${taskId}" in its workflow (tasks: ${record.header.workflow.tasks.map((t) => safeText(t.id)).join(', ')})`,
    );
  }
  process.stdout.write(`${(await explainTask(record.header, run, taskId)).map(safeText).join('\n')}\n`);
  return EXIT.ok;
}

/** Print the events of a run; with `follow`, keep printing new ones until the run finishes. */
/** Kinds `braid logs` leaves out unless `--all` (they are many and say little); the end of the output counts them. */
const QUIET_KINDS = new Set(['task.ready', 'task.progress', 'task.log', 'llm.call']);

export async function logsCommand(
  runId: string,
  flags: { json?: boolean; follow?: boolean; all?: boolean },
): Promise<number> {
  const store = await cliStore();
  const hidden = new Map<string, number>();
  for await (const e of followRun(store, runId, { follow: flags.follow, onProblem: problemReporter(store, runId) })) {
    if (flags.json) process.stdout.write(`${JSON.stringify(e)}\n`);
    else if (flags.all || !QUIET_KINDS.has(e.type))
      process.stdout.write(`${String(e.seq).padStart(5)} ${e.ts.slice(11, 23)} ${describeEvent(e)}\n`);
    else hidden.set(e.type, (hidden.get(e.type) ?? 0) + 1);
  }
  if (hidden.size)
    process.stderr.write(
      `(not shown: ${[...hidden].map(([k, n]) => `${n} ${k}`).join(', ')}; --all shows every event)\n`,
    );
  return EXIT.ok;
}

/** `braid graph --run <runId>`: the run's workflow coloured by status, with its child runs as subgraphs. */
export async function graphRunCommand(runId: string): Promise<number> {
  const store = await cliStore();
  const { record, run } = await load(runId);
  await reportProblems(runId, record);
  if (!record.header) throw new BraidError('E_RECORD', `run "${runId}" has no header: its workflow is unknown`);
  const children = [];
  for (const e of record.events) {
    if (e.type !== 'task.child') continue;
    const checked = validateWorkflow(e.workflow);
    if (!checked.success) continue;
    // A child run without a record (it never started) is drawn without statuses; one that cannot be read says why.
    const child = await store.read(e.childRunId).then(
      (r) => foldRun(r, processAlive),
      (err: unknown) => {
        if (!BraidError.is(err) || err.code !== 'E_RUN_NOT_FOUND')
          process.stderr.write(
            `braid: child run ${safeText(e.childRunId)} drawn without its statuses: ${safeLines(describeThrown(err).message)}\n`,
          );
        return undefined;
      },
    );
    children.push({
      taskId: e.taskId,
      childRunId: e.childRunId,
      workflow: checked.workflow,
      ...(child ? { statuses: child.tasks } : {}),
    });
  }
  process.stdout.write(`${safeLines(toMermaid(record.header.workflow, { statuses: run.tasks, children }))}\n`);
  return EXIT.ok;
}
