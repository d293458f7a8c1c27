/**
 * Why did a task run, get skipped or fail? Plain sentences from the workflow definition and its run record:
 * trigger rule and upstream statuses, labels with the classifier's reason, expression values, routing.
 */
import { isTruthy, parseExpression } from '../spec/expression.js';
import { DEFAULT_TRIGGER_RULE, TRIGGER_RULE_TRAITS, type TaskSpec } from '../spec/schema.js';
import { conditionObject, routesOf, toList, upstreamsOf, type Workflow } from '../spec/workflow.js';
import type { TaskResult } from '../core/result.js';
import { BraidError } from '../errors.js';
import type { RecordedRun } from './fold.js';
import type { RunHeader } from './types.js';

/** Why a recorded task ran, was skipped or failed, in words. @beta */
export async function explainTask(
  header: Pick<RunHeader, 'workflow' | 'input'>,
  run: RecordedRun,
  taskId: string,
  depth = 0,
): Promise<string[]> {
  const { workflow } = header;
  const spec = workflow.tasks.find((t) => t.id === taskId);
  const result = Object.hasOwn(run.tasks, taskId) ? run.tasks[taskId] : undefined;
  if (!spec || !result)
    throw new BraidError(
      'E_NOT_FOUND',
      `no task "${taskId}" in workflow "${workflow.name}" (tasks: ${workflow.tasks.map((t) => t.id).join(', ')})`,
    );
  const rule = spec.trigger_rule ?? workflow.defaults?.trigger_rule ?? DEFAULT_TRIGGER_RULE;
  const ups = upstreamsOf(spec);
  const upText = ups.length
    ? `upstreams: ${ups.map((u) => `${u} ${describeStatus(run.tasks[u])}`).join(', ')}`
    : 'no upstreams (a root)';
  const lines: string[] = [];
  const say = (s: string) => lines.push(`${'  '.repeat(depth)}${s}`);

  switch (result.status) {
    case 'succeeded':
    case 'failed': {
      const how = `${result.attempts} attempt${result.attempts === 1 ? '' : 's'}${result.visits > 1 ? ` over ${result.visits} visits` : ''}`;
      if (result.status === 'succeeded')
        say(
          `${taskId} ran (${how}) and succeeded${result.label ? `, labeled "${result.label}" by ${result.labelSource}${result.labelReason ? `: ${result.labelReason}` : ''}` : ''}.`,
        );
      else {
        say(
          `${taskId} failed after ${how}: ${result.error?.message ?? 'unknown error'}${result.error?.code ? ` (${result.error.code})` : ''}.`,
        );
        if (result.error?.stack)
          say(
            `It was thrown at:\n${result.error.stack
              .split('\n')
              .map((l) => `${'  '.repeat(depth)}  ${l}`)
              .join('\n')}`,
          );
      }
      if (result.attempts > 0 || result.status === 'succeeded') {
        say(
          `It ran because ${ups.length ? `its trigger rule ${rule} (${TRIGGER_RULE_TRAITS[rule].means}) was met; ${upText}` : 'it has no upstreams'}${routedInto(workflow, taskId)}.`,
        );
        const cond = await describeCondition(spec, run, header.input, true);
        if (cond) say(cond);
      }
      if (result.inputSources)
        say(
          `Its input came from: ${Object.entries(result.inputSources)
            .map(([field, from]) => `${field} ← ${from}`)
            .join(', ')}.`,
        );
      if (result.inputHash !== undefined) say(receivedInput(result));
      break;
    }
    case 'skipped':
      say(`${taskId} was skipped (${result.reason}).`);
      if (result.reason === 'condition_false')
        say((await describeCondition(spec, run, header.input, false)) ?? 'Its condition was false.');
      else if (result.reason === 'upstream_failed' || result.reason === 'upstream_skipped') {
        if (result.reason === 'upstream_failed') {
          const causes = ups.flatMap((u) => failureCause(workflow, run, u));
          if (causes.length)
            say(
              `It was skipped because ${causes.join('; ')} (a task skipped after a failure counts as failed for the rules below it).`,
            );
        }
        say(`Its trigger rule ${rule} needs: ${TRIGGER_RULE_TRAITS[rule].means}; ${upText}.`);
        // Follow skipped upstreams back to the first cause.
        if (depth < 5)
          for (const u of ups)
            if (run.tasks[u]?.status === 'skipped') lines.push(...(await explainTask(header, run, u, depth + 1)));
      } else if (result.reason === 'not_routed') {
        const from = routesInto(workflow, taskId).map(([id, on]) => `${id} on ${on}`);
        say(`Only routing edges lead to it (from ${from.join(', ')}), and none of them was taken.`);
      } else if (result.reason === 'cancelled') say('The run was cancelled before it could run.');
      else if (result.reason === 'failure_skipped')
        say(
          `It failed (${result.error?.message ?? 'unknown error'}) and its on_failure policy ends in skip, so the run went on.`,
        );
      else if (result.reason === 'rejected') say('A human rejected it at its approval (braid approve --reject).');
      else if (result.reason === 'budget_exceeded')
        say(`The run stopped before it could run: ${run.error?.message ?? 'a budget was exceeded'}.`);
      else if (result.reason === 'run_failed')
        say(`The run failed before it could run or finish: ${run.error?.message ?? 'a run-fatal error'}.`);
      break;
    case 'waiting':
      say(`${taskId} is waiting for a human approval: braid approve ${run.runId} ${taskId} (or --reject).`);
      break;
    case 'running':
      say(
        `${taskId} was running (attempt ${result.attempts}) when the record ends${run.status === 'interrupted' ? '; the process stopped, braid resume will run it again' : ''}.`,
      );
      break;
    case 'pending':
      say(`${taskId} has not been decided yet; ${upText}.`);
      break;
  }
  return lines;
}

