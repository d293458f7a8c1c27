/**
 * Task inputs checked before anything runs, so `braid validate` rejects what `braid run` would:
 * - literal input fields against the tool's schema (`subjet` → did you mean `subject`?, `query: 42`);
 *   the parts that are templates are only known at run time and are skipped;
 * - every required tool field has a source (workflow-spec.md §5a): the explicit input, a run input of
 *   that name (or declared in `inputs`), a tool default, or an upstream whose output can give it.
 * The static part is computed once per workflow and tool set; each run only checks run input names.
 * A bad literal in a task whose `on_failure` adjusts its input or falls back is a warning (it may recover).
 */
import { isRecord } from '../core/is-record.js';
import type { Issue } from '../errors.js';
import { inputFieldsOf, outputFieldsOf } from '../toolkit/schema-fields.js';
import { schemaToJsonSchema } from '../toolkit/json-schema.js';
import type { ToolRegistry } from '../toolkit/registry.js';
import type { Tool } from '../toolkit/types.js';
import { formatPath } from './path.js';
import type { TaskSpec } from './schema.js';
import { didYouMean } from './suggest.js';
import { hasTemplate } from './template.js';
import { upstreamsOf, type Workflow } from './workflow.js';

/** A required tool field that only a run input can give. */
interface Need {
  readonly task: TaskSpec;
  readonly index: number;
  readonly field: string;
  /** An upstream could give it (the tool merges upstream fields by name). */
  readonly byName: boolean;
}

interface StaticCheck {
  readonly issues: Issue[];
  readonly needs: Need[];
}

const cache = new WeakMap<Workflow, { tools: readonly Tool[]; check: StaticCheck }>();

/**
 * Problems with the tasks' inputs. `runInputs`: the names a run will have (the keys of its input, or for
 * `braid validate` the `--input` names); names declared in the workflow's `inputs` count as given when
 * `declaredCount` (validate: the run will have to give them).
 */
export function checkInputs(
  workflow: Workflow,
  registry: ToolRegistry,
  runInputs: Iterable<string>,
  opts: { declaredCount?: boolean } = {},
): Issue[] {
  const { issues, needs } = staticCheck(workflow, registry);
  if (!needs.length) return issues;
  const given = new Set(runInputs);
  if (opts.declaredCount && isRecord(workflow.inputs) && isRecord(workflow.inputs.properties))
    for (const k of Object.keys(workflow.inputs.properties)) given.add(k);
  const missing = needs.filter((n) => !given.has(n.field));
  return [...issues, ...missing.map((n) => missingIssue(n))];
}

function missingIssue({ task, index, field, byName }: Need): Issue {
  return {
    code: 'missing_input',
    path: formatPath(['tasks', index, 'input', field]),
    message: `task "${task.id}" (${task.tool}) needs "${field}" and nothing gives it`,
    hint: `give it with --input ${field}=..., with input: { ${field}: ... } on the task, or as a default in inputs.properties.${field}.default${byName ? `, or from an upstream whose output has "${field}"` : ''}`,
  };
}

function staticCheck(workflow: Workflow, registry: ToolRegistry): StaticCheck {
  const tools = workflow.tasks
    .map((t) => (registry.has(t.tool) ? registry.get(t.tool) : undefined))
    .filter((t): t is Tool => t !== undefined);
  const hit = cache.get(workflow);
  if (hit && hit.tools.length === tools.length && hit.tools.every((t, i) => t === tools[i])) return hit.check;
  const check = computeStatic(workflow, registry);
  cache.set(workflow, { tools, check });
  return check;
}

