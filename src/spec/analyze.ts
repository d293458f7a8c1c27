/**
 * Static analysis of a valid workflow with its tools: parts that can never run as written. Most are warnings
 * (`braid validate` prints them and exits 0; `--strict` makes them errors); a condition on a label no producer can
 * give is an error (severity `error`), as `braid run` refuses it too.
 */
import type { Issue } from '../errors.js';
import { toJSONSchema, type JsonSchema } from '../toolkit/json-schema.js';
import type { ToolRegistry } from '../toolkit/registry.js';
import { inputFieldsOf, outputFieldsOf } from '../toolkit/schema-fields.js';
import { formatPath, type PathSegment } from './path.js';
import type { TaskSpec } from './schema.js';
import { labelProducers } from './label-producers.js';
import { didYouMean } from './suggest.js';
import { findRefs } from './template.js';
import { conditionObject, routesOf, toList, upstreamsOf, type Workflow } from './workflow.js';

/** Warnings about a valid workflow: parts that can never run as written. @public */
export function analyzeWorkflow(workflow: Workflow, registry: ToolRegistry): Issue[] {
  const warnings: Issue[] = [];
  const errors: Issue[] = [];
  const tasks = workflow.tasks;
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const ids = new Set(byId.keys());
  const at = (t: TaskSpec, ...rest: PathSegment[]) => formatPath(['tasks', tasks.indexOf(t), ...rest]);
  const warn = (issue: Omit<Issue, 'severity'>) => warnings.push({ ...issue, severity: 'warning' });

  // 1. if_result labels no producer of the task can give (§3, closed label sets).
  for (const issue of labelIssues(tasks, byId, registry, at))
    (issue.severity === 'error' ? errors : warnings).push(issue);

  // 2. all_success joins over branches that exclude each other.
  for (const t of tasks) {
    const rule = t.trigger_rule ?? workflow.defaults?.trigger_rule;
    if (rule !== 'all_success') continue;
    const ups = upstreamsOf(t)
      .map((id) => byId.get(id))
      .filter((u): u is TaskSpec => u !== undefined);
    for (let a = 0; a < ups.length; a++) {
      for (let b = a + 1; b < ups.length; b++) {
        if (exclusive(ups[a], ups[b])) {
          warn({
            code: 'exclusive_join',
            path: at(t, 'trigger_rule'),
            message: `all_success over "${ups[a].id}" and "${ups[b].id}", which never both run, so "${t.id}" can never run`,
            hint: 'use none_failed_min_one_success (the default) to join whichever branch ran',
          });
        }
      }
    }
  }

  // 3. Routing loops that rely on the default max_visits. (A task that nothing leads to cannot exist here:
  // a task without upstreams counts as a root unless its routing sources come from outside its own loop,
  // so every task is reachable; what can stay unreachable is a branch, which checks 1 and 2 find.)
  const bounded = (t: TaskSpec) => t.max_visits !== undefined || workflow.defaults?.max_visits !== undefined;
  const seenLoops = new Set<string>();
  for (const t of tasks) {
    for (const [to] of routesOf(t)) {
      const loop = pathBetween(to, t.id, byId); // to ... → t, then t routes back to `to`
      if (!loop) continue;
      const key = [...loop].sort().join('\0');
      if (seenLoops.has(key) || loop.some((id) => bounded(byId.get(id)!))) continue;
      seenLoops.add(key);
      warn({
        code: 'unbounded_loop',
        path: at(
          t,
          routesOf(t).find(([x]) => x === to)![1] === 'success' ? 'next_task_id_on_success' : 'next_task_id_on_failure',
        ),
        message: `routing loop ${[...loop, to].join(' → ')} has no max_visits; it stops after the default 3 visits`,
        hint: `set max_visits on "${to}" to say how many tries you mean`,
      });
    }
  }

  // 4. Templates reading output fields the upstream tool's output schema does not have.
  for (const t of tasks) {
    for (const { ref, path } of findRefs([t.input, t.for_each], ids, [])) {
      if (!ref.taskId || ref.segments[2] !== 'output' || ref.segments.length < 4) continue;
      const producer = byId.get(ref.taskId);
      if (!producer || producer.for_each !== undefined || !registry.has(producer.tool)) continue;
      const tool = registry.get(producer.tool);
      if (!tool.output) continue;
      const missing = missingField(toJSONSchema({ ...tool, input: tool.output }), ref.segments.slice(3));
      if (missing) {
        const field = path[0] === 0 ? ['input', ...path.slice(1)] : ['for_each'];
        warn({
          code: 'unknown_output_field',
          path: at(t, ...field),
          message: `"{{ ${ref.raw} }}": ${producer.tool}'s output has no field "${missing.field}"`,
          hint: didYouMean(missing.field, new Set(missing.known)) ?? `it has: ${missing.known.join(', ')}`,
        });
      }
    }
  }
  // 5. An input field two upstreams both give (merged by name, §5a): the later one wins, which may surprise.
  for (const t of tasks) {
    if (
      !registry.has(t.tool) ||
      (t.input !== undefined && (t.input === null || typeof t.input !== 'object' || Array.isArray(t.input)))
    )
      continue;
    const tool = registry.get(t.tool);
    if (tool.upstream) continue; // the tool's own mapping decides
    const explicit = (t.input ?? {}) as Record<string, unknown>;
    const ups = upstreamsOf(t)
      .map((id) => byId.get(id))
      .filter((u): u is TaskSpec => u !== undefined && u.for_each === undefined && registry.has(u.tool));
    for (const field of inputFieldsOf(tool).all) {
      if (Object.hasOwn(explicit, field)) continue;
      const givers = ups.filter((u) => outputFieldsOf(registry.get(u.tool))?.has(field));
      const clash = givers.flatMap((a, k) =>
        givers
          .slice(k + 1)
          .filter((b) => !exclusive(a, b))
          .map((b) => [a, b] as const),
      )[0];
      if (!clash) continue;
      warn({
        code: 'ambiguous_input',
        path: at(t, 'input', field),
        message: `"${field}" comes from both "${clash[0].id}" and "${clash[1].id}"; the later upstream ("${clash[1].id}") wins`,
        hint: `name the one you mean: input: { ${field}: "{{ tasks.${clash[0].id}.output.${field} }}" }`,
      });
    }
  }
  return [...errors, ...warnings];
}