/** Why upstream `id` counts as failed: it failed, or it could not run after the task that did. */
function failureCause(workflow: Workflow, run: RecordedRun, id: string): string[] {
  const t = run.tasks[id];
  if (t?.status === 'failed') return [`${id} failed`];
  if (t?.status !== 'skipped' || t.reason !== 'upstream_failed') return [];
  // Follow upstream_failed skips back to the tasks that really failed (iteratively: chains may be long).
  const byId = new Map(workflow.tasks.map((x) => [x.id, x]));
  const seen = new Set([id]);
  const stack = [id];
  const failed: string[] = [];
  while (stack.length) {
    const spec = byId.get(stack.pop()!);
    for (const u of spec ? upstreamsOf(spec) : []) {
      if (seen.has(u)) continue;
      seen.add(u);
      const r = run.tasks[u];
      if (r?.status === 'failed') failed.push(u);
      else if (r?.status === 'skipped' && r.reason === 'upstream_failed') stack.push(u);
    }
  }
  return [`${id} could not run after ${failed.length ? failed.join(' and ') : 'an upstream'} failed`];
}

function describeStatus(t: TaskResult | undefined): string {
  if (!t) return 'unknown';
  return t.status === 'skipped'
    ? `skipped (${t.reason})`
    : t.label && t.status === 'succeeded'
      ? `succeeded with label "${t.label}"`
      : t.status;
}

/** The routing edges into a task: `[source id, 'success' | 'failure']`. */
function routesInto(workflow: Workflow, taskId: string): [string, 'success' | 'failure'][] {
  return workflow.tasks.flatMap((t) =>
    routesOf(t)
      .filter(([to]) => to === taskId)
      .map(([, on]): [string, 'success' | 'failure'] => [t.id, on]),
  );
}

function routedInto(workflow: Workflow, taskId: string): string {
  const from = routesInto(workflow, taskId).map(([id]) => id);
  return from.length ? ` (routing edges from ${from.join(', ')} may also enter it)` : '';
}

async function describeCondition(
  spec: TaskSpec,
  run: RecordedRun,
  input: unknown,
  met: boolean,
): Promise<string | undefined> {
  const cond = conditionObject(spec);
  const verdict = met ? 'held' : 'did not hold';
  if (cond?.if_result !== undefined) {
    const dep = toList(cond.depends_on)[0];
    const d = run.tasks[dep];
    const wanted = toList(cond.if_result)
      .map((l) => `"${l}"`)
      .join(' or ');
    const got =
      d?.status !== 'succeeded'
        ? `${dep} did not succeed (${describeStatus(d)})`
        : d.label === undefined
          ? `${dep} got no label`
          : `${dep} was labeled "${d.label}" by ${d.labelSource}${d.labelReason ? ` (reason: ${d.labelReason})` : ''}`;
    return `Its condition if_result ${wanted} on ${dep} ${verdict}: ${got}.`;
  }
  if (cond?.if_status !== undefined) {
    const dep = toList(cond.depends_on)[0];
    return `Its condition if_status "${cond.if_status}" on ${dep} ${verdict}: ${dep} ${describeStatus(run.tasks[dep])}.`;
  }
  const source = typeof spec.condition === 'string' ? spec.condition : cond?.when;
  if (source === undefined) return undefined;
  const value = await evaluate(source, spec, run, input);
  return `Its condition \`${source}\` ${verdict}${value === undefined ? '' : `: it evaluates to ${value} over the recorded outputs`}.`;
}

/** Re-evaluate an expression over the recorded outputs (the same context the scheduler used). */
async function evaluate(source: string, spec: TaskSpec, run: RecordedRun, input: unknown): Promise<string | undefined> {
  const parsed = parseExpression(source);
  if (!parsed.ok) return undefined;
  const tasks = Object.fromEntries(
    Object.entries(run.tasks).map(([id, t]) => [
      id,
      { status: t.status, output: t.status === 'succeeded' ? t.output : null, label: t.label, error: t.error },
    ]),
  );
  const deps = conditionObject(spec) ? toList(conditionObject(spec)!.depends_on) : [];
  try {
    const value = await parsed.expression.evaluate({
      input,
      tasks,
      output: deps.length === 1 ? tasks[deps[0]]?.output : undefined,
    });
    return `${JSON.stringify(value) ?? 'undefined'} (${isTruthy(value) ? 'true' : 'false'})`;
  } catch {
    return undefined; // the explanation leaves the value out; the run's own record says how the condition failed
  }
}

/** The input a task received, as the record holds it (at most a few hundred characters here; all in `show --json`). */
function receivedInput(result: { input?: unknown; inputBytes?: number; inputHash?: string }): string {
  const json = result.inputBytes === undefined ? (JSON.stringify(result.input) ?? 'null') : String(result.input);
  const shown = json.length > 400 ? `${json.slice(0, 400)}…` : json;
  const size = result.inputBytes === undefined ? '' : ` (${result.inputBytes} bytes, cut in the record)`;
  return `It received: ${shown}${size} (inputHash ${result.inputHash?.slice(0, 12)}).`;
}