function computeStatic(workflow: Workflow, registry: ToolRegistry): StaticCheck {
  const issues: Issue[] = [];
  const needs: Need[] = [];
  const byId = new Map(workflow.tasks.map((t) => [t.id, t]));
  const outputOf = (id: string): ReadonlySet<string> | undefined => {
    const up = byId.get(id);
    if (!up || !registry.has(up.tool)) return undefined;
    return up.for_each !== undefined ? new Set() : outputFieldsOf(registry.get(up.tool));
  };
  workflow.tasks.forEach((task, index) => {
    if (!registry.has(task.tool)) return;
    const tool = registry.get(task.tool);
    if (task.input !== undefined && !isRecord(task.input)) {
      // A whole-input template is known at run time only; any other literal must match the tool's schema as a whole.
      const issue = hasTemplate(task.input) ? undefined : wholeLiteralIssue(task, index, tool);
      if (issue) issues.push(issue);
      return;
    }
    const fields = inputFieldsOf(tool);
    if (!fields.all.length) return;
    const explicit = task.input ?? {};
    // A task whose on_failure adjusts its input or falls back can recover from a bad literal at run time.
    const recovers = (task.on_failure ?? workflow.defaults?.on_failure ?? []).some(
      (s) => typeof s === 'object' && ('adjust' in s || 'fallback' in s),
    );
    for (const issue of literalIssues(task, index, tool, explicit))
      issues.push(
        recovers
          ? { ...issue, severity: 'warning', hint: `${issue.hint}; on_failure may repair it at run time` }
          : issue,
      );
    // Required fields without an explicit value need a source.
    const upstreamFields = upstreamsOf(task).map(outputOf);
    const fromUpstreams = tool.upstream ? new Set(tool.upstream.provides(upstreamFields)) : undefined;
    for (const field of fields.required) {
      if (Object.hasOwn(explicit, field)) continue;
      const upstreamGives = fromUpstreams
        ? fromUpstreams.has(field)
        : upstreamFields.some((f) => f === undefined || f.has(field));
      if (!upstreamGives) needs.push({ task, index, field, byName: !tool.upstream && upstreamsOf(task).length > 0 });
    }
  });
  return { issues, needs };
}

/** A literal input that is not an object (`input: 5`, `input: "x"`, a list) the tool's input schema refuses. */
function wholeLiteralIssue(task: TaskSpec, index: number, tool: Tool): Issue | undefined {
  if (!tool.input || tool.input.safeParse(task.input).success) return undefined;
  const fields = inputFieldsOf(tool).all;
  const got = Array.isArray(task.input) ? 'a list' : task.input === null ? 'null' : `a ${typeof task.input}`;
  return {
    code: 'invalid_type',
    path: formatPath(['tasks', index, 'input']),
    message: `${task.tool} takes ${fields.length ? 'an object' : 'another input'}; this literal input is ${got}`,
    hint: fields.length
      ? `give its fields: input: { ${fields.map((f) => `${f}: ...`).join(', ')} } (see braid tools for ${task.tool})`
      : `see braid tools for ${task.tool}'s input`,
  };
}

/** Unknown fields and wrong literal values in an explicit input (templates skipped). */
function literalIssues(task: TaskSpec, index: number, tool: Tool, explicit: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const fields = inputFieldsOf(tool);
  const known = new Set(fields.all);
  const json = schemaToJsonSchema(tool.input);
  const open = json.additionalProperties !== undefined && json.additionalProperties !== false;
  for (const key of Object.keys(explicit)) {
    if (known.has(key) || open) continue;
    issues.push({
      code: 'unknown_field',
      path: formatPath(['tasks', index, 'input', key]),
      message: `${task.tool} has no input field "${key}"`,
      hint: didYouMean(key, known) ?? `its fields: ${fields.all.join(', ')}`,
    });
  }
  const literal = Object.keys(explicit).filter((k) => known.has(k) && !hasTemplate(explicit[k]));
  if (!literal.length || !tool.input) return issues;
  const probe: Record<string, unknown> = {};
  for (const k of literal) probe[k] = explicit[k];
  const parsed = tool.input.safeParse(probe);
  if (parsed.success) return issues;
  for (const issue of parsed.error.issues) {
    const head = issue.path[0];
    if (typeof head !== 'string' || !literal.includes(head)) continue; // a field not given here: checked as a source
    const path = issue.path.filter((p): p is string | number => typeof p === 'string' || typeof p === 'number');
    issues.push({
      code: 'invalid_value',
      path: formatPath(['tasks', index, 'input', ...path]),
      message: `${task.tool}: ${issue.message}`,
      hint: `see braid tools for ${task.tool}'s input`,
    });
  }
  return issues;
}