/**
 * `if_result` labels no producer of the task can give (§3, closed label sets): an error when every producer is
 * closed, a warning when one is open (free text) and none of the closed ones lists it.
 */
function labelIssues(
  tasks: readonly TaskSpec[],
  byId: ReadonlyMap<string, TaskSpec>,
  registry: ToolRegistry,
  at: (t: TaskSpec, ...rest: PathSegment[]) => string,
): Issue[] {
  const out: Issue[] = [];
  for (const t of tasks) {
    const cond = conditionObject(t);
    if (cond?.if_result === undefined) continue;
    const producer = byId.get(toList(cond.depends_on)[0]);
    if (!producer) continue;
    const { closed, known, open } = labelProducers(producer, registry);
    if (open && known.size === 0) continue; // nothing says what its labels look like
    const listed = [...(closed.size ? closed : known)].map((l) => `"${l}"`).join(', ');
    for (const label of toList(cond.if_result)) {
      if (known.has(label)) continue;
      const issue = {
        code: 'unreachable_label',
        path: at(t, 'condition', 'if_result'),
        hint:
          didYouMean(label, known) ??
          (producer.classify
            ? `add "${label}" to ${producer.id}.classify.labels`
            : `use one of ${listed}, or add "${label}" to ${producer.tool}'s output schema`),
      } as const;
      if (open)
        out.push({
          ...issue,
          severity: 'warning',
          message: `"${producer.id}" is not known to give "${label}" (its known labels: ${listed})`,
        });
      else {
        out.push({
          ...issue,
          severity: 'error',
          message: `"${producer.id}" can only give ${listed}, never "${label}"`,
        });
      }
    }
  }
  return out;
}

/** Two branches that never both run: conditions on the same task with disjoint labels or opposite statuses. */
function exclusive(a: TaskSpec, b: TaskSpec): boolean {
  const ca = conditionObject(a);
  const cb = conditionObject(b);
  if (!ca || !cb) return false;
  const depA = toList(ca.depends_on);
  const depB = toList(cb.depends_on);
  if (depA.length !== 1 || depB.length !== 1 || depA[0] !== depB[0]) return false;
  if (ca.if_result !== undefined && cb.if_result !== undefined) {
    const la = new Set(toList(ca.if_result));
    return !toList(cb.if_result).some((l) => la.has(l));
  }
  if (ca.if_status && cb.if_status)
    return ca.if_status !== cb.if_status && ca.if_status !== 'finished' && cb.if_status !== 'finished';
  // if_result implies the producer succeeded: exclusive with if_status failed/skipped on it
  const st = ca.if_status ?? cb.if_status;
  return (ca.if_result !== undefined || cb.if_result !== undefined) && (st === 'failed' || st === 'skipped');
}

/** Task ids on a path from `from` down to `to` along data and routing edges, or undefined. */
function pathBetween(from: string, to: string, byId: ReadonlyMap<string, TaskSpec>): string[] | undefined {
  const downstream = new Map<string, string[]>();
  for (const t of byId.values()) {
    for (const u of upstreamsOf(t)) downstream.set(u, [...(downstream.get(u) ?? []), t.id]);
    for (const [x] of routesOf(t)) downstream.set(t.id, [...(downstream.get(t.id) ?? []), x]);
  }
  const prev = new Map<string, string>([[from, '']]);
  const queue = [from];
  while (queue.length) {
    const id = queue.shift()!;
    if (id === to) {
      const path = [id];
      for (let p = prev.get(id)!; p; p = prev.get(p)!) path.unshift(p);
      return path;
    }
    for (const n of downstream.get(id) ?? []) if (!prev.has(n)) (prev.set(n, id), queue.push(n));
  }
  return undefined;
}

/** The first segment of `path` that an object schema does not declare (when it declares its fields). */
function missingField(schema: JsonSchema, path: readonly string[]): { field: string; known: string[] } | undefined {
  let s: JsonSchema | undefined = schema;
  for (const seg of path) {
    if (!s || s.type !== 'object' || !s.properties) return undefined;
    const props = s.properties as Record<string, JsonSchema>;
    if (!(seg in props))
      return s.additionalProperties === false || s.additionalProperties === undefined
        ? { field: seg, known: Object.keys(props) }
        : undefined;
    s = props[seg];
  }
  return undefined;
}
